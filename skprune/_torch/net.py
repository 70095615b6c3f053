"""The skorch net that trains skprune's MLPs.

The net is a :class:`skorch.NeuralNet` whose per-batch overhead is cut down to
what an MLP on in-memory data needs: batches are slices of tensors built once
per fit (no per-item ``Dataset`` access and collation), the gradients of
skprune's own module and loss are computed by one explicit backward pass
(:func:`~skprune._torch.losses.forward_backward`, no autograd graph), the
optimizer step takes no closure, the Adam step is fused where torch
offers it, and the batch losses of an epoch are read back from the device
once, at the end of the epoch, where no callback listens per batch.
Callbacks, history and ``net_params`` work as in any skorch net; a
module or criterion of the user's own is trained through autograd as usual.
"""

from __future__ import annotations

import copy
import functools
import pickle

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import get_len
from skorch.utils import TeeGenerator
from torch import nn

from . import versions
from .data import TensorData
from .losses import PerSampleLoss, forward_backward, l2_penalty
from .module import MLPModule
from .serialization import (
    CPU_TORCH_STATE,
    dump_cpu_storages,
    load_cpu_storages,
    on_cpu,
)
from .solvers import fused_step

LOSS_CHUNK = 1024
"""Batch losses kept on the device are stacked into one tensor per this many."""

_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")


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
        if on_cpu(self.device) and versions.FAST_PICKLING:
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
            state[CPU_TORCH_STATE] = dump_cpu_storages(torch_state)
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
        if CPU_TORCH_STATE in state:
            state.update(load_cpu_storages(state.pop(CPU_TORCH_STATE)))
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

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One epoch of training or validation, its losses read back once.

        skorch reads every batch's loss with ``.item()``: on a GPU, a copy to
        the host and a wait for the device after each batch. Where nothing
        listens per batch (:meth:`_listens_to_batches`), the losses stay on
        the device and are read back together at the end of the epoch, then
        recorded in the history as skorch records them (one ``batches`` row
        per batch with ``{prefix}_loss`` and ``{prefix}_batch_size``, then
        ``{prefix}_batch_count``). Otherwise skorch's own loop runs.
        """
        if iterator is None:
            return
        if self._listens_to_batches():
            super().run_single_epoch(
                iterator, training, prefix, step_fn=step_fn, **fit_params
            )
            return
        losses, sizes = DeferredLosses(), []
        try:
            for batch in iterator:
                losses.append(step_fn(batch, **fit_params)["loss"])
                sizes.append(_batch_size(batch))
        finally:  # an interrupted epoch keeps its finished batches, as skorch's
            self._record_batches(prefix, losses.read(), sizes)
        self.history.record(prefix + "_batch_count", len(sizes))

    def _record_batches(self, prefix, losses, sizes):
        """The history rows skorch's per-batch loop would have written."""
        for loss, size in zip(losses, sizes):
            self.history.new_batch()  # what skorch's on_batch_begin does
            self.history.record_batch(prefix + "_loss", loss)
            self.history.record_batch(prefix + "_batch_size", size)

    def _listens_to_batches(self):
        """Whether anything needs the history or the step during an epoch.

        True when the net's or a callback's ``on_batch_begin``,
        ``on_batch_end`` or ``on_grad_computed`` is not skorch's default
        (which do nothing, apart from the net's ``on_batch_begin`` opening
        the batch's history row), or on a skorch version the loop was not
        tested with.
        """
        if not versions.FAST_TRAIN_STEP:
            return True
        defaults = [(self, NeuralNet)] + [(cb, Callback) for _, cb in self.callbacks_]
        return any(
            getattr(getattr(obj, name), "__func__", None) is not getattr(base, name)
            for obj, base in defaults
            for name in _BATCH_HOOKS
        )

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
        if sample_weight is None:
            return (losses.sum() + self.penalty()) / len(losses)
        total = sample_weight.sum()
        if not total:  # rows of weight 0 add no loss (and no gradient)
            return torch.nan_to_num(losses) @ sample_weight  # 0, differentiable
        return (losses @ sample_weight + self.penalty()) / total

    def train_step(self, batch, **fit_params):
        """One optimizer step without a closure, then the masks are re-applied.

        On a skorch version this step was not tested with
        (:data:`~skprune._torch.versions.SKORCH_TESTED`), skorch's own
        ``train_step`` runs instead, through autograd.
        """
        if not versions.FAST_TRAIN_STEP:
            step = super().train_step(batch, **fit_params)
            self.module_.apply_masks_()
            return step
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

    def _step_optimizer(self, step_fn):
        # The fused Adam / SGD step without torch.optim's per-call overhead
        # where it applies (see fused_step); skorch's step otherwise.
        if step_fn is None and len(self._optimizers) == 1:
            if fused_step(getattr(self, self._optimizers[0] + "_")):
                return
        super()._step_optimizer(step_fn)

    def train_step_single(self, batch, **fit_params):
        """skorch's forward and autograd backward pass, plus the L2 penalty's gradient."""
        step = super().train_step_single(batch, **fit_params)
        if self.alpha:
            self._add_penalty_gradient(batch)
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
        if not total:
            return
        torch._foreach_add_(
            [w.grad for w in weights], weights, alpha=self.alpha / total
        )


class DeferredLosses:
    """Batch losses left where they were computed, read back in one copy.

    Every :data:`LOSS_CHUNK` losses are stacked into one tensor on their
    device (no transfer), so an epoch of many batches holds a few tensors,
    not one per batch. :meth:`read` returns Python floats equal to each
    loss's ``.item()``; losses that are not one-element tensors of one
    device and dtype are read one by one with ``.item()``, as skorch does.

    Examples
    --------
    >>> import torch
    >>> from skprune._torch.net import DeferredLosses
    >>> losses = DeferredLosses()
    >>> for value in (0.5, 0.25):
    ...     losses.append(torch.tensor(value))
    >>> losses.read()
    [0.5, 0.25]
    """

    def __init__(self):
        self._chunks, self._pending = [], []

    def append(self, loss):
        """Keep ``loss`` (detached from any autograd graph) for :meth:`read`."""
        self._pending.append(loss.detach() if isinstance(loss, torch.Tensor) else loss)
        if len(self._pending) == LOSS_CHUNK:
            self._chunks.append(_stacked(self._pending))
            self._pending = []

    def read(self):
        """All losses so far as Python floats, in order."""
        parts = self._chunks + ([_stacked(self._pending)] if self._pending else [])
        if not parts:
            return []
        if _uniform(parts):
            return torch.cat(parts).tolist()  # the one read of the epoch
        values = []
        for part in parts:
            values.extend(
                part.tolist() if _uniform([part]) else [v.item() for v in part]
            )
        return values


def _batch_size(batch):
    """The number of rows of a batch, as skorch's epoch loop counts them."""
    return get_len(batch[0]) if isinstance(batch, tuple | list) else get_len(batch)


def _uniform(values):
    """Whether ``values`` are tensors of one device and one dtype."""
    return all(isinstance(v, torch.Tensor) for v in values) and (
        len({(v.device, v.dtype) for v in values}) == 1
    )


def _stacked(losses):
    """One-element tensors of one device and dtype as one 1-D tensor, else the list."""
    if _uniform(losses) and all(loss.numel() == 1 for loss in losses):
        return torch.stack([loss.reshape(()) for loss in losses])
    return losses
