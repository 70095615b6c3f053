"""The paper's comparison from Python: :func:`compare_methods`.

For every seed one dense network is trained; every method prunes that same
network at every ratio, without and with fine-tuning; each run is one
:class:`~skprune.CompensatedPruner` fit on the frozen dense net, and one row
of the returned DataFrame (columns: :data:`skprune.report.RESULT_COLUMNS`).
One-shot methods score each dense net once (through the pruner's own scoring
path, :func:`skprune._pruner.score_weights`) and reuse the scores at every
ratio; what cannot share scores (pruning in rounds, other granularities, the
``"fully_connected"`` baseline) fits the pruner from scratch.
"""

from __future__ import annotations

import itertools
import time
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

from .importance import METHODS
from .report import RESULT_COLUMNS

ARCHITECTURES = {
    "mnist-small": (32, 32),  # 784-32-32-10, 26,432 weights
    "mnist-large": (64, 64),  # 784-64-64-10, 54,912 weights
    "diffsorp-small": (32, 32, 32),  # 68-32-32-32-1, 4,256 weights
    "diffsorp-large": (64, 32, 32, 16, 16),  # 68-64-32-32-16-16-1, 8,208 weights
}
"""The paper's architectures, by name: their hidden-layer widths."""

DEFAULT_RATIOS = (0.1, 0.3, 0.5, 0.7, 0.9)
"""Pruning ratios of a comparison (the paper: 0.1, 0.2, ..., 0.9)."""

DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_EPOCHS = 40
DEFAULT_FINE_TUNE_EPOCHS = 10
DEFAULT_ACTIVATION = "prelu"  # as in the paper

OWN_ARGUMENTS = (
    "estimator",
    "method",
    "prune_ratio",
    "fine_tune_epochs",
    "random_state",
)
"""Pruner parameters set by :func:`compare_methods`' own arguments."""

SCORE_INDEPENDENT = frozenset({"scope", "compensation", "verbose", "memory"})
"""Pruner parameters that change what is done with the scores, not the scores."""


class _SharedScores:
    """A scorer returning scores computed once (shared by every ratio)."""

    def __init__(self, scores):
        self.scores = scores

    def __call__(self, estimator, X, y):
        return self.scores


def make_estimator(
    task: str,
    hidden_layer_sizes,
    activation: str = DEFAULT_ACTIVATION,
    epochs: int = DEFAULT_EPOCHS,
):
    """The dense MLP of a comparison: exactly `epochs` epochs of Adam.

    ``tol=0`` and ``n_iter_no_change=epochs``: training never stops early, so
    every seed gets the same budget.

    Parameters
    ----------
    task : {"classification", "regression"}
        :class:`~skprune.MLPClassifier` or :class:`~skprune.MLPRegressor`.
    hidden_layer_sizes : tuple of int
        Hidden widths.
    activation : str, default="prelu"
        Hidden activation.
    epochs : int, default=40
        Training epochs.

    Returns
    -------
    estimator : MLPClassifier or MLPRegressor
        Unfitted.

    Examples
    --------
    >>> from skprune.experiments import make_estimator
    >>> make_estimator("regression", (32, 32), epochs=5).max_iter
    5
    """
    from . import MLPClassifier, MLPRegressor

    if task not in ("classification", "regression"):
        raise ValueError(
            f"task must be 'classification' or 'regression'; got {task!r}."
        )
    cls = MLPClassifier if task == "classification" else MLPRegressor
    return cls(
        hidden_layer_sizes,
        activation,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs,
    )


def heldout_loss(model, X, y, labels=None) -> float:
    """Cross-entropy of a classifier (over `labels`), else mean squared error.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import MLPClassifier
    >>> from skprune.experiments import heldout_loss
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    >>> heldout_loss(clf, X, y) > 0
    True
    """
    from sklearn.base import is_classifier
    from sklearn.metrics import log_loss, mean_squared_error

    if is_classifier(model):
        return float(log_loss(y, model.predict_proba(X), labels=labels))
    return float(mean_squared_error(y, model.predict(X)))


@contextmanager
def _training():
    """Train without ConvergenceWarning.

    Every fit runs its full epoch budget on purpose, so scikit-learn's
    warning that the optimizer has not converged is expected.
    """
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        yield


def _architecture(dense) -> str:
    units = [c.shape[0] for c in dense.coefs_] + [dense.coefs_[-1].shape[1]]
    return "-".join(map(str, units))


def _method_name(method) -> str:
    return (
        method if isinstance(method, str) else getattr(method, "__name__", repr(method))
    )


