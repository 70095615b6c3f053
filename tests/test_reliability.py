"""Reliability: nothing silently wrong.

Bad input is refused with an error naming what was received and what was
expected, and a failed fit changes nothing; degenerate networks stay finite
and correct; fitted models survive persistence with their masks; the same
``random_state`` gives bit-identical results, also in parallel searches.
"""

from __future__ import annotations

import copy
import functools
import io
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

import skprune._pruner
from skprune import CompensatedPruner, MLPClassifier, MLPRegressor
from skprune._mlp import _BaseMLP
from skprune.importance import nonlinear

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.RandomState(0)
X = RNG.normal(size=(40, 4))
Y = np.arange(40) % 3  # three classes
Y_REG = X[:, 0] - 0.5 * X[:, 1]


def clf(**params):
    return MLPClassifier(**{"hidden_layer_sizes": (5,), "max_iter": 3, **params})


def reg(**params):
    return MLPRegressor(**{"hidden_layer_sizes": (5,), "max_iter": 3, **params})


def pruner(estimator=None, **params):
    estimator = clf(random_state=0) if estimator is None else estimator
    return CompensatedPruner(estimator, **{"fine_tune_epochs": 0, **params})


FRAME = pd.DataFrame(X, columns=list("abcd"))


@functools.cache
def _fitted(kind):
    if kind == "pruner-frame":
        return pruner(clf(random_state=0), prune_ratio=0.5).fit(FRAME, Y)
    if kind == "clf":
        return clf(random_state=0).fit(X, Y)
    if kind == "reg":
        return reg(random_state=0).fit(X, Y_REG)
    return pruner(FrozenEstimator(_fitted("clf")), prune_ratio=0.5).fit(X, Y)


def fitted(kind):
    """A fitted "clf", "reg", "pruner" or "pruner-frame" (fitted on a
    DataFrame), as a private copy of a cached fit."""
    return copy.deepcopy(_fitted(kind))


def with_value(array, index, value):
    """A copy of ``array`` (as float) with ``array[index] = value``."""
    array = np.array(array, dtype=float)
    array[index] = value
    return array


def string_frame():
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["colour"] = ["red", "blue"] * 20
    return frame


def scorer_returning(make):
    """A user method whose output ``make(coefs_)`` is built from the coefs."""

    def method(estimator, X, y):
        return make([np.abs(c).astype(float) for c in estimator.coefs_])

    return method


def negative_last(importances):
    importances[-1][0, 0] = -1.0
    return importances


def infinite_compensations(importances):
    return importances, [np.full(i.shape, np.inf) for i in importances]


# --------------------------------------------------------------------------
# bad input: one row per case
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """``call()`` must raise ``error`` with a message containing ``message``.

    ``message`` is a string or a tuple of strings that must appear in that
    order (for messages that embed an unordered set).
    """

    id: str
    call: Callable[[], object]
    error: type[Exception]
    message: str | tuple[str, ...]

    def pattern(self) -> str:
        parts = (self.message,) if isinstance(self.message, str) else self.message
        return "(?s)" + ".*".join(re.escape(part) for part in parts)


NAN_X = with_value(X, (3, 1), np.nan)
INF_X = with_value(X, (5, 2), np.inf)
OBJECT_X = X.astype(object)
OBJECT_X[0, 2] = "n/a"
NOT_FITTED = "instance is not fitted yet. Call 'fit' with appropriate arguments"
PRUNE_RATIO = (
    "The 'prune_ratio' parameter of CompensatedPruner must be a float in the "
    "range [0.0, 1.0). Got "
)
MAX_SAMPLES = (
    "The 'max_samples' parameter of CompensatedPruner must be an int in the "
    "range [1, inf) or None"
)
N_ROUNDS = (
    "The 'n_rounds' parameter of CompensatedPruner must be an int in the range [1, inf)"
)
SHAPES = "Expected importances of shapes [(4, 5), (5, 3)] (those of coefs_); got"

