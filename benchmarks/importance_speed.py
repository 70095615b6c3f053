"""Speed of the importance scorers.

1. ``compensated`` on 20,000 MNIST training rows of a 784-64-64-10 ReLU net,
   against one training epoch of the same net (goal: scoring <= 2 epochs).
2. On 784-32-32-10 with 2,000 rows: the batched ``nonlinear`` brute force on
   all weights against the naive loop (one full forward pass per weight,
   timed on a random sample of weights and extrapolated; goal: >= 20x), and
   ``compensated`` against the batched ``nonlinear``.

Every figure is the minimum over repeats (the machine may be shared).

    python benchmarks/importance_speed.py [--data-home DIR] [--repeat 5]
        [--threads N]
"""

import argparse
import warnings

import numpy as np
import torch
from _common import best_time, machine, mnist
from sklearn.exceptions import ConvergenceWarning

from skprune import MLPClassifier
from skprune.importance import compensated, nonlinear, nonlinear_importance_naive


def time_epoch_and_scoring(X, y, repeat):
    """(one epoch of 784-64-64-10, compensated scoring on the same rows)."""
    settings = dict(hidden_layer_sizes=(64, 64), activation="relu", random_state=0)
    MLPClassifier(max_iter=1, **settings).fit(X[:1000], y[:1000])  # warm-up
    estimator = MLPClassifier(max_iter=1, **settings).fit(X, y)
    compensated(estimator, X)  # warm-up
    epochs, scorings = [], []
    for _ in range(repeat):  # alternate, so both see the same load
        epochs.append(
            best_time(lambda: MLPClassifier(max_iter=1, **settings).fit(X, y), 1)
        )
        scorings.append(best_time(lambda: compensated(estimator, X), 1))
    return min(epochs), min(scorings)


def sample_weights(coefs, n_sample, seed=0):
    """``n_sample`` distinct (layer, j, i), uniform over all weights."""
    sizes = np.cumsum([0] + [c.size for c in coefs])
    flat = np.random.RandomState(seed).choice(sizes[-1], n_sample, replace=False)
    layers = np.searchsorted(sizes, flat, side="right") - 1
    return [
        (int(layer), *map(int, np.unravel_index(f - sizes[layer], coefs[layer].shape)))
        for f, layer in zip(flat, layers)
    ]


def time_nonlinear(X, y, activation, n_sample, repeat):
    """Seconds of batched nonlinear, naive (extrapolated) and compensated."""
    estimator = MLPClassifier((32, 32), activation, max_iter=5, random_state=0).fit(
        X, y
    )
    n_weights = sum(c.size for c in estimator.coefs_)
    sample = sample_weights(estimator.coefs_, n_sample)
    naive, batched, ec = [], [], []
    for _ in range(repeat):  # alternate, so all three see the same load
        naive.append(
            best_time(lambda: nonlinear_importance_naive(estimator, X, sample), 1)
        )
        batched.append(best_time(lambda: nonlinear(estimator, X), 1))
        ec.append(best_time(lambda: compensated(estimator, X), 1))
    return n_weights, min(naive) / n_sample * n_weights, min(batched), min(ec)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--n-sample", type=int, default=300)
    parser.add_argument("--activations", default="relu,prelu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, _, y, _ = mnist(20_000, 1, args.data_home)
    X = X.astype(np.float32)

    epoch, scoring = time_epoch_and_scoring(X, y, args.repeat)
    print(f"machine: {machine()}")
    print(f"minimum of {args.repeat} repeats\n")
    print("| measurement | seconds | ratio |")
    print("|---|---|---|")
    print(f"| one epoch, 784-64-64-10 relu, {len(X):,} rows | {epoch:.3f} | |")
    print(
        f"| compensated, same net and rows | {scoring:.3f} | "
        f"{scoring / epoch:.2f} epochs (goal <= 2) |"
    )
    for activation in args.activations.split(","):
        n_weights, naive, batched, ec = time_nonlinear(
            X[:2000], y[:2000], activation, args.n_sample, min(args.repeat, 3)
        )
        net = f"784-32-32-10 {activation}, 2,000 rows"
        print(
            f"| nonlinear naive, {net}, {n_weights:,} weights (extrapolated from "
            f"{args.n_sample}) | {naive:.2f} | |"
        )
        print(
            f"| nonlinear batched, {net} | {batched:.2f} | "
            f"{naive / batched:.1f}x faster than naive (goal >= 20) |"
        )
        print(
            f"| compensated, {net} | {ec:.3f} | "
            f"{batched / ec:.0f}x faster than batched nonlinear |"
        )


if __name__ == "__main__":
    main()
