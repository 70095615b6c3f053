"""Tests for skprune.experiments: compare_methods against direct pruner fits."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

import skprune
from skprune import CompensatedPruner, compare_methods
from skprune.datasets import load_digits_split
from skprune.experiments import heldout_loss, make_estimator
from skprune.importance import (
    METHOD_NAMES,
    get_scorer,
    magnitude,
    register_scorer,
    unregister_scorer,
)
from skprune.report import RESULT_COLUMNS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    return load_digits_split().subset(n_train=300, n_test=100)


def _direct_fit(estimator, data, seed, row, **params):
    """The run of `row`, as one CompensatedPruner fit on its own dense net."""
    dense = (
        clone(estimator).set_params(random_state=seed).fit(data.X_train, data.y_train)
    )
    pruner = CompensatedPruner(
        FrozenEstimator(dense),
        method=row["method"],
        prune_ratio=row["ratio"],
        fine_tune_epochs=int(row["fine_tune_epochs"]),
        random_state=seed,
        **params,
    ).fit(data.X_train, data.y_train)
    return heldout_loss(pruner, data.X_test, data.y_test, dense.classes_), pruner


def test_rows_equal_direct_pruner_fits(data):
    """Shared scores (drawn rows, random numbers) give the pruner's own result."""
    estimator = make_estimator("classification", (8,), epochs=3)
    methods = ["compensated", "random", "gradient_magnitude", "fully_connected"]
    results = compare_methods(
        estimator,
        data,
        methods=methods,
        ratios=[0.3, 0.8],
        seeds=[3],
        fine_tune_epochs=[0, 1],
        pruner_params={"max_samples": 50, "scope": ["global", "layer"]},
    )
    assert len(results) == 4 * 2 * 2 * 2
    dense = clone(estimator).set_params(random_state=3)
    dense.fit(data.X_train, data.y_train)
    for _, row in results.iterrows():
        loss, pruner = _direct_fit(
            dense, data, 3, row, max_samples=50, scope=row["scope"]
        )
        assert row["test_loss"] == pytest.approx(loss, rel=1e-12, abs=1e-12), dict(row)
        assert row["sparsity"] == pruner.sparsity_


def test_columns_and_sweeps(data):
    results = compare_methods(
        make_estimator("classification", (4,), epochs=2),
        data,
        methods=["magnitude"],
        ratios=[0.5],
        seeds=[0],
        fine_tune_epochs=[0],
        pruner_params={"scope": ["global", "layer"], "max_samples": 20},
    )
    expected = list(RESULT_COLUMNS)
    expected.insert(expected.index("fine_tune_epochs") + 1, "scope")
    assert list(results.columns) == expected
    assert results["scope"].tolist() == ["global", "layer"]
    assert set(results["loss_metric"]) == {"cross-entropy"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pruner_params": {"prune_ratio": 0.5}}, "pruner_params may not set"),
        ({"seeds": []}, "seeds must not be empty; got []."),
        ({"fine_tune_epochs": [-1]}, "fine_tune_epochs must be integers >= 0"),
    ],
)
def test_bad_arguments(data, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        compare_methods(
            make_estimator("classification", (4,), epochs=1), data, **kwargs
        )


def test_reproducible(data):
    estimator = make_estimator("classification", (4,), epochs=2)
    kwargs = {"methods": ("random",), "ratios": (0.5,), "seeds": (7,)}
    first = compare_methods(estimator, data, fine_tune_epochs=(0, 1), **kwargs)
    second = compare_methods(estimator, data, fine_tune_epochs=(0, 1), **kwargs)
    columns = ["test_loss", "test_score", "dense_test_loss", "sparsity"]
    pd.testing.assert_frame_equal(first[columns], second[columns])


def _squared(estimator, X, y):
    return [np.square(c) for c in estimator.coefs_]


def test_registered_scorer_runs_everywhere(data):
    register_scorer("squared", _squared)
    try:
        assert "squared" in METHOD_NAMES and get_scorer("squared") is _squared
        mlp = make_estimator("classification", (4,), epochs=2)
        pruner = CompensatedPruner(mlp, method="squared", fine_tune_epochs=0)
        pruner.fit(data.X_train, data.y_train)
        by_magnitude = CompensatedPruner(FrozenEstimator(pruner.dense_estimator_))
        by_magnitude.set_params(method=magnitude, fine_tune_epochs=0)
        by_magnitude.fit(data.X_train, data.y_train)
        for ours, theirs in zip(pruner.masks_, by_magnitude.masks_):
            np.testing.assert_array_equal(ours, theirs)  # same ranking as |w|
        results = compare_methods(
            mlp,
            data,
            methods=["squared"],
            ratios=[0.5],
            seeds=[0],
            fine_tune_epochs=[0],
        )
        assert results["method"].tolist() == ["squared"]
    finally:
        unregister_scorer("squared")
    assert "squared" not in METHOD_NAMES
    with pytest.raises(ValueError, match=re.escape("Unknown method 'squared'")):
        get_scorer("squared")


@pytest.mark.parametrize(
    "name, scorer, error, message",
    [
        ("magnitude", _squared, ValueError, "'magnitude' is a built-in method name"),
        ("", _squared, ValueError, "must be a non-empty str; got ''."),
        ("mine", "not callable", TypeError, "scorer must be callable"),
    ],
)
def test_register_scorer_errors(name, scorer, error, message):
    with pytest.raises(error, match=re.escape(message)):
        register_scorer(name, scorer)


def test_user_callables_get_the_built_ins_arguments(data):
    """A callable taking random_state gets the pruner's RandomState, as built-ins do."""
    received = {}

    def scorer(estimator, X, y, random_state=None):
        received["random_state"] = random_state
        received["rows"] = len(X)
        return magnitude(estimator)

    mlp = make_estimator("classification", (4,), epochs=1)
    CompensatedPruner(mlp, method=scorer, max_samples=30, fine_tune_epochs=0).fit(
        data.X_train, data.y_train
    )
    assert isinstance(received["random_state"], np.random.RandomState)
    assert received["rows"] == 30


def test_public_modules_are_attributes():
    assert skprune.importance.register_scorer is register_scorer
    assert skprune.experiments.compare_methods is compare_methods
    assert skprune.report.RESULT_COLUMNS is RESULT_COLUMNS
    assert skprune.datasets.load_digits_split is load_digits_split


def test_threads_become_the_estimators_n_threads(data, monkeypatch):
    seen = []
    monkeypatch.setattr(
        "skprune.experiments._seed_rows",
        lambda estimator, *args, **kwargs: seen.append(estimator.n_threads) or [],
    )
    estimator = make_estimator("classification", (4,), epochs=1)
    compare_methods(estimator, data, seeds=[0], threads=2)
    compare_methods(estimator, data, seeds=[0])
    assert seen == [2, None]  # the library's rule unless set
    assert estimator.n_threads is None  # a clone was changed, not the argument
