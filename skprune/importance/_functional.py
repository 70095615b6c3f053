"""The math of the importance scores: short pure functions of a network's
weights, biases, activation and input rows.

Networks are given in scikit-learn's orientation: ``coefs[l]`` has shape
``(n_in, n_out)`` and ``coefs[l][j, i]`` is the weight w_ij from input j to
neuron i of layer l; ``intercepts[l][i]`` is the bias b_i. Every layer but
the last applies ``activation``; the last one is affine and gives the raw
output f (the logits of a classifier). The functions run torch float32
products on blocks of ``batch_size`` rows and accumulate sums over rows in
float64; results are float64 numpy arrays in the orientation of ``coefs``.

Everything runs on one torch device: ``device`` when given, else the device
of ``coefs`` when they are torch tensors (a fitted model's own parameters,
used without a copy), else the CPU. Each block of rows is converted to
float32 once and lands on that device; the sums stay there and only the
results are copied back to numpy, once per call.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch

from .._torch.activations import ACTIVATIONS, get_activation

BATCH_SIZE = 2048
"""Default number of rows processed at once."""

PAIRS_PER_BLOCK = 2**15
"""(candidate weight, row) pairs evaluated at once by :func:`nonlinear_importance`."""


class Network(NamedTuple):
    """A fully connected network as float32 torch tensors.

    ``weights[l]`` is ``(n_in, n_out)`` (scikit-learn's orientation),
    ``slopes[l]`` the PReLU slope of hidden layer ``l`` (None otherwise).
    """

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    activation: str
    slopes: list[torch.Tensor | None]

    def act(self, s: torch.Tensor, layer: int) -> torch.Tensor:
        """σ(s) for hidden layer ``layer``."""
        return ACTIVATIONS[self.activation].function(s, self.slopes[layer])

    def act_(self, s: torch.Tensor, layer: int) -> torch.Tensor:
        """σ(s) for hidden layer ``layer``, overwriting ``s`` where possible."""
        return ACTIVATIONS[self.activation].function_(s, self.slopes[layer])

    def derivative(self, s: torch.Tensor, x: torch.Tensor, layer: int) -> torch.Tensor:
        """σ'(s) for hidden layer ``layer``, with ``x = σ(s)``."""
        return ACTIVATIONS[self.activation].derivative(s, x, self.slopes[layer])


def as_network(
    coefs: Sequence,
    intercepts: Sequence,
    activation: str,
    prelu_weights: Sequence | None = None,
    device=None,
) -> Network:
    """Check and convert weights, biases and PReLU slopes to a :class:`Network`.

    The tensors are float32 on ``device`` (see :func:`device_of`); a float32
    tensor already there is used as it is (contiguous: at most a copy on
    that device).
    """
    get_activation(activation)  # raises for an unknown name
    if len(coefs) != len(intercepts) or not len(coefs):
        raise ValueError(
            "Expected one array of intercepts per array of coefs (at least one "
            f"layer); got {len(coefs)} coefs and {len(intercepts)} intercepts."
        )
    n_hidden = len(coefs) - 1
    slopes = list(prelu_weights) if prelu_weights is not None else []
    slopes = slopes if activation == "prelu" else []
    if activation == "prelu" and (
        len(slopes) != n_hidden or any(_size(a) != 1 for a in slopes)
    ):
        raise ValueError(
            "activation='prelu' needs prelu_weights: one slope (an array of "
            f"shape (1,)) per hidden layer ({n_hidden}); got {prelu_weights!r}."
        )
    device = device_of(coefs, device)
    slopes = [_tensor(a, device).reshape(1) for a in slopes]
    return Network(
        [_tensor(c, device).contiguous() for c in coefs],
        [_tensor(b, device) for b in intercepts],
        activation,
        slopes + [None] * (n_hidden + 1 - len(slopes)),
    )


def device_of(coefs: Sequence, device=None) -> torch.device:
    """Where a network's scores are computed: ``device`` when given, else
    the device of ``coefs[0]`` when it is a torch tensor, else the CPU.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skprune.importance import device_of
    >>> device_of([np.ones((2, 1))])
    device(type='cpu')
    >>> device_of([torch.ones(2, 1, device="meta")])
    device(type='meta')
    """
    if device is not None:
        return torch.device(device)
    first = coefs[0] if len(coefs) else None
    return first.device if isinstance(first, torch.Tensor) else torch.device("cpu")


def _size(array) -> int:
    """Number of values of an array or a tensor."""
    return array.numel() if isinstance(array, torch.Tensor) else np.size(array)


def _tensor(array, device, dtype=torch.float32) -> torch.Tensor:
    """``array`` as a ``dtype`` tensor on ``device`` (no copy when it is one)."""
    if isinstance(array, torch.Tensor):
        return array.detach().to(device=device, dtype=dtype)
    numpy_dtype = np.float32 if dtype == torch.float32 else np.float64
    return torch.as_tensor(np.asarray(array, dtype=numpy_dtype), device=device)


def to_numpy(tensors: Iterable[torch.Tensor]) -> list[np.ndarray]:
    """Float64 numpy copies of result tensors: the one transfer to the host."""
    return [t.double().cpu().numpy() for t in tensors]


def _check_rows(X, net: Network):
    """X as a 2-D array (or sparse matrix) of at least one row of the net's width."""
    X = X if sp.issparse(X) else np.asarray(X)
    n_features = net.weights[0].shape[0]
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] != n_features:
        raise ValueError(
            f"Expected X of shape (n_samples >= 1, {n_features}) for a network "
            f"with {n_features} inputs; got shape {X.shape}."
        )
    return X


