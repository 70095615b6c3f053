"""Training speed: skprune's MLPClassifier against scikit-learn's, Adam and SGD.

Two cases. Small data: ``MLPClassifier(max_iter=50, random_state=0)``
(64-100-10, Adam, batch 200) on scikit-learn's ``load_digits``, timed in
this warm process, and the first fit in a fresh process (import included,
interpreter start-up not), ours and scikit-learn's in alternating
subprocesses. MNIST:

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

Both libraries use their default threads: skprune its ``n_threads=None``
rule, scikit-learn numpy's BLAS threads.

Two statistics. The minima over all blocks (first line of ratios) compare
fits that may lie many seconds apart, and a shared machine's speed drifts
within a run: in one of twelve runs, the fastest MNIST fits of the table
took 0.40-0.58 s, against 0.25-0.44 s in the other eleven, and its
scikit-learn SGD fits ranged from 0.401 s to 0.525 s. Paired ratios compare each
block of ours with scikit-learn's block that runs right after it (first
fit with first fit, fastest later fit with fastest later fit), and print
the median over the blocks and the range; a drift moves both fits of a
pair alike.

    python benchmarks/train_speed.py [--data-home DIR] [--repeat 5] [--block 3]
        [--fresh 5] [--skip-mnist]
"""

import argparse
import os
import statistics
import subprocess
import sys
import warnings

import numpy as np
from _common import machine, mnist, timings
from sklearn.datasets import load_digits
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
DIGITS_SETTINGS = dict(max_iter=50, random_state=0)
MODULES = {"skprune": "skprune", "sklearn": "sklearn.neural_network"}

# A fresh process: import, load the digits, one fit; prints the seconds of
# the import and the fit (the interpreter's start-up is not counted).
FRESH_FIT = """
import time
start = time.perf_counter()
import warnings
from {module} import MLPClassifier
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)
MLPClassifier(max_iter=50, random_state=0).fit(X, y)
print(time.perf_counter() - start)
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--block", type=int, default=3)
    parser.add_argument("--fresh", type=int, default=5, help="fresh processes")
    parser.add_argument("--skip-mnist", action="store_true")
    args = parser.parse_args(argv)
    if args.block < 2:
        parser.error(f"--block must be at least 2, got {args.block}")
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    _digits(args)
    if not args.skip_mnist:
        _mnist(args)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def _digits(args):
    X, y = load_digits(return_X_y=True)
    fits = {
        library: (lambda cls=cls: cls(**DIGITS_SETTINGS).fit(X, y))
        for library, cls in LIBRARIES.items()
    }
    for fit in fits.values():  # warm-up
        fit()
    first, later = _alternating_blocks(fits, args.repeat, args.block)
    fresh = {library: [] for library in MODULES}
    for _ in range(args.fresh):
        for library, module in MODULES.items():
            fresh[library].append(_fresh_fit(module))
    print(
        f"\nload_digits, MLPClassifier(max_iter=50, random_state=0), {len(X)} rows; "
        f"{args.repeat} alternating blocks of {args.block} fits, minimum seconds; "
        f"fresh process (import + first fit): minimum of {args.fresh}"
    )
    print("| library | first fit of a block | later fits | fresh process |")
    print("|---|---|---|---|")

    def fresh_cell(library):
        return f"{min(fresh[library]):.3f}" if args.fresh else "not run"

    for library in LIBRARIES:
        print(
            f"| {library} | {min(first[library]):.3f} | {_min(later[library]):.3f} "
            f"| {fresh_cell(library)} |"
        )
    ours, theirs = LIBRARIES
    fresh_ratio = (
        f"{min(fresh[ours]) / min(fresh[theirs]):.2f}" if args.fresh else "not run"
    )
    print(
        "ratio ours / sklearn (goal <= 1.0 warm): "
        f"first {min(first[ours]) / min(first[theirs]):.2f}, "
        f"later {_min(later[ours]) / _min(later[theirs]):.2f}, "
        f"fresh process {fresh_ratio}"
    )
    print("paired ratio ours / sklearn: " + _paired(first, later, ours, theirs))


def _alternating_blocks(fits, repeat, block):
    """Per key, the seconds of each block's first fit and the list of its
    later fits' seconds, block by block."""
    first = {key: [] for key in fits}
    later = {key: [] for key in fits}
    for _ in range(repeat):
        for key, fit in fits.items():
            times = timings(fit, block)
            first[key].append(times[0])
            later[key].append(times[1:])
    return first, later


def _min(blocks):
    """The fastest later fit over all blocks."""
    return min(min(times) for times in blocks)


def _paired(first, later, ours, theirs):
    """Median (range) over blocks of ours / theirs, block by block."""
    firsts = [a / b for a, b in zip(first[ours], first[theirs])]
    laters = [min(a) / min(b) for a, b in zip(later[ours], later[theirs])]
    return ", ".join(
        f"{name} {statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f})"
        for name, r in (("first", firsts), ("later", laters))
    )


def _fresh_fit(module):
    """Seconds of import + first digits fit in a new Python process."""
    code = FRESH_FIT.format(module=module)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return float(out.stdout.split()[-1])


def _mnist(args):
    X, _, y, _ = mnist(args.n_train, 1, args.data_home)
    X = X.astype(np.float32)
    for solver in SOLVERS:  # warm-up (imports, first-call costs)
        MLPClassifier(**SETTINGS, solver=solver).fit(X[:1000], y[:1000])
    fits = {
        (solver, library): _fit(cls, solver, X, y)
        for solver in SOLVERS
        for library, cls in LIBRARIES.items()
    }
    first, later = _alternating_blocks(fits, args.repeat, args.block)
    print(
        f"\n784-64-64-10, 3 epochs, batch 200, {len(X)} rows; "
        f"{args.repeat} alternating blocks of {args.block} fits, minimum seconds"
    )
    print("| solver | library | first fit of a block | later fits |")
    print("|---|---|---|---|")
    for (solver, library), times in first.items():
        print(
            f"| {solver} | {library} | {min(times):.3f} "
            f"| {_min(later[solver, library]):.3f} |"
        )
    ours, theirs = LIBRARIES
    ratios = [
        f"{solver}: first "
        f"{min(first[solver, ours]) / min(first[solver, theirs]):.2f}, "
        f"later {_min(later[solver, ours]) / _min(later[solver, theirs]):.2f}"
        for solver in SOLVERS
    ]
    print("ratio ours / sklearn (goal <= 1.0): " + "; ".join(ratios))
    paired = [
        f"{solver}: " + _paired(first, later, (solver, ours), (solver, theirs))
        for solver in SOLVERS
    ]
    print("paired ratio ours / sklearn: " + "; ".join(paired))


def _fit(cls, solver, X, y):
    return lambda: cls(**SETTINGS, solver=solver).fit(X, y)


if __name__ == "__main__":
    main()
