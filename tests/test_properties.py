"""Properties of pruning that hold for every small network (hypothesis).

Random networks (1-3 hidden layers of width 1-6, every activation, classifier
or regressor) are trained for two epochs on random data and pruned with a
random method, ratio and scope. Set ``SKPRUNE_HYPOTHESIS_PROFILE=thorough``
for a long run; the default profile is small, derandomized (the same
examples every run) and keeps no example database.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator

from skprune import CompensatedPruner, MLPClassifier, MLPRegressor
from skprune.importance import SCORERS

settings.register_profile(
    "default",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = settings.get_profile(os.environ.get("SKPRUNE_HYPOTHESIS_PROFILE", "default"))
MAX_EXAMPLES = PROFILE.max_examples
"""Examples each property is checked on (per test function)."""

ACTIVATIONS = ["identity", "logistic", "tanh", "relu", "prelu"]
NEGATIVE_ROUNDING = 1e-12
"""Importances may fall below 0 by at most this share of the largest one."""
RTOL = 1e-4
"""Relative tolerance of an importance against its float64 value."""
ROUNDING = 128 * np.finfo(np.float32).eps
"""Float32 rounding allowed in the forward pass: an importance is a variance
of float32 layer inputs, off by about ``eps * sqrt(I * S)``, S from
:func:`rounding_scale`."""


@st.composite
def problems(draw, activations=ACTIVATIONS):
    """A fitted MLP (float32, two epochs) and the data it was trained on."""
    task = draw(st.sampled_from(["classifier", "regressor"]))
    widths = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    activation = draw(st.sampled_from(activations))
    n_samples = draw(st.integers(2, 30))
    n_features = draw(st.integers(1, 5))
    scale = draw(st.sampled_from([1.0, 1e-3, 1e3]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features)) * scale
    if task == "classifier":
        y = rng.randint(draw(st.integers(2, 3)), size=n_samples)
        mlp = MLPClassifier(widths, activation, max_iter=2, random_state=seed)
    else:
        y = rng.normal(size=(n_samples, draw(st.integers(1, 2)))).squeeze()
        mlp = MLPRegressor(widths, activation, max_iter=2, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mlp.fit(X, y), X, y


def expected_n_pruned(shapes, ratio, scope):
    if scope == "layer":
        return sum(round(ratio * np.prod(s)) for s in shapes)
    return round(ratio * sum(np.prod(s) for s in shapes))


@settings(PROFILE)
@given(
    problem=problems(),
    method=st.sampled_from(list(SCORERS)),
    ratio=st.one_of(st.sampled_from([0.0, 0.5, 0.999]), st.floats(0.0, 0.999)),
    scope=st.sampled_from(["global", "layer"]),
    fine_tune_epochs=st.sampled_from([0, 1]),
)
def test_pruning_is_exact_zero_and_finite(
    problem, method, ratio, scope, fine_tune_epochs
):
    dense, X, y = problem
    pruner = CompensatedPruner(
        FrozenEstimator(dense),
        prune_ratio=ratio,
        method=method,
        scope=scope,
        fine_tune_epochs=fine_tune_epochs,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pruner.fit(X, y)
    shapes = [c.shape for c in dense.coefs_]
    assert pruner.n_pruned_ == expected_n_pruned(shapes, ratio, scope)
    assert sum(int((~m).sum()) for m in pruner.masks_) == pruner.n_pruned_
    for coef, mask in zip(pruner.estimator_.coefs_, pruner.masks_):
        assert np.all(coef[~mask] == 0.0)
    largest = max(float(np.abs(i).max()) for i in pruner.importances_)
    for importance in pruner.importances_:
        assert np.isfinite(importance).all()
        assert importance.min() >= -NEGATIVE_ROUNDING * largest
    for compensation in pruner.compensations_ or []:
        assert np.isfinite(compensation).all()
    assert all(np.isfinite(b).all() for b in pruner.estimator_.intercepts_)
    proba = getattr(pruner, "predict_proba", pruner.predict)
    assert np.isfinite(proba(X)).all()


def output_change(coefs, intercepts, X, layer, j, i, shift):
    """E‖Δf‖² of an identity network when ``coefs[layer][j, i]`` is removed
    and bias i is shifted by ``shift``, in float64."""

    def output(coefs, intercepts):
        x = X
        for W, b in zip(coefs, intercepts):
            x = x @ W + b
        return x

    reference = output(coefs, intercepts)
    coefs = [W.copy() for W in coefs]
    intercepts = [b.copy() for b in intercepts]
    coefs[layer][j, i] = 0.0
    intercepts[layer][i] += shift
    return np.square(output(coefs, intercepts) - reference).sum(axis=1).mean()


def rounding_scale(coefs, intercepts, X):
    """``S_ij = w_ij² G_i E[m_j²]`` of an identity network, in float64.

    The output change of removing ``w_ij`` uncompensated, with each layer
    input x replaced by the magnitude m that bounds its float32 rounding
    error (``m⁰ = |X|``, ``mˡ⁺¹ = mˡ |Wˡ| + |bˡ|``); ``G_i`` is the squared
    norm of row i of the product of the weights above the layer.
    """
    magnitudes = [np.abs(X)]
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        magnitudes.append(magnitudes[-1] @ np.abs(W) + np.abs(b))
    scales = []
    for layer, W in enumerate(coefs):
        jacobian = np.eye(W.shape[1])
        for upper in coefs[layer + 1 :]:
            jacobian = jacobian @ upper
        sensitivity = np.square(jacobian).sum(axis=1)
        second_moment = np.square(magnitudes[layer]).mean(axis=0)
        scales.append(W**2 * second_moment[:, None] * sensitivity[None, :])
    return scales


@settings(PROFILE)
@given(problem=problems(activations=["identity"]))
def test_identity_network_importance_is_the_exact_output_change(problem):
    dense, X, y = problem
    pruner = CompensatedPruner(FrozenEstimator(dense), fine_tune_epochs=0).fit(X, y)
    coefs = [np.asarray(c, dtype=np.float64) for c in dense.coefs_]
    intercepts = [np.asarray(b, dtype=np.float64) for b in dense.intercepts_]
    exact = [
        np.array(
            [
                [
                    output_change(coefs, intercepts, X, layer, j, i, shift[j, i])
                    for i in range(W.shape[1])
                ]
                for j in range(W.shape[0])
            ]
        )
        for layer, (W, shift) in enumerate(zip(coefs, pruner.compensations_))
    ]
    scales = rounding_scale(coefs, intercepts, X)
    for ours, theirs, scale in zip(pruner.importances_, exact, scales):
        tolerance = RTOL * theirs + ROUNDING * np.sqrt(theirs * scale)
        assert np.all(np.abs(ours - theirs) <= tolerance), (ours, theirs, tolerance)
