"""GridSearchCV over 5 pruning ratios x 3 folds, with and without ``memory``.

With ``memory`` each fold's dense network is trained once and reused for
every ratio; without it, it is retrained for every candidate. Default
estimators throughout (``MLPClassifier(random_state=0)``: 100 hidden units,
up to 200 epochs with scikit-learn's stopping rule; ``fine_tune_epochs=10``),
on digits, torch on one thread. Prints both times and the ratio (goal: >= 3x).

    python benchmarks/grid_search_memory.py [--repeat 2]
"""

import argparse
import tempfile
import time
import warnings

import torch
from _common import machine
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skprune import CompensatedPruner, MLPClassifier

RATIOS = [0.1, 0.3, 0.5, 0.7, 0.9]


def search_seconds(X, y, memory):
    search = GridSearchCV(
        CompensatedPruner(MLPClassifier(random_state=0), memory=memory),
        {"prune_ratio": RATIOS},
        cv=3,
    )
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start, search.best_params_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    # One intra-op thread: on a shared machine, two spinning OpenMP threads
    # make small-net timings swing by 10x; the ratio is what is measured.
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    with_memory, without = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache:  # a cold cache every time
            with_memory.append(search_seconds(X, y, cache)[0])
        without.append(search_seconds(X, y, None)[0])
    print(f"machine: {machine()}")
    print(f"digits, 5 ratios x 3 folds, min of {args.repeat} (cold cache each time)")
    print("| | seconds |")
    print("|---|---|")
    print(f"| without memory | {min(without):.2f} |")
    print(f"| with memory | {min(with_memory):.2f} |")
    print(f"| speed-up | {min(without) / min(with_memory):.2f}x |")


if __name__ == "__main__":
    main()
