"""The torch side of skprune's MLPs: module, tensor data, batching and the
skorch net that trains them.

The net is a :class:`skorch.NeuralNet` whose per-batch overhead is cut down to
what an MLP on in-memory data needs: batches are slices of tensors built once
per fit (no per-item ``Dataset`` access and collation), the gradients of
skprune's own module and loss are computed by one explicit backward pass
(:func:`forward_backward`, no autograd graph), the optimizer step takes no
closure, and the Adam step is fused where torch offers it. Callbacks, history
and ``net_params`` work as in any skorch net; a module or criterion of the
user's own is trained through autograd as usual.
"""

from __future__ import annotations

import copy
import functools
import io
import math
import pickle
import sys

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EpochTimer, PassthroughScoring, PrintLog
from skorch.utils import TeeGenerator
from torch import nn
from torch.nn import functional as F

_aten = torch.ops.aten

ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "prelu")

# Hidden-layer activations as torch modules; PReLU has a learned slope.
_ACTIVATION_MODULES = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "prelu": nn.PReLU,
}


def glorot_bound(fan_in: int, fan_out: int, activation: str) -> float:
    """Half-width of scikit-learn's uniform Glorot initialisation."""
    factor = 2.0 if activation == "logistic" else 6.0
    return math.sqrt(factor / (fan_in + fan_out))


class MLPModule(nn.Module):
    """A fully connected network: affine layers, one activation between them.

    The output layer is affine (raw scores, e.g. logits). ``mask_<l>`` buffers,
    when present, hold the pruning masks of layer ``l`` in torch's
    ``(out, in)`` orientation; :meth:`apply_masks_` zeroes pruned weights.
    """

    def __init__(self, layer_units=(2, 1), activation="relu", seed=0):
        super().__init__()
        self.layer_units = tuple(int(u) for u in layer_units)
        self.activation = activation
        # torch's default initialisation draws from the global generator:
        # restore it, the weights are drawn again from ``seed`` below.
        with torch.random.fork_rng(devices=[]):
            self.layers = nn.ModuleList(
                nn.Linear(n_in, n_out)
                for n_in, n_out in zip(self.layer_units[:-1], self.layer_units[1:])
            )
        self.activations = nn.ModuleList(
            _ACTIVATION_MODULES[activation]() for _ in self.layers[:-1]
        )
        self.reset_parameters(seed)

    def reset_parameters(self, seed):
        """scikit-learn's initialisation, drawn from a private generator."""
        generator = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for layer in self.layers:
                bound = glorot_bound(
                    layer.in_features, layer.out_features, self.activation
                )
                for param in (layer.weight, layer.bias):
                    values = torch.rand(param.shape, generator=generator)
                    param.copy_((2 * values - 1) * bound)

    def forward(self, X):
        for layer, activation in zip(self.layers[:-1], self.activations):
            X = activation(layer(X))
        return self.layers[-1](X)

    def masks(self):
        """Masks per layer, ``None`` where the layer is unpruned."""
        return [getattr(self, f"mask_{i}", None) for i in range(len(self.layers))]

    def set_masks(self, masks):
        """Register masks (``(out, in)`` bool tensors or None) and apply them."""
        for i, mask in enumerate(masks):
            name = f"mask_{i}"
            if mask is None:
                if name in self._buffers:
                    del self._buffers[name]
                continue
            weight = self.layers[i].weight
            self.register_buffer(name, mask.to(device=weight.device, dtype=torch.bool))
        self.apply_masks_()

    @torch.no_grad()
    def apply_masks_(self):
        """Set every pruned weight to exactly 0.0."""
        buffers = self._buffers
        if not buffers:  # unpruned: nothing to do (hot path)
            return
        # Runs after every optimizer step: the dicts are read directly, not
        # through nn.Module's attribute lookup.
        for i, layer in enumerate(self._modules["layers"]):
            mask = buffers.get(f"mask_{i}")
            if mask is not None:
                layer._parameters["weight"].masked_fill_(~mask, 0.0)


def _take(tensor, index):
    if tensor is None:
        return None
    if isinstance(index, torch.Tensor):
        return torch.index_select(tensor, 0, index)
    return tensor[index]