BAD_INPUT_CASES = [
    # NaN and inf in X, y, sample_weight
    Case(
        "clf-fit-nan-X",
        lambda: clf().fit(NAN_X, Y),
        ValueError,
        "Input X contains NaN.\nMLPClassifier does not accept missing values",
    ),
    Case(
        "reg-fit-inf-X",
        lambda: reg().fit(INF_X, Y_REG),
        ValueError,
        "Input X contains infinity or a value too large for dtype('float64').",
    ),
    Case(
        "reg-fit-nan-y",
        lambda: reg().fit(X, with_value(Y_REG, 7, np.nan)),
        ValueError,
        "Input y contains NaN.",
    ),
    Case(
        "clf-fit-nan-y",
        lambda: clf().fit(X, with_value(Y, 7, np.nan)),
        ValueError,
        "Input y contains NaN.",
    ),
    Case(
        "pruner-fit-nan-X",
        lambda: pruner().fit(NAN_X, Y),
        ValueError,
        "Input X contains NaN.\nCompensatedPruner does not accept missing values",
    ),
    Case(
        "pruner-fit-inf-y",
        lambda: pruner(reg()).fit(X, with_value(Y_REG, 0, -np.inf)),
        ValueError,
        "Input y contains infinity or a value too large for dtype('float64').",
    ),
    Case(
        "clf-predict-nan-X",
        lambda: fitted("clf").predict(NAN_X),
        ValueError,
        "Input X contains NaN.",
    ),
    Case(
        "pruner-transform-inf-X",
        lambda: fitted("pruner").transform(INF_X),
        ValueError,
        "Input X contains infinity or a value too large for dtype('float64').",
    ),
    Case(
        "clf-fit-nan-sample_weight",
        lambda: clf().fit(X, Y, sample_weight=with_value(np.ones(40), 2, np.nan)),
        ValueError,
        "Input sample_weight contains NaN.",
    ),
    # wrong number of features after fit
    Case(
        "clf-predict-3-features",
        lambda: fitted("clf").predict(X[:, :3]),
        ValueError,
        "X has 3 features, but MLPClassifier is expecting 4 features as input.",
    ),
    Case(
        "reg-predict-5-features",
        lambda: fitted("reg").predict(np.hstack([X, X[:, :1]])),
        ValueError,
        "X has 5 features, but MLPRegressor is expecting 4 features as input.",
    ),
    Case(
        "clf-partial_fit-3-features",
        lambda: fitted("clf").partial_fit(X[:, :3], Y),
        ValueError,
        "X has 3 features, but MLPClassifier is expecting 4 features as input.",
    ),
    Case(
        "pruner-predict-3-features",
        lambda: fitted("pruner").predict_proba(X[:, :3]),
        ValueError,
        "X has 3 features, but CompensatedPruner is expecting 4 features as input.",
    ),
    Case(
        "pruner-transform-5-features",
        lambda: fitted("pruner").transform(np.hstack([X, X[:, :1]])),
        ValueError,
        "X has 5 features, but CompensatedPruner is expecting 4 features as input.",
    ),
    # empty X, X without columns, X of the wrong dimension
    Case(
        "clf-fit-empty-X",
        lambda: clf().fit(X[:0], Y[:0]),
        ValueError,
        "Found array with 0 sample(s) (shape=(0, 4)) while a minimum of 1 is "
        "required by MLPClassifier.",
    ),
    Case(
        "reg-predict-empty-X",
        lambda: fitted("reg").predict(X[:0]),
        ValueError,
        "Found array with 0 sample(s) (shape=(0, 4)) while a minimum of 1 is "
        "required by MLPRegressor.",
    ),
    Case(
        "pruner-fit-empty-X",
        lambda: pruner().fit(X[:0], Y[:0]),
        ValueError,
        "Found array with 0 sample(s) (shape=(0, 4)) while a minimum of 1 is "
        "required by CompensatedPruner.",
    ),
    Case(
        "reg-fit-no-features",
        lambda: reg().fit(X[:, :0], Y_REG),
        ValueError,
        "Found array with 0 feature(s) (shape=(40, 0)) while a minimum of 1 is "
        "required by MLPRegressor.",
    ),
    Case(
        "clf-fit-3d-X",
        lambda: clf().fit(X[:, :, None], Y),
        ValueError,
        "Found array with dim 3, while dim <= 2 is required by MLPClassifier.",
    ),
    Case(
        "pruner-fit-sparse-X",
        lambda: pruner().fit(sp.csr_matrix(X), Y),
        TypeError,
        "Sparse data was passed for X, but dense data is required.",
    ),
    # too few rows for early stopping
    Case(
        "reg-early-stopping-5-rows",
        lambda: reg(early_stopping=True).fit(X[:5], Y_REG[:5]),
        ValueError,
        "The validation set is too small (1 row): increase validation_fraction "
        "(got 0.1) or the data.",
    ),
    # y of the wrong length
    Case(
        "clf-fit-short-y",
        lambda: clf().fit(X, Y[:-1]),
        ValueError,
        "Found input variables with inconsistent numbers of samples: [40, 39]",
    ),
    Case(
        "reg-fit-long-y",
        lambda: reg().fit(X, np.append(Y_REG, [0.0, 1.0])),
        ValueError,
        "Found input variables with inconsistent numbers of samples: [40, 42]",
    ),
    Case(
        "pruner-fit-short-y",
        lambda: pruner().fit(X, Y[:-1]),
        ValueError,
        "Found input variables with inconsistent numbers of samples: [40, 39]",
    ),
    # strings where numbers are expected
    Case(
        "clf-fit-object-X",
        lambda: clf().fit(OBJECT_X, Y),
        ValueError,
        "Expected numeric input (numbers convertible to float64); got non-numeric "
        "values: could not convert string to float: 'n/a'",
    ),
    Case(
        "pruner-fit-string-column",
        lambda: pruner().fit(string_frame(), Y),
        ValueError,
        "Expected numeric input (numbers convertible to float64); got non-numeric "
        "values: columns ['colour'] have dtypes",
    ),
    Case(
        "reg-fit-string-column",
        lambda: reg().fit(string_frame(), Y_REG),
        ValueError,
        ("columns ['colour'] have dtypes", "could not convert string to float: 'red'"),
    ),
    Case(
        "reg-fit-string-y",
        lambda: reg().fit(X, np.array(["low", "high"] * 20)),
        ValueError,
        "MLPRegressor needs numeric targets y; got y of dtype <U4 (first value ",
    ),
    # sample_weight
    Case(
        "clf-negative-sample_weight",
        lambda: clf().fit(X, Y, sample_weight=with_value(np.ones(40), 3, -0.5)),
        ValueError,
        "Negative values in data passed to `sample_weight`: expected weights >= 0; "
        "got 1 negative value(s), the smallest -0.5.",
    ),
    Case(
        "pruner-negative-sample_weight",
        lambda: pruner().fit(X, Y, sample_weight=-np.arange(40.0)),
        ValueError,
        "expected weights >= 0; got 39 negative value(s), the smallest -39.",
    ),
    Case(
        "reg-short-sample_weight",
        lambda: reg().fit(X, Y_REG, sample_weight=np.ones(39)),
        ValueError,
        "sample_weight.shape == (39,), expected (40,)!",
    ),
    Case(
        "pruner-2d-sample_weight",
        lambda: pruner().fit(X, Y, sample_weight=np.ones((40, 2))),
        ValueError,
        "Sample weights must be 1D array or scalar, got 2D array. Expected either "
        "a scalar value or a 1D array of length 40.",
    ),
    # prune_ratio
    Case(
        "prune_ratio-1.5",
        lambda: pruner(prune_ratio=1.5).fit(X, Y),
        InvalidParameterError,
        PRUNE_RATIO + "1.5 instead.",
    ),
    Case(
        "prune_ratio-nan",
        lambda: pruner(prune_ratio=float("nan")).fit(X, Y),
        InvalidParameterError,
        PRUNE_RATIO + "nan instead.",
    ),
    Case(
        "prune_ratio-None",
        lambda: pruner(prune_ratio=None).fit(X, Y),
        InvalidParameterError,
        PRUNE_RATIO + "None instead.",
    ),
    Case(
        "prune_ratio-list",
        lambda: pruner(prune_ratio=[0.5]).fit(X, Y),
        InvalidParameterError,
        PRUNE_RATIO + "[0.5] instead.",
    ),
    # method, scope, activation
    Case(
        "method-int",
        lambda: pruner(method=3).fit(X, Y),
        InvalidParameterError,
        ("The 'method' parameter of CompensatedPruner must be a str among", "3 inst"),
    ),
    Case(
        "method-capitalised",
        lambda: pruner(method="Compensated").fit(X, Y),
        InvalidParameterError,
        ("'compensated'", "or a callable. Got 'Compensated' instead."),
    ),
    Case(
        "scope-None",
        lambda: pruner(scope=None).fit(X, Y),
        InvalidParameterError,
        (
            "The 'scope' parameter of CompensatedPruner must be a str among",
            "'global'",
            "Got None instead.",
        ),
    ),
    Case(
        "reg-activation-gelu",
        lambda: reg(activation="gelu").fit(X, Y_REG),
        InvalidParameterError,
        ("The 'activation' parameter of MLPRegressor", "'prelu'", "Got 'gelu' inst"),
    ),
    Case(
        "pruner-inner-activation",
        lambda: pruner(clf(activation="ReLU")).fit(X, Y),
        InvalidParameterError,
        ("The 'activation' parameter of MLPClassifier", "Got 'ReLU' instead."),
    ),
    # solvers and their parameters
    Case(
        "clf-solver-newton",
        lambda: clf(solver="newton").fit(X, Y),
        InvalidParameterError,
        ("The 'solver' parameter of MLPClassifier must be a str among", "'sgd'"),
    ),
    Case(
        "clf-learning_rate-optimal",
        lambda: clf(solver="sgd", learning_rate="optimal").fit(X, Y),
        InvalidParameterError,
        ("The 'learning_rate' parameter of MLPClassifier", "Got 'optimal' inst"),
    ),
    Case(
        "reg-momentum-negative",
        lambda: reg(solver="sgd", momentum=-0.1).fit(X, Y_REG),
        InvalidParameterError,
        "The 'momentum' parameter of MLPRegressor must be a float in the range "
        "[0.0, 1.0]. Got -0.1 instead.",
    ),
    Case(
        "clf-power_t-negative",
        lambda: clf(solver="sgd", power_t=-1).fit(X, Y),
        InvalidParameterError,
        "The 'power_t' parameter of MLPClassifier must be a float in the range "
        "[0.0, inf). Got -1 instead.",
    ),
    Case(
        "reg-max_fun-0",
        lambda: reg(solver="lbfgs", max_fun=0).fit(X, Y_REG),
        InvalidParameterError,
        "The 'max_fun' parameter of MLPRegressor must be an int in the range "
        "[1, inf). Got 0 instead.",
    ),
    Case(
        "clf-n_iter_no_change-half",
        lambda: clf(n_iter_no_change=0.5).fit(X, Y),
        InvalidParameterError,
        ("The 'n_iter_no_change' parameter", "or a float among {inf}. Got 0.5"),
    ),
    Case(
        "reg-loss-huber",
        lambda: reg(loss="huber").fit(X, Y_REG),
        InvalidParameterError,
        ("The 'loss' parameter of MLPRegressor must be a str among", "'poisson'"),
    ),
    Case(
        "reg-poisson-negative-y",
        lambda: reg(loss="poisson").fit(X, Y_REG),
        ValueError,
        "loss='poisson' needs targets y >= 0; got the smallest y -",
    ),
    Case(
        "clf-lbfgs-partial_fit",
        lambda: clf(solver="lbfgs").partial_fit(X, Y, classes=[0, 1, 2]),
        AttributeError,
        "This 'MLPClassifier' has no attribute 'partial_fit'",
    ),
    Case(
        "clf-device-missing",
        lambda: clf(device="cuda:99").fit(X, Y),
        ValueError,
        ("device='cuda:99' is not available on this machine; available: [", "'cpu'"),
    ),
    Case(
        "reg-device-unknown",
        lambda: reg(device="tpu").fit(X, Y_REG),
        ValueError,
        ("device='tpu' is not a torch device", "available on this machine: ["),
    ),
    Case(
        "clf-warm_start-fewer-classes",
        lambda: clf(warm_start=True).fit(X, Y).fit(X, Y % 2),
        ValueError,
        "warm_start can only be used where `y` has the same classes as in the "
        "previous call to fit. Previously got [0 1 2], `y` has [0 1].",
    ),
    Case(
        "pruner-reordered-columns",
        lambda: fitted("pruner-frame").predict(FRAME[["b", "a", "c", "d"]]),
        ValueError,
        "Feature names must be in the same order as they were in fit.",
    ),
    Case(
        "reg-diverging-nonfinite",
        lambda: reg().fit(
            np.finfo(np.float64).max * RNG.uniform(size=(10, 2)), Y_REG[:10]
        ),
        ValueError,
        "Solver produced non-finite parameter weights. The input data may "
        "contain large values and need to be preprocessed.",
    ),
    # max_samples (larger than the data uses every row: see test_pruner)
    Case(
        "max_samples-negative",
        lambda: pruner(max_samples=-3).fit(X, Y),
        InvalidParameterError,
        MAX_SAMPLES + ". Got -3 instead.",
    ),
    Case(
        "max_samples-float",
        lambda: pruner(max_samples=np.float64(10.0)).fit(X, Y),
        InvalidParameterError,
        MAX_SAMPLES + ". Got np.float64(10.0) instead.",
    ),
    Case(
        "max_samples-string",
        lambda: pruner(max_samples="10").fit(X, Y),
        InvalidParameterError,
        MAX_SAMPLES + ". Got '10' instead.",
    ),
    Case(
        "max_samples-bool",
        lambda: pruner(max_samples=True).fit(X, Y),
        InvalidParameterError,
        MAX_SAMPLES + ", not a bool. Got True instead.",
    ),
    # compensation and n_rounds
    Case(
        "compensation-unknown",
        lambda: pruner(compensation="lsq").fit(X, Y),
        InvalidParameterError,
        (
            "The 'compensation' parameter of CompensatedPruner must be a str among",
            "Got 'lsq' instead.",
        ),
    ),
    Case(
        "compensation-None",
        lambda: pruner(compensation=None).fit(X, Y),
        InvalidParameterError,
        ("The 'compensation' parameter of CompensatedPruner", "Got None instead."),
    ),
    Case(
        "n_rounds-zero",
        lambda: pruner(n_rounds=0).fit(X, Y),
        InvalidParameterError,
        N_ROUNDS + ". Got 0 instead.",
    ),
    Case(
        "n_rounds-float",
        lambda: pruner(n_rounds=2.0).fit(X, Y),
        InvalidParameterError,
        N_ROUNDS + ". Got 2.0 instead.",
    ),
    Case(
        "n_rounds-bool",
        lambda: pruner(n_rounds=True).fit(X, Y),
        InvalidParameterError,
        N_ROUNDS + ", not a bool. Got True instead.",
    ),
    # a user method returning the wrong thing
    Case(
        "method-returns-None",
        lambda: pruner(method=lambda est, X, y: None).fit(X, Y),
        ValueError,
        "A scorer must return a list of arrays shaped like coefs_ or a tuple "
        "(importances, compensations); got an object of type NoneType.",
    ),
    Case(
        "method-transposed-shapes",
        lambda: pruner(method=scorer_returning(lambda i: [a.T for a in i])).fit(X, Y),
        ValueError,
        SHAPES + " shapes [(5, 4), (3, 5)].",
    ),
    Case(
        "method-one-layer-missing",
        lambda: pruner(method=scorer_returning(lambda i: i[:1])).fit(X, Y),
        ValueError,
        SHAPES + " shapes [(4, 5)].",
    ),
    Case(
        "method-nan-importance",
        lambda: pruner(
            method=scorer_returning(lambda i: [np.full_like(a, np.nan) for a in i])
        ).fit(X, Y),
        ValueError,
        "The importances of layer 0 have 20 non-finite values (NaN or inf); "
        "expected finite numbers.",
    ),
    Case(
        "method-negative-importance",
        lambda: pruner(method=scorer_returning(negative_last)).fit(X, Y),
        ValueError,
        "Importances must be non-negative; layer 1 has 1 negative values (min -1).",
    ),
    Case(
        "method-inf-compensation",
        lambda: pruner(method=scorer_returning(infinite_compensations)).fit(X, Y),
        ValueError,
        "The compensations of layer 0 have 20 non-finite values (NaN or inf)",
    ),
    # using what is not fitted
    Case(
        "clf-predict-unfitted",
        lambda: clf().predict(X),
        NotFittedError,
        "This MLPClassifier " + NOT_FITTED,
    ),
    Case(
        "reg-predict-unfitted",
        lambda: reg().predict(X),
        NotFittedError,
        "This MLPRegressor " + NOT_FITTED,
    ),
    Case(
        "pruner-predict-unfitted",
        lambda: pruner().predict(X),
        NotFittedError,
        "This CompensatedPruner " + NOT_FITTED,
    ),
    Case(
        "pruner-transform-unfitted",
        lambda: pruner().transform(X),
        NotFittedError,
        "This CompensatedPruner " + NOT_FITTED,
    ),
    Case(
        "pruner-classes-unfitted",
        lambda: pruner().classes_,
        NotFittedError,
        "This CompensatedPruner " + NOT_FITTED,
    ),
    Case(
        "pruner-frozen-unfitted-mlp",
        lambda: pruner(FrozenEstimator(clf())).fit(X, Y),
        NotFittedError,
        "This MLPClassifier " + NOT_FITTED,
    ),
    # setting parameters of the wrong shape
    Case(
        "clf-coefs-transposed",
        lambda: setattr(fitted("clf"), "coefs_", [c.T for c in _fitted("clf").coefs_]),
        ValueError,
        "Expected an array of shape (4, 5); got (5, 4).",
    ),
]


