"""Test loss after pruning without fine-tuning: EC against the baselines.

MNIST, 784-32-32-10 PReLU (the paper's small net), trained for a few epochs
on a training subset, one dense net per seed. Every method prunes the same
dense net (scored on the same rows) at ratios 0.5, 0.7 and 0.9 with no
fine-tuning; the table shows the median test cross-entropy over seeds. The
paper claims EC ("compensated") is never worse than magnitude pruning.

    python benchmarks/pruning_quality.py [--seeds 5] [--n-train 10000]
"""

import argparse
import warnings

import numpy as np
import pandas as pd
from _common import machine, mnist
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss

from skprune import CompensatedPruner, MLPClassifier
from skprune.importance import get_scorer

METHODS = ["compensated", "nonlinear", "magnitude", "gradient_magnitude", "random"]
RATIOS = [0.5, 0.7, 0.9]


def runs(X, X_test, y, y_test, seeds, epochs, max_samples):
    for seed in range(seeds):
        dense = MLPClassifier(
            (32, 32), activation="prelu", max_iter=epochs, tol=0.0, random_state=seed
        ).fit(X, y)
        proba = dense.predict_proba(X_test)
        yield dict(seed=seed, method="dense", ratio=0.0, loss=log_loss(y_test, proba))
        rows = np.random.RandomState(seed).choice(len(X), max_samples, replace=False)
        for method in METHODS:
            # Score once per method; every ratio prunes by the same scores.
            scores = get_scorer(method)(dense, X[rows], y[rows], random_state=seed)
            for ratio in RATIOS:
                pruner = CompensatedPruner(
                    FrozenEstimator(dense),
                    prune_ratio=ratio,
                    method=lambda *_, scores=scores: scores,
                    fine_tune_epochs=0,
                ).fit(X, y)
                proba = pruner.predict_proba(X_test)
                loss = log_loss(y_test, proba, labels=dense.classes_)
                yield dict(seed=seed, method=method, ratio=ratio, loss=loss)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-samples", type=int, default=2_000)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, X_test, y, y_test = mnist(args.n_train, None, args.data_home)
    table = pd.DataFrame(
        runs(X, X_test, y, y_test, args.seeds, args.epochs, args.max_samples)
    )
    dense = table[table.method == "dense"].loss.median()
    pruned = table[table.method != "dense"]
    median = pruned.pivot_table(
        index="method", columns="ratio", values="loss", aggfunc="median"
    )
    print(f"machine: {machine()}")
    print(
        f"MNIST 784-32-32-10 PReLU, {args.epochs} epochs on {args.n_train} rows, "
        f"{args.seeds} seeds, scored on {args.max_samples} rows, no fine-tuning"
    )
    print(f"median dense test cross-entropy: {dense:.4f}\n")
    print("median test cross-entropy after pruning:\n")
    print(median.loc[METHODS].to_markdown(floatfmt=".4f"))
    wins = {
        r: int(
            (
                pruned[
                    (pruned.method == "compensated") & (pruned.ratio == r)
                ].loss.values
                <= pruned[
                    (pruned.method == "magnitude") & (pruned.ratio == r)
                ].loss.values
            ).sum()
        )
        for r in RATIOS
    }
    print(f"\nseeds where compensated <= magnitude, per ratio: {wins}")
    ok = all(median.loc["compensated", r] <= median.loc["magnitude", r] for r in RATIOS)
    print(
        "claim (median compensated <= magnitude at 0.5, 0.7, 0.9):",
        "holds" if ok else "does NOT hold",
    )


if __name__ == "__main__":
    main()
