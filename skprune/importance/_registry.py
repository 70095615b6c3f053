"""The registry of importance methods and the check of what a scorer returns."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._scorers import (
    compensated,
    gradient_magnitude,
    magnitude,
    nonlinear,
    random_importance,
)

SCORERS: dict[str, Callable] = {
    "compensated": compensated,
    "nonlinear": nonlinear,
    "magnitude": magnitude,
    "gradient_magnitude": gradient_magnitude,
    "random": random_importance,
}
"""Scorer of each method that ranks the weights of a trained network."""

METHODS = (*SCORERS, "fully_connected")
"""Every method name the pruner accepts; ``"fully_connected"`` has no scorer
(it trains a smaller dense network instead of pruning)."""


def get_scorer(method: str | Callable) -> Callable:
    """The scorer of a method name, or a user callable unchanged.

    A scorer is called as ``scorer(estimator, X, y)`` and returns the
    importances (a list of arrays shaped like ``estimator.coefs_``) or a
    tuple ``(importances, compensations)`` of two such lists.

    Parameters
    ----------
    method : str or callable
        One of ``"compensated"``, ``"nonlinear"``, ``"magnitude"``,
        ``"gradient_magnitude"``, ``"random"``, or a callable.

    Returns
    -------
    scorer : callable
        The scorer.

    Raises
    ------
    ValueError
        For an unknown name, and for ``"fully_connected"``, which trains a
        smaller dense network and scores nothing.

    Examples
    --------
    >>> from skprune.importance import compensated, get_scorer
    >>> get_scorer("compensated") is compensated
    True
    >>> def biggest(estimator, X, y):
    ...     return [abs(c) for c in estimator.coefs_]
    >>> get_scorer(biggest) is biggest
    True
    """
    if callable(method):
        return method
    if method == "fully_connected":
        raise ValueError(
            "Method 'fully_connected' has no scorer: it trains a smaller dense "
            "network instead of pruning one."
        )
    if isinstance(method, str) and method in SCORERS:
        return SCORERS[method]
    expected = ", ".join(map(repr, METHODS))
    raise ValueError(
        f"Unknown method {method!r}; expected one of {expected} or a callable"
    )


def check_scorer_output(
    output, estimator
) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """Validate what a scorer returned and convert it to float64 arrays.

    Parameters
    ----------
    output : list of array-like or tuple
        Importances, one array per layer shaped like ``estimator.coefs_``,
        or a tuple ``(importances, compensations)`` of two such lists
        (``compensations`` may be None).
    estimator : fitted MLPClassifier or MLPRegressor
        The scored network.

    Returns
    -------
    importances : list of ndarray
        Finite and non-negative, float64.
    compensations : list of ndarray or None
        Finite, float64; None when the scorer gave none.

    Raises
    ------
    ValueError
        If the output is neither a list nor a pair, if shapes differ from
        ``coefs_``, if a value is not finite, or if an importance is negative.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import MLPClassifier
    >>> from skprune.importance import check_scorer_output, magnitude
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    >>> importances, compensations = check_scorer_output(magnitude(clf), clf)
    >>> importances[0].dtype, compensations
    (dtype('float64'), None)
    """
    if isinstance(output, tuple) and len(output) == 2:
        importances, compensations = output
    elif isinstance(output, list):
        importances, compensations = output, None
    else:
        raise ValueError(
            "A scorer must return a list of arrays shaped like coefs_ or a tuple "
            f"(importances, compensations); got {_describe(output)}."
        )
    shapes = [np.shape(c) for c in estimator.coefs_]
    importances = _check_arrays(importances, shapes, "importances")
    for layer, values in enumerate(importances):
        if (values < 0).any():
            raise ValueError(
                f"Importances must be non-negative; layer {layer} has "
                f"{int((values < 0).sum())} negative values (min {values.min():.6g})."
            )
    if compensations is not None:
        compensations = _check_arrays(compensations, shapes, "compensations")
    return importances, compensations


def _describe(value) -> str:
    if isinstance(value, tuple):
        return f"a tuple of length {len(value)}"
    return f"an object of type {type(value).__name__}"


def _check_arrays(arrays, shapes, name: str) -> list[np.ndarray]:
    """``arrays`` as finite float64 arrays of exactly ``shapes``."""
    if not isinstance(arrays, list | tuple):
        raise ValueError(
            f"Expected {name} as a list of {len(shapes)} arrays; got "
            f"{_describe(arrays)}."
        )
    received = [np.shape(a) for a in arrays]
    if received != shapes:
        raise ValueError(
            f"Expected {name} of shapes {shapes} (those of coefs_); got shapes "
            f"{received}."
        )
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    for layer, values in enumerate(arrays):
        if not np.isfinite(values).all():
            raise ValueError(
                f"The {name} of layer {layer} have {int((~np.isfinite(values)).sum())} "
                "non-finite values (NaN or inf); expected finite numbers."
            )
    return arrays