@pytest.mark.parametrize("case", BAD_INPUT_CASES, ids=lambda case: case.id)
def test_bad_input_is_refused_clearly(case):
    with pytest.raises(case.error, match=case.pattern()):
        case.call()


def test_bad_input_table_is_large_and_unique():
    ids = [case.id for case in BAD_INPUT_CASES]
    assert len(ids) >= 30 and len(set(ids)) == len(ids)


# --------------------------------------------------------------------------
# edge cases that are not errors
# --------------------------------------------------------------------------


def test_one_class_gives_a_model_that_predicts_it():
    labels = np.array(["only"] * len(X))
    for model in (clf(random_state=0), pruner(prune_ratio=0.5, fine_tune_epochs=1)):
        model.fit(X, labels)
        assert list(model.classes_) == ["only"]
        assert (model.predict(X) == "only").all()
        np.testing.assert_array_equal(model.predict_proba(X), np.ones((len(X), 1)))
        assert model.score(X, labels) == 1.0


def test_one_sample_fits_and_predicts():
    one = clf(random_state=0).fit(X[:1], Y[:1])
    assert (one.predict(X) == Y[0]).all()
    for model in (reg(random_state=0), pruner(reg(random_state=0), prune_ratio=0.5)):
        predictions = model.fit(X[:1], Y_REG[:1]).predict(X)
        assert predictions.shape == (len(X),) and np.isfinite(predictions).all()