def _row_blocks(X, batch_size: int, *arrays, device="cpu"):
    """Blocks of ``batch_size`` rows of X (float32 tensors) and of ``arrays``,
    on ``device``.

    Every block is converted into one reused float32 buffer, so the memory
    does not depend on the number of blocks: a block is only valid until the
    next one is drawn. On the CPU the tensor shares the buffer's memory;
    elsewhere the converted block is copied to the device once.
    """
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    buffer = np.empty((min(batch_size, X.shape[0]), X.shape[1]), dtype=np.float32)
    for start in range(0, X.shape[0], batch_size):
        block = X[start : start + batch_size]
        block = block.toarray() if sp.issparse(block) else block
        out = buffer[: block.shape[0]]
        np.copyto(out, block, casting="unsafe")
        rest = [
            torch.as_tensor(a[start : start + batch_size], device=device)
            for a in arrays
        ]
        yield (torch.as_tensor(out, device=device), *rest)


def forward(net: Network, x: torch.Tensor) -> tuple[list, list]:
    """Inputs of every layer (x itself first) and hidden pre-activations s."""
    inputs, pre = [x], []
    for layer, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
        pre.append(torch.addmm(b, inputs[-1], W))
        inputs.append(net.act(pre[-1], layer))
    return inputs, pre


def raw_output(net: Network, x: torch.Tensor) -> torch.Tensor:
    """The network's raw output f (before any output activation)."""
    inputs, _ = forward(net, x)
    return torch.addmm(net.biases[-1], inputs[-1], net.weights[-1])


# ---------------------------------------------------------------- compensated


class LayerMoments(NamedTuple):
    """Sums over the scored rows for one layer, in float64.

    With ``u_j = x_j - centre_j`` the centred input of the layer and ``G_i``
    the output sensitivity of its neuron i: ``sum_g[i] = Σ G_i``,
    ``sum_gu[j, i] = Σ G_i u_j``, ``sum_gu2[j, i] = Σ G_i u_j²``.
    """

    n_samples: int
    centre: np.ndarray
    sum_g: np.ndarray
    sum_gu: np.ndarray
    sum_gu2: np.ndarray


class _Scratch:
    """Work tensors reused from one row block to the next, by name.

    Allocating the large per-block temporaries once keeps the memory a
    scorer needs from growing with the number of blocks (glibc would
    otherwise serve the repeated multi-MiB requests from a fragmenting heap).
    """

    def __init__(self, device="cpu"):
        self.device, self._tensors = device, {}

    def __call__(self, key, shape) -> torch.Tensor:
        """An uninitialised float32 tensor of ``shape`` (a view of a reused one)."""
        tensor = self._tensors.get(key)
        if tensor is None or tensor.shape[1:] != shape[1:] or len(tensor) < shape[0]:
            tensor = self._tensors[key] = torch.empty(shape, device=self.device)
        return tensor[: shape[0]]


