"""Structured (neuron) importance against least squares, and the neuron masks."""

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss

from skprune.importance import (
    neuron_compensated_importance,
    neuron_magnitude,
    neuron_masks,
)


def random_net(units, seed=0):
    rng = np.random.default_rng(seed)
    coefs = [
        rng.normal(size=(a, b)) / np.sqrt(a) for a, b in zip(units[:-1], units[1:])
    ]
    intercepts = [rng.normal(size=b) for b in units[1:]]
    return coefs, intercepts


def torch_forward(coefs, intercepts, x, activation, removed=None, shift=None):
    """Reference forward pass (float64); ``removed`` = (layer, neuron) zeroed out."""
    act = {"identity": lambda s: s, "tanh": torch.tanh}[activation]
    for layer, (c, b) in enumerate(zip(coefs, intercepts)):
        c, b = torch.as_tensor(c).clone(), torch.as_tensor(b).clone()
        if removed is not None and layer == removed[0] + 1:
            c[removed[1]] = 0.0
            b = b + torch.as_tensor(shift)
        x = x @ c + b
        if layer < len(coefs) - 1:
            x = act(x)
    return x


def lstsq_reference(coefs, intercepts, X, activation, layer, neuron):
    """Best next-layer bias shift and E||J Δs||² by numpy.linalg.lstsq.

    The per-row Jacobians J_n = ∂f/∂s^{layer+1} come from torch autograd.
    """
    x = torch.as_tensor(X)
    hidden = x
    for c, b in zip(coefs[: layer + 1], intercepts[: layer + 1]):
        hidden = {"identity": lambda s: s, "tanh": torch.tanh}[activation](
            hidden @ torch.as_tensor(c) + torch.as_tensor(b)
        )
    s_next = hidden @ torch.as_tensor(coefs[layer + 1]) + torch.as_tensor(
        intercepts[layer + 1]
    )

    def upper(s):
        out = s
        for k in range(layer + 2, len(coefs)):
            out = {"identity": lambda s: s, "tanh": torch.tanh}[activation](out)
            out = out @ torch.as_tensor(coefs[k]) + torch.as_tensor(intercepts[k])
        return out

    jacobians = [torch.autograd.functional.jacobian(upper, s).numpy() for s in s_next]
    w = coefs[layer + 1][neuron]
    x_i = hidden[:, neuron].numpy()
    A = np.vstack(jacobians)
    b = np.concatenate([J @ (w * xi) for J, xi in zip(jacobians, x_i)])
    delta = np.linalg.lstsq(A, b, rcond=None)[0]
    return delta, np.sum((A @ delta - b) ** 2) / len(X)


