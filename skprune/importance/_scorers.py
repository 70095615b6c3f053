"""Importance scorers with the pruner's signature ``(estimator, X, y)``.

Each scorer reads the fitted MLP's weights, validates ``X`` (and ``y``) the
way the estimator does, and calls the pure function of
:mod:`skprune.importance._functional` that holds the math. A skprune MLP's
weights are its torch parameters, read where they are: the scoring runs on
the estimator's device and only the results come back to numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._torch.module import MLPModule
from ._functional import (
    BATCH_SIZE,
    _tensor,
    as_network,
    compensated_importance,
    device_of,
    forward,
    gradient_magnitude_importance,
    nonlinear_importance,
    obd_importance,
    raw_output,
    to_numpy,
)


def network_params(estimator) -> dict:
    """Weights, biases, activation and PReLU slopes of a fitted MLP, where they are.

    For a skprune MLP, ``coefs`` and ``intercepts`` are its live torch
    parameters (detached; ``coefs[l]`` is the transposed view of layer l's
    weight, shaped like ``coefs_[l]``) on the estimator's device: nothing is
    copied, and the functions of :mod:`skprune.importance` run there. Any
    other fitted MLP (scikit-learn's) gives its numpy ``coefs_`` and
    ``intercepts_``.

    Parameters
    ----------
    estimator : fitted MLPClassifier or MLPRegressor
        skprune's, or one with scikit-learn's fitted attributes.

    Returns
    -------
    params : dict
        ``coefs``, ``intercepts``, ``activation`` and ``prelu_weights``
        (None unless the activation is ``"prelu"``), the keyword arguments
        of :func:`compensated_importance` and its siblings.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import MLPClassifier
    >>> from skprune.importance import network_params
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    >>> params = network_params(clf)
    >>> [tuple(c.shape) for c in params["coefs"]], params["coefs"][0].device
    ([(4, 8), (8, 3)], device(type='cpu'))
    """
    check_is_fitted(estimator)
    activation = estimator.activation
    module = getattr(getattr(estimator, "net_", None), "module_", None)
    if not isinstance(module, MLPModule):
        slopes = estimator.prelu_weights_ if activation == "prelu" else None
        return {
            "coefs": estimator.coefs_,
            "intercepts": estimator.intercepts_,
            "activation": activation,
            "prelu_weights": slopes,
        }
    prelu = activation == "prelu"
    return {
        "coefs": [layer.weight.detach().T for layer in module.layers],
        "intercepts": [layer.bias.detach() for layer in module.layers],
        "activation": activation,
        "prelu_weights": [a.weight.detach() for a in module.activations]
        if prelu
        else None,
    }


def _check_X(estimator, X):
    """X validated against the fitted estimator (sparse input kept sparse)."""
    return validate_data(
        estimator,
        X,
        accept_sparse=["csr", "csc"],
        dtype=[np.float64, np.float32],
        reset=False,
    )


def _check_X_y(estimator, X, y):
    """X and ``y`` encoded as the estimator's training loss takes them."""
    if y is None:
        raise ValueError(
            "This scorer needs the targets y (it differentiates the training "
            "loss); got y=None."
        )
    return estimator.encode_targets(X, y)


def compensated(
    estimator, X, y=None, *, random_state=None, batch_size: int = BATCH_SIZE
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Elimination-compensation importance and bias compensation of every weight.

    With ``G_i(x) = Σ_k (∂f_k/∂s_i)²`` the squared sensitivity of the raw
    outputs f (logits, before ``out_activation_``) to neuron i of layer l,
    and x_j the input of layer l::

        δ*_ij = w_ij E[G_i x_j] / E[G_i]
        I_ij  = w_ij² (E[G_i x_j²] − E[G_i x_j]² / E[G_i])

    ``I_ij`` is the least ``E‖Δf‖²`` (first order) when ``w_ij`` is removed
    and bias i is shifted by the best ``δ*_ij``; both are 0 where
    ``E[G_i] = 0``. E is the mean over the rows of X.
    See :func:`compensated_importance`.

    Parameters
    ----------
    estimator : fitted MLPClassifier or MLPRegressor
        The network to score.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Rows to average over.
    y : ignored
        Present for the common scorer signature.
    random_state : ignored
        Present for the common scorer signature.
    batch_size : int, default=2048
        Rows per block (bounds the memory used).

    Returns
    -------
    importances : list of ndarray
        Shaped like ``estimator.coefs_``, float64, non-negative.
    compensations : list of ndarray
        ``compensations[l][j, i]``: shift of ``intercepts_[l][i]`` when
        ``coefs_[l][j, i]`` is removed.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import MLPClassifier
    >>> from skprune.importance import compensated
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    >>> importances, compensations = compensated(clf, X, y)
    >>> [a.shape for a in importances]
    [(4, 8), (8, 3)]
    >>> bool((importances[0] >= 0).all())
    True
    """
    return compensated_importance(
        **network_params(estimator), X=_check_X(estimator, X), batch_size=batch_size
    )


def nonlinear(
    estimator, X, y=None, *, random_state=None, batch_size: int = BATCH_SIZE
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Exact mean squared output change of removing each weight (brute force).

    ``I_ij = E‖f(w_ij → 0, b_i + δ_ij) − f‖²`` with ``δ_ij = w_ij E[x_j]``,
    f the raw output and x_j the input of the weight's layer; E is the mean
    over the rows of X. Evaluated exactly, but only from the changed neuron
    upwards and for many weights at once (see :func:`nonlinear_importance`).

    Parameters
    ----------
    estimator : fitted MLPClassifier or MLPRegressor
        The network to score.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Rows to average over.
    y, random_state : ignored
        Present for the common scorer signature.
    batch_size : int, default=2048
        Rows per block.

    Returns
    -------
    importances, compensations : list of ndarray
        Shaped like ``estimator.coefs_``, float64; ``compensations`` holds
        ``δ_ij``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import MLPClassifier
    >>> from skprune.importance import nonlinear
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    >>> importances, compensations = nonlinear(clf, X, y)
    >>> importances[1].shape
    (8, 3)
    """
    return nonlinear_importance(
        **network_params(estimator), X=_check_X(estimator, X), batch_size=batch_size
    )


def magnitude(
    estimator, X=None, y=None, *, random_state=None, batch_size: int = BATCH_SIZE
) -> list[np.ndarray]:
    """Absolute value of every weight: ``I_ij = |w_ij|``.

    Parameters
    ----------
    estimator : fitted MLPClassifier or MLPRegressor
        The network to score.
    X, y, random_state, batch_size : ignored
        Present for the common scorer signature.

    Returns
    -------
    importances : list of ndarray
        Shaped like ``estimator.coefs_``, float64.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import MLPClassifier
    >>> from skprune.importance import magnitude
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    >>> bool((magnitude(clf, X, y)[0] == abs(clf.coefs_[0])).all())
    True
    """
    coefs = network_params(estimator)["coefs"]
    device = device_of(coefs)
    return to_numpy(_tensor(c, device, torch.float64).abs() for c in coefs)


def gradient_magnitude(
    estimator, X, y, *, random_state=None, batch_size: int = BATCH_SIZE
) -> list[np.ndarray]:
    """First-order change of the training loss: ``I_ij = |w_ij · ∂L/∂w_ij|``.

    L is the estimator's data loss (``loss_function_``: log-loss for a
    classifier, half squared error for a regressor) averaged over the rows
    of X, without the ``alpha`` L2 penalty and unweighted.

    Parameters
    ----------
    estimator : fitted MLPClassifier or MLPRegressor
        The network to score.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Rows of the loss.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets, as passed to ``fit``.
    random_state : ignored
        Present for the common scorer signature.
    batch_size : int, default=2048
        Rows per block (the gradients of the blocks add up).

    Returns
    -------
    importances : list of ndarray
        Shaped like ``estimator.coefs_``, float64.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import MLPClassifier
    >>> from skprune.importance import gradient_magnitude
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    >>> [a.shape for a in gradient_magnitude(clf, X, y)]
    [(4, 8), (8, 3)]
    """
    params = network_params(estimator)
    X, y = _check_X_y(estimator, X, y)
    return gradient_magnitude_importance(
        **params, X=X, y=y, loss=estimator.loss_function_, batch_size=batch_size
    )


def obd(
    estimator,
    X,
    y,
    *,
    random_state=None,
    batch_size: int = BATCH_SIZE,
    sample_weight=None,
) -> list[np.ndarray]:
    """Optimal Brain Damage with the empirical Fisher: ``I_ij = ½ w_ij² F_ij``.

    ``F_ij = E[(∂ℓ_n/∂w_ij)²]``, the mean over the rows of X of the squared
    gradient of each row's own loss ℓ_n (the estimator's data loss
    ``loss_function_``: log-loss for a classifier, half squared error for a
    regressor; no ``alpha`` L2 term), weighted by ``sample_weight``. One
    backward pass (see :func:`obd_importance`).

    Parameters
    ----------
    estimator : fitted MLPClassifier or MLPRegressor
        The network to score.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Rows of the loss.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets, as passed to ``fit``.
    random_state : ignored
        Present for the common scorer signature.
    batch_size : int, default=2048
        Rows per block.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each row in the mean.

    Returns
    -------
    importances : list of ndarray
        Shaped like ``estimator.coefs_``, float64, non-negative.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import MLPClassifier
    >>> from skprune.importance import obd
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    >>> [a.shape for a in obd(clf, X, y)]
    [(4, 8), (8, 3)]
    """
    params = network_params(estimator)
    X, y = _check_X_y(estimator, X, y)
    return obd_importance(
        **params,
        X=X,
        y=y,
        loss=estimator.loss_function_,
        sample_weight=sample_weight,
        batch_size=batch_size,
    )


def random_importance(
    estimator, X=None, y=None, *, random_state=None, batch_size: int = BATCH_SIZE
) -> list[np.ndarray]:
    """Importances drawn uniformly from [0, 1): the random-pruning baseline.

    Parameters
    ----------
    estimator : fitted MLPClassifier or MLPRegressor
        The network whose weights are scored.
    X, y, batch_size : ignored
        Present for the common scorer signature.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw (layer by layer, in the order of ``coefs_``).

    Returns
    -------
    importances : list of ndarray
        Shaped like ``estimator.coefs_``, float64.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import MLPClassifier
    >>> from skprune.importance import random_importance
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    >>> first = random_importance(clf, random_state=0)
    >>> bool((first[0] == random_importance(clf, random_state=0)[0]).all())
    True
    """
    coefs = network_params(estimator)["coefs"]
    rng = check_random_state(random_state)
    return [rng.uniform(size=tuple(c.shape)) for c in coefs]


def nonlinear_importance_naive(
    estimator, X, weights: Sequence[tuple[int, int, int]] | None = None
) -> np.ndarray:
    """The "nonlinear" importance by one full forward pass per weight.

    For each ``(layer, j, i)`` in ``weights``, sets ``coefs_[layer][j, i]`` to 0
    in a float32 copy of the network, shifts bias i by ``w_ij E[x_j]``, runs
    the whole network on X and records ``E‖f_new − f‖²``: the reference
    (and the slow baseline) of :func:`nonlinear`.

    Parameters
    ----------
    estimator : fitted MLPClassifier or MLPRegressor
        The network to score (left unchanged).
    X : array-like of shape (n_samples, n_features)
        Rows to average over (processed in one block).
    weights : sequence of (layer, j, i), default=None
        The weights to score; None scores all, layer by layer, each layer in
        the C order of ``coefs_[layer]``.

    Returns
    -------
    importances : ndarray of shape (n_weights,)
        One importance per listed weight, float64.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import MLPClassifier
    >>> from skprune.importance import nonlinear_importance_naive
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    >>> nonlinear_importance_naive(clf, X, [(0, 0, 0), (1, 2, 1)]).shape
    (2,)
    """
    params = network_params(estimator)
    X = _check_X(estimator, X)
    net = as_network(**params)
    x = np.asarray(X.toarray() if sp.issparse(X) else X, np.float32)
    x = torch.as_tensor(x, device=net.weights[0].device)
    net = net._replace(
        weights=[W.clone() for W in net.weights], biases=[b.clone() for b in net.biases]
    )
    means = [v.double().mean(0) for v in forward(net, x)[0]]
    if weights is None:
        weights = [
            (layer, *jk)
            for layer, c in enumerate(net.weights)
            for jk in np.ndindex(c.shape)
        ]
    reference = raw_output(net, x)
    importances = np.empty(len(weights))
    for k, (layer, j, i) in enumerate(weights):
        W, b = net.weights[layer], net.biases[layer]
        w, bias = W[j, i].item(), b[i].item()
        W[j, i], b[i] = 0.0, bias + w * means[layer][j].item()
        change = raw_output(net, x) - reference
        importances[k] = change.double().square().sum(1).mean().item()
        W[j, i], b[i] = w, bias
    return importances