# --------------------------------------------------------------------------
# a failed fit changes nothing
# --------------------------------------------------------------------------


def snapshot(est):
    """Every fitted attribute of an MLP, copied, with the live parameters."""
    state = {k: copy.deepcopy(v) for k, v in vars(est).items() if k != "net_"}
    state["net_"] = est.net_  # the same torch net, not a new one
    state["params"] = [np.array(p) for p in (*est.coefs_, *est.intercepts_)]
    state["history"] = len(est.net_.history)
    return state


def assert_same_state(est, before):
    after = snapshot(est)
    assert after.keys() == before.keys()
    assert after["net_"] is before["net_"]
    assert after["history"] == before["history"]
    for a, b in zip(after["params"], before["params"]):
        np.testing.assert_array_equal(a, b)
    for name in ("loss_curve_", "classes_", "n_iter_", "t_", "n_features_in_"):
        if name in before:
            np.testing.assert_array_equal(after[name], before[name])


MLP_FAILURES = {
    "warm-start-nan-X": lambda m: m.set_params(warm_start=True).fit(NAN_X, Y),
    "warm-start-new-class": lambda m: m.set_params(warm_start=True).fit(X, Y + 1),
    "warm-start-negative-weight": lambda m: m.set_params(warm_start=True).fit(
        X, Y, sample_weight=-np.ones(len(X))
    ),
    "refit-bad-layer-sizes": lambda m: m.set_params(hidden_layer_sizes=(4, 0)).fit(
        X[:, :2], Y
    ),
    "refit-too-small-validation-set": lambda m: m.set_params(
        early_stopping=True, validation_fraction=0.01
    ).fit(X[:, :3], Y),
    "refit-strings": lambda m: m.fit(string_frame(), Y),
    "partial_fit-3-features": lambda m: m.partial_fit(X[:, :3], Y),
    "partial_fit-new-class": lambda m: m.partial_fit(X, Y + 5),
    "partial_fit-nan-X": lambda m: m.partial_fit(NAN_X, Y),
    "partial_fit-bad-weight-length": lambda m: m.partial_fit(
        X, Y, sample_weight=np.ones(3)
    ),
    "coefs-one-layer-wrong": lambda m: setattr(
        m, "coefs_", [np.zeros((4, 5)), np.zeros((3, 5))]
    ),
}


