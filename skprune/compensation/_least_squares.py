"""Least-squares compensation: refit each neuron's kept weights and bias.

For neuron i of layer l let ``z = [x; 1]`` be the layer's input with a 1
appended, ``θ_i = [w_i; b_i]`` and ``s_i`` the *dense* net's pre-activation.
After a mask is chosen, each neuron's kept weights K and bias are refitted by::

    min over θ'   E[ G_i (z'_Kᵀ θ'_K − s_i)² ] + λ_i ‖w'_K − w_K‖²

where ``z'`` is the layer's input in the *pruned* net (computed through the
layers below, already refitted), ``G_i = Σ_k (∂f_k/∂s_i)²`` the dense net's
output sensitivity (``weighted=True``) or 1 (``weighted=False``), and λ_i a
ridge on the weights only (not the bias), ``ridge`` times the mean of the
weight entries of the diagonal of ``H_i = E[G_i z'_K z'_Kᵀ]``. The normal
equations are ``(H_i + λ_i D) θ' = E[G_i z'_K s_i] + λ_i D θ_K`` with D the
identity on the weights and 0 on the bias. Layers are processed from the
input up, so each layer also repairs the error of the layers under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from ..importance._functional import (
    BATCH_SIZE,
    Network,
    _check_rows,
    _row_blocks,
    _Scratch,
    as_network,
    forward,
    output_sensitivities,
    to_numpy,
)

RIDGE = 1e-3
"""Default ridge λ on the refitted weights, relative to their mean diagonal of H."""


class NeuronSystem(NamedTuple):
    """The normal equations of one neuron, as sums over rows (float64).

    ``columns`` are the indices of the free entries of ``z' = [x'; 1]`` (the
    kept inputs, then ``n_in`` for the bias); ``gram[a, b] = Σ G u_a u_b`` and
    ``rhs[a] = Σ G u_a t`` with ``u`` the centred ``z'`` and ``t`` the target;
    ``sum_g = Σ G``.
    """

    columns: np.ndarray
    gram: np.ndarray
    rhs: np.ndarray
    sum_g: float


def _layer_input(net: Network, x: torch.Tensor, layer: int) -> torch.Tensor:
    """The input of ``layer`` when ``x`` goes through the layers below it."""
    for below in range(layer):
        x = net.act(torch.addmm(net.biases[below], x, net.weights[below]), below)
    return x


def _dense_target(dense: Network, x, layer: int, weighted: bool, scratch):
    """The dense net's pre-activation of ``layer`` and its sensitivity G."""
    inputs, pre = forward(dense, x)
    last = len(dense.weights) - 1
    if layer == last:
        target = torch.addmm(dense.biases[last], inputs[last], dense.weights[last])
    else:
        target = pre[layer]
    if not weighted:
        return target, None
    return target, output_sensitivities(dense, inputs, pre, scratch)[layer]


class LayerSystems(NamedTuple):
    """The normal equations of every neuron of one layer.

    ``systems[i]`` belongs to neuron i; ``centre`` is the shift subtracted
    from the layer's inputs (the mean of the first row block).
    """

    systems: list[NeuronSystem]
    centre: np.ndarray


def _free_columns(mask: np.ndarray, refit_weights: bool) -> list[np.ndarray]:
    """Per neuron, the free entries of ``[x'; 1]``: kept inputs, then the bias."""
    n_in = mask.shape[0]
    free = mask if refit_weights else np.zeros_like(mask)
    return [np.append(np.flatnonzero(free[:, i]), n_in) for i in range(mask.shape[1])]


