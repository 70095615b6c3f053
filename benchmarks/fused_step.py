"""Digits fit with and without the direct fused optimizer step, side by side.

``MLPClassifier(max_iter=50, random_state=0, solver=...)`` on
``load_digits``, the step through torch's fused kernels directly
(``skprune._torch.solvers.fused_step``) against ``optimizer.step()``,
toggled by ``skprune._torch.versions.FAST_OPTIMIZER_STEP``; the two are
timed in alternating order, ``--repeat`` fits each, minimum and median
seconds and the ratio of the minima (below 1: the direct step is faster).

    python benchmarks/fused_step.py [--repeat 9]
"""

import argparse
import os
import time
import warnings

import numpy as np
from _common import alternating, machine
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skprune import MLPClassifier
from skprune._torch import versions


def _fit(X, y, solver, direct):
    versions.FAST_OPTIMIZER_STEP = direct
    start = time.perf_counter()
    MLPClassifier(max_iter=50, random_state=0, solver=solver).fit(X, y)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    supported = versions.FAST_OPTIMIZER_STEP
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(
        "| solver | direct fused step: min / median s | optimizer.step(): "
        "min / median s | ratio of minima |"
    )
    print("|---|---:|---:|---:|")
    for solver in ("adam", "sgd"):
        times = alternating(
            lambda direct, solver=solver: _fit(X, y, solver, direct and supported),
            (False, True),
            args.repeat,
        )
        cells = [
            f"{min(times[d]):.3f} / {np.median(times[d]):.3f}" for d in (True, False)
        ]
        ratio = min(times[True]) / min(times[False])
        print(f"| {solver} | {cells[0]} | {cells[1]} | {ratio:.2f} |")
    versions.FAST_OPTIMIZER_STEP = supported
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