class TensorData(torch.utils.data.Dataset):
    """Features, encoded targets and sample weights as tensors on one device.

    Batches are ``(X, (y, sample_weight))``; ``y`` and ``sample_weight`` may be
    None (prediction, unweighted training).
    """

    def __init__(self, X, y=None, sample_weight=None):
        self.X = X
        self.y = y
        self.sample_weight = sample_weight

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        return _take(self.X, index), (
            _take(self.y, index),
            _take(self.sample_weight, index),
        )

    def take(self, index):
        """The rows ``index`` (slice or index tensor) as a new TensorData."""
        return TensorData(
            _take(self.X, index), _take(self.y, index), _take(self.sample_weight, index)
        )


class BatchIterator:
    """Mini-batches sliced from a :class:`TensorData`, optionally shuffled.

    ``random_state`` is a numpy ``RandomState`` owned by the estimator, so the
    permutation sequence continues across ``partial_fit`` calls and no global
    random state is touched. Any other dataset falls back to a DataLoader.
    """

    def __init__(self, dataset, batch_size=200, shuffle=False, random_state=None):
        if isinstance(dataset, torch.utils.data.Subset) and isinstance(
            dataset.dataset, TensorData
        ):
            dataset = dataset.dataset.take(torch.as_tensor(dataset.indices))
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.random_state = random_state

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        data = self.dataset
        if not isinstance(data, TensorData):
            yield from torch.utils.data.DataLoader(
                data, batch_size=self.batch_size, shuffle=self.shuffle
            )
            return
        n = len(data)
        if not self.shuffle:
            for start in range(0, n, self.batch_size):
                yield data[start : start + self.batch_size]
            return
        rng = self.random_state or np.random.mtrand._rand
        order = torch.from_numpy(rng.permutation(n)).to(data.X.device)
        # Gathering batch by batch is much faster than permuting all rows
        # at once (the gathered block stays in cache).
        for start in range(0, n, self.batch_size):
            yield data[order[start : start + self.batch_size]]


def softmax_cross_entropy(raw, y):
    """Per-sample multiclass log-loss from logits and class indices."""
    return F.cross_entropy(raw, y, reduction="none")


def binary_cross_entropy(raw, y):
    """Per-sample log-loss summed over independent binary outputs."""
    return F.binary_cross_entropy_with_logits(raw, y, reduction="none").sum(dim=1)


def half_squared_error(raw, y):
    """Per-sample half squared error averaged over outputs."""
    return 0.5 * (raw - y).pow(2).mean(dim=1)


LOSSES = {
    "softmax": softmax_cross_entropy,
    "logistic": binary_cross_entropy,
    "identity": half_squared_error,
}


class PerSampleLoss(nn.Module):
    """Criterion returning one loss per sample (selected by output activation)."""

    def __init__(self, out_activation="identity"):
        super().__init__()
        self.out_activation = out_activation

    def forward(self, raw, y):
        return LOSSES[self.out_activation](raw, y)


def l2_penalty(weights, alpha):
    """``0.5 * alpha * sum of squared entries`` of ``weights`` (a 0-d tensor)."""
    return 0.5 * alpha * torch.stack(torch._foreach_norm(weights)).square().sum()


def _loss_and_output_delta(raw, y, out_activation):
    """Per-sample losses and d(loss_i)/d(raw_i), without autograd."""
    if out_activation == "softmax":
        log_proba = torch.log_softmax(raw, dim=1)
        index = y.unsqueeze(1)
        losses = log_proba.gather(1, index).squeeze(1).neg_()
        delta = log_proba.exp_()
        delta.scatter_add_(1, index, torch.full_like(index, -1, dtype=delta.dtype))
    elif out_activation == "logistic":
        losses = binary_cross_entropy(raw, y)
        delta = torch.sigmoid(raw).sub_(y)
    else:
        delta = raw - y
        losses = delta.square().mean(dim=1).mul_(0.5)
        delta.div_(raw.shape[1])
    return losses, delta


# Hidden activations as functions ``(s, slope) -> σ(s)``; ``slope`` is the
# PReLU weight (ignored by the others).
ACTIVATION_FUNCTIONS = {
    "identity": lambda s, slope: s,
    "logistic": lambda s, slope: torch.sigmoid(s),
    "tanh": lambda s, slope: torch.tanh(s),
    "relu": lambda s, slope: torch.relu(s),
    "prelu": lambda s, slope: F.prelu(s, slope),
}


