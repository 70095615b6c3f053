"""The ``skprune`` command line: ``skprune compare`` runs the paper's comparison.

For every seed it trains one dense network, then prunes it with every
method at every pruning ratio, once without and once with fine-tuning, and
writes ``results.csv`` (one row per run), ``results.md`` (median test loss
per method and ratio, printed too) and ``violin.png`` (test loss against
pruning ratio, as in the paper's figures)::

    skprune compare                                   # digits, about a minute
    skprune compare --dataset mnist --architecture mnist-large --n-seeds 5
    skprune compare --dataset diffusion-sorption --noise high
    skprune compare --dataset csv --csv data.csv --target label --ratios 0.5,0.9
    python -m skprune compare --help
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._report import RESULT_COLUMNS, markdown_report, plot_loss_violins
from .importance import METHODS

PRESETS = {
    "mnist-small": (32, 32),  # 784-32-32-10, 26,432 weights
    "mnist-large": (64, 64),  # 784-64-64-10, 54,912 weights
    "diffsorp-small": (32, 32, 32),  # 68-32-32-32-1, 4,256 weights
    "diffsorp-large": (64, 32, 32, 16, 16),  # 68-64-32-32-16-16-1, 8,208 weights
}
"""The paper's architectures, by name: their hidden-layer widths."""

DATASETS = ("digits", "mnist", "diffusion-sorption", "csv")
DEFAULT_ARCHITECTURE = {
    "digits": "32,32",
    "mnist": "mnist-small",
    "diffusion-sorption": "diffsorp-small",
    "csv": "32,32",
}
ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "prelu")
DEFAULT_ACTIVATION = "prelu"  # as in the paper
DEFAULT_EPOCHS = 40
DEFAULT_FINE_TUNE_EPOCHS = 10
DEFAULT_RATIOS = (0.1, 0.3, 0.5, 0.7, 0.9)  # the paper: 0.1, 0.2, ..., 0.9
DEFAULT_N_SEEDS = 3
DEFAULT_NOISE = "low"
DEFAULT_DIFFSORP_SAMPLES = 4000
DEFAULT_N_CELLS = 1024  # PDEBench's grid
TEST_SIZE = 0.25  # share of the rows held out, where the data has no split
SPLIT_SEED = 0  # fixed: the train/test split and the drawn samples
DIGITS_MAX_VALUE = 16.0  # pixel values of load_digits are 0..16
FEW_UNIQUE = 10  # a float target with at most this many values is a class label
MNIST_HOME_ENV = "SKPRUNE_MNIST_HOME"
PLOT_DPI = 120
MAX_SEED = 2**32 - 1  # numpy's RandomState takes seeds below 2**32


# ----------------------------------------------------------------- parsing
# Pure parsers raising ValueError with the offending input; argparse shows
# their message as is.


def _split_list(text: str, what: str) -> list[str]:
    items = [item.strip() for item in str(text).split(",")]
    if not all(items):
        raise ValueError(f"expected comma-separated {what}, got {text!r}.")
    return items


def parse_architecture(text: str) -> tuple[int, ...]:
    """Hidden-layer widths from a preset name or comma-separated widths.

    Examples
    --------
    >>> from skprune.cli import parse_architecture
    >>> parse_architecture("diffsorp-small"), parse_architecture("64,16")
    ((32, 32, 32), (64, 16))
    """
    if text in PRESETS:
        return PRESETS[text]
    try:
        widths = tuple(int(item) for item in _split_list(text, "hidden widths"))
    except ValueError:
        widths = ()
    if not widths or min(widths) < 1:
        raise ValueError(
            f"expected a preset ({', '.join(PRESETS)}) or "
            f"comma-separated positive hidden widths like '32,32', got {text!r}."
        )
    return widths


def parse_ratios(text: str) -> tuple[float, ...]:
    """Distinct pruning ratios in [0, 1), sorted, from ``"0.1,0.5,0.9"``."""
    try:
        ratios = [float(item) for item in _split_list(text, "pruning ratios")]
    except ValueError:
        ratios = [np.nan]
    if not all(0 <= r < 1 for r in ratios):
        raise ValueError(
            "expected comma-separated pruning ratios in [0, 1) like "
            f"'0.1,0.5,0.9', got {text!r}."
        )
    if len(set(ratios)) < len(ratios):
        raise ValueError(f"each pruning ratio may appear once, got {text!r}.")
    return tuple(sorted(ratios))


