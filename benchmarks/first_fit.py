"""Why a fit right after scikit-learn's is slower: ours after ours, after
scikit-learn's, and after scikit-learn's plus a pause.

784-64-64-10 relu, ``solver="sgd"`` (momentum 0.9, Nesterov), batch 200,
3 epochs on 20,000 MNIST rows (the case of ``train_speed.py``). In each
repeat our fit is timed right after one of ours, right after
scikit-learn's, and after scikit-learn's followed by a pause of 0.3 s and
of 1 s. If only spinning BLAS threads slowed our fit down, the pauses would
remove the difference.

    python benchmarks/first_fit.py [--data-home DIR] [--repeat 5]
"""

import argparse
import time
import warnings

import numpy as np
from _common import machine, mnist
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLP
from train_speed import SETTINGS as TRAIN_SPEED_SETTINGS

from skprune import MLPClassifier

SETTINGS = dict(TRAIN_SPEED_SETTINGS, solver="sgd")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, _, y, _ = mnist(20_000, 1, args.data_home)
    X = X.astype(np.float32)

    def ours():
        MLPClassifier(**SETTINGS).fit(X, y)

    def theirs():
        SklearnMLP(**SETTINGS).fit(X, y)

    def timed():
        start = time.perf_counter()
        ours()
        return time.perf_counter() - start

    before = {
        "after one of ours": ours,
        "right after scikit-learn's": theirs,
        "after scikit-learn's and 0.3 s": lambda: (theirs(), time.sleep(0.3)),
        "after scikit-learn's and 1 s": lambda: (theirs(), time.sleep(1.0)),
    }
    ours(), theirs()  # warm-up
    times = {key: [] for key in before}
    for _ in range(args.repeat):
        for key, run_before in before.items():
            run_before()
            times[key].append(timed())
    print(f"machine: {machine()}")
    print("| our SGD fit | min s | median s |\n|---|---:|---:|")
    for key, values in times.items():
        print(f"| {key} | {min(values):.3f} | {np.median(values):.3f} |")


if __name__ == "__main__":
    main()