def _back_through(delta, activation, output, z, slope):
    """d/d(input) of a hidden activation from d/d(output).

    Also returns the gradient of the PReLU slope (None for the others). The
    derivatives are those of torch's autograd (the same backward kernels for
    relu, tanh and logistic), also at 0.
    """
    if activation == "relu":
        return _aten.threshold_backward(delta, output, 0.0), None
    if activation == "tanh":
        return _aten.tanh_backward(delta, output), None
    if activation == "logistic":
        return _aten.sigmoid_backward(delta, output), None
    if activation == "prelu":
        positive = z > 0
        slope_grad = (delta * z).masked_fill_(positive, 0).sum().reshape(slope.shape)
        return delta.mul_(torch.where(positive, 1.0, slope)), slope_grad
    return delta, None


@torch.no_grad()
def forward_backward(module, X, y, sample_weight, out_activation, alpha):
    """Loss of one batch and its gradients, written to each parameter's ``.grad``.

    The loss is scikit-learn's: ``(sum_i w_i loss_i + 0.5 * alpha * ||W||^2)
    / sum_i w_i``. The backward pass is written out layer by layer (as
    scikit-learn's own MLP does), which for these small dense nets is much
    cheaper than recording and replaying an autograd graph; the L2 term's
    gradient is folded into each weight gradient's matrix product. Returns
    ``(loss, raw_output)``.
    """
    kind = module.activation
    activate = ACTIVATION_FUNCTIONS[kind]
    weights = [layer.weight for layer in module.layers]
    biases = [layer.bias for layer in module.layers]
    slopes = [getattr(activation, "weight", None) for activation in module.activations]
    inputs, pre_activations = [X], []
    for weight, bias, slope in zip(weights[:-1], biases[:-1], slopes):
        z = torch.addmm(bias, inputs[-1], weight.t())
        pre_activations.append(z)
        inputs.append(activate(z, slope))
    raw = torch.addmm(biases[-1], inputs[-1], weights[-1].t())

    losses, delta = _loss_and_output_delta(raw, y, out_activation)
    if sample_weight is None:
        total = len(X)
        loss = losses.sum()
        delta.div_(total)
    else:
        total = float(sample_weight.sum())
        loss = losses @ sample_weight
        delta.mul_((sample_weight / total).unsqueeze(1))
    if alpha:
        loss = loss + l2_penalty(weights, alpha)
    decay = alpha / total
    for i in range(len(weights) - 1, -1, -1):
        weight = weights[i]
        weight.grad = torch.addmm(weight, delta.t(), inputs[i], beta=decay)
        biases[i].grad = delta.sum(dim=0)
        if i:
            slope = slopes[i - 1]
            delta, slope_grad = _back_through(
                delta @ weight, kind, inputs[i], pre_activations[i - 1], slope
            )
            if slope_grad is not None:
                slope.grad = slope_grad
    return loss / total, raw


@functools.cache
def fused_adam_supported(device: str) -> bool:
    """Whether ``torch.optim.Adam(fused=True)`` runs on ``device``."""
    try:
        param = nn.Parameter(torch.zeros(2, device=device))
        optimizer = torch.optim.Adam([param], fused=True)
        param.grad = torch.ones_like(param)
        optimizer.step()
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


_CPU_TORCH_STATE = "__skprune_cpu_torch_state__"


def _on_cpu(device):
    """Whether a net with this ``device`` setting keeps its tensors on the CPU."""
    return device is None or torch.device(device).type == "cpu"


class _StoragePickler(pickle.Pickler):
    """Pickles each CPU tensor storage once, as its raw bytes and dtype.

    This is what ``torch.save`` does inside its archive, without an archive
    per storage. Storages on other devices are pickled the usual way.
    """

    def __init__(self, file):
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self._index = {}

    def persistent_id(self, obj):
        if not isinstance(obj, torch.storage.TypedStorage):
            return None
        untyped = obj._untyped_storage
        if untyped.device.type != "cpu":
            return None
        key = untyped._cdata
        if key in self._index:  # shared by several tensors: saved once
            return ("storage", self._index[key], obj.dtype, None)
        self._index[key] = index = len(self._index)
        raw = torch.empty(0, dtype=torch.uint8).set_(untyped).numpy().tobytes()
        return ("storage", index, obj.dtype, raw)


