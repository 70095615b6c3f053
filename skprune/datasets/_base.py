"""Where skprune keeps downloaded and generated data."""

from __future__ import annotations

import os
from pathlib import Path

DATA_HOME_ENV = "SKPRUNE_DATA_HOME"
"""Environment variable that overrides the default data folder."""

DEFAULT_DATA_HOME = Path("~") / "skprune_data"
"""Data folder used when neither an argument nor the variable is given."""


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the folder where skprune stores data sets and caches.

    The folder is, in order of precedence: `data_home` when given, else the
    environment variable ``SKPRUNE_DATA_HOME`` when set, else
    ``~/skprune_data``. The folder is not created.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder to use. A leading ``~`` is expanded.

    Returns
    -------
    data_home : pathlib.Path
        The chosen folder, with ``~`` expanded.

    Examples
    --------
    >>> from skprune.datasets import get_data_home
    >>> get_data_home("my_data").as_posix()
    'my_data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or DEFAULT_DATA_HOME
    return Path(data_home).expanduser()
