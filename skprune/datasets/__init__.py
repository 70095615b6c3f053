"""Data sets of the paper's two test cases: MNIST and 1D diffusion-sorption,
and the train/test splits the comparison runs on."""

from ._base import get_data_home
from ._diffusion_sorption import (
    NOISE_LEVELS,
    load_diffusion_sorption,
    make_diffusion_sorption,
    simulate_diffusion_sorption,
)
from ._mnist import load_mnist
from ._splits import (
    Dataset,
    infer_task,
    load_csv_split,
    load_diffusion_sorption_split,
    load_digits_split,
    load_mnist_split,
)

__all__ = [
    "NOISE_LEVELS",
    "Dataset",
    "infer_task",
    "load_csv_split",
    "load_diffusion_sorption_split",
    "load_digits_split",
    "load_mnist_split",
    "get_data_home",
    "load_diffusion_sorption",
    "load_mnist",
    "make_diffusion_sorption",
    "simulate_diffusion_sorption",
]
