"""Every ``examples/plot_*.py`` runs as a script, with its fast settings."""

from __future__ import annotations

import runpy
import warnings
from pathlib import Path

import matplotlib
import pytest
import sklearn.linear_model  # noqa: F401  (loads scikit-learn's OpenMP runtime)
import torch
from threadpoolctl import threadpool_limits

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))


@pytest.fixture
def fast_examples(monkeypatch, tmp_path):
    """Fast settings, a private data cache, and the process state restored."""
    monkeypatch.setenv("SKPRUNE_EXAMPLE_FAST", "1")
    monkeypatch.setenv("SKPRUNE_DATA_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    # One thread per loaded library (torch's and scikit-learn's OpenMP, BLAS):
    # small problems on shared cores run many times faster without threads
    # spinning against each other.
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-interactive.*")
        yield
    torch.set_num_threads(threads)
    plt.close("all")


def test_examples_found():
    assert {p.name for p in EXAMPLES} >= {
        "plot_mnist_pruning.py",
        "plot_diffusion_sorption.py",
        "plot_grid_search.py",
        "plot_feature_selection.py",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, fast_examples):
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exc:  # an example stops early when its data is missing
        if exc.code not in (0, None):
            raise
        pytest.skip(f"{path.name} stopped early (missing data)")
    assert plt.get_fignums(), f"{path.name} drew no figure"
