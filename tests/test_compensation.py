"""Tests for skprune.compensation against an independent float64 reference."""

from __future__ import annotations

import functools
import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import scale

from skprune import MLPClassifier, MLPRegressor
from skprune.compensation import least_squares_refit
from skprune.importance import compensated_importance

ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "prelu")
RTOL = 5e-4  # float32 products against float64, relative to the layer's scale


@functools.cache
def fitted(task, activation, hidden=(6, 5)):
    """A small MLP fitted on iris (classes) or diabetes (regression)."""
    if task == "multiclass":
        X, y = load_iris(return_X_y=True)
        X, Estimator = scale(X), MLPClassifier
    else:
        X, y = load_diabetes(return_X_y=True)
        X, y, Estimator = scale(X[:150]), scale(y[:150]), MLPRegressor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = Estimator(
            hidden, activation, max_iter=30, learning_rate_init=0.01, random_state=0
        ).fit(X, y)
    return est, X


def _params(est):
    slopes = [None] * (len(est.coefs_) - 1)
    if est.activation == "prelu":
        slopes = [float(a[0]) for a in est.prelu_weights_]
    coefs = [np.array(c, dtype=np.float64) for c in est.coefs_]
    intercepts = [np.array(b, dtype=np.float64) for b in est.intercepts_]
    return coefs, intercepts, est.activation, slopes


def _act(s, activation, a):
    return {
        "identity": lambda: s,
        "logistic": lambda: 1 / (1 + np.exp(-s)),
        "tanh": lambda: np.tanh(s),
        "relu": lambda: np.maximum(s, 0),
        "prelu": lambda: np.where(s > 0, s, a * s),
    }[activation]()


def _derivative(s, activation, a):
    return {
        "identity": lambda: np.ones_like(s),
        "logistic": lambda: np.exp(-s) / (1 + np.exp(-s)) ** 2,
        "tanh": lambda: 1 / np.cosh(s) ** 2,
        "relu": lambda: (s > 0).astype(float),
        "prelu": lambda: np.where(s > 0, 1.0, a),
    }[activation]()


def _signals(coefs, intercepts, activation, slopes, X):
    """Inputs and pre-activations (raw output last) of every layer, float64."""
    inputs, pre = [np.asarray(X, dtype=np.float64)], []
    for layer, (W, b) in enumerate(zip(coefs, intercepts)):
        pre.append(inputs[-1] @ W + b)
        if layer < len(coefs) - 1:
            inputs.append(_act(pre[-1], activation, slopes[layer]))
    return inputs, pre


def _sensitivities(coefs, activation, slopes, pre):
    """G[l][n, i] = Σ_k (∂f_k/∂s_i)² from per-row Jacobians."""
    n, K = pre[-1].shape
    jacobians = [np.broadcast_to(np.eye(K), (n, K, K))]
    for layer in reversed(range(len(coefs) - 1)):
        upper = jacobians[0] @ coefs[layer + 1].T
        jacobians.insert(
            0, upper * _derivative(pre[layer], activation, slopes[layer])[:, None, :]
        )
    return [(J**2).sum(1) for J in jacobians]


def _reference_neuron(z, t, g, w, b, kept, ridge):
    """Normal equations of one neuron solved directly (uncentred coordinates)."""
    Z = np.column_stack([z[:, kept], np.ones(len(z))])
    A, r = Z.T @ (g[:, None] * Z), Z.T @ (g * t)
    n_free = int(kept.sum())
    if n_free:
        centred = z[:, kept] - z[:, kept].mean(0)
        lam = ridge * np.mean((g[:, None] * centred**2).sum(0))
        A[:n_free, :n_free] += lam * np.eye(n_free)
        r[:n_free] += lam * w[kept]
    theta = np.linalg.solve(A, r)
    return theta[:n_free], theta[n_free]