def parse_methods(text: str) -> tuple[str, ...]:
    """Pruning methods from ``"compensated,magnitude"`` (or ``"all"``)."""
    if text == "all":
        return METHODS
    methods = _split_list(text, "methods")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(
            f"unknown method(s) {', '.join(map(repr, unknown))}; "
            f"expected a comma-separated list of {', '.join(METHODS)} (or 'all')."
        )
    if len(set(methods)) < len(methods):
        raise ValueError(f"each method may appear once, got {text!r}.")
    return tuple(methods)


def parse_seeds(text: str) -> tuple[int, ...]:
    """Distinct non-negative integer seeds from ``"0,1,2"``."""
    try:
        seeds = [int(item) for item in _split_list(text, "seeds")]
    except ValueError:
        seeds = [-1]
    if not 0 <= min(seeds) <= max(seeds) <= MAX_SEED or len(set(seeds)) < len(seeds):
        raise ValueError(
            f"expected distinct comma-separated integer seeds in [0, {MAX_SEED}] "
            f"like '0,1,2', got {text!r}."
        )
    return tuple(seeds)


def parse_noise(text: str) -> str | float:
    """A noise level name (low, medium, high) or an amplitude >= 0."""
    from .datasets import NOISE_LEVELS

    if text in NOISE_LEVELS:
        return text
    try:
        noise = float(text)
    except ValueError:
        noise = np.nan
    if not (noise >= 0 and np.isfinite(noise)):
        raise ValueError(
            f"expected a noise level, one of {', '.join(NOISE_LEVELS)} or a number "
            f">= 0, got {text!r}."
        )
    return noise


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"expected an integer >= 1, got {text!r}.")
    return value


def _n_jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0:
        raise ValueError(f"expected a non-zero integer (-1: all cores), got {text!r}.")
    return value


def _argtype(parse):
    """An argparse ``type`` that shows the parser's ValueError message."""

    def convert(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _add_data_arguments(parser):
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        choices=DATASETS,
        default="digits",
        help="data set (default: %(default)s, shipped with scikit-learn)",
    )
    data.add_argument(
        "--data-home", metavar="DIR", help=f"MNIST folder (default: ${MNIST_HOME_ENV})"
    )
    data.add_argument(
        "--n-train",
        metavar="N",
        type=_argtype(_positive_int),
        help="use the first N training rows",
    )
    data.add_argument(
        "--n-test",
        metavar="N",
        type=_argtype(_positive_int),
        help="use the first N test rows",
    )


def _add_diffusion_sorption_arguments(parser):
    group = parser.add_argument_group("--dataset diffusion-sorption")
    group.add_argument(
        "--noise",
        metavar="LEVEL",
        type=_argtype(parse_noise),
        help=f"noise level: low, medium, high or an amplitude (default: {DEFAULT_NOISE})",
    )
    group.add_argument(
        "--n-samples",
        metavar="N",
        type=_argtype(_positive_int),
        help=f"samples, train and test (default: {DEFAULT_DIFFSORP_SAMPLES})",
    )
    group.add_argument(
        "--n-cells",
        metavar="N",
        type=_argtype(_positive_int),
        help=f"simulation grid cells (default: {DEFAULT_N_CELLS}; simulations are "
        "cached on disk, the first ones take minutes)",
    )


def _add_csv_arguments(parser):
    group = parser.add_argument_group("--dataset csv")
    group.add_argument(
        "--csv", metavar="PATH", type=Path, help="the CSV file, with a header row"
    )
    group.add_argument("--target", metavar="COLUMN", help="the target column")
    group.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="default: classification if the target is not float or has at most "
        f"{FEW_UNIQUE} distinct values",
    )


