"""skprune: elimination-compensation pruning of fully-connected networks for
scikit-learn.

The estimators, :func:`compare_methods` and the submodules are imported
lazily, so that ``skprune.datasets`` (used in parallel workers) does not pay
for importing torch.
"""

import importlib

__all__ = [
    "MLPClassifier",
    "MLPRegressor",
    "CompensatedPruner",
    "compact",
    "remove_dead_neurons",
    "sparse_layers_for",
    "to_onnx",
    "compare_methods",
]
__version__ = "0.1.0"

_LOCATIONS = {
    "MLPClassifier": "._mlp",
    "MLPRegressor": "._mlp",
    "CompensatedPruner": "._pruner",
    "compact": "._compact",
    "remove_dead_neurons": "._compact",
    "sparse_layers_for": "._compact",
    "to_onnx": ".onnx",
    "compare_methods": ".experiments",
}
_SUBMODULES = ("datasets", "experiments", "importance", "report")


def __getattr__(name):
    if name in _LOCATIONS:
        return getattr(importlib.import_module(_LOCATIONS[name], __name__), name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'skprune' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__ + list(_SUBMODULES))
