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
    of ``second()`` (see :func:`paired_times`)."""
    first_times, second_times = paired_times(first, second, repeats, min_seconds)
    return statistics.median(a / b for a, b in zip(first_times, second_times))


def paired_times(first, second, repeats, min_seconds=0.02, interleave=True):
    """Seconds per call of ``first()`` and of ``second()``, ``repeats`` times.

    A repeat calls the two in turn, call by call (which one first alternates
    between repeats), until each has run at least ``min_seconds`` in all,
    and sums each one's calls, timed one by one; Python's garbage collector
    is off, as in ``timeit``. Calls side by side see the same machine: the
    ratio of a repeat's two sums is not moved by the drifts of a shared
    machine, which separate samples of each (even alternating) keep.

    ``interleave=False`` times each one's calls as one block instead (the
    blocks alternating), for two libraries with thread pools of their own:
    numpy's OpenBLAS threads keep spinning for a moment after each call and
    would slow down every call of torch's right after it.
    """
    first(), second()  # warm-up: caches, plans, thread pools
    start = time.perf_counter()
    first(), second()
    calls = max(1, int(min_seconds / (time.perf_counter() - start) * 2))
    clock = time.perf_counter
    times = ([], [])
    gc.collect()
    gc.disable()
    try:
        for r in range(repeats):
            order = (
                ((first, 0), (second, 1)) if r % 2 == 0 else ((second, 1), (first, 0))
            )
            sums = [0.0, 0.0]
            if interleave:
                for _ in range(calls):
                    for fn, i in order:
                        begin = clock()
                        fn()
                        sums[i] += clock() - begin
            else:
                for fn, i in order:
                    begin = clock()
                    for _ in range(calls):
                        fn()
                    sums[i] = clock() - begin
            times[0].append(sums[0] / calls)
            times[1].append(sums[1] / calls)
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
