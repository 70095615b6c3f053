"""Training speed: skprune's MLPClassifier against scikit-learn's, Adam and SGD.

784-64-64-10 (relu, batch 200) for 3 epochs on 20,000 MNIST training rows,
float32 input, with ``solver="adam"`` and ``solver="sgd"`` (momentum 0.9,
Nesterov), all four in one run. The two libraries are timed in alternating
blocks of ``--block`` fits each, ``--repeat`` blocks per library and solver.
Prints, per solver, the minimum time of the first fit of a block (right
after the other library's fits) and of the later fits, and the ratios ours /
scikit-learn's side by side (goal: <= 1.0 for both solvers).

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
SOLVERS = ("adam", "sgd")
LIBRARIES = {"skprune": MLPClassifier, "sklearn": SklearnMLP}


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

    for solver in SOLVERS:  # warm-up (imports, first-call costs)
        MLPClassifier(**SETTINGS, solver=solver).fit(X[:1000], y[:1000])
    fits = {
        (solver, library): _fit(cls, solver, X, y)
        for solver in SOLVERS
        for library, cls in LIBRARIES.items()
    }
    first = {key: [] for key in fits}
    later = {key: [] for key in fits}
    for _ in range(args.repeat):
        for key, fit in fits.items():
            times = timings(fit, args.block)
            first[key].append(times[0])
            later[key].extend(times[1:])
    print(f"machine: {machine()}")
    print(
        f"784-64-64-10, 3 epochs, batch 200, {len(X)} rows; "
        f"{args.repeat} alternating blocks of {args.block} fits, minimum seconds"
    )
    print("| solver | library | first fit of a block | later fits |")
    print("|---|---|---|---|")
    for (solver, library), times in first.items():
        print(
            f"| {solver} | {library} | {min(times):.3f} "
            f"| {min(later[solver, library]):.3f} |"
        )
    ours, theirs = LIBRARIES
    ratios = [
        f"{solver}: first {_ratio(first, solver, ours, theirs):.2f}, "
        f"later {_ratio(later, solver, ours, theirs):.2f}"
        for solver in SOLVERS
    ]
    print("ratio ours / sklearn (goal <= 1.0): " + "; ".join(ratios))


def _fit(cls, solver, X, y):
    return lambda: cls(**SETTINGS, solver=solver).fit(X, y)


def _ratio(times, solver, ours, theirs):
    return min(times[solver, ours]) / min(times[solver, theirs])


if __name__ == "__main__":
    main()
