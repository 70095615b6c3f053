"""compact(): dead neurons out, sparse layers, same predictions, pickling, training."""

import pickle
import re

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from skprune import (
    CompensatedPruner,
    MLPClassifier,
    MLPRegressor,
    _compact,
    compact,
    remove_dead_neurons,
    sparse_layers_for,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


_CACHE = {}


def pruned(X, y, activation="relu", ratio=0.9, estimator=MLPClassifier):
    """A pruned net (fitted once per setting for the whole module)."""
    key = (id(X), activation, ratio, estimator)
    if key not in _CACHE:
        mlp = estimator((48, 24), activation=activation, max_iter=10, random_state=0)
        pruner = CompensatedPruner(mlp, prune_ratio=ratio, fine_tune_epochs=0)
        _CACHE[key] = (X, pruner.fit(X, y))
    return _CACHE[key][1]


def numpy_forward(coefs, intercepts, masks, X, activation="relu", slopes=None):
    """Reference forward pass of a masked network, float64."""
    act = {
        "relu": lambda s, a: np.maximum(s, 0),
        "logistic": lambda s, a: 1 / (1 + np.exp(-s)),
        "tanh": lambda s, a: np.tanh(s),
        "prelu": lambda s, a: np.where(s > 0, s, a * s),
    }[activation]
    for layer, (c, b, m) in enumerate(zip(coefs, intercepts, masks)):
        X = X @ np.where(m, c, 0.0) + b
        if layer < len(coefs) - 1:
            X = act(X, None if slopes is None else slopes[layer])
    return X


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "prelu"])
def test_remove_dead_neurons_keeps_the_function(activation):
    rng = np.random.default_rng(1)
    units = (6, 8, 7, 5, 3)
    coefs = [rng.normal(size=(a, b)) for a, b in zip(units[:-1], units[1:])]
    intercepts = [rng.normal(size=b) for b in units[1:]]
    masks = [rng.random(c.shape) < 0.35 for c in coefs]
    slopes = [np.array([0.2])] * 3 if activation == "prelu" else None
    c, b, m, kept = remove_dead_neurons(coefs, intercepts, masks, activation, slopes)
    X = rng.normal(size=(50, 6))
    expected = numpy_forward(coefs, intercepts, masks, X, activation, slopes)
    got = numpy_forward(c, b, m, X, activation, slopes)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert sum(len(k) for k in kept) < 20  # something was removed
    for layer, k in enumerate(kept):  # every kept neuron computes something
        if len(k) > 1 or m[layer].any():
            assert m[layer].any(axis=0).all() and m[layer + 1].any(axis=1).all()


def test_removals_cascade_and_a_layer_is_never_left_empty():
    # neuron 0 of layer 2 has no input; so layer 1 loses its only outgoing
    # weights, then layer 0's neurons lose theirs: everything below collapses.
    coefs = [np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 1))]
    masks = [np.ones((2, 2), bool), np.zeros((2, 2), bool), np.ones((2, 1), bool)]
    intercepts = [np.zeros(2), np.array([1.0, -2.0]), np.array([0.5])]
    c, b, m, kept = remove_dead_neurons(coefs, intercepts, masks, "relu")
    assert [len(k) for k in kept] == [1, 1]
    assert not m[0].any() and not m[1].any() and not m[2].any()
    np.testing.assert_allclose(b[2], [0.5 + 1.0 + 0.0])  # relu(1) + relu(-2)
    X = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_allclose(
        numpy_forward(c, b, m, X), numpy_forward(coefs, intercepts, masks, X)
    )


@pytest.mark.parametrize("activation", ["relu", "prelu", "logistic"])
@pytest.mark.parametrize("sparse", [False, True, "auto"])
def test_compact_predicts_the_same(digits, activation, sparse):
    X, y = digits
    pruner = pruned(X, y, activation)
    small = compact(pruner, sparse=sparse)
    assert type(small) is MLPClassifier
    assert small is not pruner.estimator_
    np.testing.assert_allclose(
        small.predict_proba(X), pruner.predict_proba(X), rtol=0, atol=1e-5
    )
    assert (small.predict(X) == pruner.predict(X)).mean() > 0.999
    widths = small.hidden_layer_sizes
    assert sum(widths) < 48 + 24
    assert [c.shape for c in small.coefs_] == [(64, widths[0]), widths, (widths[1], 10)]
    n_kept = pruner.n_weights_ - pruner.n_pruned_
    assert 0 < sum(m.sum() for m in small.masks_) <= n_kept
    assert small.net_.module_.sparse_layers == sparse_layers_for(small.masks_, sparse)


