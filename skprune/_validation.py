"""Input checks shared by the estimators and the pruner."""

from __future__ import annotations

from contextlib import contextmanager


def non_numeric_columns(X) -> str:
    """Names and dtypes of the non-numeric columns of a DataFrame ("" otherwise)."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return ""
    bad = {
        str(name): str(dtype)
        for name, dtype in dtypes.items()
        if getattr(dtype, "kind", "O") not in "biuf"
    }
    return f"columns {list(bad)} have dtypes {list(bad.values())}; " if bad else ""


@contextmanager
def numeric_input(X):
    """Re-raise numpy's "could not convert string to float" saying what is expected."""
    try:
        yield
    except ValueError as error:
        if "could not convert" not in str(error):
            raise
        raise ValueError(
            "Expected numeric input (numbers convertible to float64); got "
            f"non-numeric values: {non_numeric_columns(X)}{error}"
        ) from error
