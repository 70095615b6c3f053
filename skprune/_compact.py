"""compact(): a pruned MLP without its dead parts, with sparse layers where they pay.

A pruned network keeps every neuron and stores every pruned weight as a 0.0.
:func:`compact` removes what no longer computes anything (DESIGN.md,
"Compaction"): a hidden neuron with no kept incoming weight outputs the
constant ``σ(b_i)``, which is folded into the next layer's biases; a neuron
with no kept outgoing weight is dropped; this repeats until nothing changes.
The smaller network then keeps each layer dense or stores it as a sparse
matrix (:data:`SPARSE_MAX_DENSITY`), predicts through that matrix and pickles
only its kept weights.
"""

from __future__ import annotations

import copy
import warnings
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import check_is_fitted

from ._mlp import _BaseMLP
from ._torch.activations import get_activation
from ._torch.module import MLPModule
from ._torch.net import MLPNet

SPARSE_MAX_DENSITY = 0.05
"""``sparse="auto"`` stores a layer sparse when at most this share of its
weights is kept and it has at least :data:`SPARSE_MIN_WEIGHTS` weights.
Measured by ``python benchmarks/inference_speed.py --crossover`` (2 CPU
cores, nothing else running; scipy CSR by chunks of
:data:`SPARSE_CHUNK_ROWS` rows against torch's dense ``addmm``, one layer
product, ``docs/results/inference_crossover.txt``, run 1): at 10,000 rows
a 784x300 layer was 1.30x faster as CSR at 5 % kept weights and 1.95x at
2 %, but 0.65x at 10 % and slower still at 20-30 %; 300x100 0.68x at 5 %
and 0.66x at 2 %; 784x64 and 64x64 slower at every density; at one row CSR
lost on every layer. 5 % is at the edge of where CSR pays (the previous
release's timing, run P1, gave 1.26x, 1.90x and 0.73x for 784x300 and
0.87x and 1.01x for 300x100)."""

SPARSE_MIN_WEIGHTS = 100_000
"""Layers with fewer weights (kept or not) stay dense under ``sparse="auto"``."""


PAD_UNITS = 16
"""On the prediction path a compact model pads every hidden width, and the
width of its gathered input, up to a multiple of this many units (zero
weights, zero biases: a padded unit outputs a constant that the next layer
multiplies by zero). torch's CPU matrix product (MKL, AVX2) is much slower
on odd widths: ``python benchmarks/inference_speed.py --rules --repeats 9``
(``docs/results/inference_rules.txt``, runs 1 and 2, 2 torch threads,
nothing else running) gave unpadded / padded forward times of 1.17-1.52x at
10,000 rows on 784-h1-h2-10 nets with (h1, h2) = (300, 100), (287, 92),
(273, 92), (175, 91), (59, 91), (59, 56); 0.96-1.09x at 32 rows and
0.95-1.00x at one row."""

GATHER_MIN_SAVING = 80
"""A compact model predicts from the live input columns of its first layer
only (the others have no kept weight) when that saves at least this many
multiply-adds of the first product per value copied: ``dead / live x
width`` (``width`` the first layer's padded output width). Gathering costs
one copy of the live columns of every row; below this saving the full
input goes to the first layer, whose dead columns hold zeros. Measured by
the same runs (``predict_proba`` of 784-300-100-10 and 784-64-64-10 with
dead input columns, full input / gathered time at 10,000 rows): 1.30-1.70x
with 286-665 multiply-adds saved per copy, 1.05-1.13x with 124, 1.02-1.03x
with 79, 0.93-0.94x with 64, 0.66-0.95x with 34 or fewer: this rule sits at
the break-even."""

