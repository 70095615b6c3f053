"""Why a fit right after scikit-learn's is slower: ours after ours, after
scikit-learn's, and after scikit-learn's plus a pause.

784-64-64-10 relu, ``solver="sgd"`` (momentum 0.9, Nesterov), batch 200,
3 epochs on 20,000 MNIST rows (the case of ``train_speed.py``). In each
repeat our fit is timed right after one of ours, right after
scikit-learn's, and after scikit-learn's followed by a pause of 0.3 s and
of 1 s. If only spinning BLAS threads slowed our fit down, the pauses would
remove the difference. Each of our fits is timed twice, in turn: with the
thread rule's third part on (the default: a fit that finds other threads
of the process running starts on the free cores, see
``skprune._torch.threads.BusyStart``) and off. The script then runs the
same in a child process with ``OPENBLAS_NUM_THREADS=1`` (numpy's BLAS on
the calling thread only, so nothing is left spinning after scikit-learn's
fit; scikit-learn's fits are slower there, ours are not concerned). Last,
it prints for how long other threads of the process (numpy's BLAS
threads) were still running after scikit-learn's fit, in both processes.

    python benchmarks/first_fit.py [--data-home DIR] [--repeat 9]
"""

import argparse
import os
import subprocess
import sys
import time
import warnings

import numpy as np
from _common import machine, mnist
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLP
from train_speed import SETTINGS as TRAIN_SPEED_SETTINGS

from skprune import MLPClassifier
from skprune._torch import threads

SETTINGS = dict(TRAIN_SPEED_SETTINGS, solver="sgd")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--no-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, _, y, _ = mnist(20_000, 1, args.data_home)
    X = X.astype(np.float32)

    def ours():
        MLPClassifier(**SETTINGS).fit(X, y)

    def theirs():
        SklearnMLP(**SETTINGS).fit(X, y)

    def timed(busy_start):
        threads.YIELD_TO_BUSY_THREADS = busy_start
        try:
            start = time.perf_counter()
            ours()
            return time.perf_counter() - start
        finally:
            threads.YIELD_TO_BUSY_THREADS = True

    before = {
        "after one of ours": ours,
        "right after scikit-learn's": theirs,
        "after scikit-learn's and 0.3 s": lambda: (theirs(), time.sleep(0.3)),
        "after scikit-learn's and 1 s": lambda: (theirs(), time.sleep(1.0)),
    }
    ours(), theirs()  # warm-up
    times = {(key, on): [] for key in before for on in (True, False)}
    for r in range(args.repeat):
        for key, run_before in before.items():
            for on in (True, False) if r % 2 == 0 else (False, True):
                run_before()
                times[key, on].append(timed(on))
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(f"machine: {machine()}; OPENBLAS_NUM_THREADS={blas}")
    print(
        "| our SGD fit | rule 3 on: min s | median s | rule 3 off: min s | median s |"
        "\n|---|---:|---:|---:|---:|"
    )
    for key in before:
        on, off = times[key, True], times[key, False]
        print(
            f"| {key} | {min(on):.3f} | {np.median(on):.3f} "
            f"| {min(off):.3f} | {np.median(off):.3f} |",
            flush=True,
        )
    spins = [_busy_after(theirs) for _ in range(5)]
    print(
        "other threads of the process still running after scikit-learn's fit: "
        f"{min(spins) * 1e3:.0f}-{max(spins) * 1e3:.0f} ms (5 fits)"
    )
    if not args.no_child:
        _child(argv)


def _busy_after(fit, limit=2.0):
    """Seconds from the end of ``fit()`` until no other thread of the process runs."""
    fit()
    end = last = time.perf_counter()
    while time.perf_counter() - end < limit:
        if threads.busy_threads():
            last = time.perf_counter()
        time.sleep(0.001)
    return last - end


def _child(argv):
    """The same measurement in a process where numpy's BLAS has one thread."""
    command = [sys.executable, __file__, *(argv or sys.argv[1:]), "--no-child"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    print()
    subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
