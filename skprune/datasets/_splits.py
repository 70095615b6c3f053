"""Train/test splits of the data sets the comparison runs on.

Each loader returns a :class:`Dataset`: the split, the task, and the names of
the metrics its test loss and score are reported in. Inputs are scaled the
same way for every run, and the split is fixed (``SPLIT_SEED``), so runs of
different methods and seeds see the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

TEST_SIZE = 0.25
"""Share of the rows held out, where the data has no split of its own."""

SPLIT_SEED = 0
"""Seed of the train/test split and of the drawn diffusion-sorption samples."""

DIGITS_MAX_VALUE = 16.0
"""Largest pixel value of scikit-learn's ``load_digits`` (pixels are 0..16)."""

FEW_UNIQUE = 10
"""A float target with at most this many distinct values is a class label."""

DEFAULT_NOISE = "low"
DEFAULT_DIFFSORP_SAMPLES = 4000
DEFAULT_N_CELLS = 1024  # PDEBench's grid
DEFAULT_CONSTRUCTION = "stencil"  # see make_diffusion_sorption for why

LOSS_NAMES = {"classification": "cross-entropy", "regression": "MSE"}
SCORE_NAMES = {"classification": "accuracy", "regression": "R²"}


@dataclass(frozen=True)
class Dataset:
    """A train/test split and what to call it.

    Attributes
    ----------
    name : str
        Short name, used in file names and report titles.
    task : {"classification", "regression"}
        What the target is.
    X_train, X_test, y_train, y_test : ndarray
        The split.
    loss_name : str
        The metric of the test loss (``"cross-entropy"``, ``"MSE"``, or
        ``"MSE (standardised target)"``).
    score_name : str
        The metric of the test score (``"accuracy"`` or ``"R²"``).

    Examples
    --------
    >>> from skprune.datasets import load_digits_split
    >>> data = load_digits_split()
    >>> data.task, data.loss_name, data.X_train.shape
    ('classification', 'cross-entropy', (1347, 64))
    >>> data.subset(n_train=100).X_train.shape
    (100, 64)
    """

    name: str
    task: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    loss_name: str = ""
    score_name: str = ""

    def __post_init__(self):
        if self.task not in LOSS_NAMES:
            raise ValueError(
                f"task must be 'classification' or 'regression'; got {self.task!r}."
            )
        object.__setattr__(self, "loss_name", self.loss_name or LOSS_NAMES[self.task])
        object.__setattr__(
            self, "score_name", self.score_name or SCORE_NAMES[self.task]
        )

    def subset(self, n_train: int | None = None, n_test: int | None = None):
        """The first `n_train` training and `n_test` test rows (None: all).

        The split is already shuffled, so the first rows are a random subset.
        """
        for n, part in ((n_train, "train"), (n_test, "test")):
            available = len(getattr(self, f"y_{part}"))
            if n is not None and n > available:
                raise ValueError(
                    f"n_{part}={n} exceeds the {available} {part} rows of {self.name}."
                )
        return replace(
            self,
            X_train=self.X_train[:n_train],
            X_test=self.X_test[:n_test],
            y_train=self.y_train[:n_train],
            y_test=self.y_test[:n_test],
        )


def _split(X, y, task):
    from sklearn.model_selection import train_test_split

    stratify = y if task == "classification" and _can_stratify(y) else None
    return train_test_split(
        X, y, test_size=TEST_SIZE, stratify=stratify, random_state=SPLIT_SEED
    )


def _can_stratify(y) -> bool:
    _, counts = np.unique(y, return_counts=True)
    return counts.min() >= 2


def _standardize(X_train, X_test):
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def load_digits_split() -> Dataset:
    """scikit-learn's 8x8 digits scaled to [0, 1], stratified 75/25 split.

    Returns
    -------
    data : Dataset
        1,347 training and 450 test rows, 64 features, 10 classes.

    Examples
    --------
    >>> from skprune.datasets import load_digits_split
    >>> load_digits_split().X_test.shape
    (450, 64)
    """
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    parts = _split(X / DIGITS_MAX_VALUE, y, "classification")
    return Dataset("digits", "classification", *parts)


def load_mnist_split(
    data_home=None, n_train=None, n_test=None, *, download=False
) -> Dataset:
    """MNIST's own split, pixels in [0, 1] (see :func:`load_mnist`).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder of the four MNIST files (see :func:`load_mnist`).
    n_train, n_test : int, default=None
        Keep the first rows of each part (None: all).
    download : bool, default=False
        Download missing files (checksums verified).

    Returns
    -------
    data : Dataset
        The classification split.

    Examples
    --------
    >>> from skprune.datasets import load_mnist_split
    >>> data = load_mnist_split(n_train=100, n_test=10)  # doctest: +SKIP
    >>> data.X_train.shape  # doctest: +SKIP
    (100, 784)
    """
    from ._mnist import load_mnist

    parts = load_mnist(
        data_home=data_home,
        n_train=n_train,
        n_test=n_test,
        download=download,
        return_X_y=True,
    )
    return Dataset("mnist", "classification", *parts)


