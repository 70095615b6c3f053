"""Per-sample losses and the explicit backward pass of skprune's module."""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn import functional as F

from .activations import ACTIVATIONS


def softmax_cross_entropy(raw, y):
    """Per-sample multiclass log-loss from logits and class indices."""
    return F.cross_entropy(raw, y, reduction="none")


def binary_cross_entropy(raw, y):
    """Per-sample log-loss summed over independent binary outputs."""
    return F.binary_cross_entropy_with_logits(raw, y, reduction="none").sum(dim=1)


def half_squared_error(raw, y):
    """Per-sample half squared error averaged over outputs."""
    return 0.5 * (raw - y).pow(2).mean(dim=1)


def half_poisson_deviance(raw, y):
    """Per-sample half Poisson deviance of ``exp(raw)``, summed over outputs.

    scikit-learn's ``poisson_loss``: ``y log(y / exp(raw)) - y + exp(raw)``.
    """
    return (torch.xlogy(y, y) - y * raw - y + torch.exp(raw)).sum(dim=1)


LOSSES = {
    "softmax": softmax_cross_entropy,
    "logistic": binary_cross_entropy,
    "identity": half_squared_error,
    "exp": half_poisson_deviance,
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


@functools.lru_cache(maxsize=64)
def _reciprocal(total, dtype, device):
    # 1 / total rounded in ``dtype``, as a weighted batch of unit weights
    # computes it; cached, so that a step creates no tensor for it.
    return torch.tensor(1.0, dtype=dtype, device=device).div_(total)


@functools.lru_cache(maxsize=64)
def _minus_ones(n, dtype, device):
    # The column of -1 that turns softmax into its gradient (one per batch
    # size, dtype and device; cached like _reciprocal). Never written to.
    return torch.full((n, 1), -1.0, dtype=dtype, device=device)


def loss_and_output_delta(raw, y, out_activation):
    """Per-sample losses and d(loss_i)/d(raw_i), without autograd."""
    if out_activation == "softmax":
        log_proba = torch.log_softmax(raw, dim=1)
        losses = F.nll_loss(log_proba, y, reduction="none")
        delta = log_proba.exp_()
        delta.scatter_add_(1, y.view(-1, 1), _minus_ones(len(y), delta.dtype, y.device))
    elif out_activation == "logistic":
        losses = binary_cross_entropy(raw, y)
        delta = torch.sigmoid(raw).sub_(y)
    elif out_activation == "exp":
        losses = half_poisson_deviance(raw, y)
        delta = torch.exp(raw).sub_(y)
    else:
        delta = raw - y
        losses = delta.square().mean(dim=1).mul_(0.5)
        delta.div_(raw.shape[1])
    return losses, delta


@torch.no_grad()
def forward_backward(
    module, X, y, sample_weight, out_activation, alpha, reuse_grads=False
):
    """Loss of one batch and its gradients, written to each parameter's ``.grad``.

    The loss is scikit-learn's: ``(sum_i w_i loss_i + 0.5 * alpha * ||W||^2)
    / sum_i w_i``; a batch whose weights sum to 0 has loss 0 and zero
    gradients. The backward pass is written out layer by layer (as
    scikit-learn's own MLP does), which for these small dense nets is much
    cheaper than recording and replaying an autograd graph; the L2 term's
    gradient is folded into each weight gradient's matrix product. With
    ``reuse_grads``, gradients are written into the ``.grad`` tensors the
    parameters already hold instead of new ones: the same values, without
    allocating them at every step.
    Returns ``(loss, raw_output)``.
    """
    activation = ACTIVATIONS[module.activation]
    weights = [layer.weight for layer in module.layers]
    biases = [layer.bias for layer in module.layers]
    slopes = [getattr(act, "weight", None) for act in module.activations]
    inputs, pre_activations = [X], []
    for weight, bias, slope in zip(weights[:-1], biases[:-1], slopes):
        z = F.linear(inputs[-1], weight, bias)
        pre_activations.append(z)  # overwritten by x unless backward reads it
        inputs.append(activation.function_(z, slope))
    raw = F.linear(inputs[-1], weights[-1], biases[-1])

    losses, delta = loss_and_output_delta(raw, y, out_activation)
    if sample_weight is None:
        total = len(X)
        loss = losses.sum()
        # Scaled as a weighted batch of unit weights is (a product with the
        # rounded 1 / total): unit weights give bit-identical steps.
        delta.mul_(_reciprocal(total, delta.dtype, delta.device))
    else:
        total = float(sample_weight.sum())
        if not total:  # rows of weight 0 add no loss and no gradient
            for param in module.parameters():
                param.grad = torch.zeros_like(param)
            return raw.new_zeros(()), raw
        loss = losses @ sample_weight
        delta.mul_((sample_weight / total).unsqueeze(1))
    if alpha:
        loss = loss + l2_penalty(weights, alpha)
    decay = alpha / total
    for i in range(len(weights) - 1, -1, -1):
        weight, bias = weights[i], biases[i]
        # (torch keeps a .grad of the parameter's shape, dtype and device)
        if reuse_grads and weight.grad is not None:
            torch.addmm(weight, delta.t(), inputs[i], beta=decay, out=weight.grad)
        else:
            weight.grad = torch.addmm(weight, delta.t(), inputs[i], beta=decay)
        if reuse_grads and bias.grad is not None:
            torch.sum(delta, dim=0, out=bias.grad)
        else:
            bias.grad = delta.sum(dim=0)
        if i:
            slope = slopes[i - 1]
            delta, slope_grad = activation.backward(
                delta @ weight, inputs[i], pre_activations[i - 1], slope
            )
            if slope_grad is not None:
                slope.grad = slope_grad
    return loss / total, raw
