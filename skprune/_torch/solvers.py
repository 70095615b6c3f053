"""scikit-learn's solvers for skprune's MLPs: SGD with its learning-rate
schedules, the per-epoch stopping rule, and L-BFGS.

Adam and SGD train through the skorch net's epoch loop: :class:`SklearnSGD`
is the optimizer, :class:`LearningRateSchedule` and :class:`SklearnStopping`
are what scikit-learn's ``_fit_stochastic`` does at the end of an epoch.
L-BFGS works on the whole training set at once, so :func:`fit_lbfgs` runs
scipy's L-BFGS-B on the net's module directly (as scikit-learn does), in
float64, and records one history row per iteration in the skorch net.
"""

from __future__ import annotations

import copy
import functools
import warnings

import numpy as np
import scipy.optimize
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback
from torch.optim import optimizer as torch_optimizer

from . import versions

# Below this learning rate, the "adaptive" schedule stops (scikit-learn's value).
MIN_ADAPTIVE_LEARNING_RATE = 1e-6
# The "adaptive" schedule divides the learning rate by this (scikit-learn's value).
ADAPTIVE_DIVISOR = 5.0


class SklearnSGD(torch.optim.SGD):
    """scikit-learn's stochastic gradient descent with momentum.

    With velocity ``v`` (zero at the start), learning rate ``lr`` and gradient
    ``g``: ``v <- momentum * v - lr * g``, then ``p <- p + v``, or with
    Nesterov's momentum ``p <- p + momentum * v - lr * g``: scikit-learn's
    ``SGDOptimizer`` update. torch's ``SGD`` (fused where available) does
    the steps: it keeps ``-v / lr`` as its momentum buffer, which gives the
    same steps while the rate is constant; :meth:`set_learning_rate`
    rescales the buffers when the rate changes, so the steps stay
    scikit-learn's.

    Examples
    --------
    >>> import torch
    >>> from skprune._torch.solvers import SklearnSGD
    >>> p = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = SklearnSGD([p], lr=0.1, momentum=0.0)
    >>> p.grad = torch.tensor([2.0])
    >>> opt.step()
    >>> round(p.item(), 4)
    0.8
    """

    def __init__(self, params, lr=0.1, momentum=0.9, nesterov=True, fused=None):
        super().__init__(
            params,
            lr=lr,
            momentum=momentum,
            nesterov=bool(nesterov and momentum),
            fused=fused,
        )

    @torch.no_grad()
    def set_learning_rate(self, lr):
        """Use ``lr`` from the next step on, keeping scikit-learn's velocity."""
        for group in self.param_groups:
            old, group["lr"] = group["lr"], lr
            buffers = [
                self.state[p]["momentum_buffer"]
                for p in group["params"]
                if self.state[p].get("momentum_buffer") is not None
            ]
            if buffers and old != lr:
                torch._foreach_mul_(buffers, old / lr)


def fused_step(optimizer) -> bool:
    """One step of a fused torch Adam or :class:`SklearnSGD`, if it can be cheap.

    ``optimizer.step()`` spends most of a small net's step outside the
    update: a profiler scope, hook checks, regrouping the tensors by device
    and dtype. For one parameter group of fused Adam (no amsgrad, maximize,
    capturable, differentiable or decoupled weight decay) or fused SGD, all
    gradients present, the state already built by an earlier step, no step
    hooks and no wrapper on the instance's ``step`` (torch's LR schedulers
    add one), this calls the same fused kernel directly: the same update,
    bit for bit (tested). Returns False, having done nothing, otherwise.

    Examples
    --------
    >>> import torch
    >>> from skprune._torch.solvers import fused_step
    >>> p = torch.nn.Parameter(torch.ones(2))
    >>> opt = torch.optim.Adam([p], fused=True)
    >>> p.grad = torch.ones(2)
    >>> fused_step(opt)  # the first step builds the state: optimizer.step()
    False
    >>> opt.step(); fused_step(opt)
    True
    """
    if not plain_fused(optimizer):
        return False
    group = optimizer.param_groups[0]
    params = group["params"]
    grads = [p.grad for p in params]
    if any(g is None for g in grads) or len({(p.device, p.dtype) for p in params}) > 1:
        return False
    if type(optimizer) is torch.optim.Adam:
        return _adam_step(optimizer, group, params, grads)
    return _sgd_step(optimizer, group, params, grads)