GATHER_MIN_ROWS = 32
"""Blocks of fewer rows go to the first layer whole (through a copy of its
weights over every input column): gathering a handful of rows costs more
than it saves. Measured by the previous release's runs (P1 and P2 in the
same file), before blocks of fewer than ``skprune._mlp.SMALL_PREDICT_ROWS``
rows took a path of their own that never gathers: gathering was 0.94-1.11x
at one row and 0.90-1.15x at 32 rows (784-300 and 784-64, 64-665
multiply-adds saved per copy), and ``predict_proba`` of 784-64-64-10
pruned to 90 and 98 % (which gather) was 0.89-0.95x the dense reference's
at one row in three runs of ``python benchmarks/inference_speed.py`` (95 %:
0.90-1.08x), with gathering at every block size. Predictions through the
estimator now send fewer than ``SMALL_PREDICT_ROWS`` (also 32) rows to
``predict_rows``, which takes whole rows anyway; this rule answers callers
of :meth:`CompactMLPModule.prediction_input` that ask for small blocks."""

SPARSE_MIN_ROWS = 16
"""A sparse layer multiplies blocks of at least this many rows by its CSR
matrix and smaller blocks by its dense (gathered, padded) copy. Measured by
runs 1 and 2, a 784x304 layer: dense / CSR time 0.54-0.62x at one row and
5 % kept weights, 0.72-0.75x at 4 rows, 0.71-0.81x at 16 rows, 0.85-0.93x
at 64 rows; at 2 % kept 0.57-0.70x, 0.80-0.99x, 1.09-1.30x, 1.16-2.22x.
16 rows pays at 2 % kept, not at 5 % (the previous release's timing, runs
P1 and P2, gave 1.36-1.38x at 64 rows and 5 %)."""

SPARSE_CHUNK_ROWS = 256
"""A CSR product (scipy, on the CPU) takes at most this many rows at a time:
scipy's single-threaded product of a large block loses to torch's dense
product on two threads, while chunks of rows keep the CSR gain. Measured by
runs 1 and 2, a 784x304 layer, dense / CSR time at 4,096 and 10,000 rows:
0.51-0.89x (5 % kept) and 0.72-1.08x (2 %) as one product, 0.93-1.51x and
1.30-2.22x by chunks of 256 rows."""

CSR_STORAGE_DENSITY = 0.8
"""A pickled compact model stores a masked layer with fewer kept weights than
this share as CSR parts (float32 values, int16/int32 column indices, int32
row pointers) instead of dense weights and a bool mask."""


# ------------------------------------------------------------ dead neurons


def remove_dead_neurons(coefs, intercepts, masks, activation, prelu_weights=None):
    """Remove hidden neurons that compute nothing, folding constants into biases.

    Parameters
    ----------
    coefs, intercepts : list of ndarray
        Weights ``(n_in, n_out)`` and biases ``(n_out,)`` per layer
        (scikit-learn's orientation).
    masks : list of ndarray of bool
        True where a weight is kept, shaped like ``coefs``.
    activation : str
        Hidden activation (``"identity"``, ``"logistic"``, ``"tanh"``,
        ``"relu"`` or ``"prelu"``).
    prelu_weights : list of ndarray, default=None
        The PReLU slope of each hidden layer (``activation="prelu"`` only).

    Returns
    -------
    coefs, intercepts, masks : list of ndarray
        The smaller network, float64 weights; pruned weights are 0.0. A
        hidden layer is never left empty: its last neuron is kept with zero
        weights.
    kept : list of ndarray of int
        Indices of the kept neurons of each hidden layer, in the input net.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune import remove_dead_neurons
    >>> coefs = [np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]])]
    >>> masks = [np.array([[True, False]]), np.ones((2, 1), bool)]
    >>> intercepts = [np.array([0.0, 0.5]), np.array([0.0])]
    >>> c, b, m, kept = remove_dead_neurons(coefs, intercepts, masks, "relu")
    >>> kept, c[1], b[1]  # neuron 1 outputs relu(0.5) = 0.5, times 4, into b
    ([array([0])], array([[3.]]), array([2.]))
    """
    coefs = [np.where(m, c, 0.0).astype(np.float64) for c, m in zip(coefs, masks)]
    intercepts = [np.asarray(b, dtype=np.float64).copy() for b in intercepts]
    masks = [np.asarray(m, dtype=bool).copy() for m in masks]
    kept = [np.arange(c.shape[1]) for c in coefs[:-1]]
    slopes = list(prelu_weights) if activation == "prelu" else [None] * len(kept)
    changed = True
    while changed:
        changed = False
        for layer in range(len(kept)):
            changed |= _prune_layer(
                coefs, intercepts, masks, kept, layer, activation, slopes
            )
    return coefs, intercepts, masks, kept


