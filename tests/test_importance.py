"""Tests for skprune.importance: scorers against independent float64 references."""

from __future__ import annotations

import copy
import functools
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.preprocessing import scale
from torch.nn import functional as F

from skprune import MLPClassifier, MLPRegressor
from skprune.importance import (
    METHODS,
    _functional,
    check_scorer_output,
    compensated,
    compensated_importance,
    get_scorer,
    gradient_magnitude,
    magnitude,
    network_params,
    neuron_compensated_importance,
    nonlinear,
    nonlinear_importance_naive,
    obd,
    random_importance,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# The library multiplies in float32 and sums in float64: differences to the
# float64 reference are judged relative to the largest value of the layer.
RTOL = 1e-4
ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "prelu")

# --------------------------------------------------------------------------
# Data and fitted networks (cached: every test uses the same few tiny fits)
# --------------------------------------------------------------------------


def _iris():
    X, y = load_iris(return_X_y=True)
    return scale(X), y


def _data(task):
    if task == "multiclass":
        return _iris()
    if task == "binary":
        X, y = _iris()
        return X, np.where(y == 2, "virginica", "other")
    X, y = load_diabetes(return_X_y=True)
    X, y = scale(X[:120]), scale(y[:120])
    if task == "regression2":
        y = np.column_stack([y, np.sin(3 * X[:, 0])])
    return X, y


@functools.cache
def fitted(task, activation, hidden=(6, 5), max_iter=30):
    """A small MLP fitted on the task's data, and that data."""
    X, y = _data(task)
    Estimator = MLPClassifier if task in ("multiclass", "binary") else MLPRegressor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = Estimator(
            hidden,
            activation,
            max_iter=max_iter,
            learning_rate_init=0.01,
            random_state=0,
        ).fit(X, y)
    return est, X, y


def _copy_of(task, activation):
    """A fitted net that a test may modify (the cached one stays intact)."""
    est, X, y = fitted(task, activation)
    return copy.deepcopy(est), X, y


# --------------------------------------------------------------------------
# Independent float64 reference (numpy, from DESIGN.md's formulas)
# --------------------------------------------------------------------------


def _act(s, activation, slope):
    return {
        "identity": lambda: s,
        "logistic": lambda: 1 / (1 + np.exp(-s)),
        "tanh": lambda: np.tanh(s),
        "relu": lambda: np.maximum(s, 0),
        "prelu": lambda: np.where(s > 0, s, slope * s),
    }[activation]()


def _act_derivative(s, activation, slope):
    return {
        "identity": lambda: np.ones_like(s),
        "logistic": lambda: np.exp(-s) / (1 + np.exp(-s)) ** 2,
        "tanh": lambda: 1 / np.cosh(s) ** 2,
        "relu": lambda: (s > 0).astype(float),
        "prelu": lambda: np.where(s > 0, 1.0, slope),
    }[activation]()


def _params(est):
    """Float64 copies of weights, biases, activation and PReLU slopes."""
    slopes = [None] * (len(est.coefs_) - 1)
    if est.activation == "prelu":
        slopes = [float(a[0]) for a in est.prelu_weights_]
    return (
        [np.array(c, dtype=np.float64) for c in est.coefs_],
        [np.array(b, dtype=np.float64) for b in est.intercepts_],
        est.activation,
        slopes,
    )


def _forward(params, X):
    """Inputs of every layer, hidden pre-activations and the raw output."""
    coefs, intercepts, activation, slopes = params
    inputs, pre = [np.asarray(X, dtype=np.float64)], []
    for W, b, a in zip(coefs[:-1], intercepts[:-1], slopes):
        pre.append(inputs[-1] @ W + b)
        inputs.append(_act(pre[-1], activation, a))
    return inputs, pre, inputs[-1] @ coefs[-1] + intercepts[-1]


def reference_compensated(est, X):
    """I and δ* per layer from a per-row Jacobian, all in float64."""
    params = _params(est)
    coefs, _, activation, slopes = params
    inputs, pre, out = _forward(params, X)
    n, K = out.shape
    jacobians = [np.broadcast_to(np.eye(K), (n, K, K))]
    for layer in reversed(range(len(pre))):
        upper = jacobians[0] @ coefs[layer + 1].T
        slope = _act_derivative(pre[layer], activation, slopes[layer])
        jacobians.insert(0, upper * slope[:, None, :])
    importances, compensations = [], []
    for W, x, J in zip(coefs, inputs, jacobians):
        G = (J**2).sum(1)
        EG, EGx, EGx2 = G.mean(0), x.T @ G / n, (x**2).T @ G / n
        alive = EG > 0
        EG = np.where(alive, EG, 1.0)
        importances.append(np.where(alive, W**2 * (EGx2 - EGx**2 / EG), 0.0))
        compensations.append(np.where(alive, W * EGx / EG, 0.0))
    return importances, compensations


