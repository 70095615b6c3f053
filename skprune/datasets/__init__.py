"""Data sets of the paper's two test cases: MNIST and 1D diffusion-sorption."""

from ._base import get_data_home
from ._diffusion_sorption import (
    NOISE_LEVELS,
    load_diffusion_sorption,
    make_diffusion_sorption,
    simulate_diffusion_sorption,
)
from ._mnist import load_mnist

__all__ = [
    "NOISE_LEVELS",
    "get_data_home",
    "load_diffusion_sorption",
    "load_mnist",
    "make_diffusion_sorption",
    "simulate_diffusion_sorption",
]