def test_compact_regressor_and_unpruned_mlp(digits):
    X, y = digits
    reg = pruned(X, y.astype(float), estimator=MLPRegressor)
    small = compact(reg.estimator_, sparse=True)
    assert type(small) is MLPRegressor
    np.testing.assert_allclose(small.predict(X), reg.predict(X), atol=1e-4)
    dense = reg.dense_estimator_
    same = compact(dense)
    assert same.hidden_layer_sizes == (48, 24) and same.masks_ is None
    np.testing.assert_allclose(same.predict(X), dense.predict(X), atol=1e-5)


def test_compact_takes_all_columns_and_their_names(digits):
    X, y = digits
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    small = compact(pruned(frame, y, ratio=0.95))
    assert small.n_features_in_ == 64
    assert list(small.feature_names_in_) == list(frame.columns)
    assert small.coefs_[0].shape[0] == 64
    small.predict(frame)
    with pytest.raises(
        ValueError, match="Feature names seen at fit time, yet now missing"
    ):
        small.predict(frame.iloc[:, :63])


@pytest.mark.parametrize("sparse", [False, True])
def test_pickle_clone_and_further_training(digits, sparse):
    X, y = digits
    small = compact(pruned(X, y), sparse=sparse)
    loaded = pickle.loads(pickle.dumps(small))
    assert loaded.net_.module_.sparse_layers == small.net_.module_.sparse_layers
    np.testing.assert_array_equal(loaded.predict_proba(X), small.predict_proba(X))
    for a, b in zip(loaded.masks_, small.masks_):
        np.testing.assert_array_equal(a, b)
    fresh = clone(small)
    assert fresh.hidden_layer_sizes == small.hidden_layer_sizes
    assert not hasattr(fresh, "net_")
    before = small.predict_proba(X)
    loaded.partial_fit(X, y)
    assert not np.allclose(loaded.predict_proba(X), before)
    for coef, mask in zip(loaded.coefs_, loaded.masks_):
        assert np.all(coef[~mask] == 0.0)
        assert (coef[mask] != 0).mean() > 0.99
    reference = numpy_forward(loaded.coefs_, loaded.intercepts_, loaded.masks_, X)
    # the sparse path follows the trained weights
    np.testing.assert_allclose(loaded.predict_proba(X), _softmax(reference), atol=1e-5)


def _softmax(raw):
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("sparse", [False, True])
def test_pickles_store_only_the_kept_weights(digits, sparse):
    X, y = digits
    pruner = pruned(X, y, ratio=0.9)
    dense_size = len(pickle.dumps(compact(pruner.dense_estimator_)))
    size = len(pickle.dumps(compact(pruner, sparse=sparse)))
    n_weights = sum(c.size for c in pruner.dense_estimator_.coefs_)
    # the dense net stores 4 bytes per weight; 10 % kept as CSR ~ 0.6
    assert dense_size - size > 2.5 * n_weights


def test_pickle_keeps_the_optimizer_state(digits):
    X, y = digits
    small = compact(pruned(X, y), sparse=True)
    small.partial_fit(X, y)
    loaded = pickle.loads(pickle.dumps(small))
    for model in (small, loaded):
        model.partial_fit(X, y)
    np.testing.assert_allclose(
        loaded.predict_proba(X), small.predict_proba(X), atol=1e-6
    )


def test_compact_accepts_a_frozen_mlp_inside_a_pruner(digits):
    X, y = digits
    dense = MLPClassifier((16,), max_iter=5, random_state=0).fit(X, y)
    pruner = CompensatedPruner(FrozenEstimator(dense), fine_tune_epochs=0).fit(X, y)
    np.testing.assert_allclose(
        compact(pruner).predict_proba(X), pruner.predict_proba(X), atol=1e-5
    )