def output_sensitivities(
    net: Network, inputs: list, pre: list, scratch: _Scratch | None = None
) -> list[torch.Tensor]:
    """``G[l][n, i] = Σ_k (∂f_k/∂s_i^l)²`` for every layer, on one row block.

    The Jacobian ``J[l]`` of f with respect to ``s^l`` (rows, K, width_l) is
    built by the backward recursion ``J[l] = (J[l+1] @ W[l+1].T) ⊙ σ'(s^l)``
    from ``J[L-1] = I``, so the output layer has ``G = 1``. The top hidden
    layer needs no Jacobian: ``J[n, k, i] = W[i, k] σ'(s_i)``, so
    ``G[n, i] = σ'(s_i)² Σ_k W[i, k]²``; the (rows, K, width) tensors are only
    built for the layers below it, in ``scratch`` tensors when given.
    """
    scratch = scratch or _Scratch(inputs[0].device)
    n_rows, n_outputs = inputs[0].shape[0], net.weights[-1].shape[1]
    sensitivities = [torch.ones(n_rows, n_outputs, device=inputs[0].device)]
    jacobian = None
    for layer in reversed(range(len(pre))):
        upper = net.weights[layer + 1].T  # (width_{l+1}, width_l)
        derivative = net.derivative(pre[layer], inputs[layer + 1], layer)
        shape = (n_rows, n_outputs, upper.shape[1])
        if jacobian is None:  # the top hidden layer
            sensitivities.insert(0, derivative.square() * upper.square().sum(0))
            if layer:
                jacobian = torch.mul(
                    upper.expand(n_rows, -1, -1),
                    derivative[:, None, :],
                    out=scratch(("jacobian", layer), shape),
                )
            continue
        jacobian = torch.matmul(
            jacobian, upper, out=scratch(("jacobian", layer), shape)
        )
        jacobian.mul_(derivative[:, None, :])
        squares = torch.mul(jacobian, jacobian, out=scratch(("squares", layer), shape))
        sensitivities.insert(0, squares.sum(1))
    return sensitivities


def compensated_moments(
    coefs: Sequence,
    intercepts: Sequence,
    activation: str,
    X,
    *,
    prelu_weights: Sequence | None = None,
    batch_size: int = BATCH_SIZE,
    device=None,
) -> list[LayerMoments]:
    """The sums over rows behind the compensated importance, per layer.

    Each layer's input columns are centred by ``c``, their mean over the
    first row block (float64 mean rounded to float32, so a constant column
    is centred to exactly 0); per block, ``Gᵀu``, ``Gᵀu²`` and ``ΣG`` are
    float32 products added to float64 sums.

    Parameters
    ----------
    coefs, intercepts : list of array-like
        Weights ``(n_in, n_out)`` and biases ``(n_out,)`` per layer.
    activation : {"identity", "logistic", "tanh", "relu", "prelu"}
        Hidden-layer activation.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Rows to average over.
    prelu_weights : list of array-like, default=None
        PReLU slope of each hidden layer (only for ``"prelu"``).
    batch_size : int, default=2048
        Rows per block.
    device : str or torch.device, default=None
        Where the products and sums run; None: where ``coefs`` are (the CPU
        for numpy arrays).

    Returns
    -------
    moments : list of LayerMoments
        One per layer.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import compensated_moments
    >>> coefs = [np.ones((2, 3)), np.ones((3, 1))]
    >>> intercepts = [np.zeros(3), np.zeros(1)]
    >>> X = np.array([[1.0, 2.0], [3.0, 2.0]])
    >>> moments = compensated_moments(coefs, intercepts, "relu", X)
    >>> moments[0].centre
    array([2., 2.])
    >>> moments[0].sum_gu2  # G = 1 for every hidden unit; u = ±1, 0
    array([[2., 2., 2.],
           [0., 0., 0.]])
    """
    net = as_network(coefs, intercepts, activation, prelu_weights, device)
    return [
        LayerMoments(m.n_samples, *to_numpy(m[1:]))
        for m in _moment_sums(net, _check_rows(X, net), batch_size)
    ]


def _moment_sums(net: Network, X, batch_size: int) -> list[LayerMoments]:
    """:class:`LayerMoments` of every layer as float64 tensors on the net's device."""
    device = net.weights[0].device
    centres = sums = None
    n_samples = 0
    scratch = _Scratch(device)
    for (x,) in _row_blocks(X, batch_size, device=device):
        inputs, pre = forward(net, x)
        sensitivities = output_sensitivities(net, inputs, pre, scratch)
        if centres is None:
            centres = [v.double().mean(0).float() for v in inputs]
            sums = [_zero_moments(W) for W in net.weights]
        for layer, (inp, centre, g, acc) in enumerate(
            zip(inputs, centres, sensitivities, sums)
        ):
            u = torch.sub(inp, centre, out=scratch(("centred", layer), inp.shape))
            acc[0] += g.sum(0, dtype=torch.float64)
            acc[1] += (u.T @ g).double()
            acc[2] += (u.square_().T @ g).double()
        n_samples += x.shape[0]
    return [LayerMoments(n_samples, c.double(), *acc) for c, acc in zip(centres, sums)]


def _zero_moments(W: torch.Tensor) -> list[torch.Tensor]:
    """Float64 accumulators for ΣG, ΣGᵀu and ΣGᵀu² of a layer, on W's device."""
    n_in, n_out = W.shape
    return [
        torch.zeros(shape, dtype=torch.float64, device=W.device)
        for shape in ((n_out,), (n_in, n_out), (n_in, n_out))
    ]


def compensated_from_moments(
    weights: np.ndarray, moments: LayerMoments
) -> tuple[np.ndarray, np.ndarray]:
    """Importances and compensations of one layer from its moments.

    ``δ*_ij = w_ij E[G_i x_j] / E[G_i]`` and
    ``I_ij = w_ij² (E[G_i x_j²] - E[G_i x_j]² / E[G_i])``, both 0 where
    ``E[G_i] = 0``. The bracket is computed on the centred inputs (it does
    not change when x_j is shifted) and clipped at 0 against rounding; the
    compensation adds the shift back: ``E[G x] / E[G] = E[G u] / E[G] + c``.

    Parameters
    ----------
    weights : array-like of shape (n_in, n_out)
        The layer's weights ``coefs[l]``.
    moments : LayerMoments
        The layer's sums, from :func:`compensated_moments`.

    Returns
    -------
    importances, compensations : ndarray of shape (n_in, n_out)
        ``I_ij`` and ``δ*_ij``, float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import LayerMoments, compensated_from_moments
    >>> moments = LayerMoments(
    ...     n_samples=2, centre=np.array([2.0]), sum_g=np.array([2.0]),
    ...     sum_gu=np.array([[0.0]]), sum_gu2=np.array([[2.0]]))
    >>> compensated_from_moments(np.array([[3.0]]), moments)  # 3² Var(x), 3 E[x]
    (array([[9.]]), array([[6.]]))
    """
    as_tensors = LayerMoments(
        moments.n_samples,
        *(torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in moments[1:]),
    )
    pair = _from_moments(_tensor(weights, "cpu", torch.float64), as_tensors)
    return tuple(to_numpy(pair))


def _from_moments(w: torch.Tensor, moments: LayerMoments) -> tuple:
    """:func:`compensated_from_moments` on float64 tensors, where they are."""
    alive = moments.sum_g > 0
    ratio = moments.sum_gu / torch.where(alive, moments.sum_g, 1.0)
    bracket = (moments.sum_gu2 - moments.sum_gu * ratio).clamp_(min=0.0)
    importances = torch.where(alive, w.square() * bracket / moments.n_samples, 0.0)
    compensations = torch.where(alive, w * (ratio + moments.centre[:, None]), 0.0)
    return importances, compensations


