"""Importance scores of the weights of a fitted MLP.

Every scorer takes ``(estimator, X, y, *, random_state=None, batch_size=...)``
and returns the importances, a list of arrays shaped like
``estimator.coefs_`` (``importances[l][j, i]`` belongs to
``coefs_[l][j, i]``), or a tuple ``(importances, compensations)`` where
``compensations[l][j, i]`` is the shift of bias ``intercepts_[l][i]`` that
goes with removing that weight. :func:`get_scorer` resolves a method name
(or returns a user callable), :func:`register_scorer` adds a user's scorer
under a name, :func:`call_scorer` calls any scorer with the same arguments,
:func:`check_scorer_output` validates what a scorer returned. The math lives in pure functions of (weights, biases,
activation, X): :func:`compensated_importance`,
:func:`nonlinear_importance`, :func:`loss_gradients`,
:func:`gradient_magnitude_importance`, :func:`obd_importance`. They run on
the device of the weights they get (:func:`network_params` gives a skprune
MLP's own torch parameters, so its scorers run where the model is).
"""

from ._functional import (
    BATCH_SIZE,
    LayerMoments,
    compensated_from_moments,
    compensated_importance,
    compensated_moments,
    device_of,
    gradient_magnitude_importance,
    loss_gradients,
    nonlinear_importance,
    obd_importance,
)
from ._registry import (
    METHOD_NAMES,
    METHODS,
    SCORERS,
    call_scorer,
    check_scorer_output,
    get_scorer,
    register_scorer,
    unregister_scorer,
)
from ._scorers import (
    compensated,
    gradient_magnitude,
    magnitude,
    network_params,
    nonlinear,
    nonlinear_importance_naive,
    obd,
    random_importance,
)
from ._structured import (
    neuron_compensated_from_moments,
    neuron_compensated_importance,
    neuron_magnitude,
    neuron_masks,
    neuron_moments,
    neuron_scores_from_weights,
)

__all__ = [
    "BATCH_SIZE",
    "METHODS",
    "METHOD_NAMES",
    "SCORERS",
    "LayerMoments",
    "call_scorer",
    "check_scorer_output",
    "compensated",
    "compensated_from_moments",
    "compensated_importance",
    "compensated_moments",
    "device_of",
    "get_scorer",
    "gradient_magnitude",
    "gradient_magnitude_importance",
    "loss_gradients",
    "magnitude",
    "network_params",
    "nonlinear",
    "nonlinear_importance",
    "nonlinear_importance_naive",
    "neuron_compensated_from_moments",
    "neuron_compensated_importance",
    "neuron_magnitude",
    "neuron_masks",
    "neuron_moments",
    "neuron_scores_from_weights",
    "obd",
    "obd_importance",
    "random_importance",
    "register_scorer",
    "unregister_scorer",
]
