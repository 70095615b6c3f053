"""The fully connected torch module and its pruning masks."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .activations import ACTIVATIONS
from .threads import torch_threads


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
        # On one thread: parallel regions here would leave torch's OpenMP
        # threads spinning when the fit starts, and the fit would take them
        # for busy threads of someone else (threads.BusyStart).
        with torch_threads(1):
            # torch's default initialisation draws from the global generator:
            # restore it, the weights are drawn again from ``seed`` below.
            with torch.random.fork_rng(devices=[]):
                self.layers = nn.ModuleList(
                    nn.Linear(n_in, n_out)
                    for n_in, n_out in zip(self.layer_units[:-1], self.layer_units[1:])
                )
            self.activations = nn.ModuleList(
                ACTIVATIONS[activation].module() for _ in self.layers[:-1]
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
        layers = self.layers
        # zip stops at the last hidden layer (one activation fewer than layers);
        # slicing the ModuleList would build a new one on every call.
        for layer, activation in zip(layers, self.activations):
            X = activation(layer(X))
        return layers[-1](X)

    def parameter_device(self):
        """The device of the parameters."""
        first = next(iter(self._modules["layers"]._modules.values()))
        return first._parameters["weight"].device

    @torch.no_grad()
    def predict_rows(self, X):
        """Raw output of float32 rows, computed straight from the parameters
        (the same products as :meth:`forward`, without ``nn.Module`` calls:
        for a handful of rows those cost more than the arithmetic)."""
        function_ = ACTIVATIONS[self.activation].function_
        layers = [layer._parameters for layer in self._modules["layers"]]
        slopes = [act._parameters.get("weight") for act in self._modules["activations"]]
        for params, slope in zip(layers, slopes):
            X = function_(F.linear(X, params["weight"], params["bias"]), slope)
        return F.linear(X, layers[-1]["weight"], layers[-1]["bias"])

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

    def apply_masks_(self):
        """Set every pruned weight to exactly 0.0."""
        buffers = self._buffers
        if not buffers:  # unpruned: nothing to do (hot path, no no_grad scope)
            return
        # Runs after every optimizer step: the dicts are read directly, not
        # through nn.Module's attribute lookup.
        with torch.no_grad():
            for i, layer in enumerate(self._modules["layers"]):
                mask = buffers.get(f"mask_{i}")
                if mask is not None:
                    layer._parameters["weight"].masked_fill_(~mask, 0.0)