@pytest.mark.parametrize("failure", list(MLP_FAILURES), ids=str)
def test_failed_fit_leaves_fitted_mlp_unchanged(failure):
    est = fitted("clf")
    before, proba = snapshot(est), est.predict_proba(X)
    with pytest.raises(ValueError):
        MLP_FAILURES[failure](est)
    assert_same_state(est, before)
    np.testing.assert_array_equal(est.predict_proba(X), proba)


def test_failed_first_partial_fit_leaves_nothing_behind():
    est = clf(random_state=0)
    with pytest.raises(ValueError, match=re.escape("Input X contains NaN.")):
        est.partial_fit(NAN_X, Y, classes=[0, 1, 2, 3])
    assert not hasattr(est, "classes_") and not hasattr(est, "n_features_in_")
    est.partial_fit(X, Y, classes=[0, 1, 2])  # starts cleanly
    assert list(est.classes_) == [0, 1, 2]
    reg_est = reg(random_state=0)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        reg_est.partial_fit(X, Y_REG[:10])
    assert vars(reg_est).keys() == vars(reg(random_state=0)).keys()


def _raise(*args, **kwargs):
    raise RuntimeError("injected failure")


INJECTED = (RuntimeError, "injected failure")

# failure point: (function made to raise or None, parameters set before the
# fit, arguments of the fit, the expected error and message)
PRUNER_FAILURES = {
    "validation": (None, {}, {"X": NAN_X}, (ValueError, "Input X contains NaN.")),
    "dense-fit": (
        None,
        {"estimator": clf(random_state=0)},
        {"sample_weight": -1.0},
        (ValueError, "Negative values in data passed to `sample_weight`"),
    ),
    "scoring": (None, {"method": _raise}, {}, INJECTED),
    "masks": ("prune_masks", {}, {}, INJECTED),
    "compensation": ("compensated_intercepts", {}, {}, INJECTED),
    "fine-tuning": ("fine_tune", {"fine_tune_epochs": 1}, {}, INJECTED),
    "fully-connected": ("shrunk_widths", {"method": "fully_connected"}, {}, INJECTED),
}


