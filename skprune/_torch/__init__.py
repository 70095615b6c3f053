"""The torch side of skprune's MLPs, one module per concern.

- :mod:`.activations`: the one registry of hidden activations (function,
  derivative, backward kernel, torch module), used by the net and by the
  importance math;
- :mod:`.module`: the fully connected module and its pruning masks;
- :mod:`.data`: tensor data and mini-batches;
- :mod:`.losses`: per-sample losses and the explicit backward pass;
- :mod:`.serialization`: pickling of CPU tensor storages;
- :mod:`.net`: the skorch net and scikit-learn's stopping rule.

Only :mod:`.net` imports skorch; this package's ``__init__`` imports nothing,
so the math can use :mod:`.activations` without it.
"""
