"""Shared helpers of the benchmark scripts: data, timing, machine description."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from skprune.datasets import load_mnist

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MNIST_HOME = REPO.parent / "shared" / "data" / "mnist"


def mnist(n_train, n_test=None, data_home=None):
    """MNIST subsets from ``data_home``, ``SKPRUNE_MNIST_HOME`` or the shared folder."""
    if data_home is None and "SKPRUNE_MNIST_HOME" not in os.environ:
        data_home = DEFAULT_MNIST_HOME
    return load_mnist(
        data_home=data_home, n_train=n_train, n_test=n_test, return_X_y=True
    )


def timings(fn, repeat=5):
    """Wall-clock seconds of each of ``repeat`` consecutive calls of ``fn()``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def paired_ratio(first, second, repeats, min_seconds=0.02):
    """Median over ``repeats`` of the time per call of ``first()`` over that
    of ``second()``, the two timed back to back in each repeat (which one
    first alternates) in samples of at least ``min_seconds`` (several calls
    of a fast function, as ``timeit``; the garbage collector is off). A
    ratio of neighbouring samples cancels the machine's slow drifts, which
    a ratio of two separate medians keeps."""
    first_times, second_times = paired_times(first, second, repeats, min_seconds)
    return statistics.median(a / b for a, b in zip(first_times, second_times))


def paired_times(first, second, repeats, min_seconds=0.02):
    """Seconds per call of ``first()`` and of ``second()``, ``repeats`` pairs
    of back-to-back samples (see :func:`paired_ratio`)."""
    first(), second()  # warm-up: caches, plans, thread pools
    start = time.perf_counter()
    first(), second()
    calls = max(1, int(min_seconds / (time.perf_counter() - start)))

    def per_call(fn):
        begin = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - begin) / calls

    times = ([], [])
    gc.collect()
    gc.disable()
    try:
        for r in range(repeats):
            for i in (1, 0) if r % 2 else (0, 1):
                times[i].append(per_call((first, second)[i]))
    finally:
        gc.enable()
    return times


def best_time(fn, repeat=5):
    """Minimum wall-clock seconds of ``fn()`` over ``repeat`` calls."""
    return min(timings(fn, repeat))


def alternating(fit, variants, repeat):
    """Seconds of ``fit(variant)`` for each variant: one warm-up call each,
    then ``repeat`` rounds, the order reversed every other round. ``fit``
    returns the seconds it measured."""
    times = {variant: [] for variant in variants}
    for variant in variants:
        fit(variant)
    for r in range(repeat):
        for variant in variants[::-1] if r % 2 else variants:
            times[variant].append(fit(variant))
    return times


def machine():
    """One line describing where the figures were measured."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )
