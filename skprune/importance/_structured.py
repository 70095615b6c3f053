"""Structured (whole-neuron) pruning: the importance of each hidden neuron, the
compensation of its removal, and the choice of neurons for a pruning ratio.

Removing hidden neuron i of layer l (activation ``x_i``, outgoing weights
``w = coefs[l + 1][i, :]``) and shifting the next layer's biases by δ changes
the next layer's signal by ``Δs = δ − w x_i`` and the output, to first
order, by ``J Δs`` with ``J = ∂f/∂s^{l+1}`` (K x n_{l+1}). With ``M = JᵀJ``
(per row; its off-diagonal entries are the cross terms between the next
layer's neurons), minimising ``E‖Δf‖²`` over δ gives::

    δ*  = E[M]⁺ E[M x_i] w
    I_i = wᵀ ( E[M x_i²] − E[M x_i] E[M]⁺ E[M x_i] ) w

(``⁺``: pseudo-inverse). δ* is linear in ``w x_i``, so the best shift for
removing several neurons of one layer together is the sum of their δ*;
their importances are not additive (the cross terms between removed
neurons are ignored, as the weight-level method ignores those between
weights).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ._functional import (
    Network,
    _check_rows,
    _row_blocks,
    _tensor,
    as_network,
    backward_deltas,
    device_of,
    forward,
    to_numpy,
)

STRUCTURED_BATCH_SIZE = 512
"""Rows per block for the structured moments (a block holds a (rows, n, n) tensor)."""


PINV_RTOL = 1e-5
"""Eigenvalues of E[M] below this share of the largest count as 0 in its
pseudo-inverse: E[M] is formed from float32 products, so a direction in
which it is singular carries rounding noise of about this relative size."""


def output_jacobians(net: Network, inputs: list, pre: list) -> list[torch.Tensor]:
    """``J[l] = ∂f/∂s^l`` (rows, K, width_l) for every layer, on one row block.

    ``J[L-1] = I``; ``J[l] = (J[l+1] @ coefs[l+1]ᵀ) ⊙ σ'(s^l)``.
    """
    n_rows, n_outputs = inputs[0].shape[0], net.weights[-1].shape[1]
    eye = torch.eye(n_outputs, device=inputs[0].device)
    return backward_deltas(net, inputs, pre, eye.expand(n_rows, -1, -1))


def neuron_moments(
    coefs: Sequence,
    intercepts: Sequence,
    activation: str,
    X,
    *,
    prelu_weights: Sequence | None = None,
    batch_size: int = STRUCTURED_BATCH_SIZE,
    device=None,
) -> list[dict]:
    """Means over the rows of X behind the structured importance, per hidden layer.

    For hidden layer l with centred activations ``u_i = x_i − c_i`` and the
    next layer's ``M = JᵀJ``: ``"M"`` = E[M] (n, n), ``"Mu"`` = E[M u_i]
    (width_l, n, n), ``"Mu2"`` = E[M u_i²] (width_l, n, n) and ``"centre"`` =
    c (the activations' mean over the first block), float64 numpy. Products
    run in float32 on ``device`` (None: where ``coefs`` are) and are summed
    in float64 there; the means come back to numpy once.
    """
    net = as_network(coefs, intercepts, activation, prelu_weights, device)
    return [
        dict(zip(m, to_numpy(m.values())))
        for m in _neuron_means(net, _check_rows(X, net), batch_size)
    ]


def _neuron_means(net, X, batch_size: int) -> list[dict]:
    """:func:`neuron_moments` as float64 tensors on the net's device."""
    sums, centres, n_rows = None, None, 0
    for (x,) in _row_blocks(X, batch_size, device=net.weights[0].device):
        inputs, pre = forward(net, x)
        jacobians = output_jacobians(net, inputs, pre)
        if sums is None:
            centres = [v.double().mean(0).float() for v in inputs[1:]]
            sums = [None] * len(pre)
        for layer in range(len(pre)):
            sums[layer] = _add_block(
                sums[layer], inputs[layer + 1] - centres[layer], jacobians[layer + 1]
            )
        n_rows += x.shape[0]
    return [
        {
            "M": s[0] / n_rows,
            "Mu": (s[1] / n_rows).reshape(-1, *s[0].shape),
            "Mu2": (s[2] / n_rows).reshape(-1, *s[0].shape),
            "centre": c.double(),
        }
        for s, c in zip(sums, centres)
    ]


def _add_block(acc, u, jacobian):
    """Add one block's ΣM, Σu M and Σu² M (float64) to ``acc``."""
    m = jacobian.transpose(1, 2) @ jacobian  # (rows, n, n)
    flat = m.reshape(len(m), -1)
    block = [
        m.sum(0, dtype=torch.float64),
        (u.T @ flat).double(),
        (u.square().T @ flat).double(),
    ]
    return block if acc is None else [a + b for a, b in zip(acc, block)]


def neuron_compensated_from_moments(
    outgoing: np.ndarray, moments: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Importances ``I_i`` and next-layer bias shifts ``δ*_i`` of one hidden layer.

    Parameters
    ----------
    outgoing : array-like of shape (width_l, n_next)
        The outgoing weights ``coefs[l + 1]`` (row i belongs to neuron i).
    moments : dict
        The layer's entry of :func:`neuron_moments`.

    Returns
    -------
    importances : ndarray of shape (width_l,)
    compensations : ndarray of shape (width_l, n_next)
        ``compensations[i]`` is added to ``intercepts[l + 1]`` when neuron i
        is removed.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import neuron_compensated_from_moments
    >>> moments = {"M": np.eye(1), "Mu": np.zeros((1, 1, 1)),
    ...            "Mu2": np.full((1, 1, 1), 4.0), "centre": np.array([3.0])}
    >>> neuron_compensated_from_moments(np.array([[2.0]]), moments)  # 2² Var, 2 E[x]
    (array([16.]), array([[6.]]))
    """
    means = {
        key: torch.from_numpy(np.asarray(moments[key], dtype=np.float64))
        for key in ("M", "Mu", "Mu2", "centre")
    }
    pair = _from_means(_tensor(outgoing, "cpu", torch.float64), means)
    return tuple(to_numpy(pair))


def _from_means(w: torch.Tensor, means: dict) -> tuple:
    """:func:`neuron_compensated_from_moments` on float64 tensors, where they are."""
    pinv = torch.linalg.pinv(means["M"], rtol=PINV_RTOL, hermitian=True)
    a = torch.einsum("ijk,ik->ij", means["Mu"], w)  # E[M u_i] w
    b = torch.einsum("ijk,ik->ij", means["Mu2"], w)  # E[M u_i²] w
    bracket = (w * b).sum(1) - torch.einsum("ij,jk,ik->i", a, pinv, a)
    shifted = a + means["centre"][:, None] * (w @ means["M"])  # E[M x_i] w
    return bracket.clamp_(min=0.0), shifted @ pinv


def neuron_compensated_importance(
    coefs: Sequence,
    intercepts: Sequence,
    activation: str,
    X,
    *,
    prelu_weights: Sequence | None = None,
    batch_size: int = STRUCTURED_BATCH_SIZE,
    device=None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Structured elimination-compensation: importance of every hidden neuron.

    ``I_i`` is the least ``E‖Δf‖²`` (first order) left when hidden neuron i
    is removed and the next layer's biases are shifted by the best ``δ*_i``
    (formulas in this module's docstring; exact for a linear network).

    Parameters
    ----------
    coefs, intercepts : list of array-like
        Weights ``(n_in, n_out)`` and biases per layer.
    activation : {"identity", "logistic", "tanh", "relu", "prelu"}
        Hidden-layer activation.
    X : array-like of shape (n_samples, n_features)
        Rows to average over.
    prelu_weights : list of array-like, default=None
        PReLU slope of each hidden layer (only for ``"prelu"``).
    batch_size : int, default=512
        Rows per block.
    device : str or torch.device, default=None
        Where the products run; None: where ``coefs`` are (the CPU for
        numpy arrays).

    Returns
    -------
    importances : list of ndarray
        One array of shape ``(width_l,)`` per hidden layer.
    compensations : list of ndarray
        One array of shape ``(width_l, width_{l+1})`` per hidden layer.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import neuron_compensated_importance
    >>> coefs = [np.array([[1.0, 1.0]]), np.array([[1.0], [0.0]])]
    >>> X = np.array([[0.0], [2.0]])  # neuron 0 outputs 0 or 2, neuron 1 is unused
    >>> imp, comp = neuron_compensated_importance(coefs, [np.zeros(2), np.zeros(1)],
    ...                                           "identity", X)
    >>> imp[0], comp[0]
    (array([1., 0.]), array([[1.],
           [0.]]))
    """
    net = as_network(coefs, intercepts, activation, prelu_weights, device)
    means = _neuron_means(net, _check_rows(X, net), batch_size)
    device = net.weights[0].device
    pairs = [
        _from_means(_tensor(w, device, torch.float64), m)
        for w, m in zip(coefs[1:], means)
    ]
    return to_numpy(p[0] for p in pairs), to_numpy(p[1] for p in pairs)


def neuron_magnitude(coefs: Sequence) -> list[np.ndarray]:
    """Squared L2 norm of each hidden neuron's incoming and outgoing weights.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import neuron_magnitude
    >>> neuron_magnitude([np.array([[1.0, 2.0]]), np.array([[3.0], [0.0]])])
    [array([10.,  4.])]
    """
    device = device_of(coefs)
    squares = [_tensor(c, device, torch.float64).square() for c in coefs]
    return to_numpy(
        squares[layer].sum(0) + squares[layer + 1].sum(1)
        for layer in range(len(coefs) - 1)
    )


def neuron_scores_from_weights(importances: Sequence) -> list[np.ndarray]:
    """A neuron's score from weight importances: the sum over its in and out weights.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import neuron_scores_from_weights
    >>> neuron_scores_from_weights([np.ones((3, 2)), np.ones((2, 4))])
    [array([7., 7.])]
    """
    return [
        np.asarray(importances[layer], dtype=np.float64).sum(0)
        + np.asarray(importances[layer + 1], dtype=np.float64).sum(1)
        for layer in range(len(importances) - 1)
    ]


def _weights_kept(alive: list[int]) -> int:
    return sum(a * b for a, b in zip(alive[:-1], alive[1:]))


def neuron_masks(
    scores: Sequence,
    layer_units: Sequence[int],
    prune_ratio: float,
    scope: str = "global",
):
    """Weight masks that remove whole hidden neurons, the cheapest first.

    A neuron's rank is its score divided by the number of weights it takes
    with it (its fan-in plus its fan-out in the dense net): the loss per
    removed weight, so that a neuron of a wide layer is not removed before
    one of a narrow layer only because it carries more weights. With
    ``scope="global"`` neurons are removed in that order, over all hidden
    layers, until at least ``round(prune_ratio * n_weights)`` weights are gone
    (weights between two removed neurons count once); ``scope="layer"``
    removes ``round(prune_ratio * width_l)`` neurons of each hidden layer by
    score. A hidden layer always keeps at least one neuron. Ties: the earlier
    layer, then the lower index, goes first.

    Parameters
    ----------
    scores : list of ndarray
        One score per neuron of each hidden layer (larger = more important).
    layer_units : sequence of int
        Widths of all layers, input and output included.
    prune_ratio : float
        Share of the weights to remove.
    scope : {"global", "layer"}, default="global"

    Returns
    -------
    masks : list of ndarray of bool
        True where a weight is kept, shaped like ``coefs_``.
    removed : list of ndarray of bool
        True for each removed neuron of each hidden layer.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import neuron_masks
    >>> masks, removed = neuron_masks([np.array([3.0, 1.0, 2.0])], (4, 3, 2), 0.3)
    >>> removed
    [array([False,  True, False])]
    >>> [int(m.sum()) for m in masks]
    [8, 4]
    """
    units = [int(u) for u in layer_units]
    if scope == "layer":
        removed = [_lowest(np.asarray(s), round(prune_ratio * len(s))) for s in scores]
        return _masks_without(units, removed), removed
    cost = [
        np.asarray(s, dtype=np.float64) / (units[h] + units[h + 2])
        for h, s in enumerate(scores)
    ]
    layer_of = np.concatenate([np.full(len(c), h) for h, c in enumerate(cost)])
    index = np.concatenate([np.arange(len(c)) for c in cost])
    order = np.lexsort((index, layer_of, np.concatenate(cost)))
    removed = [np.zeros(len(c), dtype=bool) for c in cost]
    alive = list(units)
    target = _weights_kept(units) - int(round(prune_ratio * _weights_kept(units)))
    for k in order:
        if _weights_kept(alive) <= target:
            break
        layer = layer_of[k] + 1
        if alive[layer] > 1:
            alive[layer] -= 1
            removed[layer - 1][index[k]] = True
    return _masks_without(units, removed), removed


def _lowest(scores, n):
    """The ``n`` lowest scores (stable), keeping at least one."""
    out = np.zeros(len(scores), dtype=bool)
    out[np.argsort(scores, kind="stable")[: min(n, len(scores) - 1)]] = True
    return out


def _masks_without(units, removed):
    alive = [np.ones(units[0], bool), *(~r for r in removed), np.ones(units[-1], bool)]
    return [np.outer(a, b) for a, b in zip(alive[:-1], alive[1:])]