class _StorageUnpickler(pickle.Unpickler):
    """Loads what :class:`_StoragePickler` wrote, every tensor on the CPU.

    Raw storage bytes are copied into fresh storages (no code is run); a
    storage pickled the usual way (it was on another device) goes through
    ``torch.load(weights_only=True)`` onto the CPU, as skorch loads it.
    """

    def __init__(self, file):
        super().__init__(file)
        self._storages = {}

    def persistent_load(self, pid):
        kind, index, dtype, raw = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        if raw is not None:
            self._storages[index] = (
                torch.frombuffer(bytearray(raw), dtype=torch.uint8).untyped_storage()
                if raw
                else torch.UntypedStorage(0)
            )
        return torch.storage.TypedStorage(
            wrap_storage=self._storages[index], dtype=dtype, _internal=True
        )

    def find_class(self, module, name):
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _load_storage_on_cpu
        return super().find_class(module, name)


def _load_storage_on_cpu(data):
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _dump_cpu_storages(obj):
    buffer = io.BytesIO()
    _StoragePickler(buffer).dump(obj)
    return sys.byteorder, buffer.getvalue()


def _load_cpu_storages(packed):
    byteorder, data = packed
    if byteorder != sys.byteorder:
        raise pickle.UnpicklingError(
            f"This net's tensors were pickled on a {byteorder}-endian machine and "
            f"cannot be loaded on this {sys.byteorder}-endian one; move the net to "
            "the target machine's byte order with torch.save / torch.load of "
            "net_.module_.state_dict() instead."
        )
    return _StorageUnpickler(io.BytesIO(data)).load()


class MLPNet(NeuralNet):
    """The skorch net behind :class:`skprune.MLPClassifier` / ``MLPRegressor``.

    Adds ``alpha``, scikit-learn's L2 penalty (``0.5 * alpha * ||W||^2``
    divided by the batch's total sample weight) and sample weights in the
    loss, and holds pruning masks after every optimizer step.
    """

    def __init__(self, module, *args, alpha=0.0, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.alpha = alpha

    @property
    def _default_callbacks(self):
        # PrintLog formats a table every epoch even when silent: only add it
        # when something is printed.
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
        ]
        return callbacks + ([("print_log", PrintLog())] if self.verbose else [])

    def get_dataset(self, X, y=None):
        if isinstance(X, TensorData):
            return X
        if isinstance(X, np.ndarray) and (y is None or isinstance(y, np.ndarray)):
            device = self.device
            X = torch.as_tensor(X, dtype=torch.float32, device=device)
            y = None if y is None else torch.as_tensor(y, device=device)
            return TensorData(X, y)
        return super().get_dataset(X, y)

    def __getstate__(self):
        # The history holds a dict per batch: pickled as one bytes object it
        # is loaded, deep-copied and hashed (joblib's Memory, workers of a
        # parallel search) without walking thousands of small objects.
        if _on_cpu(self.device):
            # skorch saves every tensor storage with its own torch.save (so
            # that a CUDA net loads on a machine without CUDA); a CPU net's
            # storages are kept as raw bytes instead, about 8x faster to load.
            state = self.__dict__.copy()
            torch_state = {
                key: state.pop(key)
                for key in list(state)
                if isinstance(key, str)
                and key.startswith(tuple(self.cuda_dependent_attributes_))
            }
            state[_CPU_TORCH_STATE] = _dump_cpu_storages(torch_state)
        else:
            state = super().__getstate__()
        history = state.pop("history_", None)
        if history is not None:
            state["__packed_history__"] = pickle.dumps(history, pickle.HIGHEST_PROTOCOL)
        return state

    def __setstate__(self, state):
        packed = state.pop("__packed_history__", None)
        if packed is not None:
            state["history_"] = pickle.loads(packed)
        if _CPU_TORCH_STATE in state:
            state.update(_load_cpu_storages(state.pop(_CPU_TORCH_STATE)))
            self.__dict__.update(state)
        else:
            super().__setstate__(state)

    def __deepcopy__(self, memo):
        # Without this, deepcopy would go through __getstate__ and serialise
        # the torch state; copying each attribute in memory is cheaper.
        copied = type(self).__new__(type(self))
        memo[id(self)] = copied
        for key, value in self.__dict__.items():
            if key == "history_":  # one pickle round trip, not a dict walk
                value = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
            else:
                value = copy.deepcopy(value, memo)
            copied.__dict__[key] = value
        return copied

    def _set_training(self, training=True):
        # Switching modes walks every submodule; skip it when nothing changes.
        if self.module_.training != training or self.criterion_.training != training:
            super()._set_training(training)

    @torch.no_grad()
    def penalty(self):
        """``0.5 * alpha * sum of squared weights`` (biases excluded).

        Its gradient is added in :meth:`train_step` directly (``alpha * W``),
        which is cheaper than differentiating it.
        """
        if not self.alpha:
            return 0.0
        return l2_penalty([layer.weight for layer in self.module_.layers], self.alpha)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y, sample_weight = (
            y_true if isinstance(y_true, tuple | list) else (y_true, None)
        )
        losses = self.criterion_(y_pred, y)
        total = len(losses) if sample_weight is None else sample_weight.sum()
        loss = losses.sum() if sample_weight is None else losses @ sample_weight
        return (loss + self.penalty()) / total

    def train_step(self, batch, **fit_params):
        """One optimizer step without a closure, then the masks are re-applied."""
        if self._explicit_backward(batch, fit_params):
            # Every gradient is written afresh: nothing to zero first.
            self._set_training(True)
            X, (y, sample_weight) = batch
            loss, raw = forward_backward(
                self.module_,
                X,
                y,
                sample_weight,
                self.criterion_.out_activation,
                self.alpha,
            )
            step = {"loss": loss, "y_pred": raw}
        else:
            self._zero_grad_optimizer(set_to_none=True)
            step = self.train_step_single(batch, **fit_params)
            if self.alpha:
                self._add_penalty_gradient(batch)
        if self._listens_to_grads():
            self.notify(
                "on_grad_computed",
                named_parameters=TeeGenerator(self.get_all_learnable_params()),
                batch=batch,
                training=True,
            )
        self._step_optimizer(None)
        self.module_.apply_masks_()
        return step

    def _explicit_backward(self, batch, fit_params):
        """Whether :func:`forward_backward` computes this step's gradients.

        It does for skprune's own module and criterion on its own batches;
        anything else (a user's module or criterion through ``net_params``,
        a compiled module, extra forward arguments) goes through autograd.
        """
        return (
            not fit_params
            and type(self.module_) is MLPModule
            and type(self.criterion_) is PerSampleLoss
            and isinstance(batch, tuple | list)
            and isinstance(batch[1], tuple | list)
        )

    def _listens_to_grads(self):
        # Building the parameter generator for on_grad_computed costs about
        # as much as the rest of a small step: only do it for a listener.
        return any(
            type(cb).on_grad_computed is not Callback.on_grad_computed
            for _, cb in self.callbacks_
        )

    def _add_penalty_gradient(self, batch):
        X, target = batch
        weights = [layer.weight for layer in self.module_.layers]
        sample_weight = target[1] if isinstance(target, tuple | list) else None
        total = len(X) if sample_weight is None else float(sample_weight.sum())
        torch._foreach_add_(
            [w.grad for w in weights], weights, alpha=self.alpha / total
        )