def compensated_importance(
    coefs: Sequence,
    intercepts: Sequence,
    activation: str,
    X,
    *,
    prelu_weights: Sequence | None = None,
    batch_size: int = BATCH_SIZE,
    device=None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Elimination-compensation importance of every weight, with its compensation.

    Removing ``w_ij`` (input j, neuron i of layer l) and shifting ``b_i`` by
    δ changes the output by ``(∂f/∂s_i)(δ - w_ij x_j)`` to first order. With
    ``G_i(x) = Σ_k (∂f_k/∂s_i)²`` over the K raw outputs, the shift that
    minimises ``E‖Δf‖²`` and the remaining loss are::

        δ*_ij = w_ij E[G_i x_j] / E[G_i]
        I_ij  = w_ij² (E[G_i x_j²] - E[G_i x_j]² / E[G_i])

    with x_j the input of layer l and E the mean over the rows of X;
    ``I = δ* = 0`` where ``E[G_i] = 0``. See :func:`compensated_moments`
    for how the sums are formed.

    Parameters
    ----------
    coefs, intercepts : list of array-like
        Weights ``(n_in, n_out)`` and biases ``(n_out,)`` per layer.
    activation : {"identity", "logistic", "tanh", "relu", "prelu"}
        Hidden-layer activation.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Rows to average over.
    prelu_weights : list of array-like, default=None
        PReLU slope of each hidden layer (only for ``"prelu"``).
    batch_size : int, default=2048
        Rows per block.
    device : str or torch.device, default=None
        Where the products and sums run; None: where ``coefs`` are (the CPU
        for numpy arrays).

    Returns
    -------
    importances : list of ndarray
        ``importances[l][j, i]`` is ``I_ij`` of ``coefs[l][j, i]``, float64.
    compensations : list of ndarray
        ``compensations[l][j, i]`` is ``δ*_ij``, the shift of bias i of
        layer l when ``coefs[l][j, i]`` is removed.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import compensated_importance
    >>> coefs = [np.array([[1.0], [2.0]]), np.array([[3.0]])]
    >>> intercepts = [np.zeros(1), np.zeros(1)]
    >>> X = np.array([[1.0, 5.0], [3.0, 5.0]])  # column 1 is constant
    >>> importances, compensations = compensated_importance(
    ...     coefs, intercepts, "identity", X)
    >>> importances[0]  # 1² · 3² · Var(x_0) and 0 for the constant column
    array([[9.],
           [0.]])
    >>> compensations[0]  # w_ij · mean(x_j): the bias absorbs the mean
    array([[ 2.],
           [10.]])
    """
    net = as_network(coefs, intercepts, activation, prelu_weights, device)
    moments = _moment_sums(net, _check_rows(X, net), batch_size)
    device = net.weights[0].device
    pairs = [
        _from_moments(_tensor(w, device, torch.float64), m)
        for w, m in zip(coefs, moments)
    ]
    return to_numpy([p[0] for p in pairs]), to_numpy([p[1] for p in pairs])


# ------------------------------------------------------------------ nonlinear


class _InputStatistics(NamedTuple):
    """Per layer input: float64 mean over all rows and which columns are
    constant (tensors on the net's device)."""

    mean: torch.Tensor
    constant: torch.Tensor


def _input_statistics(net: Network, X, batch_size: int) -> list[_InputStatistics]:
    """Exact means (constant columns get their value) of every layer's input."""
    sums = mins = maxs = None
    for (x,) in _row_blocks(X, batch_size, device=net.weights[0].device):
        inputs, _ = forward(net, x)
        block_sums = [v.sum(0, dtype=torch.float64) for v in inputs]
        block_mins = [v.amin(0) for v in inputs]
        block_maxs = [v.amax(0) for v in inputs]
        if sums is None:
            sums, mins, maxs = block_sums, block_mins, block_maxs
            continue
        sums = [a + b for a, b in zip(sums, block_sums)]
        mins = [torch.minimum(a, b) for a, b in zip(mins, block_mins)]
        maxs = [torch.maximum(a, b) for a, b in zip(maxs, block_maxs)]
    statistics = []
    for total, low, high in zip(sums, mins, maxs):
        constant = low == high
        mean = torch.where(constant, low.double(), total / X.shape[0])
        statistics.append(_InputStatistics(mean, constant))
    return statistics


def _output_change(net, layer, block, j, i, w) -> torch.Tensor:
    """Σ over rows of ‖f(w_ij→0, b_i + w_ij m_j) − f‖² for candidates (j, i).

    Only neuron i of ``layer`` changes, by ``Δs_i = -w_ij (x_j - m_j)``, so
    the output change is propagated from that neuron up, in difference form,
    for all (candidate, row) pairs at once.
    """
    last = len(net.weights) - 1
    shift = block.centred[layer].index_select(0, j).mul_(-w[:, None])
    if layer == last:  # (candidates, rows)
        return shift.square().sum(1, dtype=torch.float64)
    new = net.act(block.pre_columns[layer].index_select(0, i).add_(shift), layer)
    change = new.sub_(block.output_columns[layer].index_select(0, i))  # Δx_i
    outgoing = net.weights[layer + 1].index_select(0, i)
    if layer + 1 == last:  # Δf = Δx_i W[i]
        norms = outgoing.square().sum(1, dtype=torch.float64)
        return change.square().sum(1, dtype=torch.float64) * norms
    # (candidates, rows, width): new pre-activations of the layer above
    signal = torch.addcmul(
        block.pre[layer + 1], change[:, :, None], outgoing[:, None, :]
    )
    for upper in range(layer + 1, last):
        change = net.act_(signal, upper).sub_(block.inputs[upper + 1])  # Δx
        if upper + 1 < last:
            weights = net.weights[upper + 1].expand(len(j), -1, -1)
            signal = torch.baddbmm(block.pre[upper + 1], change, weights)
    # Δf = Δx W as (candidates, outputs, rows): a batched product scales
    # over threads, one tall and narrow product does not.
    weights = net.weights[last].T.contiguous().expand(len(j), -1, -1)
    output_change = torch.bmm(weights, change.transpose(1, 2))
    return output_change.square_().sum((1, 2), dtype=torch.float64)


class _Block(NamedTuple):
    """One row block: layer inputs and hidden pre-activations, and as columns
    (features × rows) the centred layer inputs, hidden pre-activations and
    hidden outputs."""

    inputs: list[torch.Tensor]
    pre: list[torch.Tensor]
    centred: list[torch.Tensor]
    pre_columns: list[torch.Tensor]
    output_columns: list[torch.Tensor]

    @classmethod
    def of(cls, net: Network, x: torch.Tensor, means: list) -> _Block:
        inputs, pre = forward(net, x)
        centred = [(v - m).T.contiguous() for v, m in zip(inputs, means)]
        columns = [[v.T.contiguous() for v in vs] for vs in (pre, inputs[1:])]
        return cls(inputs, pre, centred, *columns)


def _candidates(W: torch.Tensor, constant: torch.Tensor) -> tuple:
    """Inputs j, neurons i and values w of the weights whose removal can
    change the output, neuron by neuron.

    A zero weight or a weight on a constant input (fully absorbed by the bias
    shift ``w_ij m_j``) has importance exactly 0.
    """
    keep = (W != 0) & ~constant[:, None]
    i, j = torch.nonzero(keep.T, as_tuple=True)
    return j, i, W[j, i]


def nonlinear_importance(
    coefs: Sequence,
    intercepts: Sequence,
    activation: str,
    X,
    *,
    prelu_weights: Sequence | None = None,
    batch_size: int = BATCH_SIZE,
    device=None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Exact output change when a weight is removed and its mean is compensated.

    ``I_ij = E‖f(w_ij → 0, b_i + δ_ij) − f‖²`` with ``δ_ij = w_ij E[x_j]``,
    x_j the input of the weight's layer and E the mean over the rows of X:
    the paper's brute force, one evaluation per weight. Only neuron i of
    layer l changes, so its new pre-activation is ``s_i − w_ij (x_j − E[x_j])``
    and only the layers above it are evaluated, for blocks of
    ``PAIRS_PER_BLOCK`` (candidate, row) pairs at once. Weights that are 0 or
    whose input is constant over X have ``I = 0`` exactly and are skipped.
    Computed in float32 (sums over rows in float64): importances below about
    1e-7 of the output's scale are rounding noise.

    Parameters
    ----------
    coefs, intercepts : list of array-like
        Weights ``(n_in, n_out)`` and biases ``(n_out,)`` per layer.
    activation : {"identity", "logistic", "tanh", "relu", "prelu"}
        Hidden-layer activation.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Rows to average over.
    prelu_weights : list of array-like, default=None
        PReLU slope of each hidden layer (only for ``"prelu"``).
    batch_size : int, default=2048
        Rows per block.
    device : str or torch.device, default=None
        Where the products and sums run; None: where ``coefs`` are (the CPU
        for numpy arrays).

    Returns
    -------
    importances : list of ndarray
        ``importances[l][j, i]`` belongs to ``coefs[l][j, i]``, float64.
    compensations : list of ndarray
        ``δ_ij = w_ij E[x_j]``, the shift of bias i of layer l.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import nonlinear_importance
    >>> coefs = [np.array([[1.0, -1.0]]), np.array([[1.0], [1.0]])]
    >>> intercepts = [np.zeros(2), np.zeros(1)]
    >>> X = np.array([[-1.0], [1.0]])
    >>> importances, compensations = nonlinear_importance(
    ...     coefs, intercepts, "relu", X)
    >>> importances[0]  # f = |x|; removing either weight leaves f = 0 on one row
    array([[0.5, 0.5]])
    >>> compensations[0]  # E[x] = 0
    array([[ 0., -0.]])
    """
    net = as_network(coefs, intercepts, activation, prelu_weights, device)
    X = _check_rows(X, net)
    device = net.weights[0].device
    statistics = _input_statistics(net, X, batch_size)
    means = [s.mean.float() for s in statistics]
    candidates = [_candidates(W, s.constant) for W, s in zip(net.weights, statistics)]
    totals = [
        torch.zeros(len(j), dtype=torch.float64, device=device)
        for j, _, _ in candidates
    ]
    for (x,) in _row_blocks(X, batch_size, device=device):
        block = _Block.of(net, x, means)
        per_block = max(1, PAIRS_PER_BLOCK // x.shape[0])
        for layer, weights in enumerate(candidates):
            for start in range(0, len(weights[0]), per_block):
                part = [v[start : start + per_block] for v in weights]
                totals[layer][start : start + per_block] += _output_change(
                    net, layer, block, *part
                )
    importances = []
    for W, (j, i, _), total in zip(net.weights, candidates, totals):
        importance = torch.zeros(W.shape, dtype=torch.float64, device=device)
        importance[j, i] = total / X.shape[0]
        importances.append(importance)
    compensations = [
        _tensor(c, device, torch.float64) * s.mean[:, None]
        for c, s in zip(coefs, statistics)
    ]
    return to_numpy(importances), to_numpy(compensations)


# ------------------------------------------------------------------- gradient


def loss_gradients(
    coefs: Sequence,
    intercepts: Sequence,
    activation: str,
    X,
    y,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    prelu_weights: Sequence | None = None,
    batch_size: int = BATCH_SIZE,
    device=None,
) -> list[np.ndarray]:
    """Gradient of the mean loss ``L = mean_n loss(f(x_n), y_n)`` w.r.t. the weights.

    Computed by torch autograd on float32 copies of the weights, one row
    block at a time (the gradients of the blocks add up).

    Parameters
    ----------
    coefs, intercepts : list of array-like
        Weights ``(n_in, n_out)`` and biases ``(n_out,)`` per layer.
    activation : {"identity", "logistic", "tanh", "relu", "prelu"}
        Hidden-layer activation.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Input rows.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Targets as ``loss`` takes them (e.g. class indices).
    loss : callable
        ``loss(raw, y)`` returning one loss per row (torch tensors).
    prelu_weights : list of array-like, default=None
        PReLU slope of each hidden layer (only for ``"prelu"``).
    batch_size : int, default=2048
        Rows per block.
    device : str or torch.device, default=None
        Where the products and sums run; None: where ``coefs`` are (the CPU
        for numpy arrays).

    Returns
    -------
    gradients : list of ndarray
        ``∂L/∂coefs[l]``, shaped like ``coefs[l]``, float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import loss_gradients
    >>> def squared_error(raw, y):
    ...     return (raw - y).square().sum(1)
    >>> coefs, intercepts = [np.array([[2.0]])], [np.zeros(1)]
    >>> X, y = np.array([[1.0], [3.0]]), np.array([[1.0], [3.0]], dtype=np.float32)
    >>> loss_gradients(coefs, intercepts, "relu", X, y, squared_error)  # 2 E[(w-1) x²]
    [array([[10.]])]
    """
    net = as_network(coefs, intercepts, activation, prelu_weights, device)
    return to_numpy(_gradients(net, X, y, loss, batch_size))


def _gradients(net: Network, X, y, loss, batch_size: int) -> list[torch.Tensor]:
    """:func:`loss_gradients` as float32 tensors on the net's device."""
    X, y = _check_rows(X, net), np.asarray(y)
    if len(y) != X.shape[0]:
        raise ValueError(
            f"Expected one target per row of X ({X.shape[0]}); got {len(y)}."
        )
    leaves = [W.clone().requires_grad_() for W in net.weights]
    net = net._replace(weights=leaves)
    with torch.enable_grad():
        for x, target in _row_blocks(X, batch_size, y, device=leaves[0].device):
            (loss(raw_output(net, x), target).sum() / X.shape[0]).backward()
    return [leaf.grad for leaf in leaves]


def gradient_magnitude_importance(
    coefs: Sequence,
    intercepts: Sequence,
    activation: str,
    X,
    y,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    prelu_weights: Sequence | None = None,
    batch_size: int = BATCH_SIZE,
    device=None,
) -> list[np.ndarray]:
    """First-order change of the mean loss: ``I_ij = |w_ij · ∂L/∂w_ij|``.

    ``L = mean_n loss(f(x_n), y_n)``; the gradient is that of
    :func:`loss_gradients`, the product is formed in float64 where the
    gradient is.

    Parameters
    ----------
    coefs, intercepts : list of array-like
        Weights ``(n_in, n_out)`` and biases ``(n_out,)`` per layer.
    activation : {"identity", "logistic", "tanh", "relu", "prelu"}
        Hidden-layer activation.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Input rows.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Targets as ``loss`` takes them.
    loss : callable
        ``loss(raw, y)`` returning one loss per row (torch tensors).
    prelu_weights : list of array-like, default=None
        PReLU slope of each hidden layer (only for ``"prelu"``).
    batch_size : int, default=2048
        Rows per block.
    device : str or torch.device, default=None
        Where the products and sums run; None: where ``coefs`` are (the CPU
        for numpy arrays).

    Returns
    -------
    importances : list of ndarray
        Shaped like ``coefs``, float64, non-negative.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import gradient_magnitude_importance
    >>> def squared_error(raw, y):
    ...     return (raw - y).square().sum(1)
    >>> coefs, intercepts = [np.array([[2.0]])], [np.zeros(1)]
    >>> X, y = np.array([[1.0], [3.0]]), np.array([[1.0], [3.0]], dtype=np.float32)
    >>> gradient_magnitude_importance(  # |2 · 2 E[(w-1) x²]|
    ...     coefs, intercepts, "relu", X, y, squared_error)
    [array([[20.]])]
    """
    net = as_network(coefs, intercepts, activation, prelu_weights, device)
    gradients = _gradients(net, X, y, loss, batch_size)
    return to_numpy(
        (_tensor(w, g.device, torch.float64) * g.double()).abs()
        for w, g in zip(coefs, gradients)
    )


# ------------------------------------------------------------------------ obd


def backward_deltas(net: Network, inputs: list, pre: list, raw_grad) -> list:
    """``Δ[l] = ∂·/∂s^l`` per row, from ``Δ[L-1] = raw_grad`` downwards.

    ``Δ[l] = (Δ[l+1] @ coefs[l+1]ᵀ) ⊙ σ'(s^l)``. ``raw_grad`` is
    ``(rows, K)`` (the gradient of a per-row loss w.r.t. the raw output) or
    ``(rows, m, K)`` (m such gradients per row, e.g. the identity for the
    output Jacobians); σ' is broadcast over the middle axis.
    """
    deltas = [raw_grad]
    for layer in reversed(range(len(pre))):
        upper = deltas[0] @ net.weights[layer + 1].T
        derivative = net.derivative(pre[layer], inputs[layer + 1], layer)
        if upper.dim() == 3:
            derivative = derivative[:, None, :]
        deltas.insert(0, upper * derivative)
    return deltas


def obd_importance(
    coefs: Sequence,
    intercepts: Sequence,
    activation: str,
    X,
    y,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    prelu_weights: Sequence | None = None,
    sample_weight=None,
    batch_size: int = BATCH_SIZE,
    device=None,
) -> list[np.ndarray]:
    """Optimal Brain Damage with the empirical Fisher: ``I_ij = ½ w_ij² F_ij``.

    ``F_ij = Σ_n c_n (∂ℓ_n/∂w_ij)² / Σ_n c_n`` with ℓ_n the loss of row n
    (not the mean loss) and ``c_n`` its sample weight (1 by default). The
    gradient of row n is ``Δ_ni x_nj`` with ``Δ_n = ∂ℓ_n/∂s`` and x the
    layer's input, so per layer ``F = (X ⊙ X)ᵀ (c ⊙ Δ ⊙ Δ) / Σ c``: one
    backward pass, no per-row loop, no L2 term. ``∂ℓ_n/∂f`` comes from
    autograd on the loss alone; ``Δ`` is carried down the layers explicitly.

    Parameters
    ----------
    coefs, intercepts : list of array-like
        Weights ``(n_in, n_out)`` and biases ``(n_out,)`` per layer.
    activation : {"identity", "logistic", "tanh", "relu", "prelu"}
        Hidden-layer activation.
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Input rows.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Targets as ``loss`` takes them.
    loss : callable
        ``loss(raw, y)`` returning one loss per row (torch tensors).
    prelu_weights : list of array-like, default=None
        PReLU slope of each hidden layer (only for ``"prelu"``).
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each row.
    batch_size : int, default=2048
        Rows per block.
    device : str or torch.device, default=None
        Where the products and sums run; None: where ``coefs`` are (the CPU
        for numpy arrays).

    Returns
    -------
    importances : list of ndarray
        Shaped like ``coefs``, float64, non-negative.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import obd_importance
    >>> def half_squared_error(raw, y):
    ...     return 0.5 * (raw - y).square().sum(1)
    >>> coefs, intercepts = [np.array([[2.0]])], [np.zeros(1)]
    >>> X, y = np.array([[1.0], [3.0]]), np.array([[1.0], [3.0]], dtype=np.float32)
    >>> obd_importance(coefs, intercepts, "relu", X, y, half_squared_error)  # ½·2²·(1² + 9²)/2
    [array([[82.]])]
    """
    net = as_network(coefs, intercepts, activation, prelu_weights, device)
    X, y = _check_rows(X, net), np.asarray(y)
    device = net.weights[0].device
    weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    weights = np.asarray(weights, dtype=np.float32)
    if len(y) != X.shape[0] or weights.shape != (X.shape[0],):
        raise ValueError(
            f"Expected one target and one sample weight per row of X ({X.shape[0]}); "
            f"got {len(y)} targets and sample_weight of shape {weights.shape}."
        )
    fisher = [
        torch.zeros(W.shape, dtype=torch.float64, device=device) for W in net.weights
    ]
    for x, target, c in _row_blocks(X, batch_size, y, weights, device=device):
        inputs, pre = forward(net, x)
        raw = torch.addmm(net.biases[-1], inputs[-1], net.weights[-1])
        with torch.enable_grad():
            raw.requires_grad_()
            (raw_grad,) = torch.autograd.grad(loss(raw, target).sum(), raw)
        for total, inp, delta in zip(
            fisher, inputs, backward_deltas(net, inputs, pre, raw_grad)
        ):
            total += (inp.square().T @ (delta.square() * c[:, None])).double()
    total_weight = float(weights.sum())
    return to_numpy(
        0.5 * _tensor(w, device, torch.float64) ** 2 * (f / total_weight)
        for w, f in zip(coefs, fisher)
    )
