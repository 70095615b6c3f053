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
3. **Busy cores at the start of a fit.** When a fit on more than one thread
   starts while other threads of this process are still running, so many
   that they and the fit's threads outnumber the cores, it starts on the
   cores left free (at least one) and goes to its full count as soon as
   those threads stop (:class:`BusyStart`). numpy's OpenBLAS keeps its
   worker threads spinning for a while after each product (108-109 ms
   after scikit-learn's fit in ``benchmarks/first_fit.py``), so a fit
   started right after scikit-learn's (or after a PCA) finds them running.

An int ``n_threads`` is used as it is. :func:`torch_threads` sets the count
for the body of a ``with`` block and restores torch's setting on the way out,
also when the body raises.
"""

from __future__ import annotations

import math
import os
import threading
import time
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
        if n > 1:
            _last_parallel[0] = time.perf_counter()
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


BUSY_POLL_SECONDS = 0.01
"""How often a fit started on fewer threads (:class:`BusyStart`) looks again."""

BUSY_WAIT_SECONDS = 0.5
"""After this long, a fit started on fewer threads goes to its full count
whatever still runs (a thread busy for good is not numpy's spin)."""

OWN_SPIN_SECONDS = 0.05
"""For this long after a call of the library on several threads has ended,
torch's own OpenMP threads may still be spinning: a fit started within it
(``partial_fit`` in a loop) does not look for busy threads."""

_last_parallel = [-math.inf]  # when the last call on several threads ended

YIELD_TO_BUSY_THREADS = True
"""Rule 3 on (the default) or off; ``benchmarks/first_fit.py`` times both."""

_TASKS = "/proc/self/task"


def _running(tid) -> bool:
    """Whether thread ``tid`` of this process is running or runnable now."""
    try:
        with open(f"{_TASKS}/{tid}/stat", "rb") as file:
            stat = file.read()
    except OSError:  # the thread has ended
        return False
    # "tid (name) state ...": the name may hold spaces and parentheses.
    end = stat.rindex(b")")
    return stat[end + 2 : end + 3] == b"R"


def busy_threads() -> list[int]:
    """The ids of the other threads of this process that are running now.

    Read from ``/proc/self/task`` (Linux); an empty list where it cannot
    be read.

    Examples
    --------
    >>> from skprune._torch.threads import busy_threads
    >>> isinstance(busy_threads(), list)
    True
    """
    me = threading.get_native_id()
    try:
        tids = [int(name) for name in os.listdir(_TASKS)]
    except (OSError, ValueError):
        return []
    return [tid for tid in tids if tid != me and _running(tid)]


class BusyStart:
    """Rule 3 of the module docstring for one fit on ``n_threads`` threads.

    :meth:`start` (inside the fit's :func:`torch_threads` block) lowers
    torch's thread count to the cores that the other running threads of
    the process leave free, when they and ``n_threads`` outnumber the
    cores; :meth:`tick` (once per batch) looks again every
    :data:`BUSY_POLL_SECONDS` and restores ``n_threads`` once none of the
    threads found running at the start runs any more, or after
    :data:`BUSY_WAIT_SECONDS`; :meth:`finish` restores it in any case.
    Only those threads are watched: the fit's own torch threads run too.

    Examples
    --------
    >>> import torch
    >>> from skprune._torch.threads import BusyStart
    >>> start = BusyStart(n_threads=1)  # one thread: nothing to lower
    >>> start.start().reduced
    False
    """

    def __init__(self, n_threads: int):
        self.n_threads = n_threads
        self.reduced = False
        self.watched: list[int] = []

    def start(self):
        if self.n_threads < 2 or not YIELD_TO_BUSY_THREADS:
            return self
        if time.perf_counter() - _last_parallel[0] < OWN_SPIN_SECONDS:
            return self
        busy = busy_threads()
        free = available_cores() - len(busy)
        if self.n_threads > free:
            self.watched = busy
            self.reduced = True
            self.started = self.checked = time.perf_counter()
            torch.set_num_threads(max(1, free))
        return self

    def tick(self):
        if not self.reduced:
            return
        now = time.perf_counter()
        if now - self.checked < BUSY_POLL_SECONDS:
            return
        self.checked = now
        if now - self.started >= BUSY_WAIT_SECONDS or not any(
            _running(tid) for tid in self.watched
        ):
            self.finish()

    def finish(self):
        if self.reduced:
            self.reduced = False
            torch.set_num_threads(self.n_threads)
