"""The hidden-layer activations: one registry used by the net and the scorers.

Each :class:`Activation` holds, for one name, the torch module of the net,
the function ``σ(s)`` (also in place), its derivative ``σ'(s)`` and the
backward kernel of the explicit backward pass. ``slope`` is the PReLU weight
of the layer; the other activations ignore it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

_aten = torch.ops.aten


class Activation(NamedTuple):
    """Everything skprune computes with one hidden activation.

    Attributes
    ----------
    module : type of torch.nn.Module
        The net's layer (``nn.PReLU`` has a learned slope).
    function : callable ``(s, slope) -> σ(s)``
        A new tensor.
    function_ : callable ``(s, slope) -> σ(s)``
        Overwrites ``s`` where it can.
    derivative : callable ``(s, x, slope) -> σ'(s)``
        Given the pre-activation ``s`` and ``x = σ(s)``.
    backward : callable ``(delta, x, s, slope) -> (delta_in, slope_grad)``
        d/ds from d/dx (``delta`` may be overwritten), and the gradient of the
        PReLU slope (None for the others). Uses torch's own backward kernels
        where torch has them, so the values equal autograd's, also at 0.
        It reads ``s`` only where ``function_`` leaves ``s`` intact (PReLU):
        the training step passes the ``s`` that ``function_`` overwrote.
    """

    module: type
    function: Callable
    function_: Callable
    derivative: Callable
    backward: Callable


def _prelu_backward(delta, x, s, slope):
    positive = s > 0
    slope_grad = (delta * s).masked_fill_(positive, 0).sum().reshape(slope.shape)
    return delta.mul_(torch.where(positive, 1.0, slope)), slope_grad


ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation(
        nn.Identity,
        lambda s, slope: s,
        lambda s, slope: s,
        lambda s, x, slope: torch.ones_like(s),
        lambda delta, x, s, slope: (delta, None),
    ),
    "logistic": Activation(
        nn.Sigmoid,
        lambda s, slope: torch.sigmoid(s),
        lambda s, slope: s.sigmoid_(),
        lambda s, x, slope: x * (1 - x),
        lambda delta, x, s, slope: (_aten.sigmoid_backward(delta, x), None),
    ),
    "tanh": Activation(
        nn.Tanh,
        lambda s, slope: torch.tanh(s),
        lambda s, slope: s.tanh_(),
        lambda s, x, slope: 1 - x * x,
        lambda delta, x, s, slope: (_aten.tanh_backward(delta, x), None),
    ),
    "relu": Activation(
        nn.ReLU,
        lambda s, slope: torch.relu(s),
        lambda s, slope: s.clamp_min_(0),
        lambda s, x, slope: (s > 0).to(s.dtype),
        lambda delta, x, s, slope: (_aten.threshold_backward(delta, x, 0.0), None),
    ),
    "prelu": Activation(
        nn.PReLU,
        lambda s, slope: F.prelu(s, slope),
        lambda s, slope: F.prelu(s, slope),
        lambda s, x, slope: torch.where(s > 0, 1.0, slope).to(s.dtype),
        _prelu_backward,
    ),
}
"""The activation of each name that ``activation=`` accepts."""


def get_activation(name: str) -> Activation:
    """The registry entry of ``name``, with an error that lists the known names."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown activation {name!r}; expected one of "
            f"{', '.join(map(repr, ACTIVATIONS))}."
        ) from None