def _add_network_arguments(parser):
    group = parser.add_argument_group("network")
    group.add_argument(
        "--architecture",
        metavar="WIDTHS",
        type=_argtype(parse_architecture),
        help=f"hidden widths like 32,32 or a preset: {', '.join(PRESETS)} "
        "(default: mnist-small, diffsorp-small for those data sets, else 32,32)",
    )
    group.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default=DEFAULT_ACTIVATION,
        help="hidden activation (default: %(default)s)",
    )
    group.add_argument(
        "--epochs",
        metavar="N",
        type=_argtype(_positive_int),
        default=DEFAULT_EPOCHS,
        help="dense training epochs, never stopped early (default: %(default)s)",
    )
    group.add_argument(
        "--fine-tune-epochs",
        metavar="N",
        type=_argtype(_positive_int),
        default=DEFAULT_FINE_TUNE_EPOCHS,
        help="epochs of the fine-tuned runs (default: %(default)s)",
    )


def _add_sweep_arguments(parser):
    group = parser.add_argument_group("pruning runs")
    group.add_argument(
        "--methods",
        metavar="LIST",
        type=_argtype(parse_methods),
        default=METHODS,
        help=f"comma-separated, of {', '.join(METHODS)} (default: all)",
    )
    group.add_argument(
        "--ratios",
        metavar="LIST",
        type=_argtype(parse_ratios),
        default=DEFAULT_RATIOS,
        help="comma-separated pruning ratios (default: 0.1,0.3,0.5,0.7,0.9; the "
        "paper: 0.1,0.2,...,0.9)",
    )
    seeds = group.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seeds",
        metavar="LIST",
        type=_argtype(parse_seeds),
        help="comma-separated seeds, e.g. 0,1,2",
    )
    seeds.add_argument(
        "--n-seeds",
        metavar="N",
        type=_argtype(_positive_int),
        help=f"use the seeds 0..N-1 (default: {DEFAULT_N_SEEDS})",
    )
    group.add_argument(
        "--scope",
        choices=("global", "layer"),
        default="global",
        help="rank all weights together or each layer apart (default: %(default)s)",
    )
    group.add_argument(
        "--max-samples",
        metavar="N",
        type=_argtype(_positive_int),
        help="score the weights on at most N training rows (default: all)",
    )


def _add_run_arguments(parser):
    group = parser.add_argument_group("run")
    group.add_argument(
        "--n-jobs",
        metavar="N",
        type=_argtype(_n_jobs),
        default=1,
        help="parallel runs (default: %(default)s; -1: all cores)",
    )
    group.add_argument(
        "--output-dir",
        metavar="DIR",
        type=Path,
        help="where to write results.csv, results.md and violin.png "
        "(default: results/<dataset>)",
    )
    group.add_argument(
        "--threads",
        type=_argtype(_positive_int),
        default=1,
        metavar="N",
        help="torch threads per run (default: %(default)s, fastest for small nets; "
        "use --n-jobs for more cores)",
    )
    group.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The ``skprune`` argument parser (subcommand ``compare``)."""
    parser = argparse.ArgumentParser(
        prog="skprune",
        description="Elimination-compensation pruning of fully-connected networks.",
    )
    commands = parser.add_subparsers(title="commands", dest="command", required=True)
    compare = commands.add_parser(
        "compare",
        help="compare pruning methods over ratios and seeds",
        description="Train one dense net per seed, prune it with every method at "
        "every ratio, without and with fine-tuning; write results.csv, "
        "results.md and violin.png.",
    )
    for add_arguments in (
        _add_data_arguments,
        _add_diffusion_sorption_arguments,
        _add_csv_arguments,
        _add_network_arguments,
        _add_sweep_arguments,
        _add_run_arguments,
    ):
        add_arguments(compare)
    compare.set_defaults(handler=_compare, parser=compare)
    return parser


_DATASET_OPTIONS = {
    "data_home": ("--data-home", ("mnist",)),
    "noise": ("--noise", ("diffusion-sorption",)),
    "n_samples": ("--n-samples", ("diffusion-sorption",)),
    "n_cells": ("--n-cells", ("diffusion-sorption",)),
    "csv": ("--csv", ("csv",)),
    "target": ("--target", ("csv",)),
    "task": ("--task", ("csv",)),
}


def check_compare_args(args: argparse.Namespace) -> None:
    """Check options that depend on each other; raise ValueError if they clash."""
    for name, (flag, datasets) in _DATASET_OPTIONS.items():
        if getattr(args, name) is not None and args.dataset not in datasets:
            raise ValueError(
                f"{flag} applies only to --dataset {' or '.join(datasets)}, "
                f"not to --dataset {args.dataset}."
            )
    if args.dataset == "csv" and (args.csv is None or args.target is None):
        raise ValueError("--dataset csv needs --csv PATH and --target COLUMN.")


# -------------------------------------------------------------------- data


@dataclass
class Dataset:
    """A train/test split and what to call it."""

    name: str
    task: str  # "classification" or "regression"
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def _split(X, y, task):
    from sklearn.model_selection import train_test_split

    stratify = y if task == "classification" and _can_stratify(y) else None
    return train_test_split(
        X, y, test_size=TEST_SIZE, stratify=stratify, random_state=SPLIT_SEED
    )


def _can_stratify(y) -> bool:
    _, counts = np.unique(y, return_counts=True)
    return counts.min() >= 2


def _standardize(X_train, X_test):
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def load_digits_split() -> Dataset:
    """scikit-learn's 8x8 digits scaled to [0, 1], stratified 75/25 split."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    parts = _split(X / DIGITS_MAX_VALUE, y, "classification")
    return Dataset("digits", "classification", *parts)