@pytest.mark.parametrize("activation", ["identity", "tanh"])
def test_structured_importance_equals_least_squares(activation):
    units = (5, 4, 3, 2)
    coefs, intercepts = random_net(units)
    X = np.random.default_rng(1).normal(size=(60, 5))
    imp, comp = neuron_compensated_importance(coefs, intercepts, activation, X)
    assert [i.shape for i in imp] == [(4,), (3,)]
    assert [c.shape for c in comp] == [(4, 3), (3, 2)]
    for layer in range(2):
        for neuron in range(units[layer + 1]):
            delta, loss = lstsq_reference(
                coefs, intercepts, X, activation, layer, neuron
            )
            np.testing.assert_allclose(comp[layer][neuron], delta, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(imp[layer][neuron], loss, rtol=1e-4, atol=1e-6)


def test_linear_net_importance_is_the_exact_output_change():
    coefs, intercepts = random_net((6, 5, 4, 3), seed=2)
    X = np.random.default_rng(3).normal(size=(80, 6))
    imp, comp = neuron_compensated_importance(coefs, intercepts, "identity", X)
    x = torch.as_tensor(X)
    dense = torch_forward(coefs, intercepts, x, "identity")
    for layer in range(2):
        for neuron in range(len(imp[layer])):
            pruned = torch_forward(
                coefs, intercepts, x, "identity", (layer, neuron), comp[layer][neuron]
            )
            change = ((pruned - dense) ** 2).sum(1).mean().item()
            np.testing.assert_allclose(imp[layer][neuron], change, rtol=1e-4)


def test_constant_neuron_has_zero_importance_and_its_mean_as_compensation():
    coefs, intercepts = random_net((3, 4, 2), seed=4)
    coefs[0][:, 1] = 0.0  # neuron 1 outputs tanh(b_1) on every row
    X = np.random.default_rng(5).normal(size=(30, 3))
    imp, comp = neuron_compensated_importance(coefs, intercepts, "tanh", X)
    assert imp[0][1] == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(
        comp[0][1], np.tanh(intercepts[0][1]) * coefs[1][1], rtol=1e-5
    )


def test_magnitude_is_the_squared_norm_of_in_and_out_weights():
    coefs, _ = random_net((3, 4, 2))
    scores = neuron_magnitude(coefs)
    np.testing.assert_allclose(
        scores[0], (coefs[0] ** 2).sum(0) + (coefs[1] ** 2).sum(1)
    )


@pytest.mark.parametrize("ratio", [0.0, 0.2, 0.5, 0.8, 0.99])
def test_neuron_masks_reach_the_ratio_with_whole_neurons(ratio):
    units = (20, 12, 8, 3)
    scores = [np.random.default_rng(6).random(12), np.random.default_rng(7).random(8)]
    masks, removed = neuron_masks(scores, units, ratio)
    n_weights = 20 * 12 + 12 * 8 + 8 * 3
    n_pruned = sum((~m).sum() for m in masks)
    assert n_pruned >= round(ratio * n_weights) or any(
        r.sum() == len(r) - 1 for r in removed
    )
    for layer, r in enumerate(removed):
        assert (~r).sum() >= 1  # a layer is never emptied
        assert not masks[layer][:, r].any() and not masks[layer + 1][r].any()
        assert masks[layer][:, ~r].all() or layer > 0
    if ratio == 0.0:
        assert n_pruned == 0


def test_neurons_are_ranked_by_score_per_removed_weight():
    # layer 0 neurons carry 10 + 2 weights, layer 1 neurons 4 + 1: the layer-1
    # neuron with score 3 costs 0.6 per weight, the layer-0 one with 6 only 0.5
    units = (10, 4, 2, 1)
    scores = [np.array([6.0, 9.0, 9.0, 9.0]), np.array([3.0, 9.0])]
    _, removed = neuron_masks(scores, units, 0.2)
    assert removed[0].tolist() == [True, False, False, False]
    assert not removed[1].any()


def test_layer_scope_removes_a_share_of_each_layer():
    scores = [np.arange(10.0), np.arange(5.0)]
    _, removed = neuron_masks(scores, (4, 10, 5, 2), 0.4, scope="layer")
    assert [r.sum() for r in removed] == [4, 2]
    assert removed[0][:4].all() and removed[1][:2].all()


# ------------------------------------------------ in CompensatedPruner


@pytest.fixture(scope="module")
def digits_dense():
    from sklearn.datasets import load_digits

    from skprune import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X[:500] / 16.0
    return (
        X,
        y[:500],
        MLPClassifier((16, 12), max_iter=10, random_state=0).fit(X, y[:500]),
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "method", ["compensated", "magnitude", "random", "gradient_magnitude"]
)
def test_pruner_removes_whole_neurons(digits_dense, method):
    from sklearn.frozen import FrozenEstimator

    from skprune import CompensatedPruner, compact

    X, y, dense = digits_dense
    pruner = CompensatedPruner(
        FrozenEstimator(dense),
        prune_ratio=0.4,
        method=method,
        granularity="neuron",
        fine_tune_epochs=0,
        random_state=0,
    ).fit(X, y)
    n_weights = 64 * 16 + 16 * 12 + 12 * 10
    assert pruner.n_pruned_ >= round(0.4 * n_weights)
    kept_in = [m.any(axis=0) for m in pruner.masks_[:-1]]
    for layer, alive in enumerate(kept_in):  # masks are whole rows and columns
        assert pruner.masks_[layer][:, alive].all() or layer > 0
        assert not pruner.masks_[layer + 1][~alive].any()
    small = compact(pruner)
    assert sum(small.hidden_layer_sizes) == sum(a.sum() for a in kept_in)
    assert all(m.all() for m in (small.masks_ or []))
    np.testing.assert_allclose(
        small.predict_proba(X), pruner.predict_proba(X), atol=1e-5
    )
    assert [np.shape(i) for i in pruner.importances_] == [(16,), (12,)]
    assert pruner.feature_importances_ is None


def test_pruner_applies_the_structured_compensation(digits_dense):
    from sklearn.frozen import FrozenEstimator

    from skprune import CompensatedPruner

    X, y, dense = digits_dense
    pruner = CompensatedPruner(
        FrozenEstimator(dense),
        prune_ratio=0.3,
        granularity="neuron",
        fine_tune_epochs=0,
    ).fit(X, y)
    imp, comp = neuron_compensated_importance(
        dense.coefs_, dense.intercepts_, "relu", X
    )
    removed = [~m.any(axis=0) for m in pruner.masks_[:-1]]
    for layer in range(2):
        expected = dense.intercepts_[layer + 1] + comp[layer][removed[layer]].sum(0)
        np.testing.assert_allclose(
            pruner.estimator_.intercepts_[layer + 1], expected, rtol=1e-5, atol=1e-6
        )
    np.testing.assert_allclose(pruner.importances_[0], imp[0])


def test_pruner_granularity_bad_value(digits_dense):
    import re

    from sklearn.utils._param_validation import InvalidParameterError

    from skprune import CompensatedPruner, MLPClassifier

    X, y, _ = digits_dense
    with pytest.raises(
        InvalidParameterError,
        match=re.escape(
            "The 'granularity' parameter of CompensatedPruner must be a str among"
        ),
    ):
        CompensatedPruner(MLPClassifier(), granularity="layer").fit(X, y)


@pytest.mark.parametrize("weighted", [True, False])
def test_neuron_pruning_with_least_squares_refits_the_kept_weights(
    digits_dense, weighted
):
    from sklearn.frozen import FrozenEstimator

    from skprune import CompensatedPruner, compact
    from skprune.compensation import least_squares_refit

    X, y, dense = digits_dense
    compensation = "least_squares" if weighted else "layer_least_squares"
    fits = {
        name: CompensatedPruner(
            FrozenEstimator(dense),
            prune_ratio=0.5,
            granularity="neuron",
            fine_tune_epochs=0,
            compensation=name,
        ).fit(X, y)
        for name in (compensation, "auto", "none")
    }
    pruner = fits[compensation]
    for mine, theirs in zip(pruner.masks_, fits["auto"].masks_):
        np.testing.assert_array_equal(mine, theirs)  # same neurons, other refit
    coefs, intercepts = least_squares_refit(
        dense.coefs_, dense.intercepts_, "relu", X, pruner.masks_, weighted=weighted
    )
    for got, expected in zip(pruner.estimator_.coefs_, coefs):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    for got, expected in zip(pruner.estimator_.intercepts_, intercepts):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    small = compact(pruner)  # removed neurons stay removed: a smaller dense net
    assert sum(small.hidden_layer_sizes) < 16 + 12
    np.testing.assert_allclose(
        small.predict_proba(X), pruner.predict_proba(X), atol=1e-5
    )
    losses = {
        k: log_loss(y, p.predict_proba(X), labels=p.classes_) for k, p in fits.items()
    }
    assert losses[compensation] < losses["none"]
