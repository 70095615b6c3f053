"""GridSearchCV over 5 pruning ratios x 3 folds, with and without ``memory``.

With ``memory`` each fold's dense network is trained once and reused for
every ratio; without it, it is retrained for every candidate. Default
estimators throughout (``MLPClassifier(random_state=0)``: 100 hidden units,
up to 200 epochs with scikit-learn's stopping rule; ``fine_tune_epochs=10``),
on digits, torch on one thread. For GridSearchCV as it comes (``refit=True``:
after the 15 search fits, one more fit on all rows, a cache miss in both runs)
and for the 15 search fits alone (``refit=False``) it prints the fastest time
of each run, the ratio of the two (goal: >= 3x), and the median and range of
the ratios of the runs timed back to back in each repeat. Then it times the
parts of a candidate's fit (dense fit, cache hit, scoring, fine-tuning) and
the ratio they predict, which is less at the mercy of other load than the
long runs are.

    python benchmarks/grid_search_memory.py [--repeat 4]
"""

import argparse
import statistics
import tempfile
import time
import warnings

import torch
from _common import machine
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold

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


def component_seconds(X, y, repeat):
    """Minimum times of the parts of one candidate's fit, from ``timings_``.

    One fold's training rows (as GridSearchCV's cv=3 splits them): the first
    ratio is a cache miss (the dense fit), the others are cache hits (the
    dense net loaded); then a dense fit on all rows, as in the refit.
    """
    train, _ = next(StratifiedKFold(3).split(X, y))
    names = ("dense fit, fold", "dense fit, all rows", "cache hit", "scoring")
    parts = {name: [] for name in (*names, "fine-tuning", "candidate, cache hit")}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            pruner = CompensatedPruner(MLPClassifier(random_state=0), memory=cache)
            for i, ratio in enumerate(RATIOS):
                start = time.perf_counter()
                pruner.set_params(prune_ratio=ratio).fit(X[train], y[train])
                seconds = time.perf_counter() - start
                timings = pruner.timings_
                if i == 0:
                    parts["dense fit, fold"].append(timings["dense"])
                    continue
                parts["cache hit"].append(timings["dense"])
                parts["scoring"].append(timings["scoring"])
                parts["fine-tuning"].append(timings["fine_tuning"])
                parts["candidate, cache hit"].append(seconds)
            pruner.fit(X, y)
            parts["dense fit, all rows"].append(pruner.timings_["dense"])
    return {name: min(values) for name, values in parts.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=4)
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
    ratios = {True: [], False: []}
    for repeat in range(args.repeat):
        for refit in (True, False):
            # The two runs of a pair are timed back to back, in alternating
            # order, so that a slow phase of a shared machine hits both alike.
            order = (False, True) if repeat % 2 == 0 else (True, False)
            pair = {}
            for cached in order:
                with tempfile.TemporaryDirectory() as cache:  # a cold cache
                    seconds, _ = search_seconds(X, y, cache if cached else None, refit)
                times[refit, cached].append(seconds)
                pair[cached] = seconds
            ratios[refit].append(pair[False] / pair[True])
    best = {key: min(values) for key, values in times.items()}
    print(f"machine: {machine()}")
    print(f"digits, 5 ratios x 3 folds, {args.repeat} repeats (cold cache each time)")
    print(
        "| GridSearchCV | without memory, min (s) | with memory, min (s) "
        "| ratio of the minima | paired ratios: median (range) |"
    )
    print("|---|---|---|---|---|")
    for refit, label in ((True, "refit=True (default)"), (False, "refit=False")):
        without, cached = best[refit, False], best[refit, True]
        paired = sorted(ratios[refit])
        print(
            f"| {label} | {without:.2f} | {cached:.2f} | {without / cached:.2f}x "
            f"| {statistics.median(paired):.2f}x ({paired[0]:.2f}-{paired[-1]:.2f}) |"
        )
    parts = component_seconds(X, y, args.repeat)
    print(f"\nparts of the runs, min of {args.repeat}:")
    for name, seconds in parts.items():
        print(f"  {name}: {seconds * 1000:.1f} ms")
    # A candidate without memory: a dense fit plus what a cache hit does
    # after loading. With memory: 3 dense fits, the other 12 are cache hits.
    rest = parts["candidate, cache hit"] - parts["cache hit"]
    fold, full = parts["dense fit, fold"], parts["dense fit, all rows"]
    without = 15 * (fold + rest) + full + rest
    cached = 3 * (fold + rest) + 12 * parts["candidate, cache hit"] + full + rest
    print(
        f"  predicted from these parts (refit=True): {without:.2f} s / "
        f"{cached:.2f} s = {without / cached:.2f}x"
    )


if __name__ == "__main__":
    main()
