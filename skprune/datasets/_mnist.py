"""Loader for MNIST from the four original gzip-compressed IDX files."""

from __future__ import annotations

import gzip
import hashlib
import numbers
import os
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._base import get_data_home

MNIST_HOME_ENV = "SKPRUNE_MNIST_HOME"
"""Environment variable naming a folder that holds the four MNIST files."""

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
"""Base URLs tried in order by ``load_mnist(download=True)``."""

DOWNLOAD_TIMEOUT = 60.0
"""Seconds before one download attempt from one mirror is abandoned."""

IMAGE_SHAPE = (28, 28)
N_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
N_TRAIN = 60_000
N_TEST = 10_000
_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


@dataclass(frozen=True)
class _IdxFile:
    """What one MNIST file must contain."""

    name: str
    magic: int
    shape: tuple[int, ...]
    md5: str  # of the uncompressed file


MNIST_FILES = {
    "train_images": _IdxFile(
        "train-images-idx3-ubyte.gz",
        _IMAGES_MAGIC,
        (N_TRAIN, *IMAGE_SHAPE),
        "6bbc9ace898e44ae57da46a324031adb",
    ),
    "train_labels": _IdxFile(
        "train-labels-idx1-ubyte.gz",
        _LABELS_MAGIC,
        (N_TRAIN,),
        "a25bea736e30d166cdddb491f175f624",
    ),
    "test_images": _IdxFile(
        "t10k-images-idx3-ubyte.gz",
        _IMAGES_MAGIC,
        (N_TEST, *IMAGE_SHAPE),
        "2646ac647ad5339dbf082846283269ea",
    ),
    "test_labels": _IdxFile(
        "t10k-labels-idx1-ubyte.gz",
        _LABELS_MAGIC,
        (N_TEST,),
        "27ae3e4e09519cfbb04c329615203637",
    ),
}
"""The four files: name, IDX magic number, dimensions, MD5 of the content."""

DESCR = """\
MNIST handwritten digits
------------------------

70,000 grey-scale images of handwritten digits 0-9, 28 x 28 pixels, split
by its authors into 60,000 training and 10,000 test images (the split is
kept: ``data``/``target`` are the training set, ``data_test``/
``target_test`` the test set). Pixels are scaled from 0..255 to [0, 1] and
flattened row by row into 784 features ``pixel_0`` .. ``pixel_783``.

Source: Y. LeCun, C. Cortes and C. J. C. Burges, "The MNIST database of
handwritten digits", read from the four original IDX files, whose content
is checked against known MD5 sums. License: CC BY-SA 3.0.
"""


def _gunzip(payload: bytes, name: str) -> bytes:
    """Decompress `payload`, raising ValueError naming `name` if it is not gzip."""
    try:
        return gzip.decompress(payload)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(
            f"{name}: expected a complete gzip-compressed IDX file, found data "
            f"that cannot be decompressed ({exc})."
        ) from exc