@pytest.mark.parametrize("failure", list(PRUNER_FAILURES), ids=str)
def test_failed_fit_leaves_fitted_pruner_unchanged(failure, monkeypatch):
    target, params, fit_args, (error, message) = PRUNER_FAILURES[failure]
    model = fitted("pruner")
    before = dict(vars(model))
    coefs = [c.copy() for c in model.estimator_.coefs_]
    proba = model.predict_proba(X)
    if target is not None:
        owner = _BaseMLP if target == "fine_tune" else skprune._pruner
        monkeypatch.setattr(owner, target, _raise)
    model.set_params(**params)
    fit_args = dict(fit_args)
    X_fit = fit_args.pop("X", X)
    if "sample_weight" in fit_args:
        fit_args["sample_weight"] = np.full(len(X), fit_args["sample_weight"])
    with pytest.raises(error, match=re.escape(message)):
        model.fit(X_fit, Y, **fit_args)
    after = {k: v for k, v in vars(model).items() if k not in params}
    assert after.keys() == {k for k in before if k not in params}
    assert all(after[k] is before[k] for k in after)  # the very same objects
    for a, b in zip(model.estimator_.coefs_, coefs):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict_proba(X), proba)


# --------------------------------------------------------------------------
# degenerate networks
# --------------------------------------------------------------------------


@functools.cache
def _relu_net():
    """A relu classifier on digits (plus a constant column 64) with hidden
    unit 2 dead on every row."""
    X_digits, y_digits = load_digits(return_X_y=True)
    X_const = np.column_stack([X_digits[:300] / 16.0, np.full(300, 0.7)])
    est = MLPClassifier((8, 6), max_iter=20, random_state=0)
    est.fit(X_const, y_digits[:300])
    intercepts = est.intercepts_
    intercepts[0][2] = -1e4
    est.intercepts_ = intercepts
    return est, X_const, y_digits[:300]