class _Sums:
    """Float64 sums of the normal equations of one layer, block by block.

    Weighted: one Gram matrix per neuron on its free columns. Unweighted
    (G ≡ 1): one Gram matrix ``Σ u uᵀ`` shared by the layer, on the inputs
    that at least one neuron keeps, cut per neuron at the end.
    """

    def __init__(self, columns, weighted, device):
        self.columns, self.weighted = columns, weighted
        n_out = len(columns)

        def zeros(*shape):
            return torch.zeros(shape, dtype=torch.float64, device=device)

        self.sum_g = zeros(n_out)
        if weighted:
            self.index = [torch.as_tensor(c, device=device) for c in columns]
            self.grams = [zeros(len(c), len(c)) for c in columns]
            self.rhs = [zeros(len(c)) for c in columns]
        else:  # only the inputs that some neuron keeps, and the 1
            self.used = np.unique(np.concatenate(columns))
            self.used_index = torch.as_tensor(self.used, device=device)
            n_used = len(self.used)
            self.gram, self.cross = zeros(n_used, n_used), zeros(n_used, n_out)

    def add(self, u, target, g):
        """Add one block: centred inputs ``u`` (with the 1), targets, weights G."""
        if not self.weighted:
            self.sum_g += len(u)
            u = u.index_select(1, self.used_index)
            self.gram += (u.T @ u).double()
            self.cross += (u.T @ target).double()
            return
        self.sum_g += g.sum(0, dtype=torch.float64)
        for i, index in enumerate(self.index):
            ui = u.index_select(1, index)
            weighted_u = ui * g[:, i, None]
            self.grams[i] += (weighted_u.T @ ui).double()
            self.rhs[i] += (weighted_u.T @ target[:, i]).double()

    def systems(self) -> list[NeuronSystem]:
        """One :class:`NeuronSystem` per neuron, as numpy float64."""
        (sum_g,) = to_numpy([self.sum_g])
        if self.weighted:
            grams, rhs = to_numpy(self.grams), to_numpy(self.rhs)
        else:
            gram, cross = to_numpy([self.gram, self.cross])
            where = [np.searchsorted(self.used, c) for c in self.columns]
            grams = [gram[np.ix_(w, w)] for w in where]
            rhs = [cross[w, i] for i, w in enumerate(where)]
        return [
            NeuronSystem(c, a, r, float(s))
            for c, a, r, s in zip(self.columns, grams, rhs, sum_g)
        ]


def layer_systems(
    dense: Network,
    pruned: Network,
    layer: int,
    X,
    mask: np.ndarray,
    *,
    weighted: bool = True,
    refit_weights: bool = True,
    batch_size: int = BATCH_SIZE,
) -> LayerSystems:
    """The normal equations of every neuron of ``layer``, summed over X's rows.

    ``pruned`` gives the layer's input ``z'`` (only its layers below
    ``layer`` are used); ``dense`` gives the target ``s`` and, when
    ``weighted``, the weights ``G``. With ``refit_weights=False`` only the
    bias is free and the kept weights of ``pruned.weights[layer]`` stay: the
    target becomes ``s − x'_Kᵀ w_K``. Inputs are centred by their mean over
    the first row block; products are float32 per block, added to float64
    sums, so the memory does not grow with the number of rows.
    """
    device = dense.weights[0].device
    columns = _free_columns(mask, refit_weights)
    kept = pruned.weights[layer] * torch.as_tensor(mask, device=device)
    sums, scratch, centre = (
        _Sums(columns, weighted, device),
        _Scratch(device),
        None,
    )
    for (x,) in _row_blocks(X, batch_size, device=device):
        target, g = _dense_target(dense, x, layer, weighted, scratch)
        z = _layer_input(pruned, x, layer)
        if not refit_weights:
            target = target - z @ kept
        if centre is None:
            centre = z.double().mean(0).float()
        ones = torch.ones(len(z), 1, device=device)
        sums.add(torch.cat([z - centre, ones], 1), target, g)
    return LayerSystems(sums.systems(), *to_numpy([centre]))


def solve_neuron(
    system: NeuronSystem,
    weights: np.ndarray,
    centre: np.ndarray,
    *,
    ridge: float = RIDGE,
) -> tuple[np.ndarray, float]:
    """Refitted free weights and bias of one neuron from its normal equations.

    Solves ``(A + λ D) θ = r + λ D θ₀`` with ``A = system.gram``,
    ``r = system.rhs``, D the identity on the weights and 0 on the bias,
    ``θ₀`` the current free weights ``weights[system.columns[:-1]]`` and
    ``λ = ridge · mean(diag A over the weights)`` (``ridge`` itself when that
    mean is 0: all free inputs constant). θ is in centred coordinates
    (``u = x' − centre``); the bias is ``θ_b − Σ_j centre_j θ_j``.

    Parameters
    ----------
    system : NeuronSystem
        The neuron's sums (see :func:`layer_systems`); ``sum_g > 0``.
    weights : ndarray of shape (n_in,)
        The neuron's current incoming weights.
    centre : ndarray of shape (n_in,)
        The shift of the layer's inputs.
    ridge : float, default=1e-3
        Relative ridge on the weights.

    Returns
    -------
    free_weights : ndarray of shape (len(system.columns) - 1,)
        New values of ``weights[system.columns[:-1]]``.
    bias : float
        New bias.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.compensation import NeuronSystem, solve_neuron
    >>> # only the bias is free: it becomes E[G t] / E[G]
    >>> system = NeuronSystem(np.array([1]), np.array([[4.0]]), np.array([8.0]), 4.0)
    >>> solve_neuron(system, np.array([0.5]), np.array([3.0]))
    (array([], dtype=float64), 2.0)
    """
    free = system.columns[:-1]
    n_free = len(free)
    gram = system.gram.copy()
    rhs = system.rhs.copy()
    if n_free:
        mean_diag = float(np.mean(np.diag(gram)[:n_free]))
        lam = ridge * mean_diag if mean_diag > 0 else ridge
        gram[np.arange(n_free), np.arange(n_free)] += lam
        rhs[:n_free] += lam * weights[free]
    theta = _solve(gram, rhs)
    return theta[:n_free], float(theta[n_free] - centre[free] @ theta[:n_free])