def _constant_output(bias, activation, slope):
    """σ(b) of neurons whose signal is their bias alone."""
    s = torch.as_tensor(bias, dtype=torch.float64)
    slope = None if slope is None else torch.as_tensor(slope, dtype=torch.float64)
    return get_activation(activation).function(s, slope).numpy()


def _prune_layer(coefs, intercepts, masks, kept, layer, activation, slopes):
    """One pass over hidden layer ``layer``; whether anything changed."""
    no_input = ~masks[layer].any(axis=0)
    no_output = ~masks[layer + 1].any(axis=1)
    constant = no_input & ~no_output
    if constant.any():  # fold σ(b_i) w_ik into the next layer's biases
        value = _constant_output(intercepts[layer][constant], activation, slopes[layer])
        intercepts[layer + 1] += value @ coefs[layer + 1][constant]
    dead = no_input | no_output
    if not dead.any():
        return False
    if dead.all():  # keep one neuron, with no weights and no effect
        survivor = np.flatnonzero(dead)[-1]
        was_zero = (
            not masks[layer][:, survivor].any() and not masks[layer + 1][survivor].any()
        )
        was_zero &= intercepts[layer][survivor] == 0.0 and len(dead) == 1
        for array in (coefs[layer], masks[layer]):
            array[:, survivor] = 0
        for array in (coefs[layer + 1], masks[layer + 1]):
            array[survivor] = 0
        intercepts[layer][survivor] = 0.0
        dead[survivor] = False
        if was_zero:
            return False
    live = ~dead
    coefs[layer], masks[layer] = coefs[layer][:, live], masks[layer][:, live]
    intercepts[layer] = intercepts[layer][live]
    coefs[layer + 1], masks[layer + 1] = coefs[layer + 1][live], masks[layer + 1][live]
    kept[layer] = kept[layer][live]
    return True


# ---------------------------------------------------------- sparse layers


def _is_sparse_layer(mask, sparse, n_weights):
    if sparse == "auto":
        density = mask.mean() if mask.size else 1.0
        return bool(n_weights >= SPARSE_MIN_WEIGHTS and density <= SPARSE_MAX_DENSITY)
    return bool(sparse)


def sparse_layers_for(masks, sparse="auto"):
    """Which layers ``compact`` stores sparse (one bool per layer).

    Parameters
    ----------
    masks : list of ndarray of bool
        True where a weight is kept, shaped like ``coefs_``.
    sparse : bool or "auto", default="auto"
        True or False for every layer; ``"auto"``: the layers with at least
        :data:`SPARSE_MIN_WEIGHTS` weights of which at most
        :data:`SPARSE_MAX_DENSITY` are kept.

    Returns
    -------
    flags : tuple of bool

    Examples
    --------
    >>> import numpy as np
    >>> from skprune import sparse_layers_for
    >>> masks = [np.random.default_rng(0).random((784, 300)) < 0.03,
    ...          np.ones((300, 10), bool)]
    >>> sparse_layers_for(masks)
    (True, False)
    """
    return tuple(_is_sparse_layer(np.asarray(m), sparse, np.size(m)) for m in masks)