def exact_change(params, X, layer, j, i, shift):
    """E‖f(w_ij → 0, b_i + shift) − f‖² by a float64 forward pass."""
    coefs, intercepts, activation, slopes = params
    coefs = [c.copy() for c in coefs]
    intercepts = [b.copy() for b in intercepts]
    coefs[layer][j, i] = 0.0
    intercepts[layer][i] += shift
    new = _forward((coefs, intercepts, activation, slopes), X)[2]
    return float(((new - _forward(params, X)[2]) ** 2).sum(1).mean())


def reference_nonlinear(est, X):
    """The brute force: one float64 forward pass per weight, δ = w E[x_j]."""
    params = _params(est)
    inputs = _forward(params, X)[0]
    importances = []
    for layer, W in enumerate(params[0]):
        mean = inputs[layer].mean(0)
        importance = np.empty_like(W)
        for j, i in np.ndindex(W.shape):
            importance[j, i] = exact_change(params, X, layer, j, i, W[j, i] * mean[j])
        importances.append(importance)
    return importances


def assert_layers_close(actual, expected, scales=None, rtol=RTOL):
    """Equal up to ``rtol`` times each layer's scale (default: its largest value)."""
    assert len(actual) == len(expected)
    if scales is None:
        scales = [np.abs(e).max() for e in expected]
    for layer, (a, e, scale_) in enumerate(zip(actual, expected, scales)):
        assert a.shape == e.shape and a.dtype == np.float64
        np.testing.assert_allclose(
            a, e, rtol=0, atol=rtol * max(scale_, 1e-300), err_msg=f"layer {layer}"
        )


def shift_scales(est, X):
    """Natural size of a bias shift per layer: largest |w_ij| times largest |x_j|."""
    inputs = _forward(_params(est), X)[0]
    return [np.abs(W).max() * np.abs(x).max() for W, x in zip(est.coefs_, inputs)]


# --------------------------------------------------------------------------
# compensated
# --------------------------------------------------------------------------

CASES = [("multiclass", activation) for activation in ACTIVATIONS] + [
    ("binary", "tanh"),
    ("binary", "relu"),
    ("regression1", "relu"),
    ("regression1", "tanh"),
    ("regression2", "prelu"),
    ("regression2", "logistic"),
]


@pytest.mark.parametrize("batch_size", [7, 64, 4096])
@pytest.mark.parametrize("task, activation", CASES)
def test_compensated_matches_float64_reference(task, activation, batch_size):
    est, X, y = fitted(task, activation)
    importances, compensations = compensated(est, X, y, batch_size=batch_size)
    ref_importances, ref_compensations = reference_compensated(est, X)
    assert_layers_close(importances, ref_importances)
    assert_layers_close(compensations, ref_compensations, shift_scales(est, X))
    assert all((a >= 0).all() for a in importances)


@pytest.mark.parametrize("hidden", [(7,), (6, 5, 4)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "prelu"])
def test_compensated_matches_float64_reference_at_any_depth(hidden, activation):
    # One hidden layer (closed-form sensitivities only) and three (the
    # Jacobian recursion through two layers).
    est, X, y = fitted("multiclass", activation, hidden=hidden)
    importances, compensations = compensated(est, X, y, batch_size=50)
    ref_importances, ref_compensations = reference_compensated(est, X)
    assert_layers_close(importances, ref_importances)
    assert_layers_close(compensations, ref_compensations, shift_scales(est, X))