def reference_refit(est, X, masks, *, weighted=True, refit_weights=True, ridge=0.0):
    """The refit of DESIGN.md, layer by layer, all in float64 numpy."""
    coefs, intercepts, activation, slopes = _params(est)
    _, pre = _signals(coefs, intercepts, activation, slopes, X)
    G = _sensitivities(coefs, activation, slopes, pre)
    new_coefs = [np.where(m, c, 0.0) for c, m in zip(coefs, masks)]
    new_intercepts = [b.copy() for b in intercepts]
    for layer, mask in enumerate(masks):
        z = _signals(new_coefs, new_intercepts, activation, slopes, X)[0][layer]
        for i in range(mask.shape[1]):
            g = G[layer][:, i] if weighted else np.ones(len(X))
            if g.sum() <= 0:
                continue
            free = mask[:, i] if refit_weights else np.zeros_like(mask[:, i])
            fixed = mask[:, i] & ~free
            t = pre[layer][:, i] - z[:, fixed] @ coefs[layer][fixed, i]
            w, b = _reference_neuron(z, t, g, coefs[layer][:, i], 0, free, ridge)
            new_coefs[layer][free, i], new_intercepts[layer][i] = w, b
    return new_coefs, new_intercepts


def random_masks(est, keep=0.4, seed=0):
    """Random masks in which every neuron keeps at least one weight."""
    rng = np.random.default_rng(seed)
    masks = [rng.uniform(size=c.shape) < keep for c in est.coefs_]
    for mask in masks:
        mask[
            rng.integers(mask.shape[0], size=mask.shape[1]), np.arange(mask.shape[1])
        ] = True
    return masks


def refit(est, X, masks, **kwargs):
    coefs, intercepts, activation, slopes = _params(est)
    prelu = [np.array([a]) for a in slopes] if activation == "prelu" else None
    return least_squares_refit(
        coefs, intercepts, activation, X, masks, prelu_weights=prelu, **kwargs
    )


def assert_close(actual, expected, rtol=RTOL):
    for layer, (a, e) in enumerate(zip(actual, expected)):
        assert a.dtype == np.float64 and a.shape == e.shape
        atol = rtol * max(np.abs(e).max(), 1e-12)
        np.testing.assert_allclose(a, e, rtol=0, atol=atol, err_msg=f"layer {layer}")


# Without a ridge the normal equations are singular wherever a layer's inputs
# are collinear (identity nets, dead ReLU units, iris' correlated columns):
# ridge=0 is compared only on nets whose hidden units are independent.
REFERENCE_CASES = [
    *[
        (task, act, 1e-2)
        for task in ("multiclass", "regression")
        for act in ACTIVATIONS
    ],
    *[("regression", act, 0.0) for act in ("logistic", "tanh", "prelu")],
]


@pytest.mark.parametrize(("task", "activation", "ridge"), REFERENCE_CASES)
@pytest.mark.parametrize("weighted", [True, False])
def test_refit_matches_float64_normal_equations(task, activation, weighted, ridge):
    est, X = fitted(task, activation)
    masks = random_masks(est)
    actual = refit(est, X, masks, weighted=weighted, ridge=ridge)
    expected = reference_refit(est, X, masks, weighted=weighted, ridge=ridge)
    assert_close(actual[0], expected[0])
    assert_close(actual[1], expected[1])
    for coef, mask in zip(actual[0], masks):
        assert (coef[~mask] == 0.0).all()