class SklearnStopping(Callback):
    """scikit-learn's MLP stopping rule as a skorch callback.

    Without early stopping, training stops once the training loss has not
    improved by ``tol`` for more than ``n_iter_no_change`` epochs; with it,
    the validation score (from ``score_fn(net)``) is used and the best
    parameters are kept to be restored at the end.
    """

    def __init__(self, tol=1e-4, n_iter_no_change=10, score_fn=None):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.score_fn = score_fn

    def initialize(self):
        self.best_loss_ = np.inf
        self.best_validation_score_ = -np.inf
        self.validation_scores_ = []
        self.best_state_ = None
        self.no_improvement_count_ = 0
        self.stopped_ = False
        return self

    def on_epoch_end(self, net, **kwargs):
        if self.score_fn is None:
            improved, best = self._update_loss(net.history[-1, "train_loss"])
        else:
            improved, best = self._update_score(net)
            if best:
                self.best_state_ = {
                    k: v.detach().clone() for k, v in net.module_.state_dict().items()
                }
        self.no_improvement_count_ = 0 if improved else self.no_improvement_count_ + 1
        if self.no_improvement_count_ > self.n_iter_no_change:
            self.stopped_ = True
            raise KeyboardInterrupt

    def _update_loss(self, loss):
        improved = loss <= self.best_loss_ - self.tol
        best = loss < self.best_loss_
        self.best_loss_ = min(loss, self.best_loss_)
        return improved, best

    def _update_score(self, net):
        score = float(self.score_fn(net))
        self.validation_scores_.append(score)
        net.history.record("valid_score", score)
        improved = score >= self.best_validation_score_ + self.tol
        best = score > self.best_validation_score_
        self.best_validation_score_ = max(score, self.best_validation_score_)
        return improved, best