class CompactMLPModule(MLPModule):
    """:class:`MLPModule` that predicts through a plan of padded and sparse layers.

    The dense weights and the masks stay the trained parameters (so the
    network trains on as any other, masks held). Without gradients it
    predicts through a :class:`PredictionPlan` built from them (rebuilt
    whenever a weight, bias or mask has changed): the live input columns
    only (:data:`GATHER_MIN_SAVING`), hidden widths padded to
    :data:`PAD_UNITS`, and the ``sparse_layers`` as CSR matrices (scipy on
    the CPU, torch elsewhere) for blocks of at least :data:`SPARSE_MIN_ROWS`
    rows. Pickled, a sparse layer stores only its kept weights and their
    positions.
    """

    def __init__(self, layer_units=(2, 1), activation="relu", seed=0, sparse_layers=()):
        super().__init__(layer_units, activation, seed)
        flags = tuple(bool(f) for f in sparse_layers)
        self.sparse_layers = flags + (False,) * (len(self.layers) - len(flags))
        self._plan_cache = None

    def forward(self, X):
        if torch.is_grad_enabled():
            return super().forward(X)
        return self.predict_prepared(self.plan().prepare(X))

    def __getstate__(self):  # the plan is a cache: rebuilt after loading
        return {**self.__dict__, "_plan_cache": None}

    def plan(self):
        """The :class:`PredictionPlan` of the current weights (cached)."""
        # Read straight from the parameter and buffer dicts: a plan is looked
        # up on every prediction, and nn.Module's attribute access is slow.
        tensors = [t for layer in self.layers for t in layer._parameters.values()]
        tensors += self._buffers.values()  # the masks
        key = tuple((t._version, t.data_ptr()) for t in tensors if t is not None)
        cached = self._plan_cache
        if cached is None or cached[0] != key:
            with torch.no_grad():
                cached = self._plan_cache = (key, PredictionPlan.of(self))
        return cached[1]

    def prediction_input(self, rows=None):
        """``(columns, width)``: :meth:`predict_prepared` takes float32 rows of
        these input columns (all when None), zero-padded to ``width``; for
        blocks of ``rows`` rows (fewer than :data:`GATHER_MIN_ROWS`: whole
        rows)."""
        plan = self.plan()
        if plan.columns is not None and rows is not None and rows < GATHER_MIN_ROWS:
            return None, self.layer_units[0]
        return plan.columns, plan.widths[0]

    @torch.no_grad()
    def predict_prepared(self, X):
        """Raw output of float32 rows prepared as :meth:`prediction_input`
        says, or of whole input rows (the plan's first layer then covers every
        input column: how a few rows are predicted, ``predict_rows``)."""
        plan = self.plan()
        function_ = get_activation(self.activation).function_
        slopes = [act._parameters.get("weight") for act in self._modules["activations"]]
        for i, slope in enumerate(slopes):
            X = function_(plan.product(i, X), slope)
        return plan.product(len(slopes), X)

    predict_rows = predict_prepared

    def _pattern(self, i):
        mask = getattr(self, f"mask_{i}", None)
        return self.layers[i].weight != 0 if mask is None else mask

    def packed(self):
        """``(config, state)``: the state dict, masked layers as CSR parts.

        A layer is stored by its kept weights and their positions when it is
        a sparse layer, or when that is smaller than its dense weights and
        mask (5 bytes per weight against about 6 per kept weight): how a
        layer is stored does not depend on how it computes.
        """
        config = (self.layer_units, self.activation, self.sparse_layers, self.training)
        state = {k: v.detach() for k, v in self.state_dict().items()}
        for i, flag in enumerate(self.sparse_layers):
            mask = getattr(self, f"mask_{i}", None)
            if flag or (mask is not None and mask.float().mean() < CSR_STORAGE_DENSITY):
                pattern = self._pattern(i)
                state.pop(f"mask_{i}", None)
                weight = state.pop(f"layers.{i}.weight")
                state[f"csr_{i}"] = _csr_parts(weight, pattern)
        return config, state


