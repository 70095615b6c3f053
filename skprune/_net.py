"""The import path of the torch side before it moved to :mod:`skprune._torch`.

Models pickled by earlier releases name their net's classes by this module
(``skprune._net.MLPNet``); they load through these aliases.
"""

from ._torch.data import BatchIterator, TensorData
from ._torch.losses import PerSampleLoss
from ._torch.module import MLPModule
from ._torch.net import MLPNet
from ._torch.solvers import SklearnStopping

__all__ = [
    "BatchIterator",
    "MLPModule",
    "MLPNet",
    "PerSampleLoss",
    "SklearnStopping",
    "TensorData",
]
