"""How many torch threads a fit, a prediction or a scoring pass runs on.

The library's rule (``n_threads=None``):

1. **Its share of the cores.** The cores this process may run on
   (``os.sched_getaffinity``), capped by what a parallel parent told the
   process: joblib's loky workers start with ``OMP_NUM_THREADS`` set to
   ``cpu_count() // n_jobs``, a dask nanny starts its workers with
   ``OMP_NUM_THREADS=1``, and torch reads that variable when it starts, so
   ``torch.get_num_threads()`` already holds the share there. The cap is the
   smallest of the cores, ``OMP_NUM_THREADS`` and ``torch.get_num_threads()``
   (the latter also carries a user's ``torch.set_num_threads`` or
   threadpoolctl's ``threadpool_limits``).
2. **One thread for small work.** When one torch call multiplies fewer than
   :data:`SMALL_WORK` multiply-adds (rows per call times weights of the
   net), the threads cost more than they give, and one thread is used.

An int ``n_threads`` is used as it is. :func:`torch_threads` sets the count
for the body of a ``with`` block and restores torch's setting on the way out,
also when the body raises.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch

SMALL_WORK = 3_000_000
"""Multiply-adds per torch call below which one thread is used.

From three runs of ``benchmarks/thread_rule.py --repeat 5`` on a quiet
2-core machine (fit time on 1 and 2 threads, minimum of 5 interleaved
repeats): two threads against one took 1.00-1.16x at 1.5e6 multiply-adds
per batch (load_digits, 64-100-10, batch 200), 0.91-0.92x at 5.3e6
(784-32-32-10, batch 200), 0.82-0.84x at 1.1e7 and 0.54-0.67x from 5.3e7
to 1.1e10. The threshold lies between 1.5e6 and 5.3e6. Under heavy load
from other programs one thread was faster at every size up to 3.6e9.
"""


def available_cores() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _env_threads() -> int | None:
    """``OMP_NUM_THREADS`` as a positive int, or None when unset or unreadable."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    try:
        n = int(value.split(",")[0])
    except ValueError:
        return None
    return n if n > 0 else None


def thread_share() -> int:
    """This process's share of the cores (rule 1 of the module docstring).

    Examples
    --------
    >>> from skprune._torch.threads import available_cores, thread_share
    >>> 1 <= thread_share() <= available_cores()
    True
    """
    caps = [available_cores(), torch.get_num_threads(), _env_threads()]
    return max(1, min(c for c in caps if c is not None))


def resolve_threads(n_threads: int | None, work: int) -> int:
    """Torch threads for calls of ``work`` multiply-adds each under ``n_threads``.

    Examples
    --------
    >>> from skprune._torch.threads import resolve_threads
    >>> resolve_threads(3, work=10)
    3
    >>> resolve_threads(None, work=10)
    1
    """
    if n_threads is not None:
        return int(n_threads)
    return 1 if work < SMALL_WORK else thread_share()


@contextmanager
def torch_threads(n: int):
    """Run the body on ``n`` torch threads; torch's setting is restored after.

    Examples
    --------
    >>> import torch
    >>> from skprune._torch.threads import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    previous = torch.get_num_threads()
    if n != previous:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