def load_mnist_split(data_home=None, n_train=None, n_test=None) -> Dataset:
    """MNIST's own split, pixels in [0, 1] (see :func:`skprune.datasets.load_mnist`)."""
    from .datasets import load_mnist

    parts = load_mnist(
        data_home=data_home, n_train=n_train, n_test=n_test, return_X_y=True
    )
    return Dataset("mnist", "classification", *parts)


def load_diffusion_sorption_split(
    noise=DEFAULT_NOISE,
    n_samples=DEFAULT_DIFFSORP_SAMPLES,
    n_cells=DEFAULT_N_CELLS,
    n_jobs=None,
) -> Dataset:
    """Diffusion-sorption regression data, standardised inputs, raw targets u.

    The targets stay in the units of u, so the test loss is the MSE of u.
    """
    from .datasets import make_diffusion_sorption

    X, y = make_diffusion_sorption(
        n_samples, n_cells=n_cells, noise=noise, n_jobs=n_jobs, random_state=SPLIT_SEED
    )
    X_train, X_test, y_train, y_test = _split(X, y, "regression")
    X_train, X_test = _standardize(X_train, X_test)
    return Dataset(
        f"diffusion-sorption-{noise}", "regression", X_train, X_test, y_train, y_test
    )


def infer_task(y: pd.Series) -> str:
    """``"regression"`` for a float target with many values, else classification.

    Examples
    --------
    >>> import pandas as pd
    >>> from skprune.cli import infer_task
    >>> infer_task(pd.Series(["a", "b"])), infer_task(pd.Series(range(50)) / 7)
    ('classification', 'regression')
    """
    is_float = pd.api.types.is_float_dtype(y)
    return "regression" if is_float and y.nunique() > FEW_UNIQUE else "classification"