def _solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``gram⁻¹ rhs`` in float64 (least squares if singular).

    torch's solver runs on torch's thread pool; numpy's would start BLAS
    threads that, on a busy machine, make one 300 × 300 solve take ~30 times
    longer.
    """
    gram_t, rhs_t = torch.from_numpy(gram), torch.from_numpy(rhs)[:, None]
    try:
        return torch.linalg.solve(gram_t, rhs_t)[:, 0].numpy()
    except torch.linalg.LinAlgError:
        return torch.linalg.lstsq(gram_t, rhs_t, driver="gelsd").solution[:, 0].numpy()


def _solve_layer(systems: LayerSystems, W, b, mask, ridge):
    """New weights (pruned ones 0) and biases of one layer; dead neurons stay."""
    W = np.where(mask, W, 0.0)
    b = b.copy()
    for i, system in enumerate(systems.systems):
        if system.sum_g <= 0:
            continue
        free_weights, b[i] = solve_neuron(system, W[:, i], systems.centre, ridge=ridge)
        W[system.columns[:-1], i] = free_weights
    return W, b


def least_squares_refit(
    coefs: Sequence,
    intercepts: Sequence,
    activation: str,
    X,
    masks: Sequence,
    *,
    prelu_weights: Sequence | None = None,
    weighted: bool = True,
    refit_weights: bool = True,
    ridge: float = RIDGE,
    batch_size: int = BATCH_SIZE,
    device=None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Refit every neuron's kept weights and bias after pruning, layer by layer.

    For neuron i of layer l, with ``z' = [x'; 1]`` the layer's input in the
    pruned net (the layers below already refitted), ``s_i`` the dense net's
    pre-activation (the raw output on the last layer) on the same row, and
    K the kept weights::

        min over w'_K, b'   E[ G_i (x'_Kᵀ w'_K + b' − s_i)² ] + λ_i ‖w'_K − w_K‖²

    ``G_i = Σ_k (∂f_k/∂s_i)²`` is the dense net's output sensitivity
    (``weighted=True``: the first-order share of ``E‖Δf‖²``, EC's objective)
    or 1 (``weighted=False``: the layer's own squared error). λ_i is
    ``ridge`` times the mean diagonal of ``E[G_i x'_K x'_Kᵀ]`` (centred), on
    the weights only. A neuron with ``E[G_i] = 0`` (dead on every row) is left
    as it is; one with no kept weight gets only its bias refitted. With
    ``refit_weights=False`` the kept weights stay and only the biases move; on
    the first layer that gives EC's ``b_i + Σ_j δ*_ij`` over the pruned j.

    Parameters
    ----------
    coefs, intercepts : list of array-like
        The dense net's weights ``(n_in, n_out)`` and biases per layer.
    activation : {"identity", "logistic", "tanh", "relu", "prelu"}
        Hidden-layer activation.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Rows to fit on.
    masks : list of array-like of bool
        True where a weight is kept, shaped like ``coefs``.
    prelu_weights : list of array-like, default=None
        PReLU slope of each hidden layer (only for ``"prelu"``).
    weighted : bool, default=True
        Weight rows by ``G_i`` (``"least_squares"``) or not
        (``"layer_least_squares"``).
    refit_weights : bool, default=True
        Refit the kept weights too, or only the biases.
    ridge : float, default=1e-3
        Relative ridge on the weights.
    batch_size : int, default=2048
        Rows per block.
    device : str or torch.device, default=None
        Where the products and sums run; None: where ``coefs`` are (the CPU
        for numpy arrays). Each neuron's small system is solved on the CPU,
        from sums copied there once per layer.

    Returns
    -------
    coefs, intercepts : list of ndarray
        Refitted weights (exactly 0 where ``masks`` is False) and biases,
        float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.compensation import least_squares_refit
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> X[:, 2] = X[:, 0] + X[:, 1]  # the third input is the sum of the others
    >>> coefs, intercepts = [np.array([[1.0], [1.0], [0.0]])], [np.zeros(1)]
    >>> masks = [np.array([[False], [False], [True]])]
    >>> new_coefs, new_intercepts = least_squares_refit(
    ...     coefs, intercepts, "identity", X, masks, ridge=0.0)
    >>> np.round(new_coefs[0].ravel(), 4)  # the kept weight takes over
    array([0., 0., 1.])
    """
    dense = as_network(coefs, intercepts, activation, prelu_weights, device)
    device = dense.weights[0].device
    X = _check_rows(X, dense)
    masks = [np.asarray(m, dtype=bool) for m in masks]
    _check_masks(masks, [w.shape for w in dense.weights])
    new_coefs = _float64_numpy(coefs)
    new_intercepts = [b.copy() for b in _float64_numpy(intercepts)]
    masked = [
        w * torch.as_tensor(m, device=device) for w, m in zip(dense.weights, masks)
    ]
    pruned = dense._replace(weights=masked, biases=list(dense.biases))
    for layer, mask in enumerate(masks):
        systems = layer_systems(
            dense,
            pruned,
            layer,
            X,
            mask,
            weighted=weighted,
            refit_weights=refit_weights,
            batch_size=batch_size,
        )
        W, b = _solve_layer(
            systems, new_coefs[layer], new_intercepts[layer], mask, ridge
        )
        new_coefs[layer], new_intercepts[layer] = W, b
        pruned.weights[layer] = torch.as_tensor(W, dtype=torch.float32, device=device)
        pruned.biases[layer] = torch.as_tensor(b, dtype=torch.float32, device=device)
    return new_coefs, new_intercepts


def _float64_numpy(arrays) -> list[np.ndarray]:
    """Float64 numpy arrays of numpy arrays or tensors (one copy of each tensor)."""
    return [
        to_numpy([a.detach()])[0]
        if isinstance(a, torch.Tensor)
        else np.asarray(a, dtype=np.float64)
        for a in arrays
    ]


def _check_masks(masks, shapes):
    shapes = [tuple(s) for s in shapes]
    received = [m.shape for m in masks]
    if received != shapes:
        raise ValueError(
            f"Expected masks of shapes {shapes} (those of coefs); got shapes "
            f"{received}."
        )