def _fit_dense(estimator, data, seed: int):
    """Fit a clone of `estimator` seeded with `seed`; frozen, with its test results."""
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator

    with _training():
        dense = clone(estimator).set_params(random_state=seed)
        dense.fit(data.X_train, data.y_train)
    labels = getattr(dense, "classes_", None)
    return FrozenEstimator(dense), {
        "dataset": data.name,
        "architecture": _architecture(dense),
        "dense_test_loss": heldout_loss(dense, data.X_test, data.y_test, labels),
        "dense_test_score": float(dense.score(data.X_test, data.y_test)),
        "loss_metric": data.loss_name,
        "score_metric": data.score_name,
    }


_OWN_COMPENSATION = frozenset({"compensated", "nonlinear"})


def _redundant(method, params) -> bool:
    """Whether a run repeats another one: settings the method ignores.

    ``fully_connected`` prunes nothing, so only ``compensation="auto"`` and
    ``n_rounds=1`` are run for it; ``compensation="none"`` equals ``"auto"``
    for a named method without a compensation of its own.
    """
    compensation = params.get("compensation", "auto")
    if method == "fully_connected":
        return compensation != "auto" or params.get("n_rounds", 1) != 1
    return (
        compensation == "none"
        and isinstance(method, str)
        and method not in _OWN_COMPENSATION
    )


def variant_name(method: str, compensation="auto", n_rounds=1) -> str:
    """The label of a run: the method, its compensation, its rounds.

    Examples
    --------
    >>> from skprune.experiments import variant_name
    >>> variant_name("compensated"), variant_name("magnitude", "least_squares", 5)
    ('compensated', 'magnitude + least_squares, 5 rounds')
    """
    name = method if compensation == "auto" else f"{method} + {compensation}"
    return name if n_rounds == 1 else f"{name}, {n_rounds} rounds"