def load_diffusion_sorption_split(
    noise=DEFAULT_NOISE,
    n_samples=DEFAULT_DIFFSORP_SAMPLES,
    n_cells=DEFAULT_N_CELLS,
    n_jobs=None,
    construction=DEFAULT_CONSTRUCTION,
) -> Dataset:
    """Diffusion-sorption regression data, standardised inputs, raw targets u.

    The test rows come from whole trajectories that no training row comes
    from: :class:`~sklearn.model_selection.GroupShuffleSplit` holds out a
    quarter of the trajectories (3 of the 10). The targets stay in the units
    of u, so the test loss is the MSE of u.

    Parameters
    ----------
    noise : {"low", "medium", "high"} or float, default="low"
        Noise level (see :func:`make_diffusion_sorption`).
    n_samples : int, default=4000
        Samples, train and test together.
    n_cells : int, default=1024
        Simulation grid cells (simulations are cached on disk).
    n_jobs : int, default=None
        Parallel simulations.
    construction : {"stencil", "sensors", "initial-condition"}, \
default="stencil"
        How the 68 inputs are built (see :func:`make_diffusion_sorption`);
        a construction other than the default is part of the data set's name.

    Returns
    -------
    data : Dataset
        The regression split, by trajectory.

    Examples
    --------
    >>> from skprune.datasets import load_diffusion_sorption_split
    >>> data = load_diffusion_sorption_split(n_samples=40, n_cells=32)
    >>> data.name, data.loss_name, data.X_train.shape[1]
    ('diffusion-sorption-low', 'MSE', 68)
    """
    from sklearn.model_selection import GroupShuffleSplit

    from ._diffusion_sorption import make_diffusion_sorption

    X, y, groups = make_diffusion_sorption(
        n_samples,
        n_cells=n_cells,
        noise=noise,
        construction=construction,
        n_jobs=n_jobs,
        random_state=SPLIT_SEED,
        return_groups=True,
    )
    split = GroupShuffleSplit(n_splits=1, test_size=TEST_SIZE, random_state=SPLIT_SEED)
    train, test = next(split.split(X, y, groups))
    X_train, X_test = _standardize(X[train], X[test])
    prefix = "" if construction == DEFAULT_CONSTRUCTION else f"{construction}-"
    return Dataset(
        f"diffusion-sorption-{prefix}{noise}",
        "regression",
        X_train,
        X_test,
        y[train],
        y[test],
    )


def infer_task(y: pd.Series) -> str:
    """``"regression"`` for a float target with many values, else classification.

    Examples
    --------
    >>> import pandas as pd
    >>> from skprune.datasets import infer_task
    >>> infer_task(pd.Series(["a", "b"])), infer_task(pd.Series(range(50)) / 7)
    ('classification', 'regression')
    """
    is_float = pd.api.types.is_float_dtype(y)
    return "regression" if is_float and y.nunique() > FEW_UNIQUE else "classification"


def _read_csv_table(path: Path, target: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(path)
    if target not in frame.columns:
        raise ValueError(
            f"target column {target!r} is not in {path.name}; its columns are "
            f"{', '.join(map(str, frame.columns))}."
        )
    y = frame.pop(target)
    X = pd.get_dummies(frame, dtype=float)  # one-hot encode non-numeric columns
    missing = [str(c) for c in frame.columns if frame[c].isna().any()]
    if y.isna().any():
        missing.insert(0, target)
    if missing:
        raise ValueError(
            f"{path.name} has missing values in column(s) {', '.join(missing)}; "
            "fill or drop them first."
        )
    if X.shape[1] == 0:
        raise ValueError(f"{path.name} has no feature column besides {target!r}.")
    return X, y


def load_csv_split(path, target: str, task: str | None = None) -> Dataset:
    """A user's CSV: one-hot non-numeric features, standardise, split 75/25.

    For regression the target is standardised too (with the training rows'
    mean and standard deviation), so the test loss is the MSE of the
    standardised target (``loss_name`` says so).

    Parameters
    ----------
    path : str or path-like
        The CSV file, with a header row.
    target : str
        The target column.
    task : {"classification", "regression"}, default=None
        Default: :func:`infer_task` of the target column.

    Returns
    -------
    data : Dataset
        Named after the file.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.csv")
    >>> pd.DataFrame({"a": range(40), "y": [0, 1] * 20}).to_csv(path, index=False)
    >>> from skprune.datasets import load_csv_split
    >>> data = load_csv_split(path, "y")
    >>> data.name, data.task, data.X_train.shape
    ('toy', 'classification', (30, 1))
    """
    path = Path(path)
    X, y = _read_csv_table(path, target)
    task = task or infer_task(y)
    X = X.to_numpy(dtype=float)
    y = y.to_numpy(dtype=float) if task == "regression" else y.to_numpy()
    X_train, X_test, y_train, y_test = _split(X, y, task)
    X_train, X_test = _standardize(X_train, X_test)
    loss_name = ""
    if task == "regression":
        mean, std = y_train.mean(), y_train.std() or 1.0
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
        loss_name = "MSE (standardised target)"
    return Dataset(
        path.stem, task, X_train, X_test, y_train, y_test, loss_name=loss_name
    )
