"""The skorch and torch versions whose internals skprune's fast paths rely on.

Three fast paths use more than the public API: the net's ``train_step`` (a
copy of skorch's without the closure, calling skorch's private
``_zero_grad_optimizer`` / ``_step_optimizer``), the pickling of CPU
tensor storages (torch's ``TypedStorage`` internals) and the optimizer step
of fused Adam and SGD (torch's ``_fused_adam_`` / ``_fused_sgd_`` kernels
called directly, see :func:`~skprune._torch.solvers.fused_step`). Each runs only on the
versions it was tested with; elsewhere the net falls back to skorch's own
``train_step`` and pickling, slower but relying on nothing private. The
net's epoch loop, which reads the batch losses back once per epoch, writes
the history as skorch's ``run_single_epoch`` does; it runs on the skorch
versions of the fast ``train_step`` (elsewhere skorch's own loop runs).
"""

from __future__ import annotations

import re

import skorch
import torch
from skorch import NeuralNet

SKORCH_TESTED = ((1, 2), (1, 5))
"""skorch versions ``[first, last)`` whose ``train_step`` the net reproduces."""

TORCH_TESTED = ((2, 2), (2, 14))
"""torch versions ``[first, last)`` whose internals the pickler and the fused
optimizer step use."""


def version_tuple(text: str) -> tuple[int, int]:
    """``(major, minor)`` of a version string.

    Examples
    --------
    >>> from skprune._torch.versions import version_tuple
    >>> version_tuple("2.13.0+cpu"), version_tuple("1.4.0")
    ((2, 13), (1, 4))
    """
    numbers = [int(n) for n in re.findall(r"\d+", text)[:2]]
    return (numbers + [0, 0])[0], (numbers + [0, 0])[1]


def _within(version: str, tested) -> bool:
    first, last = tested
    return first <= version_tuple(version) < last


def fast_train_step_supported(version: str | None = None) -> bool:
    """Whether this skorch is one whose ``train_step`` the net may bypass."""
    version = skorch.__version__ if version is None else version
    private = ("_zero_grad_optimizer", "_step_optimizer", "train_step_single")
    return _within(version, SKORCH_TESTED) and all(
        hasattr(NeuralNet, name) for name in private
    )


def fast_pickling_supported(version: str | None = None) -> bool:
    """Whether this torch's storages may be pickled as raw bytes.

    The version must be a tested one, and a small tensor must survive the
    round trip.
    """
    version = torch.__version__ if version is None else version
    return _within(version, TORCH_TESTED) and _round_trip_works()


def _round_trip_works() -> bool:
    from .serialization import dump_cpu_storages, load_cpu_storages

    tensor = torch.arange(3.0)
    try:
        loaded = load_cpu_storages(dump_cpu_storages(tensor))
    except (AttributeError, TypeError, RuntimeError):
        return False
    return torch.equal(loaded, tensor)


def fast_optimizer_step_supported(version: str | None = None) -> bool:
    """Whether this torch's fused Adam and SGD kernels may be called directly."""
    version = torch.__version__ if version is None else version
    kernels = ("_fused_adam_", "_fused_sgd_", "_foreach_add_")
    return _within(version, TORCH_TESTED) and all(hasattr(torch, k) for k in kernels)


FAST_TRAIN_STEP = fast_train_step_supported()
FAST_OPTIMIZER_STEP = fast_optimizer_step_supported()
FAST_PICKLING = fast_pickling_supported()