def plain_fused(optimizer) -> bool:
    """A fused Adam or SklearnSGD, one group, no hooks, ``step`` not wrapped."""
    return (
        versions.FAST_OPTIMIZER_STEP
        and type(optimizer) in (torch.optim.Adam, SklearnSGD)
        and len(optimizer.param_groups) == 1
        and optimizer.param_groups[0].get("fused") is True
        and not isinstance(optimizer.param_groups[0]["lr"], torch.Tensor)
        and "step" not in vars(optimizer)
        and not optimizer._optimizer_step_pre_hooks
        and not optimizer._optimizer_step_post_hooks
        and not torch_optimizer._global_optimizer_pre_hooks
        and not torch_optimizer._global_optimizer_post_hooks
    )


def _adam_step(optimizer, group, params, grads):
    flags = ("amsgrad", "maximize", "capturable", "differentiable")
    if any(group.get(f) for f in flags) or group.get("decoupled_weight_decay"):
        return False
    states = [optimizer.state.get(p) for p in params]
    if not all(states):  # the first step builds the state
        return False
    steps = [s["step"] for s in states]
    beta1, beta2 = group["betas"]
    torch._foreach_add_(steps, 1)
    torch._fused_adam_(
        params,
        grads,
        [s["exp_avg"] for s in states],
        [s["exp_avg_sq"] for s in states],
        [],
        steps,
        amsgrad=False,
        lr=group["lr"],
        beta1=float(beta1),
        beta2=float(beta2),
        weight_decay=group["weight_decay"],
        eps=group["eps"],
        maximize=False,
        grad_scale=None,
        found_inf=None,
    )
    return True


def _sgd_step(optimizer, group, params, grads):
    if group.get("maximize") or group.get("differentiable"):
        return False
    momentum = group["momentum"]
    buffers = []
    if momentum:
        buffers = [optimizer.state[p].get("momentum_buffer") for p in params]
        if any(b is None for b in buffers):  # the first step builds them
            return False
    torch._fused_sgd_(
        params,
        grads,
        buffers,
        weight_decay=group["weight_decay"],
        momentum=momentum,
        lr=group["lr"],
        dampening=group["dampening"],
        nesterov=group["nesterov"],
        maximize=False,
        is_first_step=False,
        grad_scale=None,
        found_inf=None,
    )
    return True


@functools.cache
def fused_sgd_supported(device: str) -> bool:
    """Whether ``torch.optim.SGD(fused=True)`` with momentum runs on ``device``."""
    try:
        param = torch.nn.Parameter(torch.zeros(2, device=device))
        optimizer = torch.optim.SGD([param], lr=0.1, momentum=0.9, fused=True)
        param.grad = torch.ones_like(param)
        optimizer.step()
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


