"""Training speed: skprune's MLPClassifier against scikit-learn's.

784-64-64-10 (relu, Adam, batch 200) for 3 epochs on 20,000 MNIST training
rows, float32 input, both in one run. The two libraries are timed in
alternating blocks of ``--block`` fits each, ``--repeat`` blocks per library.
Prints the minimum time of the first fit of a block (right after the other
library's fits) and of the later fits, and the ratio ours / scikit-learn's
(goal: <= 1.0).

Why blocks: numpy's OpenBLAS keeps its worker threads spinning for a moment
after a call, and on two cores they compete with torch's threads, so a torch
fit started right after scikit-learn's is slower than the same fit started
after another torch fit (with ``OPENBLAS_NUM_THREADS=1`` the difference goes
away). Both figures are printed.

    python benchmarks/train_speed.py [--data-home DIR] [--repeat 5] [--block 3]
"""

import argparse
import warnings

import numpy as np
from _common import machine, mnist, timings
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
    parser.add_argument("--block", type=int, default=3)
    args = parser.parse_args(argv)
    if args.block < 2:
        parser.error(f"--block must be at least 2, got {args.block}")
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, _, y, _ = mnist(args.n_train, 1, args.data_home)
    X = X.astype(np.float32)

    MLPClassifier(**SETTINGS).fit(X[:1000], y[:1000])  # warm-up (imports)
    libraries = {
        "skprune.MLPClassifier": lambda: MLPClassifier(**SETTINGS).fit(X, y),
        "sklearn MLPClassifier": lambda: SklearnMLP(**SETTINGS).fit(X, y),
    }
    first = {name: [] for name in libraries}
    later = {name: [] for name in libraries}
    for _ in range(args.repeat):
        for name, fit in libraries.items():
            times = timings(fit, args.block)
            first[name].append(times[0])
            later[name].extend(times[1:])
    ours, theirs = libraries
    print(f"machine: {machine()}")
    print(
        f"784-64-64-10, 3 epochs, batch 200, {len(X)} rows; "
        f"{args.repeat} alternating blocks of {args.block} fits, minimum seconds"
    )
    print("| | first fit of a block | later fits |")
    print("|---|---|---|")
    for name in libraries:
        print(f"| {name} | {min(first[name]):.3f} | {min(later[name]):.3f} |")
    print(
        f"| ratio ours / sklearn | {min(first[ours]) / min(first[theirs]):.2f} "
        f"| {min(later[ours]) / min(later[theirs]):.2f} |"
    )


if __name__ == "__main__":
    main()