def test_compensated_on_sparse_input_and_sklearn_mlp():
    est, X, y = fitted("multiclass", "tanh")
    dense = compensated(est, X)
    sparse = compensated(est, sp.csr_matrix(X), batch_size=50)
    assert_layers_close(sparse[0], dense[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = SklearnMLPClassifier((5,), "tanh", max_iter=20, random_state=0)
        theirs.fit(X, y)
    assert_layers_close(compensated(theirs, X)[0], reference_compensated(theirs, X)[0])


def test_constant_input_is_absorbed_by_the_bias():
    X, y = _iris()
    constant = 0.75
    X = np.column_stack([X[:, :2], np.full(len(X), constant), X[:, 2:]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier((6, 5), "tanh", max_iter=20, random_state=0).fit(X, y)
    importances, compensations = compensated(est, X, batch_size=32)
    assert importances[0][2].max() <= 1e-9 * importances[0].max()
    expected = np.asarray(est.coefs_[0][2], dtype=np.float64) * constant
    np.testing.assert_array_equal(compensations[0][2], expected)
    # The functional form gives the same, and so does "nonlinear".
    functional = compensated_importance(est.coefs_, est.intercepts_, "tanh", X)
    np.testing.assert_array_equal(functional[1][0][2], expected)
    nonlinear_importances, nonlinear_compensations = nonlinear(est, X)
    np.testing.assert_array_equal(nonlinear_importances[0][2], 0.0)
    np.testing.assert_array_equal(nonlinear_compensations[0][2], expected)


def test_dead_relu_unit_has_zero_importance_and_compensation():
    est, X, _ = _copy_of("multiclass", "relu")
    intercepts = est.intercepts_
    intercepts[0][3] = -1e4  # unit 3 of the first hidden layer never fires
    est.intercepts_ = intercepts
    importances, compensations = compensated(est, X, batch_size=40)
    for values in (*importances, *compensations):
        assert np.isfinite(values).all()
    for values in (importances, compensations):
        np.testing.assert_array_equal(values[0][:, 3], 0.0)  # E[G] = 0
        np.testing.assert_array_equal(values[1][3, :], 0.0)  # its output is 0
    assert importances[0].max() > 0


@pytest.mark.parametrize("activation", ["tanh", "logistic", "prelu"])
def test_linearisation_is_exact_for_small_weights(activation):
    est, X, _ = _copy_of("multiclass", activation)
    coefs = est.coefs_
    chosen = [(0, 1, 2), (1, 4, 0), (2, 3, 1)]
    for layer, j, i in chosen:
        coefs[layer][j, i] = 1e-3
    est.coefs_ = coefs
    importances, compensations = compensated(est, X)
    params = _params(est)
    for layer, j, i in chosen:
        actual = exact_change(params, X, layer, j, i, compensations[layer][j, i])
        assert importances[layer][j, i] == pytest.approx(actual, rel=1e-2)


def test_identity_network_importance_is_the_exact_output_change():
    est, X, _ = fitted("multiclass", "identity")
    importances, compensations = compensated(est, X, batch_size=50)
    params = _params(est)
    exact = [
        np.array(
            [
                [
                    exact_change(params, X, layer, j, i, d[j, i])
                    for i in range(W.shape[1])
                ]
                for j in range(W.shape[0])
            ]
        )
        for layer, (W, d) in enumerate(zip(params[0], compensations))
    ]
    assert_layers_close(importances, exact)


# --------------------------------------------------------------------------
# nonlinear
# --------------------------------------------------------------------------


@functools.cache
def small_net(activation):
    """A 6-5-4-4-3 classifier on random data (two hidden layers above layer 0)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 6))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(
            (5, 4, 4), activation, max_iter=30, learning_rate_init=0.01, random_state=0
        ).fit(X, y)
    return est, X, y


@pytest.mark.parametrize("activation", ["tanh", "relu", "prelu", "logistic"])
def test_nonlinear_matches_brute_force(activation, monkeypatch):
    est, X, y = small_net(activation)
    assert [c.shape for c in est.coefs_] == [(6, 5), (5, 4), (4, 4), (4, 3)]
    expected = reference_nonlinear(est, X)
    monkeypatch.setattr(_functional, "PAIRS_PER_BLOCK", 40)  # several blocks
    importances, compensations = nonlinear(est, X, y, batch_size=16)
    assert_layers_close(importances, expected)
    means = [x.mean(0) for x in _forward(_params(est), X)[0]]
    expected_shift = [W * m[:, None] for W, m in zip(_params(est)[0], means)]
    assert_layers_close(compensations, expected_shift, shift_scales(est, X), 1e-6)


def test_nonlinear_naive_matches_brute_force():
    est, X, _ = small_net("tanh")
    expected = reference_nonlinear(est, X)
    flat = np.concatenate([e.ravel() for e in expected])
    naive = nonlinear_importance_naive(est, X)
    np.testing.assert_allclose(naive, flat, rtol=0, atol=RTOL * flat.max())
    some = nonlinear_importance_naive(est, X, [(3, 1, 0), (0, 5, 4)])
    np.testing.assert_allclose(
        some, [expected[3][1, 0], expected[0][5, 4]], rtol=0, atol=RTOL * flat.max()
    )


def test_nonlinear_skips_zero_weights():
    est, X, _ = _copy_of("multiclass", "relu")
    coefs = est.coefs_
    coefs[1][2, 3] = 0.0
    est.coefs_ = coefs
    importances, compensations = nonlinear(est, X)
    assert importances[1][2, 3] == 0.0 and compensations[1][2, 3] == 0.0
    assert (importances[1] > 0).sum() > 1


# --------------------------------------------------------------------------
# magnitude, gradient_magnitude, random
# --------------------------------------------------------------------------


def test_magnitude_is_absolute_weight():
    est, X, y = fitted("multiclass", "relu")
    importances = magnitude(est, X, y)
    for values, W in zip(importances, est.coefs_):
        assert values.dtype == np.float64
        np.testing.assert_array_equal(values, np.abs(W.astype(np.float64)))


def _reference_loss(task, raw, y, est):
    """Mean data loss in float64 torch, written from the losses' definitions."""
    if task == "multiclass":
        target = torch.as_tensor(np.searchsorted(est.classes_, y))
        return F.cross_entropy(raw, target)
    if task == "binary":
        target = torch.as_tensor((y == est.classes_[1]).astype(float))[:, None]
        return F.binary_cross_entropy_with_logits(raw, target, reduction="sum") / len(y)
    target = torch.as_tensor(y.reshape(len(y), -1))
    return 0.5 * ((raw - target) ** 2).mean()


@pytest.mark.parametrize(
    "task, activation",
    [("multiclass", "tanh"), ("binary", "relu"), ("regression2", "prelu")],
)
def test_gradient_magnitude_matches_float64_autograd(task, activation):
    est, X, y = fitted(task, activation)
    coefs, intercepts, _, slopes = _params(est)
    leaves = [torch.tensor(W, requires_grad=True) for W in coefs]
    x = torch.as_tensor(X)
    for W, b, a in zip(leaves[:-1], intercepts[:-1], slopes):
        s = x @ W + torch.as_tensor(b)
        x = {
            "tanh": torch.tanh,
            "relu": torch.relu,
            "prelu": lambda s, a=a: torch.where(s > 0, s, a * s),
        }[activation](s)
    raw = x @ leaves[-1] + torch.as_tensor(intercepts[-1])
    _reference_loss(task, raw, y, est).backward()
    expected = [np.abs(W * leaf.grad.numpy()) for W, leaf in zip(coefs, leaves)]
    assert_layers_close(gradient_magnitude(est, X, y, batch_size=37), expected)


def _reference_raw(est, X, leaves):
    """Raw output of a float64 torch copy of ``est`` with weight ``leaves``."""
    _, intercepts, activation, slopes = _params(est)
    x = torch.as_tensor(X)
    for W, b, a in zip(leaves[:-1], intercepts[:-1], slopes):
        s = x @ W + torch.as_tensor(b)
        x = {
            "tanh": torch.tanh,
            "relu": torch.relu,
            "logistic": torch.sigmoid,
            "prelu": lambda s, a=a: torch.where(s > 0, s, a * s),
        }[activation](s)
    return x @ leaves[-1] + torch.as_tensor(intercepts[-1])


@pytest.mark.parametrize(
    "task, activation",
    [("multiclass", "tanh"), ("binary", "relu"), ("regression2", "prelu")],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_obd_matches_per_row_float64_autograd(task, activation, weighted):
    """½ w² times the (weighted) mean of squared per-row gradients, row by row."""
    est, X, y = fitted(task, activation)
    coefs = _params(est)[0]
    weights = np.random.default_rng(0).uniform(0.2, 2.0, len(y))
    weights = weights if weighted else np.ones(len(y))
    fisher = [np.zeros_like(W) for W in coefs]
    for n in range(len(y)):
        leaves = [torch.tensor(W, requires_grad=True) for W in coefs]
        raw = _reference_raw(est, X[n : n + 1], leaves)
        _reference_loss(task, raw, y[n : n + 1], est).backward()
        for total, leaf in zip(fisher, leaves):
            total += weights[n] * leaf.grad.numpy() ** 2
    expected = [0.5 * W**2 * f / weights.sum() for W, f in zip(coefs, fisher)]
    actual = obd(est, X, y, batch_size=37, sample_weight=weights if weighted else None)
    assert_layers_close(actual, expected)


def test_obd_checks_sample_weight_length():
    est, X, y = fitted("multiclass", "relu")
    with pytest.raises(ValueError, match=re.escape("sample_weight of shape (3,)")):
        obd(est, X, y, sample_weight=np.ones(3))


def test_gradient_magnitude_needs_y():
    est, X, _ = fitted("multiclass", "relu")
    with pytest.raises(ValueError, match=re.escape("needs the targets y")):
        gradient_magnitude(est, X, None)


def test_random_is_reproducible_and_seeded():
    est, X, y = fitted("multiclass", "relu")
    first = random_importance(est, X, y, random_state=0)
    again = random_importance(est, X, y, random_state=0)
    other = random_importance(est, X, y, random_state=1)
    assert [a.shape for a in first] == [c.shape for c in est.coefs_]
    for a, b, c in zip(first, again, other):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
        assert ((a >= 0) & (a < 1)).all()


def test_scorers_validate_X():
    est, X, y = fitted("multiclass", "relu")
    with pytest.raises(ValueError, match=re.escape("X has 3 features")):
        compensated(est, X[:, :3])
    expected = "Expected X of shape (n_samples >= 1, 4) for a network with 4 "
    with pytest.raises(
        ValueError, match=re.escape(expected + "inputs; got shape (0, 4)")
    ):
        compensated_importance(est.coefs_, est.intercepts_, "relu", X[:0])
    with pytest.raises(ValueError, match=re.escape("got shape (150, 3)")):
        compensated_importance(est.coefs_, est.intercepts_, "relu", X[:, :3])
    with pytest.raises(ValueError, match=re.escape("positive integer; got 0.")):
        nonlinear(est, X, batch_size=0)
    with pytest.raises(ValueError, match=re.escape("Unknown activation 'swish'")):
        compensated_importance(est.coefs_, est.intercepts_, "swish", X)


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------


def test_get_scorer_resolves_names_and_callables():
    assert METHODS == (
        "compensated",
        "nonlinear",
        "magnitude",
        "gradient_magnitude",
        "random",
        "obd",
        "fully_connected",
    )
    assert get_scorer("compensated") is compensated
    assert get_scorer("obd") is obd
    assert get_scorer("random") is random_importance

    def mine(estimator, X, y):
        return magnitude(estimator)

    assert get_scorer(mine) is mine


@pytest.mark.parametrize("method", ["magnitud", 3, None])
def test_get_scorer_unknown_name(method):
    expected = (
        f"Unknown method {method!r}; expected one of 'compensated', 'nonlinear', "
        "'magnitude', 'gradient_magnitude', 'random', 'obd', 'fully_connected' or a "
        "callable"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        get_scorer(method)


def test_get_scorer_fully_connected_has_no_scorer():
    with pytest.raises(ValueError, match=re.escape("'fully_connected' has no scorer")):
        get_scorer("fully_connected")


def test_check_scorer_output_accepts_lists_and_pairs():
    est, X, y = fitted("multiclass", "relu")
    importances, compensations = check_scorer_output(magnitude(est), est)
    assert compensations is None
    assert all(a.dtype == np.float64 for a in importances)
    as_float32 = [c.astype(np.float32) for c in est.coefs_]
    pair = check_scorer_output(([abs(c) for c in as_float32], as_float32), est)
    assert all(a.dtype == np.float64 for a in pair[0] + pair[1])
    assert check_scorer_output((magnitude(est), None), est)[1] is None


def test_check_scorer_output_errors():
    est, X, y = fitted("multiclass", "relu")
    good = magnitude(est)
    with pytest.raises(ValueError, match=re.escape("got an object of type ndarray")):
        check_scorer_output(good[0], est)
    with pytest.raises(ValueError, match=re.escape("got a tuple of length 3")):
        check_scorer_output((good, good, good), est)
    expected = "Expected importances of shapes [(4, 6), (6, 5), (5, 3)] (those of "
    with pytest.raises(ValueError, match=re.escape(expected + "coefs_); got shapes")):
        check_scorer_output(good[:2], est)
    with pytest.raises(
        ValueError, match=re.escape("got shapes [(4, 6), (5, 6), (5, 3)]")
    ):
        check_scorer_output([good[0], good[1].T, good[2]], est)
    nan = [a.copy() for a in good]
    nan[1][0, 0] = np.nan
    with pytest.raises(
        ValueError, match=re.escape("importances of layer 1 have 1 non-")
    ):
        check_scorer_output(nan, est)
    with pytest.raises(ValueError, match=re.escape("compensations of layer 1 have 1")):
        check_scorer_output((good, nan), est)
    negative = [a.copy() for a in good]
    negative[2][0, 0] = -1.0
    with pytest.raises(ValueError, match=re.escape("layer 2 has 1 negative values")):
        check_scorer_output(negative, est)
    with pytest.raises(ValueError, match=re.escape("Expected compensations as a list")):
        check_scorer_output((good, "nope"), est)


def test_importance_math_does_not_import_skorch():
    code = (
        "import sys, skprune.importance\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'skorch')\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------
# where scoring runs
# --------------------------------------------------------------------------

ON_DEVICE_ROWS = 60

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)


def _score_on_device(method, est, X, y, batch_size):
    """What ``method`` returns for ``est`` on ``X`` in blocks of ``batch_size``."""
    if method == "neuron_compensated":
        params = network_params(est)
        return neuron_compensated_importance(**params, X=X, batch_size=batch_size)
    scorer = get_scorer(method)
    return scorer(est, X, y, random_state=0, batch_size=batch_size)


def _weight_shaped_results(output, shapes):
    return sum(np.shape(a) in shapes for a in _flat(output))


def _twin_on(est, X, y, device):
    """``est`` itself on the CPU, else a copy fitted on ``device`` with its
    very parameters."""
    if device == "cpu":
        return est
    twin = clone(est).set_params(device=device).fit(X, y)
    twin.net_.module_.load_state_dict(est.net_.module_.state_dict())
    return twin


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
@pytest.mark.parametrize(
    "method",
    [*(m for m in METHODS if m != "fully_connected"), "neuron_compensated"],
)
def test_scoring_copies_no_rows_or_weights_off_the_model_device(
    method, device, transfers
):
    """Scoring a model: what a GPU run would pay for is not done.

    The rows land on the model's device once per block (every conversion of
    host rows names that device), the weights are never read on the host or
    rebuilt from host copies, nothing moves to another device, and the host
    reads are the results' alone: the same with 1 block as with 5. On a
    GPU the scores also equal the CPU's (float32 rounding).
    """
    cpu_est, X, y = fitted("multiclass", "prelu", hidden=(7, 6))
    est = _twin_on(cpu_est, X, y, device)
    X, y = X[:ON_DEVICE_ROWS], y[:ON_DEVICE_ROWS]
    shapes = {s for c in est.coefs_ for s in (c.shape, c.T.shape)}
    model_device = network_params(est)["coefs"][0].device
    assert model_device.type == device
    reads = {}
    for n_blocks in (1, 5):
        batch_size = ON_DEVICE_ROWS // n_blocks
        with transfers:
            output = _score_on_device(method, est, X, y, batch_size)
        rows = (ON_DEVICE_ROWS, batch_size)
        transfers.assert_on_device(model_device, rows, shapes)
        row_uploads = transfers.row_shaped(transfers.uploads, rows)
        assert len(row_uploads) >= n_blocks or method in ("magnitude", "random")
        assert [u for u in transfers.uploads if u[1] in shapes] == []
        weight_reads = [r for r in transfers.reads if r[1] in shapes]
        n_results = _weight_shaped_results(output, shapes)
        n_results = 0 if method == "random" else n_results  # drawn by numpy
        assert sum(r[0] == "numpy" for r in weight_reads) == n_results
        reads[n_blocks] = sorted(map(str, transfers.reads))
    assert reads[1] == reads[5]
    expected = _score_on_device(method, cpu_est, X, y, ON_DEVICE_ROWS)
    assert_layers_close(_flat(output), _flat(expected))


def _flat(output):
    """The arrays of a scorer's output, importances then compensations."""
    return [a for part in output for a in part] if isinstance(output, tuple) else output