class LearningRateSchedule:
    """scikit-learn's learning-rate schedules, applied to a torch optimizer.

    ``"constant"`` keeps ``learning_rate_init``; ``"invscaling"`` sets it to
    ``learning_rate_init / (t + 1) ** power_t`` at the end of every epoch
    (``t``: training rows seen); ``"adaptive"`` divides it by 5 each time the
    stopping rule would stop, and stops only once it is at most 1e-6. Adam
    uses ``"constant"`` and stops at once (``adaptive_stop=False``).

    Examples
    --------
    >>> from skprune._torch.solvers import LearningRateSchedule
    >>> schedule = LearningRateSchedule("invscaling", 0.1, power_t=0.5)
    >>> schedule.iteration_ends(99)
    >>> round(schedule.learning_rate, 4)
    0.01
    """

    def __init__(self, kind="constant", learning_rate_init=1e-3, power_t=0.5):
        self.kind = kind
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.learning_rate = float(learning_rate_init)

    def iteration_ends(self, time_step):
        """Update the rate after an epoch; ``time_step`` is the rows seen so far."""
        if self.kind == "invscaling":
            self.learning_rate = (
                float(self.learning_rate_init) / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, message, verbose):
        """Whether to stop now; ``"adaptive"`` lowers the rate instead while it can."""
        if self.kind != "adaptive":
            _say(verbose, message + " Stopping.")
            return True
        if self.learning_rate <= MIN_ADAPTIVE_LEARNING_RATE:
            _say(verbose, message + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= ADAPTIVE_DIVISOR
        _say(verbose, message + f" Setting learning rate to {self.learning_rate:f}")
        return False

    def apply(self, optimizer):
        """Write the current rate into every parameter group of ``optimizer``."""
        if hasattr(optimizer, "set_learning_rate"):
            optimizer.set_learning_rate(self.learning_rate)
            return
        for group in optimizer.param_groups:
            group["lr"] = self.learning_rate


def _say(verbose, message):
    if verbose:
        print(message)


class SklearnStopping(Callback):
    """scikit-learn's end-of-epoch rule as a skorch callback.

    After every epoch: print ``Iteration N, loss = ...`` when verbose; count
    the epochs without improvement by ``tol`` of the training loss, or, with
    ``score_fn``, of the validation score (recorded also when it is NaN; the
    best parameters are kept to be restored at the end); update the learning
    rate of ``schedule``; and once the count exceeds ``n_iter_no_change``
    (which may be ``np.inf``), stop or, for the adaptive schedule, divide the
    learning rate by 5 and go on. ``n_samples`` training rows are seen per
    epoch and ``t_`` counts them (scikit-learn's ``t_``).
    """

    def __init__(
        self,
        tol=1e-4,
        n_iter_no_change=10,
        score_fn=None,
        schedule=None,
        verbose=False,
        n_samples=0,
    ):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.score_fn = score_fn
        self.schedule = schedule
        self.verbose = verbose
        self.n_samples = n_samples

    def initialize(self):
        self.best_loss_ = np.inf
        self.best_validation_score_ = -np.inf
        self.validation_scores_ = []
        self.best_state_ = None
        self.no_improvement_count_ = 0
        self.stopped_ = False
        self.n_iter_ = 0
        self.t_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.n_iter_ += 1
        self.t_ += self.n_samples
        loss = float(net.history[-1, "train_loss"])
        _say(self.verbose, f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        if self.score_fn is None:
            self._update_loss(loss)
        else:
            self._update_score(net)
        schedule = self.schedule or LearningRateSchedule()
        schedule.iteration_ends(self.t_)
        schedule.apply(net.optimizer_)
        if self.no_improvement_count_ > self.n_iter_no_change:
            if schedule.trigger_stopping(self._message(), self.verbose):
                self.stopped_ = True
                raise KeyboardInterrupt
            self.no_improvement_count_ = 0
            schedule.apply(net.optimizer_)

    def _message(self):
        what = "Validation score" if self.score_fn else "Training loss"
        return (
            f"{what} did not improve more than tol={self.tol:f} for "
            f"{self.n_iter_no_change} consecutive epochs."
        )

    def _update_loss(self, loss):
        # scikit-learn's comparisons: a NaN loss resets the count.
        if loss > self.best_loss_ - self.tol:
            self.no_improvement_count_ += 1
        else:
            self.no_improvement_count_ = 0
        if loss < self.best_loss_:
            self.best_loss_ = loss

    def _update_score(self, net):
        score = float(self.score_fn(net))
        self.validation_scores_.append(score)
        net.history.record("valid_score", score)
        _say(self.verbose, f"Validation score: {score:f}")
        if score < self.best_validation_score_ + self.tol:
            self.no_improvement_count_ += 1
        else:
            self.no_improvement_count_ = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self.best_state_ = {
                k: v.detach().clone() for k, v in net.module_.state_dict().items()
            }


def _weights(module):
    return [layer.weight for layer in module.layers]


class _FullBatchLoss:
    """The training loss of a float64 copy of ``net.module_`` and its gradient.

    The loss is scikit-learn's: ``(sum_i w_i loss_i + 0.5 * alpha * ||W||^2)
    / sum_i w_i`` over all training rows, by autograd on the copy. Pruned
    weights (the module's masks) get a zero gradient, so they stay 0.0.
    """

    def __init__(self, net, data):
        self.net = net
        self.module = copy.deepcopy(net.module_).to(torch.float64)
        self.params = [p for p in self.module.parameters() if p.requires_grad]
        self.X = data.X.to(torch.float64)
        self.y = data.y if data.y.dtype == torch.int64 else data.y.to(torch.float64)
        weight = data.sample_weight
        self.sample_weight = None if weight is None else weight.to(torch.float64)
        self.total = float(len(self.X) if weight is None else self.sample_weight.sum())
        masks = getattr(self.module, "masks", lambda: [])()
        self.grad_masks = {
            id(layer.weight): mask
            for layer, mask in zip(self.module.layers, masks)
            if mask is not None
        }

    def pack(self):
        return torch.cat([p.detach().reshape(-1) for p in self.params]).cpu().numpy()

    def unpack(self, theta):
        flat = torch.from_numpy(np.asarray(theta, dtype=np.float64))
        start = 0
        with torch.no_grad():
            for p in self.params:
                p.copy_(flat[start : start + p.numel()].view_as(p))
                start += p.numel()

    def __call__(self, theta):
        self.unpack(theta)
        for p in self.params:
            p.grad = None
        losses = self.net.criterion_(self.module(self.X), self.y)
        weighted = (
            losses.sum() if self.sample_weight is None else losses @ self.sample_weight
        )
        penalty = sum(w.square().sum() for w in _weights(self.module))
        loss = (weighted + 0.5 * self.net.alpha * penalty) / max(self.total, 1e-300)
        loss.backward()
        grads = []
        for p in self.params:
            grad = torch.zeros_like(p) if p.grad is None else p.grad
            mask = self.grad_masks.get(id(p))
            grads.append((grad if mask is None else grad * mask).reshape(-1))
        return float(loss.detach()), torch.cat(grads).cpu().numpy()


def fit_lbfgs(net, data, *, max_iter, max_fun, tol, verbose=False):
    """Train ``net.module_`` on all of ``data`` with scipy's L-BFGS-B.

    As scikit-learn: ``maxiter=max_iter``, ``maxfun=max_fun``,
    ``gtol=tol``; a ConvergenceWarning when L-BFGS-B stops for another
    reason than convergence. The loss and gradient are computed in float64
    (a float32 gradient is too noisy for the line search); the result is
    written back into the module in its own dtype. Each iteration adds a
    row (``train_loss``) to ``net.history``. Returns ``(n_iter, loss)``.
    """
    objective = _FullBatchLoss(net, data)

    def record(intermediate_result):
        net.history.new_epoch()
        net.history.record("epoch", len(net.history))
        net.history.record("train_loss", float(intermediate_result.fun))
        if verbose:
            print(f"Iteration {len(net.history)}, loss = {intermediate_result.fun:.8f}")

    result = scipy.optimize.minimize(
        objective,
        objective.pack(),
        method="L-BFGS-B",
        jac=True,
        callback=record,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
    )
    objective.unpack(result.x)
    with torch.no_grad():
        for target, source in zip(
            net.module_.parameters(), objective.module.parameters()
        ):
            target.copy_(source)
    net.module_.apply_masks_()
    n_iter = min(result.nit, max_iter)
    if result.status != 0:
        warnings.warn(
            f"lbfgs failed to converge after {n_iter} iteration(s) "
            f"(status={result.status}):\n{result.message}\n",
            ConvergenceWarning,
            stacklevel=3,
        )
    return n_iter, float(result.fun)
