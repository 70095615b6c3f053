"""The registry of importance methods and the check of what a scorer returns."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Set

import numpy as np

from ._scorers import (
    compensated,
    gradient_magnitude,
    magnitude,
    network_params,
    nonlinear,
    obd,
    random_importance,
)

SCORERS: dict[str, Callable] = {
    "compensated": compensated,
    "nonlinear": nonlinear,
    "magnitude": magnitude,
    "gradient_magnitude": gradient_magnitude,
    "random": random_importance,
    "obd": obd,
}
"""Scorer of each method that ranks the weights of a trained network."""

METHODS = (*SCORERS, "fully_connected")
"""The built-in method names; ``"fully_connected"`` has no scorer (it trains
a smaller dense network instead of pruning). Names added by
:func:`register_scorer` are in :data:`METHOD_NAMES`."""


class _MethodNames(Set):
    """The method names accepted now: the built-ins and the registered ones."""

    def __contains__(self, name):
        return isinstance(name, str) and (name in SCORERS or name == "fully_connected")

    def __iter__(self):
        return iter((*SCORERS, "fully_connected"))

    def __len__(self):
        return len(SCORERS) + 1

    def __repr__(self):
        return repr(set(self))

    @classmethod
    def _from_iterable(cls, iterable):  # results of set operations are plain sets
        return set(iterable)


METHOD_NAMES = _MethodNames()
"""Every method name the pruner accepts, kept up to date by :func:`register_scorer`."""


def register_scorer(name: str, scorer: Callable) -> None:
    """Make ``scorer`` a method name everywhere a built-in one works.

    After registration ``CompensatedPruner(method=name)``,
    :func:`get_scorer` and :func:`skprune.compare_methods` accept ``name``.
    The scorer is called as the built-ins are (see :func:`call_scorer`).

    Parameters
    ----------
    name : str
        A new name (a built-in name cannot be replaced).
    scorer : callable
        ``scorer(estimator, X, y)`` (optionally with a keyword
        ``random_state``) returning importances or
        ``(importances, compensations)``, as :func:`check_scorer_output` takes.

    Raises
    ------
    ValueError
        If ``name`` is not a non-empty string or is a built-in method name.
    TypeError
        If ``scorer`` is not callable.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.importance import get_scorer, register_scorer
    >>> def squared(estimator, X, y):
    ...     return [np.square(c) for c in estimator.coefs_]
    >>> register_scorer("squared_magnitude", squared)
    >>> get_scorer("squared_magnitude") is squared
    True
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"A scorer's name must be a non-empty str; got {name!r}.")
    if name in METHODS:
        raise ValueError(
            f"{name!r} is a built-in method name and cannot be replaced; "
            f"choose a name other than {', '.join(map(repr, METHODS))}."
        )
    if not callable(scorer):
        raise TypeError(
            f"scorer must be callable as scorer(estimator, X, y); got "
            f"{type(scorer).__name__} {scorer!r}."
        )
    SCORERS[name] = scorer


def unregister_scorer(name: str) -> None:
    """Remove a name added by :func:`register_scorer` (built-ins stay).

    Examples
    --------
    >>> from skprune.importance import METHOD_NAMES, register_scorer, unregister_scorer
    >>> register_scorer("mine", lambda estimator, X, y: None)
    >>> unregister_scorer("mine")
    >>> "mine" in METHOD_NAMES
    False
    """
    if name in METHODS or name not in SCORERS:
        raise ValueError(
            f"{name!r} is not a registered scorer; registered: "
            f"{[n for n in SCORERS if n not in METHODS]}."
        )
    del SCORERS[name]


def call_scorer(scorer: Callable, estimator, X, y, *, random_state=None):
    """Call a scorer, built-in or the user's, with the same arguments.

    Every scorer gets ``(estimator, X, y)``; a scorer that takes a keyword
    ``random_state`` (or ``**kwargs``), as the built-ins do, also gets
    ``random_state`` (a ``RandomState``, the pruner's).

    Examples
    --------
    >>> from skprune.importance import call_scorer
    >>> call_scorer(lambda est, X, y: (est, X, y), "net", "X", "y", random_state=0)
    ('net', 'X', 'y')
    >>> call_scorer(lambda est, X, y, random_state=None: random_state, 1, 2, 3,
    ...             random_state=7)
    7
    """
    if _takes_random_state(scorer):
        return scorer(estimator, X, y, random_state=random_state)
    return scorer(estimator, X, y)


def _takes_random_state(scorer) -> bool:
    try:
        parameters = inspect.signature(scorer).parameters.values()
    except (TypeError, ValueError):  # no signature to read
        return False
    return any(
        p.kind is p.VAR_KEYWORD
        or (p.name == "random_state" and p.kind is not p.POSITIONAL_ONLY)
        for p in parameters
    )


def get_scorer(method: str | Callable) -> Callable:
    """The scorer of a method name, or a user callable unchanged.

    A scorer is called as ``scorer(estimator, X, y)`` and returns the
    importances (a list of arrays shaped like ``estimator.coefs_``) or a
    tuple ``(importances, compensations)`` of two such lists.

    Parameters
    ----------
    method : str or callable
        One of ``"compensated"``, ``"nonlinear"``, ``"magnitude"``,
        ``"gradient_magnitude"``, ``"random"``, ``"obd"``, a name added by
        :func:`register_scorer`, or a callable.

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
    expected = ", ".join(map(repr, METHOD_NAMES))
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
    shapes = [tuple(c.shape) for c in network_params(estimator)["coefs"]]
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