@pytest.mark.parametrize("method", ["compensated", "nonlinear", "gradient_magnitude"])
def test_dead_unit_and_constant_feature_score_zero(method):
    est, X_const, y = _relu_net()
    model = pruner(FrozenEstimator(est), method=method, prune_ratio=0.5)
    model.fit(X_const, y)
    importances = model.importances_
    for values in importances + (model.compensations_ or []):
        assert np.isfinite(values).all()
    np.testing.assert_array_equal(importances[0][:, 2], 0.0)  # E[G] = 0
    np.testing.assert_array_equal(importances[1][2, :], 0.0)  # its output is 0
    if method != "gradient_magnitude":  # the loss gradient does not vanish there
        np.testing.assert_array_equal(importances[0][64, :], 0.0)
        assert not model.get_support()[64]  # ranked first, so pruned
    assert np.isfinite(model.predict_proba(X_const)).all()


@pytest.mark.parametrize("scale", [1e6, 1e-6])
@pytest.mark.parametrize("method", ["compensated", "nonlinear", "gradient_magnitude"])
def test_scaled_inputs_give_the_same_finite_scores(scale, method):
    """X * scale with the first layer's weights / scale is the same network."""
    est, X_const, y = _relu_net()
    scaled = copy.deepcopy(est)
    scaled.coefs_ = [est.coefs_[0] / np.float32(scale), *est.coefs_[1:]]
    reference = pruner(FrozenEstimator(est), method=method).fit(X_const, y)
    model = pruner(FrozenEstimator(scaled), method=method).fit(X_const * scale, y)
    outputs = [model.importances_]
    if model.compensations_ is not None:
        outputs.append(model.compensations_)
    for ours, theirs in zip(
        outputs, [reference.importances_, reference.compensations_]
    ):
        for a, b in zip(ours, theirs):
            assert np.isfinite(a).all()
            np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-5 * np.abs(b).max())


