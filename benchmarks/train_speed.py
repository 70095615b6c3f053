"""Training speed: skprune's MLPClassifier against scikit-learn's.

784-64-64-10 (relu, Adam, batch 200) for 3 epochs on 20,000 MNIST training
rows, float32 input, both in one run, each timed as the minimum of several
repeats, alternating. Prints the ratio ours / scikit-learn's (goal: <= 1.0).

    python benchmarks/train_speed.py [--data-home DIR] [--repeat 5]
"""

import argparse
import warnings

import numpy as np
from _common import best_time, machine, mnist
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLP

from skprune import MLPClassifier

SETTINGS = dict(
    hidden_layer_sizes=(64, 64),
    activation="relu",
    batch_size=200,
    max_iter=3,
    tol=0.0,
    random_state=0,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, _, y, _ = mnist(args.n_train, 1, args.data_home)
    X = X.astype(np.float32)

    MLPClassifier(**SETTINGS).fit(X[:1000], y[:1000])  # warm-up (imports)
    ours, theirs = [], []
    for _ in range(args.repeat):  # alternate, so both see the same load
        ours.append(best_time(lambda: MLPClassifier(**SETTINGS).fit(X, y), 1))
        theirs.append(best_time(lambda: SklearnMLP(**SETTINGS).fit(X, y), 1))
    print(f"machine: {machine()}")
    print(f"784-64-64-10, 3 epochs, batch 200, {len(X)} rows, min of {args.repeat}")
    print("| | seconds |")
    print("|---|---|")
    print(f"| skprune.MLPClassifier | {min(ours):.3f} |")
    print(f"| sklearn MLPClassifier | {min(theirs):.3f} |")
    print(f"| ratio ours / sklearn | {min(ours) / min(theirs):.2f} |")


if __name__ == "__main__":
    main()