def test_compact_bad_input(digits):
    X, y = digits
    with pytest.raises(
        NotFittedError, match="This MLPClassifier instance is not fitted"
    ):
        compact(MLPClassifier())
    with pytest.raises(NotFittedError, match="This CompensatedPruner instance is not"):
        compact(CompensatedPruner(MLPClassifier()))
    with pytest.raises(
        TypeError,
        match=re.escape(
            "compact expects a fitted skprune MLPClassifier, MLPRegressor or "
            "CompensatedPruner; got LogisticRegression"
        ),
    ):
        compact(LogisticRegression(max_iter=20).fit(X[:100], y[:100]))
    fitted = MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(
        ValueError, match=re.escape("sparse must be True, False or 'auto'; got 'yes'.")
    ):
        compact(fitted, sparse="yes")


def test_compare_methods_reports_compact_size_and_speed_up():
    from skprune import compare_methods
    from skprune.datasets import load_digits_split
    from skprune.experiments import make_estimator
    from skprune.report import markdown_report

    results = compare_methods(
        make_estimator("classification", (32,), epochs=3),
        load_digits_split().subset(n_train=300),
        methods=["magnitude"],
        ratios=[0.0, 0.9],
        seeds=[0],
        fine_tune_epochs=[0],
        pruner_params={"granularity": "neuron"},
    )
    params = results.set_index("ratio")["compact_params"]
    assert params[0.0] == 64 * 32 + 32 * 10 + 32 + 10 + 1  # and a PReLU slope
    assert params[0.9] < 0.15 * params[0.0]
    assert (results["predict_speedup"] > 0).all()
    report = markdown_report(results)
    assert "## Parameters after `skprune.compact`" in report
    assert "## Prediction speed-up" in report


# ------------------------------------------------------- the prediction plan


def _live_share(small):
    return small.masks_[0].any(axis=1).mean()


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gathered_input_predicts_as_the_full_input(
    digits, monkeypatch, sparse, dtype, converter
):
    X, y = digits
    pruner = pruned(X, y, ratio=0.9)
    X = X.astype(dtype)
    monkeypatch.setattr(_compact, "GATHER_MIN_SAVING", np.inf)  # never gather
    full = compact(pruner, sparse=sparse)
    assert full.net_.module_.prediction_input() == (None, 64)
    monkeypatch.setattr(_compact, "GATHER_MIN_SAVING", 0.0)  # gather any dead column
    gathered = compact(pruner, sparse=sparse)
    columns, width = gathered.net_.module_.prediction_input()
    live = np.flatnonzero(pruner.estimator_.masks_[0].any(axis=1))
    assert 0 < len(live) < 64
    np.testing.assert_array_equal(columns, live)
    assert width % _compact.PAD_UNITS == 0 and width >= len(live)
    few = _compact.GATHER_MIN_ROWS - 1  # small blocks: whole rows
    assert gathered.net_.module_.prediction_input(few) == (None, 64)
    many = gathered.net_.module_.prediction_input(few + 1)
    np.testing.assert_array_equal(many[0], live)
    reference = numpy_forward(
        pruner.estimator_.coefs_,
        pruner.estimator_.intercepts_,
        pruner.estimator_.masks_,
        X.astype(np.float64),
    )
    for model in (full, gathered):
        # below SPARSE_MIN_ROWS, around GATHER_MIN_ROWS, and all rows
        for rows in (X[:1], X[:7], X[:31], X[:32], X):
            np.testing.assert_allclose(
                model.predict_proba(rows), _softmax(reference[: len(rows)]), atol=1e-5
            )
    with torch.no_grad():  # the module called on full rows gathers them itself
        raw = gathered.net_.module_(torch.as_tensor(X, dtype=torch.float32))
    np.testing.assert_allclose(raw.numpy(), reference, atol=1e-4)


def test_gather_rule_at_its_threshold(monkeypatch):
    pattern = torch.zeros(3, 48, dtype=torch.bool)  # 3 units, padded to 16
    pattern[0, :32] = True  # 32 of 48 columns live: 16 * 16 / 32 = 8 saved per copy
    monkeypatch.setattr(_compact, "GATHER_MIN_SAVING", 8)
    np.testing.assert_array_equal(_compact._gathered_columns(pattern), np.arange(32))
    monkeypatch.setattr(_compact, "GATHER_MIN_SAVING", 8.01)
    assert _compact._gathered_columns(pattern) is None
    monkeypatch.setattr(_compact, "GATHER_MIN_SAVING", 0)
    narrow = torch.zeros(3, 10, dtype=torch.bool)
    narrow[0, :8] = True  # padded to 16, no narrower than the 10 columns
    assert _compact._gathered_columns(narrow) is None


