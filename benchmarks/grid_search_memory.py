"""GridSearchCV over 5 pruning ratios x 3 folds, with and without ``memory``.

With ``memory`` each fold's dense network is trained once and reused for
every ratio; without it, it is retrained for every candidate. Default
estimators throughout (``MLPClassifier(random_state=0)``: 100 hidden units,
up to 200 epochs with scikit-learn's stopping rule; ``fine_tune_epochs=10``),
on digits, torch on one thread. Prints both times and the ratio (goal: >= 3x)
for GridSearchCV as it comes (``refit=True``: after the 15 search fits, one
more fit on all rows, a cache miss in both runs) and for the 15 search fits
alone (``refit=False``).

    python benchmarks/grid_search_memory.py [--repeat 3]
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


def search_seconds(X, y, memory, refit):
    search = GridSearchCV(
        CompensatedPruner(MLPClassifier(random_state=0), memory=memory),
        {"prune_ratio": RATIOS},
        cv=3,
        refit=refit,
    )
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start, search.best_params_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    # One intra-op thread: on a shared machine, two spinning OpenMP threads
    # make small-net timings swing by 10x; the ratio is what is measured.
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    CompensatedPruner(MLPClassifier(max_iter=2), fine_tune_epochs=1).fit(
        X, y
    )  # warm-up
    times = {(refit, cached): [] for refit in (True, False) for cached in (True, False)}
    for _ in range(args.repeat):
        for refit, cached in times:
            with tempfile.TemporaryDirectory() as cache:  # a cold cache every time
                seconds, _ = search_seconds(X, y, cache if cached else None, refit)
            times[refit, cached].append(seconds)
    best = {key: min(values) for key, values in times.items()}
    print(f"machine: {machine()}")
    print(f"digits, 5 ratios x 3 folds, min of {args.repeat} (cold cache each time)")
    print("| GridSearchCV | without memory (s) | with memory (s) | speed-up |")
    print("|---|---|---|---|")
    for refit, label in ((True, "refit=True (default)"), (False, "refit=False")):
        without, cached = best[refit, False], best[refit, True]
        print(f"| {label} | {without:.2f} | {cached:.2f} | {without / cached:.2f}x |")


if __name__ == "__main__":
    main()