def _csr_of(weight, pattern):
    """A CSR matrix of ``weight``'s entries at ``pattern`` (scipy on the CPU)."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        csr = weight.detach().masked_fill(~pattern, 0.0).to_sparse_csr()
    if weight.device.type != "cpu":
        return csr
    return sp.csr_matrix(
        (csr.values().numpy(), csr.col_indices().numpy(), csr.crow_indices().numpy()),
        shape=tuple(weight.shape),
    )


def _csr_parts(weight, pattern):
    """(row pointers, column indices, values) of the kept weights, small ints."""
    rows, cols = torch.nonzero(pattern, as_tuple=True)
    counts = torch.bincount(rows, minlength=weight.shape[0])
    crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)]).to(torch.int32)
    index_type = torch.int16 if weight.shape[1] <= 2**15 else torch.int32
    return crow, cols.to(index_type), weight[rows, cols].clone()


class PredictionPlan(NamedTuple):
    """How a :class:`CompactMLPModule` predicts: its layers as computed.

    ``columns``: the gathered input columns (a numpy index, None for all);
    ``widths``: the padded width of each layer's input and of the output;
    ``weights``/``biases``: each layer zero-padded to those widths,
    ``(out, in)``; ``csr``: the CSR matrix of each sparse layer (None for the
    dense ones); ``full_first``: when the plan gathers columns, the first
    layer's weights over every input column (out padded), for small blocks
    of whole rows (:data:`GATHER_MIN_ROWS`).
    """

    columns: np.ndarray | None
    widths: tuple
    weights: list
    biases: list
    csr: list
    full_first: torch.Tensor | None = None

    @classmethod
    def of(cls, module):
        """The plan of ``module``'s current weights, masks and ``sparse_layers``."""
        layers, masks = module.layers, module.masks()
        patterns = [
            layer.weight != 0 if m is None else m for layer, m in zip(layers, masks)
        ]
        columns = _gathered_columns(patterns[0])
        n_in = layers[0].in_features if columns is None else _padded(len(columns))
        hidden = [_padded(layer.out_features) for layer in layers[:-1]]
        widths = (n_in, *hidden, layers[-1].out_features)
        weights, biases, csr, full_first = [], [], [], None
        for i, (layer, pattern) in enumerate(zip(layers, patterns)):
            weight = layer.weight.masked_fill(~pattern, 0.0)
            if i == 0 and columns is not None:
                full_first = _pad(weight, (widths[1], weight.shape[1]))
                weight = weight[:, columns]
            weights.append(_pad(weight, (widths[i + 1], widths[i])))
            biases.append(_pad(layer.bias[None], (1, widths[i + 1]))[0])
            sparse = module.sparse_layers[i]
            csr.append(_csr_of(weights[-1], weights[-1] != 0) if sparse else None)
        index = None if columns is None else columns.cpu().numpy()
        return cls(index, widths, weights, biases, csr, full_first)

    def prepare(self, X):
        """Full input rows (a float32 tensor) as the plan's first layer takes them."""
        if self.columns is None:
            return X
        out = X.new_zeros((X.shape[0], self.widths[0]))
        out[:, : len(self.columns)] = X[:, torch.from_numpy(self.columns).to(X.device)]
        return out

    def product(self, i, X):
        """Layer ``i``'s affine map of prepared rows ``X`` (``widths[i]`` wide,
        or, for the first layer of a plan that gathers, whole input rows)."""
        matrix, bias = self.csr[i], self.biases[i]
        if i == 0 and self.full_first is not None and X.shape[1] != self.widths[0]:
            return torch.nn.functional.linear(X, self.full_first, bias)
        if matrix is None or X.shape[0] < SPARSE_MIN_ROWS:
            return torch.nn.functional.linear(X, self.weights[i], bias)
        if isinstance(matrix, sp.csr_matrix):  # (W X^T)^T on the CPU, by chunks
            return _csr_product(matrix, X.numpy(), bias)
        return torch.addmm(bias[:, None], matrix, X.T).T


def _csr_product(matrix, X, bias):
    """``X @ matrix.T + bias`` in chunks of :data:`SPARSE_CHUNK_ROWS` rows."""
    out = torch.empty((X.shape[0], matrix.shape[0]), dtype=bias.dtype)
    for start in range(0, X.shape[0], SPARSE_CHUNK_ROWS):
        chunk = X[start : start + SPARSE_CHUNK_ROWS]
        out[start : start + len(chunk)] = torch.from_numpy(matrix @ chunk.T).T
    return out.add_(bias)