@pytest.mark.parametrize("weighted", [True, False])
def test_refit_sums_row_blocks(weighted):
    """Blocks of 17 rows (the last one shorter) give the one-block result."""
    est, X = fitted("regression", "tanh")
    masks = random_masks(est, seed=1)
    actual = refit(est, X, masks, weighted=weighted, ridge=0.0, batch_size=17)
    expected = reference_refit(est, X, masks, weighted=weighted, ridge=0.0)
    assert_close(actual[0], expected[0])
    assert_close(actual[1], expected[1])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_bias_only_refit_of_first_layer_is_ec(activation):
    """With only the bias free, the first layer gets b_i + Σ δ*_ij (EC)."""
    est, X = fitted("multiclass", activation)
    masks = random_masks(est, keep=0.5, seed=2)
    coefs, intercepts = refit(est, X, masks, refit_weights=False, ridge=0.0)
    coefs0, intercepts0, _, slopes = _params(est)
    prelu = [np.array([a]) for a in slopes] if activation == "prelu" else None
    _, deltas = compensated_importance(
        coefs0, intercepts0, activation, X, prelu_weights=prelu
    )
    ec_bias = intercepts0[0] + np.where(masks[0], 0.0, deltas[0]).sum(0)
    np.testing.assert_allclose(intercepts[0], ec_bias, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(coefs[0], np.where(masks[0], coefs0[0], 0.0))


def test_bias_only_refit_of_upper_layers_matches_reference():
    est, X = fitted("regression", "relu")
    masks = random_masks(est, keep=0.5, seed=3)
    actual = refit(est, X, masks, refit_weights=False, ridge=0.0)
    expected = reference_refit(est, X, masks, refit_weights=False)
    assert_close(actual[1], expected[1])


def test_dead_unit_is_left_as_it_is():
    est, X = fitted("multiclass", "relu")
    coefs, intercepts, activation, slopes = _params(est)
    intercepts[0][2] = -1e3  # unit 2 of the first layer never fires
    masks = random_masks(est, keep=0.5, seed=4)
    new_coefs, new_intercepts = least_squares_refit(
        coefs, intercepts, activation, X, masks
    )
    np.testing.assert_array_equal(
        new_coefs[0][:, 2], np.where(masks[0][:, 2], coefs[0][:, 2], 0.0)
    )
    assert new_intercepts[0][2] == intercepts[0][2]


def test_neuron_without_kept_weights_gets_the_weighted_mean_target():
    """No kept weight: the bias becomes E[G_i s_i] / E[G_i]."""
    est, X = fitted("multiclass", "tanh")
    coefs, intercepts, activation, slopes = _params(est)
    masks = [np.ones(c.shape, dtype=bool) for c in coefs]
    masks[1][:, 3] = False
    _, new_intercepts = least_squares_refit(coefs, intercepts, activation, X, masks)
    _, pre = _signals(coefs, intercepts, activation, slopes, X)
    g = _sensitivities(coefs, activation, slopes, pre)[1][:, 3]
    expected = (g * pre[1][:, 3]).sum() / g.sum()
    np.testing.assert_allclose(new_intercepts[1][3], expected, rtol=1e-5)


def test_full_mask_without_ridge_keeps_the_dense_net():
    est, X = fitted("regression", "logistic")
    coefs, intercepts, activation, _ = _params(est)
    masks = [np.ones(c.shape, dtype=bool) for c in coefs]
    new_coefs, new_intercepts = least_squares_refit(
        coefs, intercepts, activation, X, masks, ridge=0.0
    )
    assert_close(new_coefs, coefs, rtol=1e-3)


def test_constant_input_keeps_its_weight():
    """A kept weight on a constant input is pinned by the ridge; the bias absorbs it."""
    est, X = fitted("multiclass", "relu")
    X = X.copy()
    X[:, 1] = 0.7
    masks = random_masks(est, keep=0.5, seed=5)
    masks[0][1] = True
    coefs, _ = refit(est, X, masks, weighted=False)
    np.testing.assert_allclose(coefs[0][1], est.coefs_[0][1], rtol=1e-6)


def test_masks_of_wrong_shape_are_rejected():
    est, X = fitted("multiclass", "relu")
    masks = [np.ones((3, 6), dtype=bool), np.ones((6, 5), dtype=bool)]
    with pytest.raises(ValueError, match=re.escape("Expected masks of shapes")):
        refit(est, X, masks[:1] + random_masks(est)[1:])