def test_gather_rule_weighs_the_first_layer_width():
    """The same share of dead inputs is gathered for a wide first layer only."""
    wide = torch.zeros(304, 784, dtype=torch.bool)
    wide[:, :600] = True  # 184 / 600 * 304 = 93 multiply-adds saved per copy
    narrow = wide[:64]  # 184 / 600 * 64 = 20
    assert len(_compact._gathered_columns(wide)) == 600
    assert _compact._gathered_columns(narrow) is None


def test_plan_pads_hidden_widths_and_keeps_the_output(digits):
    X, y = digits
    small = compact(pruned(X, y, ratio=0.9))
    plan = small.net_.module_.plan()
    hidden = small.hidden_layer_sizes
    assert plan.widths[1:] == (*(_compact._padded(w) for w in hidden), 10)
    assert all(w % _compact.PAD_UNITS == 0 for w in plan.widths[1:-1])
    assert any(w % _compact.PAD_UNITS for w in hidden)  # padding happened
    for weight, bias in zip(plan.weights, plan.biases):
        assert weight.shape[0] == bias.shape[0]


def test_sparse_layer_uses_csr_from_its_row_threshold(digits):
    X, y = digits
    small = compact(pruned(X, y, ratio=0.9), sparse=True)
    plan = small.net_.module_.plan()
    # with the dense copies zeroed, only the CSR product gives more than the bias
    zeroed = plan._replace(weights=[torch.zeros_like(w) for w in plan.weights])
    rng = np.random.default_rng(0)
    n = _compact.SPARSE_MIN_ROWS
    for rows in (n - 1, n):
        x = torch.from_numpy(rng.random((rows, plan.widths[0]), dtype=np.float32))
        with torch.no_grad():
            out, expected = zeroed.product(0, x), plan.product(0, x)
        if rows < n:  # the dense copy
            assert torch.equal(out, plan.biases[0].expand_as(out))
        else:  # the CSR matrix
            np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 7, 10_000])
def test_csr_product_by_chunks_of_rows(digits, monkeypatch, chunk):
    X, y = digits
    small = compact(pruned(X, y, ratio=0.9), sparse=True)
    plan = small.net_.module_.plan()
    monkeypatch.setattr(_compact, "SPARSE_CHUNK_ROWS", chunk)
    rows = torch.from_numpy(
        np.random.default_rng(0).random((50, plan.widths[0]), dtype=np.float32)
    )
    expected = torch.nn.functional.linear(rows, plan.weights[0], plan.biases[0])
    with torch.no_grad():
        out = plan.product(0, rows)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_gathered_input_still_rejects_nan_in_dead_columns(
    digits, value, converter, monkeypatch
):
    X, y = digits
    monkeypatch.setattr(_compact, "GATHER_MIN_SAVING", 0.0)  # gather any dead column
    small = compact(pruned(X, y, ratio=0.9))
    columns, _ = small.net_.module_.prediction_input()
    dead = np.setdiff1d(np.arange(64), columns)
    assert len(dead)
    bad = X.copy()
    bad[3, dead[0]] = value
    word = "NaN" if np.isnan(value) else "infinity"
    with pytest.raises(ValueError, match=re.escape(f"Input X contains {word}")):
        small.predict_proba(bad)
    bad = X.copy()
    bad[3, columns[0]] = 1e300  # a live column beyond float32's range
    with pytest.raises(ValueError, match=re.escape("beyond float32's range")):
        small.predict_proba(bad)


def test_the_plan_is_not_pickled_with_the_module(digits):
    X, y = digits
    module = compact(pruned(X, y, ratio=0.9), sparse=True).net_.module_
    size = len(pickle.dumps(module))
    module.plan()
    assert len(pickle.dumps(module)) == size
    loaded = pickle.loads(pickle.dumps(module))
    x = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        np.testing.assert_array_equal(loaded(x).numpy(), module(x).numpy())