def _read_csv_table(path: Path, target: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(path)
    if target not in frame.columns:
        raise ValueError(
            f"target column {target!r} is not in {path.name}; its columns are "
            f"{', '.join(map(str, frame.columns))}."
        )
    y = frame.pop(target)
    X = pd.get_dummies(frame, dtype=float)  # one-hot encode non-numeric columns
    missing = [str(c) for c in frame.columns if frame[c].isna().any()]
    if y.isna().any():
        missing.insert(0, target)
    if missing:
        raise ValueError(
            f"{path.name} has missing values in column(s) {', '.join(missing)}; "
            "fill or drop them first."
        )
    if X.shape[1] == 0:
        raise ValueError(f"{path.name} has no feature column besides {target!r}.")
    return X, y


def load_csv_split(path: Path, target: str, task: str | None = None) -> Dataset:
    """A user's CSV: one-hot non-numeric features, standardise, split 75/25.

    For regression the target is standardised too (with the training rows'
    mean and standard deviation), so the test loss is the MSE of the
    standardised target.
    """
    X, y = _read_csv_table(Path(path), target)
    task = task or infer_task(y)
    X = X.to_numpy(dtype=float)
    y = y.to_numpy(dtype=float) if task == "regression" else y.to_numpy()
    X_train, X_test, y_train, y_test = _split(X, y, task)
    X_train, X_test = _standardize(X_train, X_test)
    if task == "regression":
        mean, std = y_train.mean(), y_train.std() or 1.0
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    return Dataset(Path(path).stem, task, X_train, X_test, y_train, y_test)


def _subset(data: Dataset, n_train=None, n_test=None) -> Dataset:
    """Keep the first `n_train` / `n_test` rows (the split is already shuffled)."""
    for n, part in ((n_train, "train"), (n_test, "test")):
        available = len(getattr(data, f"y_{part}"))
        if n is not None and n > available:
            raise ValueError(
                f"--n-{part} {n} exceeds the {available} {part} rows of {data.name}."
            )
    return Dataset(
        data.name,
        data.task,
        data.X_train[:n_train],
        data.X_test[:n_test],
        data.y_train[:n_train],
        data.y_test[:n_test],
    )


def load_dataset(args: argparse.Namespace) -> Dataset:
    """The train/test data the ``compare`` arguments ask for."""
    if args.dataset == "mnist":
        return load_mnist_split(args.data_home, args.n_train, args.n_test)
    if args.dataset == "digits":
        data = load_digits_split()
    elif args.dataset == "diffusion-sorption":
        data = load_diffusion_sorption_split(
            DEFAULT_NOISE if args.noise is None else args.noise,
            args.n_samples or DEFAULT_DIFFSORP_SAMPLES,
            args.n_cells or DEFAULT_N_CELLS,
            n_jobs=args.n_jobs,
        )
    else:
        data = load_csv_split(args.csv, args.target, args.task)
    return _subset(data, args.n_train, args.n_test)


# -------------------------------------------------------------------- runs


def make_estimator(
    task: str, hidden_layer_sizes, activation=DEFAULT_ACTIVATION, epochs=DEFAULT_EPOCHS
):
    """The dense MLP: exactly `epochs` epochs of Adam (tol=0, no early stop)."""
    from . import MLPClassifier, MLPRegressor

    cls = MLPClassifier if task == "classification" else MLPRegressor
    return cls(
        hidden_layer_sizes,
        activation,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs,  # never stops before max_iter
    )


def heldout_loss(model, X, y, labels=None) -> float:
    """Cross-entropy for a classifier (over `labels`), else mean squared error."""
    from sklearn.base import is_classifier
    from sklearn.metrics import log_loss, mean_squared_error

    if is_classifier(model):
        return float(log_loss(y, model.predict_proba(X), labels=labels))
    return float(mean_squared_error(y, model.predict(X)))


def _architecture(dense) -> str:
    units = [c.shape[0] for c in dense.coefs_] + [dense.coefs_[-1].shape[1]]
    return "-".join(map(str, units))


@contextmanager
def _training(threads: int | None):
    """Train on `threads` torch threads (None: as is), without ConvergenceWarning.

    Every fit runs its full epoch budget on purpose, so scikit-learn's
    warning that the optimizer has not converged is expected.
    """
    import torch
    from sklearn.exceptions import ConvergenceWarning

    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=ConvergenceWarning)
            yield
    finally:
        torch.set_num_threads(previous)


class _CachedScores:
    """A scorer returning scores computed once (shared by every ratio)."""

    def __init__(self, scores):
        self.scores = scores

    def __call__(self, estimator, X, y):
        return self.scores


def _score_once(frozen, data: Dataset, seed, method, max_samples, threads):
    """Score the frozen dense net once for `method`, as the pruner would.

    Returns the scorer output and its seconds. Rows and random numbers are
    drawn as :class:`~skprune.CompensatedPruner` draws them with
    ``random_state=seed``, so the cached scores equal the pruner's own.
    """
    from sklearn.utils import check_random_state

    from ._pruner import scoring_rows
    from .importance import get_scorer

    rng = check_random_state(seed)
    X, y = scoring_rows(data.X_train, data.y_train, max_samples, rng)
    with _training(threads):
        start = time.perf_counter()
        scores = get_scorer(method)(frozen.estimator, X, y, random_state=rng)
        return scores, time.perf_counter() - start


