"""Compensation of pruned weights through the weights a neuron keeps.

:func:`least_squares_refit` refits every neuron's kept weights and bias by
(output-weighted) least squares on the pruned net's own inputs, layer by
layer from the input; :func:`layer_systems` and :func:`solve_neuron` are its
two steps (the sums over rows, and the solve of one neuron).
"""

from ._least_squares import (
    RIDGE,
    LayerSystems,
    NeuronSystem,
    layer_systems,
    least_squares_refit,
    solve_neuron,
)

__all__ = [
    "RIDGE",
    "LayerSystems",
    "NeuronSystem",
    "layer_systems",
    "least_squares_refit",
    "solve_neuron",
]