def _parse_idx(raw: bytes, spec: _IdxFile, name: str) -> np.ndarray:
    """Check the uncompressed IDX content `raw` against `spec`, return its data."""
    header = 4 + 4 * len(spec.shape)
    if len(raw) < header:
        raise ValueError(
            f"{name}: expected an IDX header of {header} bytes, found a "
            f"{len(raw)}-byte file."
        )
    magic = int.from_bytes(raw[:4], "big")
    if magic != spec.magic:
        raise ValueError(
            f"{name}: expected IDX magic number 0x{spec.magic:08X}, "
            f"found 0x{magic:08X}."
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", len(spec.shape), 4))
    if dims[0] != spec.shape[0]:
        raise ValueError(f"{name}: expected {spec.shape[0]} rows, found {dims[0]}.")
    if dims != spec.shape:
        raise ValueError(f"{name}: expected dimensions {spec.shape}, found {dims}.")
    if len(raw) - header != np.prod(dims):
        raise ValueError(
            f"{name}: expected {np.prod(dims)} data bytes after the header, "
            f"found {len(raw) - header}."
        )
    md5 = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    if md5 != spec.md5:
        raise ValueError(
            f"{name}: expected MD5 {spec.md5} of the uncompressed content, "
            f"found {md5}; the file is corrupt or not the original MNIST file."
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


@lru_cache(maxsize=len(MNIST_FILES))
def _read_idx_cached(path: str, mtime_ns: int, size: int, spec: _IdxFile):
    # mtime and size are part of the key only so that a changed file is reread.
    return _parse_idx(_gunzip(Path(path).read_bytes(), path), spec, path)


def _read_idx(folder: Path, key: str) -> np.ndarray:
    """Read and check the file `key` of MNIST_FILES; the read-only result is cached."""
    spec = MNIST_FILES[key]
    path = (folder / spec.name).resolve()
    stat = path.stat()
    return _read_idx_cached(str(path), stat.st_mtime_ns, stat.st_size, spec)


def _candidate_dirs(data_home) -> list[tuple[str, Path | None, str]]:
    """Folders to look in, in order: (where it came from, folder, if absent)."""
    env = os.environ.get(MNIST_HOME_ENV)
    return [
        (
            "the data_home argument",
            None if data_home is None else Path(data_home).expanduser(),
            "None",
        ),
        (
            f"the environment variable {MNIST_HOME_ENV}",
            Path(env).expanduser() if env else None,
            "not set",
        ),
        (
            "the default, get_data_home() / 'mnist'",
            get_data_home() / "mnist",
            "",
        ),
    ]


def _missing_files(folder: Path) -> list[str]:
    return [s.name for s in MNIST_FILES.values() if not (folder / s.name).is_file()]


def _not_found_message(candidates) -> str:
    names = ", ".join(spec.name for spec in MNIST_FILES.values())
    lines = [f"MNIST files not found. Looked for {names} in:"]
    for source, folder, absent in candidates:
        if folder is None:
            lines.append(f"  - {source}: {absent}")
        elif not folder.is_dir():
            lines.append(f"  - '{folder}' ({source}): no such folder")
        else:
            missing = ", ".join(_missing_files(folder))
            lines.append(f"  - '{folder}' ({source}): missing {missing}")
    lines.append(
        "Put the four gzip IDX files in one folder and pass it as data_home or "
        f"set {MNIST_HOME_ENV} to it, or pass download=True (on the command line: "
        "skprune compare --dataset mnist --download) to fetch and verify them."
    )
    return "\n".join(lines)


def _download_file(spec: _IdxFile, target: Path, mirrors: Sequence[str]) -> None:
    """Fetch one file from the first mirror that serves a verified copy."""
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + spec.name
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
                payload = response.read()
            _parse_idx(_gunzip(payload, url), spec, url)
        except (OSError, ValueError) as exc:
            failures.append(f"  - {url}: {exc}")
            continue
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(payload)
        os.replace(partial, target)
        return
    raise OSError(
        f"Could not download {spec.name} from any of {len(failures)} mirrors:\n"
        + "\n".join(failures)
    )


def _locate(data_home, download: bool, mirrors: Sequence[str]) -> Path:
    """Return the first folder holding all four files, downloading if asked."""
    candidates = _candidate_dirs(data_home)
    for _, folder, _ in candidates:
        if folder is not None and not _missing_files(folder):
            return folder
    if not download:
        raise FileNotFoundError(_not_found_message(candidates))
    folder = next(f for _, f, _ in candidates if f is not None)
    folder.mkdir(parents=True, exist_ok=True)
    for spec in MNIST_FILES.values():
        if not (folder / spec.name).is_file():
            _download_file(spec, folder / spec.name, mirrors)
    return folder


def _check_n_rows(value, name: str, maximum: int) -> int:
    if value is None:
        return maximum
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not 1 <= value <= maximum
    ):
        raise ValueError(
            f"{name} must be None or an integer in [1, {maximum}], got {value!r}."
        )
    return int(value)


def _split(folder: Path, kind: str, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Images as float64 in [0, 1] (n_rows, 784) and labels as int64."""
    images = _read_idx(folder, f"{kind}_images")[:n_rows].reshape(n_rows, N_PIXELS)
    labels = _read_idx(folder, f"{kind}_labels")[:n_rows]
    return np.true_divide(images, 255.0, dtype=np.float64), labels.astype(np.int64)


def load_mnist(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = False,
    n_train: int | None = None,
    n_test: int | None = None,
    download: bool = False,
    mirrors: Sequence[str] = MNIST_MIRRORS,
) -> Bunch | tuple:
    """Load the MNIST handwritten digits (classification, 10 classes).

    Reads the four original gzip-compressed IDX files
    (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``) and checks
    each one: IDX magic number, dimensions, number of rows (60,000 / 10,000)
    and the MD5 of the uncompressed content. Parsed files are cached for the
    life of the process, so repeated calls are fast.

    The files are looked for in, in order: `data_home`, the folder named by
    the environment variable ``SKPRUNE_MNIST_HOME``, and
    ``get_data_home() / "mnist"`` (``~/skprune_data/mnist`` unless
    ``SKPRUNE_DATA_HOME`` is set). The first folder holding all four is used.

    =================   ==============
    Classes                         10
    Samples (train)             60,000
    Samples (test)              10,000
    Features                       784
    Feature values      float in [0, 1]
    =================   ==============

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding the four files, looked in first.
    return_X_y : bool, default=False
        If True, return ``(X_train, X_test, y_train, y_test)`` instead of a
        Bunch. MNIST's own train/test split is kept apart (the order is that
        of :func:`sklearn.model_selection.train_test_split`).
    as_frame : bool, default=False
        If True, images are pandas DataFrames with columns ``pixel_0`` ..
        ``pixel_783`` and labels are pandas Series named ``"target"``.
    n_train, n_test : int, default=None
        Keep only the first `n_train` training / `n_test` test rows (for
        quick experiments and tests). None keeps all of them.
    download : bool, default=False
        If True and no folder holds the four files, download the missing
        ones into the first of the folders above that is given (`data_home`,
        else ``SKPRUNE_MNIST_HOME``, else the default) and verify them.
    mirrors : sequence of str, default=MNIST_MIRRORS
        Base URLs to download from, tried in order.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        data : ndarray of shape (n_train, 784) or DataFrame
            Training images, float64 in [0, 1].
        target : ndarray of shape (n_train,) or Series
            Training labels 0-9, int64.
        data_test : ndarray of shape (n_test, 784) or DataFrame
            Test images.
        target_test : ndarray of shape (n_test,) or Series
            Test labels.
        feature_names : list of str
            ``["pixel_0", ..., "pixel_783"]``, row-major over 28 x 28.
        target_names : ndarray of shape (10,)
            The digits 0-9.
        DESCR : str
            Description of the data set.
    (X_train, X_test, y_train, y_test) : tuple
        If `return_X_y` is True.

    Raises
    ------
    FileNotFoundError
        If no folder holds the four files and `download` is False. The
        message lists every folder looked in and what is missing there.
    ValueError
        If a file is corrupt or not the expected MNIST file (the message
        names the file and what was expected and found), or if `n_train` or
        `n_test` is out of range.

    Examples
    --------
    >>> from skprune.datasets import load_mnist
    >>> mnist = load_mnist(n_train=1000, n_test=200)  # doctest: +SKIP
    >>> mnist.data.shape, mnist.data_test.shape  # doctest: +SKIP
    ((1000, 784), (200, 784))
    >>> X_train, X_test, y_train, y_test = load_mnist(
    ...     return_X_y=True, n_train=1000
    ... )  # doctest: +SKIP
    """
    n_train = _check_n_rows(n_train, "n_train", N_TRAIN)
    n_test = _check_n_rows(n_test, "n_test", N_TEST)
    folder = _locate(data_home, download, mirrors)
    X_train, y_train = _split(folder, "train", n_train)
    X_test, y_test = _split(folder, "test", n_test)
    feature_names = [f"pixel_{i}" for i in range(N_PIXELS)]
    if as_frame:
        X_train, X_test, y_train, y_test = _as_frames(
            X_train, X_test, y_train, y_test, feature_names
        )
    if return_X_y:
        return X_train, X_test, y_train, y_test
    return Bunch(
        data=X_train,
        target=y_train,
        data_test=X_test,
        target_test=y_test,
        feature_names=feature_names,
        target_names=np.arange(10),
        DESCR=DESCR,
    )


def _as_frames(X_train, X_test, y_train, y_test, feature_names):
    import pandas as pd

    return (
        pd.DataFrame(X_train, columns=feature_names),
        pd.DataFrame(X_test, columns=feature_names),
        pd.Series(y_train, name="target"),
        pd.Series(y_test, name="target"),
    )
