"""Prediction time of a few rows: skprune's MLPClassifier against
scikit-learn's, and against its own large-block path.

Fewer than ``SMALL_PREDICT_ROWS`` (32) rows are predicted through the
module's ``predict_rows`` (one float32 copy, the layers computed straight
from the parameters). For ``load_digits`` (64-100-10, the default
``MLPClassifier(max_iter=50, random_state=0)``) and MNIST 784-300-100-10
(3 epochs on 10,000 rows), float64 rows as numpy hands them over, the script
prints per row count the median ``predict_proba`` time of ours and the
ratios:

- ``scikit-learn / ours``: scikit-learn's ``MLPClassifier`` fitted the same
  way (> 1: ours is faster);
- ``large-block path / ours``: the same model with ``SMALL_PREDICT_ROWS = 0``,
  every block through the path that large inputs take (> 1: the small-block
  path is faster); from 32 rows both columns run the same code.

Ratios are medians over repeats of the two times measured side by side
(``_common.paired_times``: at least 20 ms of calls each, which one first
alternating between repeats). The two paths of ours are called in turn,
call by call; scikit-learn's calls and ours run in separate blocks, since
numpy's BLAS threads, still spinning right after one of scikit-learn's
calls, slow down a torch call that follows at once (called in turn, ours
ran several times slower at 8 rows of 784-300-100-10 than in blocks).

    python benchmarks/small_predict.py [--repeats 31]
"""

import argparse
import statistics
import warnings

from _common import machine, mnist, paired_times
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLP

from skprune import MLPClassifier, _mlp

ROWS = (1, 8, 31, 32, 1000)


class _LargeBlocks:
    """``model`` predicting every block through the large-block path."""

    def __init__(self, model):
        self.model = model

    def predict_proba(self, X):
        saved = _mlp.SMALL_PREDICT_ROWS
        _mlp.SMALL_PREDICT_ROWS = 0
        try:
            return self.model.predict_proba(X)
        finally:
            _mlp.SMALL_PREDICT_ROWS = saved


def _case(name, settings, X, y, X_test, repeats):
    ours = MLPClassifier(**settings).fit(X, y)
    theirs = SklearnMLP(**settings).fit(X, y)
    large = _LargeBlocks(ours)
    print(f"\n## {name}\n")
    print("| rows | ours: median us | scikit-learn / ours | large-block path / ours |")
    print("|---:|---:|---:|---:|")
    for n in ROWS:
        rows = X_test[:n]
        cells = []
        for other, interleave in ((theirs, False), (large, True)):
            other_t, ours_t = paired_times(
                lambda other=other, rows=rows: other.predict_proba(rows),
                lambda rows=rows: ours.predict_proba(rows),
                repeats,
                interleave=interleave,
            )
            ratio = statistics.median(a / b for a, b in zip(other_t, ours_t))
            cells.append((ratio, statistics.median(ours_t)))
        print(
            f"| {n} | {cells[1][1] * 1e6:.0f} | {cells[0][0]:.2f} | "
            f"{cells[1][0]:.2f} |",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--repeats", type=int, default=31)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"machine: {machine()}")
    print(
        f"medians of {args.repeats} repeats of >= 20 ms of calls each, "
        "float64 rows; ours: median time beside the large-block path"
    )
    X, y = load_digits(return_X_y=True)
    digits = dict(max_iter=50, random_state=0)
    _case("load_digits, 64-100-10", digits, X, y, X[::-1], args.repeats)
    X, X_test, y, _ = mnist(10_000, 1_000, args.data_home)
    mnist_settings = dict(hidden_layer_sizes=(300, 100), max_iter=3, random_state=0)
    _case(
        "MNIST, 784-300-100-10",
        mnist_settings,
        X / 255.0,
        y,
        X_test / 255.0,
        args.repeats,
    )


if __name__ == "__main__":
    main()