def _prune_run(
    frozen,
    data: Dataset,
    seed,
    method,
    ratio,
    fine_tune_epochs,
    *,
    threads,
    scores=None,
    score_seconds=0.0,
    **params,
) -> dict:
    """Fit one pruner on the frozen dense net; its test loss, score and times.

    With `scores` (from :func:`_score_once`), the pruner ranks by them instead
    of scoring again; `score_seconds` is then added to its times.
    """
    from . import CompensatedPruner

    pruner = CompensatedPruner(
        frozen,
        prune_ratio=ratio,
        method=method if scores is None else _CachedScores(scores),
        fine_tune_epochs=fine_tune_epochs,
        random_state=seed,
        **params,
    )
    with _training(threads):
        start = time.perf_counter()
        pruner.fit(data.X_train, data.y_train)
        seconds = time.perf_counter() - start + score_seconds
    timings = getattr(pruner, "timings_", {})
    labels = getattr(frozen, "classes_", None)
    return {
        "seed": seed,
        "method": method,
        "ratio": ratio,
        "fine_tuned": fine_tune_epochs > 0,
        "test_loss": heldout_loss(pruner, data.X_test, data.y_test, labels),
        "test_score": float(pruner.score(data.X_test, data.y_test)),
        "sparsity": float(pruner.sparsity_),
        "fit_seconds": seconds,
        "prune_seconds": timings.get("scoring", 0.0 if timings else np.nan)
        + score_seconds,
        "fine_tune_seconds": timings.get("fine_tuning", np.nan),
    }


def _fit_dense(estimator, data: Dataset, seed: int, threads: int | None):
    """Fit a clone of `estimator` seeded with `seed`; frozen, with its test results."""
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator

    with _training(threads):
        dense = clone(estimator).set_params(random_state=seed)
        dense.fit(data.X_train, data.y_train)
    labels = getattr(dense, "classes_", None)
    return FrozenEstimator(dense), {
        "dataset": data.name,
        "architecture": _architecture(dense),
        "dense_test_loss": heldout_loss(dense, data.X_test, data.y_test, labels),
        "dense_test_score": float(dense.score(data.X_test, data.y_test)),
    }


def _cached_kwargs(cached, method):
    if method not in cached:
        return {}
    scores, seconds = cached[method]
    return {"scores": scores, "score_seconds": seconds}


def _runs(methods, ratios, fine_tune_epochs):
    return [(m, r, e) for m in methods for r in ratios for e in (0, fine_tune_epochs)]