def _padded(n):
    """``n`` rounded up to a multiple of :data:`PAD_UNITS`."""
    return -(-n // PAD_UNITS) * PAD_UNITS


def _gathered_columns(pattern):
    """Indices of the input columns with a kept weight, or None to take all."""
    live = pattern.any(dim=0)
    n_live = int(live.sum())
    saved = (live.numel() - n_live) * _padded(pattern.shape[0])
    if saved < GATHER_MIN_SAVING * n_live or _padded(n_live) >= live.numel():
        return None  # (a gathered input as wide as the whole one saves nothing)
    return torch.nonzero(live, as_tuple=True)[0]


def _pad(matrix, shape):
    """A copy of ``matrix`` zero-padded to ``shape`` (at the end of each axis)."""
    out = matrix.new_zeros(shape)
    out[: matrix.shape[0], : matrix.shape[1]] = matrix
    return out.detach()


class CompactMLPNet(MLPNet):
    """The net of a compacted MLP: pickles its module packed.

    The module is pickled by :meth:`CompactMLPModule.packed` and the optimizer
    by its ``state_dict`` (a torch optimizer refers to the parameters
    themselves, which would bring the dense weights back into the pickle);
    both are rebuilt on loading, Adam's moments included.
    """

    def __getstate__(self):
        attributes = self.__dict__
        module, optimizer = attributes["module_"], attributes["optimizer_"]
        attributes["module_"] = ("packed", *module.packed())
        attributes["optimizer_"] = ("state_dict", optimizer.state_dict())
        try:
            return super().__getstate__()
        finally:
            attributes["module_"], attributes["optimizer_"] = module, optimizer

    def __setstate__(self, state):
        super().__setstate__(state)
        attributes = self.__dict__
        attributes["module_"] = _rebuild_module(*attributes["module_"][1:])
        optimizer_state = attributes.pop("optimizer_")[1]
        self.initialize_optimizer()
        self.optimizer_.load_state_dict(optimizer_state)


def _rebuild_module(config, state):
    units, activation, sparse_layers, training = config
    module = CompactMLPModule(units, activation, sparse_layers=sparse_layers)
    device = state["layers.0.bias"].device
    for i in range(len(units) - 1):
        if f"csr_{i}" in state:
            crow, cols, values = state.pop(f"csr_{i}")
            rows = torch.repeat_interleave(
                torch.arange(len(crow) - 1, device=crow.device), crow.diff()
            )
            out_in = (units[i + 1], units[i])
            weight = torch.zeros(out_in, dtype=values.dtype, device=values.device)
            mask = torch.zeros(out_in, dtype=torch.bool, device=values.device)
            weight[rows, cols.long()] = values
            mask[rows, cols.long()] = True
            state[f"layers.{i}.weight"], state[f"mask_{i}"] = weight, mask
    masks = {k: state.pop(k) for k in list(state) if k.startswith("mask_")}
    module.to(device=device)
    module.load_state_dict(state, strict=True)
    module.set_masks([masks.get(f"mask_{i}") for i in range(len(module.layers))])
    return module.train(training)


# ----------------------------------------------------------------- compact


def _fitted_mlp(estimator):
    """The fitted skprune MLP of an MLP or a fitted CompensatedPruner."""
    from ._pruner import CompensatedPruner

    if isinstance(estimator, CompensatedPruner):
        check_is_fitted(estimator)
        names = getattr(estimator, "feature_names_in_", None)
        estimator = estimator.estimator_
        if names is not None and not hasattr(estimator, "feature_names_in_"):
            estimator = copy.copy(estimator)  # the pruner's column names
            estimator.feature_names_in_ = names
    if not isinstance(estimator, _BaseMLP):
        raise TypeError(
            "compact expects a fitted skprune MLPClassifier, MLPRegressor or "
            f"CompensatedPruner; got {type(estimator).__name__}: {estimator!r}."
        )
    check_is_fitted(estimator)
    if not isinstance(estimator.net_.module_, MLPModule):
        raise TypeError(
            "compact needs skprune's own network module; got a net whose module is "
            f"{type(estimator.net_.module_).__name__} (set through net_params)."
        )
    return estimator


def _check_sparse(sparse):
    if sparse == "auto" or isinstance(sparse, bool | np.bool_):
        return sparse
    raise ValueError(f"sparse must be True, False or 'auto'; got {sparse!r}.")


def compact(estimator, *, sparse="auto"):
    """A fitted copy of a pruned MLP without its dead parts, smaller and faster.

    Hidden neurons with no kept incoming weight are folded into the next
    layer's biases (they output the constant ``σ(b_i)``), neurons with no
    kept outgoing weight are removed, until nothing changes. Each layer is
    then kept dense or stored sparse. The compact model predicts through a
    plan of its weights: the live input columns only (when that saves
    enough of the first product, :data:`GATHER_MIN_SAVING`), hidden widths zero-padded to
    multiples of :data:`PAD_UNITS`, sparse layers as CSR. The result is an MLP of the same class
    that predicts the same (to float32 rounding), takes the same
    ``n_features_in_`` columns, pickles and clones, and trains on with its
    remaining masks held (``partial_fit``, ``warm_start``). Its
    ``hidden_layer_sizes`` are the compacted widths, so ``clone`` gives an
    unfitted MLP of the smaller architecture.

    Parameters
    ----------
    estimator : MLPClassifier, MLPRegressor or CompensatedPruner
        A fitted skprune MLP (pruned or not), or a fitted pruner (its
        ``estimator_`` is compacted).
    sparse : bool or "auto", default="auto"
        Store every layer sparse (True), none (False), or those with at most
        :data:`SPARSE_MAX_DENSITY` of their weights kept and at least
        :data:`SPARSE_MIN_WEIGHTS` weights (``"auto"``, a rule measured by
        ``benchmarks/inference_speed.py``).

    Returns
    -------
    compacted : MLPClassifier or MLPRegressor
        A new fitted estimator; ``estimator`` is not changed.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skprune import CompensatedPruner, MLPClassifier, compact
    >>> X, y = load_digits(return_X_y=True)
    >>> mlp = MLPClassifier((32, 32), max_iter=20, random_state=0)
    >>> pruner = CompensatedPruner(mlp, prune_ratio=0.9, fine_tune_epochs=0)
    >>> small = compact(pruner.fit(X / 16, y))
    >>> sum(c.size for c in small.coefs_) < sum(c.size for c in pruner.estimator_.coefs_)
    True
    >>> bool(abs(small.predict_proba(X / 16) - pruner.predict_proba(X / 16)).max() < 1e-5)
    True
    """
    mlp = _fitted_mlp(estimator)
    sparse = _check_sparse(sparse)
    masks = mlp.masks_ or [np.ones(c.shape, dtype=bool) for c in mlp.coefs_]
    module = mlp.net_.module_
    slopes = mlp.prelu_weights_ if module.activation == "prelu" else None
    coefs, intercepts, masks, kept = remove_dead_neurons(
        mlp.coefs_, mlp.intercepts_, masks, module.activation, slopes
    )
    flags = sparse_layers_for(masks, sparse)
    return _rebuilt(mlp, coefs, intercepts, masks, flags, kept)


def _rebuilt(mlp, coefs, intercepts, masks, sparse_layers, kept):
    """A copy of ``mlp`` whose net is a :class:`CompactMLPModule` of these weights."""
    widths = tuple(len(k) for k in kept)
    new = copy.deepcopy(mlp)
    new.set_params(hidden_layer_sizes=widths)
    new.hidden_layer_sizes_ = widths
    units = (coefs[0].shape[0], *widths, coefs[-1].shape[1])
    new.net_.set_params(
        module=CompactMLPModule,
        module__layer_units=units,
        module__sparse_layers=sparse_layers,
    )
    new.net_.__class__ = CompactMLPNet  # a subclass adding only pickling
    module = new.net_.module_
    with torch.no_grad():
        for layer, coef, bias in zip(module.layers, coefs, intercepts):
            layer.weight.copy_(torch.as_tensor(coef.T, dtype=torch.float32))
            layer.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        for act, old in zip(module.activations, mlp.net_.module_.activations):
            if hasattr(act, "weight"):
                act.weight.copy_(old.weight)
    new.set_masks(None if all(m.all() for m in masks) else masks)
    return new