@pytest.mark.parametrize(
    "method", ["compensated", "nonlinear", "magnitude", "gradient_magnitude", "random"]
)
def test_zero_ratio_regressor_is_the_dense_model(method):
    dense = _fitted("reg")
    model = pruner(FrozenEstimator(dense), method=method, prune_ratio=0.0)
    model.fit(X, Y_REG)
    assert model.n_pruned_ == 0
    np.testing.assert_array_equal(model.predict(X), dense.predict(X))
    for a, b in zip(model.estimator_.intercepts_, dense.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("fine_tune_epochs", [0, 2])
def test_ratio_close_to_one_gives_a_valid_model(scope, fine_tune_epochs):
    params = dict(prune_ratio=0.999, scope=scope, fine_tune_epochs=fine_tune_epochs)
    classifier = pruner(clf(random_state=0), **params).fit(X, Y)
    proba = classifier.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(classifier.predict(X)) <= {0, 1, 2}
    regressor = pruner(reg(random_state=0), **params).fit(X, Y_REG)
    assert np.isfinite(regressor.predict(X)).all()
    sizes = [4 * 5, 5 * 1]  # with scope="layer", round(0.999 * n_l) = n_l
    expected = round(0.999 * sum(sizes)) if scope == "global" else sum(sizes)
    assert regressor.n_pruned_ == expected
    for coef, mask in zip(regressor.estimator_.coefs_, regressor.masks_):
        assert np.all(coef[~mask] == 0.0)


def test_fully_pruned_output_layer_predicts_the_mean_output():
    """With no weight left, the compensated output bias is b + W·E[x] = E[f]."""
    dense = _fitted("reg")
    model = pruner(FrozenEstimator(dense), prune_ratio=0.999, scope="layer")
    predictions = model.fit(X, Y_REG).predict(X)
    assert not any(m.any() for m in model.masks_)
    np.testing.assert_allclose(predictions, dense.predict(X).mean(), rtol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh", "identity"])
def test_neuron_without_incoming_weights_gets_its_mean_input(activation):
    """Prune every incoming weight of hidden unit 1 with the compensation
    ``w_ij E[x_j]``: the unit's pre-activation becomes the constant E[s_1]."""
    dense = clf(activation=activation, random_state=0, max_iter=10).fit(X, Y)

    def column_1_first(estimator, X_score, y):
        importances, compensations = nonlinear(estimator, X_score, y)
        importances = [np.ones_like(i) for i in importances]
        importances[0][:, 1] = 0.0
        return importances, compensations

    model = pruner(FrozenEstimator(dense), method=column_1_first, prune_ratio=4 / 35)
    model.fit(X, Y)
    np.testing.assert_array_equal(model.masks_[0][:, 1], False)
    assert model.n_pruned_ == 4
    coefs = [np.asarray(c, dtype=np.float64) for c in dense.coefs_]
    pre_activation = X @ coefs[0][:, 1] + dense.intercepts_[0][1]
    np.testing.assert_allclose(
        model.estimator_.intercepts_[0][1], pre_activation.mean(), rtol=1e-5
    )
    shift = model.compensations_[0][:, 1].sum()
    np.testing.assert_allclose(
        model.estimator_.intercepts_[0][1], dense.intercepts_[0][1] + shift, rtol=1e-6
    )
    assert np.isfinite(model.predict_proba(X)).all()


# --------------------------------------------------------------------------
# persistence
# --------------------------------------------------------------------------


def _joblib_round_trip(obj):
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


ROUND_TRIPS = {
    "pickle": lambda obj: pickle.loads(pickle.dumps(obj)),
    "joblib": _joblib_round_trip,
    "deepcopy": copy.deepcopy,
}


@functools.cache
def _pruned(kind):
    if kind == "clf":
        return pruner(clf(random_state=0), prune_ratio=0.6, fine_tune_epochs=1).fit(
            X, Y
        )
    return pruner(reg(random_state=0), prune_ratio=0.6, fine_tune_epochs=1).fit(
        X, Y_REG
    )


def _outputs(model):
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    return model.predict(X)


@pytest.mark.parametrize("round_trip", list(ROUND_TRIPS), ids=str)
@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_round_trips_keep_predictions_and_masks(kind, round_trip):
    model = _pruned(kind)
    reference = _outputs(model)
    target = Y if kind == "clf" else Y_REG
    for original in (model, model.estimator_, model.dense_estimator_):
        loaded = ROUND_TRIPS[round_trip](original)
        np.testing.assert_array_equal(_outputs(loaded), _outputs(original))
    loaded = ROUND_TRIPS[round_trip](model)
    for a, b in zip(loaded.masks_, model.masks_):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(loaded.estimator_.masks_, model.masks_):
        np.testing.assert_array_equal(a, b)
    loaded.estimator_.partial_fit(X, target)  # training continues, masks held
    for coef, mask in zip(loaded.estimator_.coefs_, model.masks_):
        assert np.all(coef[~mask] == 0.0)
    assert not np.array_equal(_outputs(loaded), reference)
    np.testing.assert_array_equal(_outputs(model), reference)  # original untouched


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_clone_of_fitted_models_refits_identically(kind):
    model = _pruned(kind)
    target = Y if kind == "clf" else Y_REG
    for original in (model, model.dense_estimator_):
        cloned = clone(original)
        assert cloned.get_params().keys() == original.get_params().keys()
        assert not hasattr(cloned, "n_features_in_")
        np.testing.assert_array_equal(
            _outputs(cloned.fit(X, target)), _outputs(original)
        )


def test_unpickling_runs_no_torch_load_without_weights_only(monkeypatch):
    """A CPU net's tensors are pickled as raw bytes (no torch.load on loading);
    no tensor is left where plain pickle would load it with
    torch.load(weights_only=False) (e.g. the early-stopping snapshot or the
    validation split)."""
    models = [
        clf(random_state=0, early_stopping=True, n_iter_no_change=2).fit(X, Y),
        _pruned("reg"),
    ]
    assert models[0].net_.torch_load_kwargs is None  # skorch's default applies
    payloads = [pickle.dumps(m) for m in models]
    for payload in payloads:
        assert b"_load_from_bytes" not in payload  # no torch.save'd storage
    calls = []
    torch_load = torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return torch_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    for payload, model in zip(payloads, models):
        loaded = pickle.loads(payload)
        np.testing.assert_array_equal(_outputs(loaded), _outputs(model))
    assert calls == [], calls


# --------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["compensated", "random"])
def test_same_random_state_is_bit_identical(method):
    X_digits, y_digits = load_digits(return_X_y=True)
    X_digits, y_digits = X_digits[:400] / 16.0, y_digits[:400]

    def run():
        return CompensatedPruner(
            MLPClassifier((12,), max_iter=5, random_state=3),
            prune_ratio=0.7,
            method=method,
            max_samples=250,
            fine_tune_epochs=2,
            random_state=7,
        ).fit(X_digits, y_digits)

    first, second = run(), run()
    for name in ("importances_", "masks_"):
        for a, b in zip(getattr(first, name), getattr(second, name)):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(first.estimator_.coefs_, second.estimator_.coefs_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        first.predict_proba(X_digits), second.predict_proba(X_digits)
    )


def test_grid_search_is_identical_across_n_jobs():
    X_digits, y_digits = load_digits(return_X_y=True)
    X_digits, y_digits = X_digits[:300] / 16.0, y_digits[:300]
    grid = {"prune_ratio": [0.3, 0.8], "method": ["compensated", "random"]}

    def search(n_jobs):
        estimator = CompensatedPruner(
            MLPClassifier((12,), max_iter=4, random_state=0),
            fine_tune_epochs=1,
            random_state=0,
        )
        return GridSearchCV(estimator, grid, cv=2, n_jobs=n_jobs).fit(
            X_digits, y_digits
        )

    serial, parallel = search(1), search(2)
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(
            serial.cv_results_[key], parallel.cv_results_[key]
        )
    assert serial.best_params_ == parallel.best_params_
    best = serial.best_estimator_, parallel.best_estimator_
    for a, b in zip(best[0].importances_, best[1].importances_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        serial.best_estimator_.predict_proba(X_digits),
        parallel.best_estimator_.predict_proba(X_digits),
    )