def name_variants(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with ``method`` naming the variant (:func:`variant_name`).

    Where ``compensation`` or ``n_rounds`` was swept (a column of its own),
    the tables and plots of :mod:`skprune.report`, which group by
    ``method``, then show each variant apart.

    Examples
    --------
    >>> import pandas as pd
    >>> from skprune.experiments import name_variants
    >>> runs = pd.DataFrame({"method": ["compensated"] * 2,
    ...                      "compensation": ["auto", "least_squares"]})
    >>> list(name_variants(runs)["method"])
    ['compensated', 'compensated + least_squares']
    """
    results = results.copy()
    compensation = results.get("compensation", pd.Series("auto", results.index))
    rounds = results.get("n_rounds", pd.Series(1, results.index))
    results["method"] = [
        variant_name(m, c, r)
        for m, c, r in zip(results["method"], compensation, rounds)
    ]
    return results


def _shares_scores(method, params) -> bool:
    """Whether one scoring of the dense net serves every ratio of this method."""
    return (
        method != "fully_connected"
        and params.get("n_rounds", 1) == 1
        and params.get("granularity", "weight") == "weight"
    )


def _score_key(method, params):
    scoring = {k: v for k, v in params.items() if k not in SCORE_INDEPENDENT}
    return method, tuple(sorted((k, repr(v)) for k, v in scoring.items()))


def _score_once(frozen, data, seed, method, params):
    """Score the frozen dense net as the pruner fitted with these settings would."""
    from sklearn.utils import check_array

    from ._pruner import score_weights

    with _training():
        start = time.perf_counter()
        scores = score_weights(
            frozen.estimator,
            check_array(data.X_train, dtype=[np.float64, np.float32]),
            np.asarray(data.y_train),
            method=method,
            max_samples=params.get("max_samples"),
            random_state=seed,
        )
        return scores, time.perf_counter() - start


def _prune_run(frozen, data, seed, run, params, shared=None) -> dict:
    """Fit one pruner on the frozen dense net; its test results and times.

    With `shared` (scores and their seconds from :func:`_score_once`), the
    pruner ranks by those scores instead of scoring again, and their seconds
    are added to its times.
    """
    from . import CompensatedPruner

    method, ratio, epochs = run
    scores, score_seconds = shared if shared is not None else (None, 0.0)
    pruner = CompensatedPruner(
        frozen,
        prune_ratio=ratio,
        method=method if scores is None else _SharedScores(scores),
        fine_tune_epochs=epochs,
        random_state=seed,
        **params,
    )
    with _training():
        start = time.perf_counter()
        pruner.fit(data.X_train, data.y_train)
        seconds = time.perf_counter() - start + score_seconds
    timings = getattr(pruner, "timings_", {})
    labels = getattr(frozen, "classes_", None)
    return {
        "seed": seed,
        "method": _method_name(method),
        "ratio": ratio,
        "fine_tuned": epochs > 0,
        "fine_tune_epochs": epochs,
        "test_loss": heldout_loss(pruner, data.X_test, data.y_test, labels),
        "test_score": float(pruner.score(data.X_test, data.y_test)),
        "sparsity": float(pruner.sparsity_),
        **compact_columns(pruner, frozen.estimator, data.X_test),
        "fit_seconds": seconds,
        "prune_seconds": timings.get("scoring", 0.0 if timings else np.nan)
        + timings.get("compensation", 0.0)
        + score_seconds,
        "fine_tune_seconds": timings.get("fine_tuning", np.nan),
    }


PREDICT_REPEATS = 3
"""Alternating repeats of the dense and the compact prediction per run."""


def compact_columns(pruner, dense, X) -> dict:
    """Parameters of the compacted pruned net, and its prediction speed-up.

    ``compact_params``: weights kept and biases (and PReLU slopes) of
    :func:`skprune.compact` of the pruner; ``predict_speedup``: the dense
    net's ``predict_proba`` (``predict`` for a regressor) time on `X` over
    the compact net's, medians of :data:`PREDICT_REPEATS` alternating runs.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import CompensatedPruner, MLPClassifier
    >>> from skprune.experiments import compact_columns
    >>> X, y = load_iris(return_X_y=True)
    >>> pruner = CompensatedPruner(MLPClassifier((8,), max_iter=5), prune_ratio=0.5,
    ...                            fine_tune_epochs=0).fit(X, y)
    >>> compact_columns(pruner, pruner.dense_estimator_, X)["compact_params"] <= 28 + 11
    True
    """
    from ._compact import compact

    small = compact(pruner)
    masks = small.masks_ or [np.ones(np.shape(c), dtype=bool) for c in small.coefs_]
    n_params = sum(int(m.sum()) for m in masks) + sum(b.size for b in small.intercepts_)
    n_params += len(small.coefs_) - 1 if small.activation == "prelu" else 0
    method = "predict_proba" if hasattr(dense, "predict_proba") else "predict"
    times = ([], [])
    for _ in range(PREDICT_REPEATS):
        for model, out in zip((dense, small), times):
            start = time.perf_counter()
            getattr(model, method)(X)
            out.append(time.perf_counter() - start)
    return {
        "compact_params": n_params,
        "predict_speedup": float(np.median(times[0]) / np.median(times[1])),
    }


def _as_list(value) -> list:
    return list(value) if isinstance(value, list) else [value]


def _param_grid(pruner_params) -> tuple[list[dict], list[str]]:
    """Every combination of the pruner parameters; the names of the swept ones."""
    pruner_params = dict(pruner_params or {})
    clash = sorted(set(pruner_params) & set(OWN_ARGUMENTS))
    if clash:
        raise ValueError(
            f"pruner_params may not set {clash}: compare_methods sets them from "
            "its own arguments (methods, ratios, fine_tune_epochs, seeds)."
        )
    names = list(pruner_params)
    values = [_as_list(pruner_params[name]) for name in names]
    if any(not v for v in values):
        raise ValueError(
            f"Every swept pruner parameter needs a value; got {pruner_params!r}."
        )
    grid = [dict(zip(names, combo)) for combo in itertools.product(*values)]
    swept = [n for n, v in zip(names, values) if isinstance(pruner_params[n], list)]
    return grid, swept


def _check_sweep(methods, ratios, seeds, fine_tune_epochs):
    for name, values in (
        ("methods", methods),
        ("ratios", ratios),
        ("seeds", seeds),
        ("fine_tune_epochs", fine_tune_epochs),
    ):
        if len(values) == 0:
            raise ValueError(f"{name} must not be empty; got {values!r}.")
    bad = [e for e in fine_tune_epochs if not isinstance(e, int | np.integer) or e < 0]
    if bad:
        raise ValueError(
            f"fine_tune_epochs must be integers >= 0 (0: no fine-tuning); got {bad}."
        )


def _seed_rows(estimator, data, seed, runs, grid, *, n_jobs, on_row):
    """The rows of one seed: one dense fit, shared scores, the pruner fits."""
    from joblib import Parallel, delayed

    frozen, dense_info = _fit_dense(estimator, data, seed)
    shared = {}
    jobs = []
    todo = [
        (params, run)
        for params, run in itertools.product(grid, runs)
        if not _redundant(run[0], params)
    ]
    for params, run in todo:
        method = run[0]
        scores = None
        if _shares_scores(method, params):
            key = _score_key(method, params)
            if key not in shared:
                shared[key] = _score_once(frozen, data, seed, method, params)
            scores = shared[key]
        jobs.append(delayed(_prune_run)(frozen, data, seed, run, params, scores))
    rows = []
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    for (params, _), row in zip(todo, parallel(jobs)):
        rows.append({**dense_info, **params, **row})
        on_row()
    return rows


def compare_methods(
    estimator,
    data,
    *,
    methods=METHODS,
    ratios=DEFAULT_RATIOS,
    seeds=DEFAULT_SEEDS,
    fine_tune_epochs=(0, DEFAULT_FINE_TUNE_EPOCHS),
    pruner_params=None,
    n_jobs=1,
    threads=None,
    progress=False,
) -> pd.DataFrame:
    """Compare pruning methods over ratios, seeds and fine-tuning budgets.

    For every seed, a clone of `estimator` with ``random_state=seed`` is
    fitted once on the training rows and frozen; then one
    :class:`~skprune.CompensatedPruner` (``random_state=seed``) is fitted on
    it per method x ratio x fine-tuning budget x combination of
    `pruner_params`, and scored on the test rows. A method that prunes in
    one shot scores each dense net once, through the pruner's own scoring
    path, and every ratio ranks by those scores: the rows equal those of
    separate pruner fits. Runs of one seed go in parallel over `n_jobs`.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The unfitted dense net (e.g. from :func:`make_estimator`).
    data : skprune.datasets.Dataset
        Train and test rows, e.g. ``skprune.datasets.load_digits_split()``
        or ``Dataset("mine", "classification", X_train, X_test, y_train,
        y_test)``.
    methods : sequence of str or callable, default=all built-in methods
        Method names (also those of :func:`~skprune.importance.register_scorer`)
        or scorers.
    ratios : sequence of float, default=(0.1, 0.3, 0.5, 0.7, 0.9)
        Pruning ratios.
    seeds : sequence of int, default=(0, 1, 2)
        One dense net per seed.
    fine_tune_epochs : sequence of int, default=(0, 10)
        Fine-tuning budgets; 0 means no fine-tuning.
    pruner_params : dict, default=None
        Other :class:`~skprune.CompensatedPruner` parameters (``scope``,
        ``max_samples``, and any other the pruner has). A list value is
        swept: every combination of the lists is run, and each swept
        parameter gets a column of its own. Combinations a method ignores are
        run once: ``fully_connected`` only with ``compensation="auto"`` and
        ``n_rounds=1``, and ``compensation="none"`` only for methods with a
        compensation of their own (``"compensated"``, ``"nonlinear"``, a
        callable).
    n_jobs : int, default=1
        Parallel pruner fits (joblib).
    threads : int, default=None
        Torch threads of every fit, scoring and prediction: set as the
        estimator's ``n_threads`` (None: the estimator's own ``n_threads``,
        by default the library's rule, see :class:`~skprune.MLPClassifier`).
    progress : bool, default=False
        Show a tqdm progress bar.

    Returns
    -------
    results : DataFrame
        One row per run, the columns of :data:`skprune.report.RESULT_COLUMNS`
        (described there) plus one column per swept pruner parameter,
        placed after ``fine_tune_epochs``.

    Examples
    --------
    >>> from skprune import compare_methods
    >>> from skprune.datasets import load_digits_split
    >>> from skprune.experiments import make_estimator
    >>> results = compare_methods(
    ...     make_estimator("classification", (16,), epochs=5),
    ...     load_digits_split().subset(n_train=300),
    ...     methods=["compensated", "magnitude"], ratios=[0.5, 0.9], seeds=[0],
    ...     fine_tune_epochs=[0, 2], pruner_params={"scope": ["global", "layer"]})
    >>> len(results), results["loss_metric"].iloc[0]
    (16, 'cross-entropy')
    >>> list(results.columns[5:8])
    ['fine_tuned', 'fine_tune_epochs', 'scope']
    """
    from sklearn.base import clone
    from tqdm.auto import tqdm

    methods, ratios = list(methods), list(ratios)
    seeds, fine_tune_epochs = list(seeds), list(fine_tune_epochs)
    _check_sweep(methods, ratios, seeds, fine_tune_epochs)
    grid, swept = _param_grid(pruner_params)
    runs = [(m, r, e) for m in methods for r in ratios for e in fine_tune_epochs]
    if threads is not None:
        estimator = clone(estimator).set_params(n_threads=threads)
    rows = []
    total = len(seeds) * len(runs) * len(grid)
    with tqdm(total=total, disable=not progress, unit="run") as bar:
        for seed in seeds:
            bar.set_description(f"seed {seed}")
            rows += _seed_rows(
                estimator,
                data,
                seed,
                runs,
                grid,
                n_jobs=n_jobs,
                on_row=bar.update,
            )
    return pd.DataFrame(rows, columns=_columns(swept))


def _columns(swept) -> list[str]:
    columns = list(RESULT_COLUMNS)
    at = columns.index("fine_tune_epochs") + 1
    return columns[:at] + swept + columns[at:]


__all__ = [
    "compact_columns",
    "compare_methods",
    "heldout_loss",
    "make_estimator",
    "name_variants",
    "variant_name",
]
