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
import warnings

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
from .solvers import fused_step, plain_fused

LOSS_CHUNK = 1024
"""Batch losses kept on the device are stacked into one tensor per this many."""

_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")

GRAPH_WARMUP_STEPS = 2
"""Ordinary steps (on a side stream) before the step is captured as a CUDA
graph, and again after each change of the learning rate: torch's notes on
CUDA graphs ask for a few eager iterations before a capture, and the first
step builds the optimizer's state."""

GRAPH_EMULATION = False
"""For the tests only: on a net outside CUDA, :class:`GraphedStep` runs with
the step on its static buffers called directly where it would capture and
replay a graph, so that everything but the capture itself is tested without
a GPU."""


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

    ``cuda_graph=True`` (``net_params={"cuda_graph": True}`` on the
    estimator) steps the full batches of a fit on CUDA by replaying the step
    captured once as a CUDA graph (:class:`GraphedStep`), where the step
    allows it (:meth:`_graphs_the_step`); everything else trains as without
    it. Off by default: it has not yet run on a GPU.
    """

    busy_start_ = None
    """The fit's :class:`~skprune._torch.threads.BusyStart`, ticked per batch."""

    def __init__(self, module, *args, alpha=0.0, cuda_graph=False, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.alpha = alpha
        self.cuda_graph = cuda_graph
        self.graphed_step_ = None

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's ``fit_loop``, full batches stepped by a :class:`GraphedStep`
        where :meth:`_graphs_the_step` allows it (the graph lives for this
        call only)."""
        # skorch's own keyword (which entry point called it) is no forward argument
        forward_params = {k: v for k, v in fit_params.items() if k != "_routing_method"}
        graphs = self._graphs_the_step(forward_params)
        self.graphed_step_ = GraphedStep(self) if graphs else None
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        finally:
            self.graphed_step_ = None

    def _graphs_the_step(self, fit_params):
        """Whether a CUDA graph can take this fit's step: ``cuda_graph``
        set, a CUDA device, skprune's own module and loss on their own
        batches (the explicit backward pass), one fused Adam or SGD stepped
        directly (:func:`~skprune._torch.solvers.fused_step`), and nothing
        listening per batch or to the gradients. Batches with sample weights
        and batches of another size than the first are stepped as usual
        (:meth:`GraphedStep.takes`), and so is everything else."""
        if not (self.cuda_graph and versions.FAST_TRAIN_STEP) or fit_params:
            return False
        device = torch.device(self.device or "cpu")
        return (
            (device.type == "cuda" or GRAPH_EMULATION)
            and type(self.module_) is MLPModule
            and type(self.criterion_) is PerSampleLoss
            and len(self._optimizers) == 1
            and plain_fused(getattr(self, self._optimizers[0] + "_"))
            and not self._listens_to_batches()
            and not self._listens_to_grads()
        )

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
        state["graphed_step_"] = None  # a CUDA graph is not state
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
            elif key == "graphed_step_":  # a CUDA graph is not state
                value = None
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
        graphed = getattr(self, "graphed_step_", None) if training else None
        losses, sizes = DeferredLosses(), []
        try:
            for batch in iterator:
                if graphed is not None and graphed.takes(batch):
                    losses.append(graphed(batch))
                else:
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
        if self.busy_start_ is not None:  # the fit started on fewer threads
            self.busy_start_.tick()
        if not versions.FAST_TRAIN_STEP:
            step = super().train_step(batch, **fit_params)
            self.module_.apply_masks_()
            return step
        listens_to_grads = self._listens_to_grads()
        if self._explicit_backward(batch, fit_params):
            X, (y, sample_weight) = batch
            # A listener may keep the gradient tensors it is shown: then
            # every step writes new ones, as torch's autograd does.
            loss, raw = self._forward_backward(
                X, y, sample_weight, reuse_grads=not listens_to_grads
            )
            step = {"loss": loss, "y_pred": raw}
        else:
            self._zero_grad_optimizer(set_to_none=True)
            step = self.train_step_single(batch, **fit_params)
        if listens_to_grads:
            self.notify(
                "on_grad_computed",
                named_parameters=TeeGenerator(self.get_all_learnable_params()),
                batch=batch,
                training=True,
            )
        self._step_optimizer(None)
        self.module_.apply_masks_()
        return step

    def _forward_backward(self, X, y, sample_weight, reuse_grads=False):
        """:func:`forward_backward` of one batch in training mode: ``(loss, raw)``.

        Every gradient is overwritten: nothing to zero first."""
        self._set_training(True)
        return forward_backward(
            self.module_,
            X,
            y,
            sample_weight,
            self.criterion_.out_activation,
            self.alpha,
            reuse_grads=reuse_grads,
        )

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


class GraphedStep:
    """A fit's full training batches, stepped by replaying one CUDA graph.

    The step is :class:`MLPNet`'s own (explicit forward and backward pass,
    fused optimizer step, masks re-applied), so a replay updates the same
    parameters and optimizer state, with the same kernels, as an ordinary
    step. It runs :data:`GRAPH_WARMUP_STEPS` ordinary steps on a side
    stream, then captures the step on static copies of the batch's rows and
    labels; every later batch of the same size is copied into them and the
    graph replayed, without a host synchronisation or a Python-side kernel
    launch. The loss of a replay is a device tensor (read back with the
    epoch's others). A change of the learning rate (scikit-learn's SGD
    schedules) is a new step: warm-up and capture again. Batches that
    :meth:`takes` refuses go through the net's ordinary ``train_step``. If
    the capture fails, a warning says why and the fit goes on with ordinary
    steps.
    """

    def __init__(self, net):
        self.net = net
        self.rows = None  # the batch size the graph takes (the first batch's)
        self.lr = None  # the learning rate captured in the graph
        self.graph = None
        self.warm_steps = 0
        self.replays = 0
        self.failed = False
        self.X = self.y = self.loss = None

    def takes(self, batch):
        """Whether ``batch`` is stepped here: one of the net's own batches
        (as the explicit backward pass takes them), unweighted, of as many
        rows as the first."""
        if self.failed or not self.net._explicit_backward(batch, {}):
            return False
        X, (_, sample_weight) = batch
        if sample_weight is not None:
            return False
        if self.rows is None:
            self.rows = len(X)
        return len(X) == self.rows

    def __call__(self, batch):
        """One step on ``batch``; returns its loss (a device tensor)."""
        X, (y, _) = batch
        lr = self.net.optimizer_.param_groups[0]["lr"]
        if lr != self.lr:  # the learning rate is part of the captured step
            self.graph, self.lr, self.warm_steps = None, lr, 0
        if self.graph is None:
            if self.warm_steps < GRAPH_WARMUP_STEPS:
                self.warm_steps += 1
                return self._side_stream_step(X, y)
            if not self._capture(X, y):
                return self._step(X, y)
        self.X.copy_(X)
        self.y.copy_(y)
        if isinstance(self.graph, torch.cuda.CUDAGraph):
            self.graph.replay()
        else:  # GRAPH_EMULATION: the loss overwritten in place, as by a replay
            self.loss.copy_(self._step(self.X, self.y))
        self.replays += 1
        return self.loss.clone()  # the next replay overwrites self.loss

    def _step(self, X, y):
        net = self.net
        loss, _ = net._forward_backward(X, y, None)
        net._step_optimizer(None)
        net.module_.apply_masks_()
        return loss

    def _side_stream_step(self, X, y):
        if X.device.type != "cuda":
            return self._step(X, y)
        stream, current = (
            torch.cuda.Stream(X.device),
            torch.cuda.current_stream(X.device),
        )
        stream.wait_stream(current)
        with torch.cuda.stream(stream):
            loss = self._step(X, y)
        current.wait_stream(stream)
        return loss

    def _capture(self, X, y):
        """Capture the step on static copies of ``X`` and ``y`` (nothing runs
        yet); False, with a warning, if it cannot be captured."""
        self.X, self.y = X.clone(), y.clone()
        try:
            self.graph = self._record()
        except RuntimeError as error:
            self.failed, self.graph = True, None
            warnings.warn(
                f"The training step could not be captured as a CUDA graph "
                f"({error}); the fit goes on with ordinary steps.",
                RuntimeWarning,
                stacklevel=2,
            )
            return False
        return True

    def _record(self):
        """The step on the static buffers as a CUDA graph, captured, not run."""
        if self.X.device.type != "cuda":  # GRAPH_EMULATION: replays call the step
            self.loss = self.X.new_zeros(())
            return "emulated"
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.loss = self._step(self.X, self.y)
        return graph


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
    X = batch[0] if isinstance(batch, tuple | list) else batch
    return len(X) if isinstance(X, torch.Tensor) else get_len(X)


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