def run_comparison(
    data: Dataset,
    estimator,
    *,
    methods=METHODS,
    ratios=DEFAULT_RATIOS,
    seeds=range(DEFAULT_N_SEEDS),
    fine_tune_epochs=DEFAULT_FINE_TUNE_EPOCHS,
    scope="global",
    max_samples=None,
    n_jobs=1,
    threads=1,
    progress=True,
) -> pd.DataFrame:
    """Prune each seed's dense net with every method and ratio, with and without fine-tuning.

    For every seed, a clone of `estimator` with ``random_state=seed`` is
    fitted once and frozen; each method scores it once; then one
    :class:`~skprune.CompensatedPruner` (``random_state=seed``, ranking by
    those scores) is fitted per method x ratio x {0,
    `fine_tune_epochs`} fine-tuning epochs. Runs of one seed go in parallel
    over `n_jobs` workers.

    Parameters
    ----------
    data : Dataset
        Train and test data (see :func:`load_dataset`).
    estimator : MLPClassifier or MLPRegressor
        The unfitted dense net (e.g. from :func:`make_estimator`).
    methods, ratios, seeds : sequences
        What to run.
    fine_tune_epochs : int
        Fine-tuning epochs of the fine-tuned runs.
    scope, max_samples
        Passed to the pruner.
    n_jobs : int
        Parallel runs (joblib).
    threads : int or None
        Torch threads of each fit (None: leave torch's setting). Small
        networks train fastest on one thread, several times faster than on
        two when other processes share the cores.
    progress : bool
        Show a tqdm progress bar over the runs.

    Returns
    -------
    results : DataFrame
        One row per run with the columns of
        :data:`skprune._report.RESULT_COLUMNS`.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    runs = _runs(methods, ratios, fine_tune_epochs)
    # Each method scores a seed's dense net once (_score_once); its runs at
    # every ratio, with and without fine-tuning, rank by those scores.
    params = {"scope": scope, "threads": threads}
    rows = []
    with tqdm(total=len(seeds) * len(runs), disable=not progress, unit="run") as bar:
        for seed in seeds:
            bar.set_description(f"seed {seed}: dense fit")
            frozen, dense_info = _fit_dense(estimator, data, seed, threads)
            bar.set_description(f"seed {seed}: scoring")
            cached = {
                m: _score_once(frozen, data, seed, m, max_samples, threads)
                for m in methods
                if m != "fully_connected"
            }
            bar.set_description(f"seed {seed}")
            jobs = (
                delayed(_prune_run)(
                    frozen,
                    data,
                    seed,
                    *run,
                    **params,
                    **_cached_kwargs(cached, run[0]),
                )
                for run in runs
            )
            for row in Parallel(n_jobs=n_jobs, return_as="generator")(jobs):
                rows.append({**dense_info, **row})
                bar.update()
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


# ----------------------------------------------------------------- outputs


def write_outputs(results: pd.DataFrame, output_dir: Path) -> dict[str, Path]:
    """Write ``results.csv``, ``results.md`` and ``violin.png``; return their paths.

    The plot needs matplotlib (``pip install skprune[plots]``); without it
    only the two tables are written.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": output_dir / "results.csv", "markdown": output_dir / "results.md"}
    results.to_csv(paths["csv"], index=False)
    paths["markdown"].write_text(markdown_report(results), encoding="utf-8")
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no violin.png (pip install matplotlib)")
        return paths
    paths["plot"] = output_dir / "violin.png"
    fig = plot_loss_violins(results, title=_plot_title(results))
    fig.savefig(paths["plot"], dpi=PLOT_DPI)
    plt.close(fig)
    return paths


def _plot_title(results: pd.DataFrame) -> str:
    dataset, architecture = results["dataset"].iloc[0], results["architecture"].iloc[0]
    return f"{dataset}, {architecture}, {results['seed'].nunique()} seed(s)"


def _fail(message: str):
    raise SystemExit(f"skprune compare: error: {message}")


def _use_file_backend():
    """Draw to files only: the command needs no display."""
    try:
        import matplotlib
    except ImportError:
        return
    matplotlib.use("Agg")


def _compare(args: argparse.Namespace) -> int:
    _use_file_backend()
    if args.dataset == "diffusion-sorption" and not args.quiet:
        print(
            "Simulating diffusion-sorption trajectories, or reading them from the "
            "cache; the first simulation on a fine grid takes minutes.",
            file=sys.stderr,
        )
    try:
        data = load_dataset(args)
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    architecture = args.architecture or parse_architecture(
        DEFAULT_ARCHITECTURE[args.dataset]
    )
    estimator = make_estimator(data.task, architecture, args.activation, args.epochs)
    seeds = args.seeds or tuple(range(args.n_seeds or DEFAULT_N_SEEDS))
    start = time.perf_counter()
    results = run_comparison(
        data,
        estimator,
        methods=args.methods,
        ratios=args.ratios,
        seeds=seeds,
        fine_tune_epochs=args.fine_tune_epochs,
        scope=args.scope,
        max_samples=args.max_samples,
        n_jobs=args.n_jobs,
        threads=args.threads,
        progress=not args.quiet,
    )
    paths = write_outputs(results, args.output_dir or Path("results") / data.name)
    print(paths["markdown"].read_text(encoding="utf-8"))
    print(
        f"{len(results)} runs in {time.perf_counter() - start:.1f} s; wrote "
        + ", ".join(str(p) for p in paths.values())
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``skprune`` command line with `argv` (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 on success; bad arguments and missing data exit with a message.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_compare_args(args)
    except ValueError as exc:
        args.parser.error(str(exc))
    return args.handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
