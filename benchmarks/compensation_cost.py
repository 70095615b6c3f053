"""Cost of least-squares compensation, in training epochs on the same rows.

For each net (784-64-64-10 and 784-300-100-10 PReLU, trained 5 epochs on
10,000 MNIST rows) and each number of rows (2,000 and 10,000), the EC mask
at 90 % is fixed, then three things are timed side by side, interleaved,
``--repeat`` times each: the ``"least_squares"`` refit (G-weighted), the
``"layer_least_squares"`` refit (G = 1) and one epoch of training
(``fine_tune(epochs=1)``, batch 200) on the same rows. The ratio is
min(refit) / min(epoch); the median ratio is printed too.

Goal (issue 14): both refits < 5 epochs on 784-64-64-10 with 10,000 rows.

    python benchmarks/compensation_cost.py [--repeat 5] [--threads 1]
"""

import argparse
import copy
import time
import warnings

import numpy as np
import torch
from _common import machine, mnist
from sklearn.exceptions import ConvergenceWarning

from skprune import MLPClassifier
from skprune._pruner import prune_masks
from skprune.compensation import least_squares_refit
from skprune.importance import compensated

NETS = {"784-64-64-10": (64, 64), "784-300-100-10": (300, 100)}
ROWS = (2_000, 10_000)


def _refit(dense, X, masks, weighted):
    return least_squares_refit(
        dense.coefs_,
        dense.intercepts_,
        dense.activation,
        X,
        masks,
        prelu_weights=dense.prelu_weights_,
        weighted=weighted,
    )


def _epoch(dense, X, y):
    copy.deepcopy(dense).fine_tune(X, y, epochs=1)


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(dense, X, y, repeat):
    """Seconds of each part, interleaved: {name: [times]}."""
    masks = prune_masks(compensated(dense, X)[0], 0.9)
    parts = {
        "least_squares": lambda: _refit(dense, X, masks, True),
        "layer_least_squares": lambda: _refit(dense, X, masks, False),
        "epoch": lambda: _epoch(dense, X, y),
    }
    times = {name: [] for name in parts}
    for _ in range(repeat):
        for name, fn in parts.items():
            times[name].append(_time(fn))
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, _, y, _ = mnist(max(ROWS), 1, args.data_home)
    print(f"machine: {machine()}")
    print("EC mask at 90 %; times: minimum over interleaved repeats\n")
    print(
        "| net | rows | least_squares | layer_least_squares | one epoch | "
        "least_squares / epoch (median) | layer_least_squares / epoch (median) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for net, hidden in NETS.items():
        dense = MLPClassifier(
            hidden, activation="prelu", max_iter=5, random_state=0
        ).fit(X, y)
        for n_rows in ROWS:
            times = measure(dense, X[:n_rows], y[:n_rows], args.repeat)
            best = {k: min(v) for k, v in times.items()}
            ratio = {k: best[k] / best["epoch"] for k in times}
            median = {
                k: float(np.median(np.divide(v, times["epoch"])))
                for k, v in times.items()
            }
            print(
                f"| {net} | {n_rows:,} | {best['least_squares']:.3f} s | "
                f"{best['layer_least_squares']:.3f} s | {best['epoch']:.3f} s | "
                f"{ratio['least_squares']:.2f} ({median['least_squares']:.2f}) | "
                f"{ratio['layer_least_squares']:.2f} "
                f"({median['layer_least_squares']:.2f}) |"
            )
            if net == "784-64-64-10" and n_rows == 10_000:
                ok = all(ratio[k] < 5 for k in ("least_squares", "layer_least_squares"))
                goal = f"goal (< 5 epochs, 784-64-64-10, 10,000 rows): {'met' if ok else 'NOT met'}"
    print(f"\n{goal}")


if __name__ == "__main__":
    main()
