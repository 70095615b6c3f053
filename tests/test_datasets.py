"""Tests for skprune.datasets: MNIST loader and diffusion-sorption data."""

from __future__ import annotations

import gzip
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp

from skprune.datasets import (
    NOISE_LEVELS,
    Dataset,
    _diffusion_sorption,
    get_data_home,
    infer_task,
    load_csv_split,
    load_diffusion_sorption,
    load_digits_split,
    load_mnist,
    make_diffusion_sorption,
    simulate_diffusion_sorption,
)

# --------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------

MNIST_DIR = Path(
    os.environ.get("SKPRUNE_MNIST_HOME")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
)
MNIST_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]

needs_mnist = pytest.mark.skipif(
    not all((MNIST_DIR / name).is_file() for name in MNIST_NAMES.values()),
    reason=f"MNIST files not found in {MNIST_DIR}; set SKPRUNE_MNIST_HOME",
)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(data_home=MNIST_DIR)


@pytest.fixture
def mnist_copy(tmp_path):
    """A folder linking the four MNIST files; a test may replace one."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in MNIST_NAMES.values():
        (folder / name).symlink_to(MNIST_DIR / name)
    return folder


@needs_mnist
def test_mnist_shapes_dtypes_and_range(mnist):
    assert mnist.data.shape == (60_000, 784)
    assert mnist.data_test.shape == (10_000, 784)
    assert mnist.target.shape == (60_000,)
    assert mnist.target_test.shape == (10_000,)
    assert mnist.data.dtype == np.float64 and mnist.target.dtype == np.int64
    assert mnist.data.min() == 0.0 and mnist.data.max() == 1.0
    assert mnist.data_test.min() == 0.0 and mnist.data_test.max() == 1.0
    assert mnist.feature_names[0] == "pixel_0"
    assert mnist.feature_names[-1] == "pixel_783"
    assert len(mnist.feature_names) == 784
    np.testing.assert_array_equal(mnist.target_names, np.arange(10))
    assert "MNIST" in mnist.DESCR


@needs_mnist
def test_mnist_label_counts(mnist):
    np.testing.assert_array_equal(np.bincount(mnist.target), TRAIN_LABEL_COUNTS)
    assert np.bincount(mnist.target_test).sum() == 10_000
    assert set(np.unique(mnist.target_test)) == set(range(10))


@needs_mnist
def test_mnist_subsets_are_the_first_rows(mnist):
    small = load_mnist(data_home=MNIST_DIR, n_train=100, n_test=30)
    np.testing.assert_array_equal(small.data, mnist.data[:100])
    np.testing.assert_array_equal(small.target, mnist.target[:100])
    np.testing.assert_array_equal(small.data_test, mnist.data_test[:30])
    np.testing.assert_array_equal(small.target_test, mnist.target_test[:30])


@needs_mnist
def test_mnist_return_X_y_keeps_the_split():
    X_train, X_test, y_train, y_test = load_mnist(
        data_home=MNIST_DIR, return_X_y=True, n_train=50, n_test=20
    )
    bunch = load_mnist(data_home=MNIST_DIR, n_train=50, n_test=20)
    np.testing.assert_array_equal(X_train, bunch.data)
    np.testing.assert_array_equal(X_test, bunch.data_test)
    np.testing.assert_array_equal(y_train, bunch.target)
    np.testing.assert_array_equal(y_test, bunch.target_test)


@needs_mnist
def test_mnist_as_frame():
    bunch = load_mnist(data_home=MNIST_DIR, as_frame=True, n_train=40, n_test=10)
    assert isinstance(bunch.data, pd.DataFrame)
    assert isinstance(bunch.target, pd.Series)
    assert list(bunch.data.columns) == bunch.feature_names
    assert bunch.data.shape == (40, 784) and bunch.data_test.shape == (10, 784)
    assert bunch.target.dtype == np.int64 and bunch.target.name == "target"
    X_train, X_test, y_train, y_test = load_mnist(
        data_home=MNIST_DIR, as_frame=True, return_X_y=True, n_train=40, n_test=10
    )
    pd.testing.assert_frame_equal(X_train, bunch.data)
    pd.testing.assert_series_equal(y_test, bunch.target_test)


@needs_mnist
def test_mnist_results_do_not_share_the_cache():
    first = load_mnist(data_home=MNIST_DIR, n_train=5, n_test=5)
    first.data[:] = -1.0
    first.target[:] = -1
    second = load_mnist(data_home=MNIST_DIR, n_train=5, n_test=5)
    assert second.data.min() == 0.0 and second.target.min() >= 0


@needs_mnist
def test_mnist_env_var_and_default_are_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("SKPRUNE_MNIST_HOME", str(MNIST_DIR))
    bunch = load_mnist(data_home=tmp_path / "empty", n_train=10, n_test=10)
    assert bunch.data.shape == (10, 784)
    monkeypatch.delenv("SKPRUNE_MNIST_HOME")
    monkeypatch.setenv("SKPRUNE_DATA_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "mnist").symlink_to(MNIST_DIR)
    assert load_mnist(n_train=10, n_test=10).data.shape == (10, 784)


def test_mnist_missing_files_message(tmp_path, monkeypatch):
    argument = tmp_path / "argument"
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / MNIST_NAMES["train_images"]).write_bytes(b"")
    monkeypatch.setenv("SKPRUNE_MNIST_HOME", str(env_dir))
    monkeypatch.setenv("SKPRUNE_DATA_HOME", str(tmp_path / "home"))
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(f"'{argument}' (the data_home argument): no such folder"),
    ) as excinfo:
        load_mnist(data_home=argument)
    message = str(excinfo.value)
    others = ", ".join(list(MNIST_NAMES.values())[1:])
    expected = [
        f"'{env_dir}' (the environment variable SKPRUNE_MNIST_HOME): missing {others}",
        f"'{tmp_path / 'home' / 'mnist'}' (the default, get_data_home() / 'mnist')",
        "pass it as data_home or set SKPRUNE_MNIST_HOME",
        "download=True",
    ]
    for part in expected:
        assert part in message


def test_mnist_missing_files_message_without_argument(tmp_path, monkeypatch):
    monkeypatch.delenv("SKPRUNE_MNIST_HOME", raising=False)
    monkeypatch.setenv("SKPRUNE_DATA_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as excinfo:
        load_mnist()
    assert "the data_home argument: None" in str(excinfo.value)
    assert "the environment variable SKPRUNE_MNIST_HOME: not set" in str(excinfo.value)


def _rewrite_gzip(path: Path, edit) -> None:
    raw = gzip.decompress(path.read_bytes())
    path.unlink()
    path.write_bytes(gzip.compress(edit(raw)))


def _flip_last_byte(raw: bytes) -> bytes:
    return raw[:-1] + bytes([(raw[-1] + 1) % 10])


def _wrong_magic(raw: bytes) -> bytes:
    return (0x0803).to_bytes(4, "big") + raw[4:]


def _drop_rows(raw: bytes) -> bytes:
    return (0x0801).to_bytes(4, "big") + (9_999).to_bytes(4, "big") + raw[8:-1]


def _truncate_content(raw: bytes) -> bytes:
    return raw[:-10]


@needs_mnist
@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_flip_last_byte, "expected MD5 27ae3e4e09519cfbb04c329615203637"),
        (_wrong_magic, "expected IDX magic number 0x00000801, found 0x00000803"),
        (_drop_rows, "expected 10000 rows, found 9999"),
        (_truncate_content, "expected 10000 data bytes after the header, found 9990"),
    ],
)
def test_mnist_corrupt_content(mnist_copy, edit, expected):
    _rewrite_gzip(mnist_copy / MNIST_NAMES["test_labels"], edit)
    with pytest.raises(ValueError, match=re.escape(expected)) as excinfo:
        load_mnist(data_home=mnist_copy, n_train=10)
    assert MNIST_NAMES["test_labels"] in str(excinfo.value)


@needs_mnist
def test_mnist_truncated_gzip(mnist_copy):
    path = mnist_copy / MNIST_NAMES["test_labels"]
    payload = path.read_bytes()
    path.unlink()
    path.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(
        ValueError,
        match=re.escape("t10k-labels-idx1-ubyte.gz: expected a complete gzip"),
    ):
        load_mnist(data_home=mnist_copy, n_train=10)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"n_train": 0}, "n_train must be None or an integer in [1, 60000], got 0."),
        ({"n_test": 10_001}, "n_test must be None or an integer in [1, 10000], got"),
        ({"n_train": 2.5}, "n_train must be None or an integer in [1, 60000], got"),
    ],
)
def test_mnist_bad_row_counts(kwargs, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_mnist(data_home=MNIST_DIR, **kwargs)


@needs_mnist
def test_mnist_download_from_file_mirror(tmp_path, monkeypatch):
    # urllib also serves file:// URLs: this runs the download path offline.
    monkeypatch.delenv("SKPRUNE_MNIST_HOME", raising=False)
    monkeypatch.setenv("SKPRUNE_DATA_HOME", str(tmp_path / "home"))
    target = tmp_path / "downloaded"
    mirrors = [(tmp_path / "no_mirror").as_uri(), MNIST_DIR.as_uri()]
    bunch = load_mnist(data_home=target, download=True, mirrors=mirrors, n_train=10)
    assert sorted(p.name for p in target.iterdir()) == sorted(MNIST_NAMES.values())
    assert bunch.data.shape == (10, 784)


def test_mnist_download_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.delenv("SKPRUNE_MNIST_HOME", raising=False)
    monkeypatch.setenv("SKPRUNE_DATA_HOME", str(tmp_path / "home"))
    with pytest.raises(OSError, match=re.escape("Could not download")):
        load_mnist(
            data_home=tmp_path, download=True, mirrors=[(tmp_path / "x").as_uri()]
        )


def test_get_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SKPRUNE_DATA_HOME", str(tmp_path))
    assert get_data_home() == tmp_path
    assert get_data_home(tmp_path / "other") == tmp_path / "other"
    monkeypatch.delenv("SKPRUNE_DATA_HOME")
    assert get_data_home() == Path.home() / "skprune_data"


# --------------------------------------------------------------------------
# Diffusion-sorption: an independent reference of PDEBench's recipe
# --------------------------------------------------------------------------

N_CELLS = 32
SEEDS = [0, 3, 11]
SAME_RECIPE_ATOL = 1e-6  # same discretisation and solver, other code
# RK45 at default tolerances against a converged solve (about 3e-3 at 64 cells)
CONVERGED_ATOL = 1e-2
RK45_RTOL = 1e-3  # solve_ivp's default: how far a monotone quantity may wobble


def reference_rhs(t, u, n_cells):
    """PDEBench's semi-discretisation written with explicit ghost cells."""
    D, phi, rho_s, k_f, n_f = 5e-4, 0.29, 2880.0, 3.5e-4, 0.874
    dx = 1.0 / n_cells
    retardation = 1 + (1 - phi) / phi * rho_s * k_f * n_f * (u + 1e-6) ** (n_f - 1)
    ghosts = np.concatenate([[1.0], u, [D * (u[-2] - u[-1]) / dx]])
    laplacian = (ghosts[:-2] - 2 * ghosts[1:-1] + ghosts[2:]) / dx**2
    return D / retardation * laplacian


def reference_solve(seed, n_cells, **solver):
    u0 = np.full(n_cells, np.random.RandomState(seed).uniform(0.0, 0.2))
    with np.errstate(invalid="ignore"):
        solution = solve_ivp(
            reference_rhs,
            (0, 500),
            u0,
            t_eval=np.linspace(0, 500, 101),
            args=(n_cells,),
            **solver,
        )
    assert solution.success
    return solution.y.T


@pytest.fixture(scope="module")
def simulation():
    return simulate_diffusion_sorption(SEEDS, n_cells=N_CELLS, memory=False)


def test_simulation_shapes(simulation):
    assert simulation.u.shape == (len(SEEDS), 101, N_CELLS)
    assert simulation.u.dtype == np.float64
    np.testing.assert_array_equal(simulation.t, np.linspace(0, 500, 101))
    np.testing.assert_allclose(simulation.x, (np.arange(N_CELLS) + 0.5) / N_CELLS)
    np.testing.assert_array_equal(simulation.seeds, SEEDS)


def test_simulation_matches_independent_rk45(simulation):
    for j, seed in enumerate(SEEDS):
        expected = reference_solve(seed, N_CELLS, method="RK45")
        np.testing.assert_allclose(simulation.u[j], expected, atol=SAME_RECIPE_ATOL)


def test_simulation_close_to_converged_solution():
    sim = simulate_diffusion_sorption([5], n_cells=64, memory=False)
    converged = reference_solve(5, 64, method="Radau", rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(sim.u[0], converged, atol=CONVERGED_ATOL)


def test_simulation_initial_value_from_seed(simulation):
    for j, seed in enumerate(SEEDS):
        u0 = np.random.RandomState(seed).uniform(0.0, 0.2)
        np.testing.assert_array_equal(simulation.u[j, 0], np.full(N_CELLS, u0))


def test_simulation_physics(simulation):
    u = simulation.u
    assert u.min() >= 0.0 and u.max() <= 1.0
    # the left boundary (value 1) fills the medium: u at x_0 rises towards 1
    assert np.all(np.diff(u[:, :, 0], axis=1) >= -RK45_RTOL)
    assert np.all(np.diff(u[:, ::10, 0], axis=1) > 0.0)
    assert np.all(u[:, -1, 0] > 0.9)
    # late profiles decrease from the inflow boundary into the medium
    assert np.all(np.diff(u[:, 50:, :], axis=2) < 0.0)
    # the front advances: more contaminant at each later stored time
    assert np.all(np.diff(u.sum(axis=2)[:, 10:], axis=1) > 0.0)


def test_simulation_cache_hit(tmp_path, monkeypatch):
    first = simulate_diffusion_sorption([2, 4], n_cells=16, data_home=tmp_path)
    assert any((tmp_path / "diffusion_sorption").rglob("*.pkl"))

    def no_solver(*args, **kwargs):
        raise AssertionError("solve_ivp called although the result is cached")

    monkeypatch.setattr(_diffusion_sorption, "solve_ivp", no_solver)
    second = simulate_diffusion_sorption([4, 2], n_cells=16, data_home=tmp_path)
    np.testing.assert_array_equal(second.u, first.u[::-1])
    with pytest.raises(AssertionError, match="solve_ivp called"):
        simulate_diffusion_sorption([2], n_cells=16, memory=False)
    with pytest.raises(AssertionError, match="solve_ivp called"):
        simulate_diffusion_sorption([2], n_cells=17, data_home=tmp_path)


def test_simulation_parallel_equals_serial(simulation):
    parallel = simulate_diffusion_sorption(
        SEEDS, n_cells=N_CELLS, n_jobs=2, memory=False
    )
    np.testing.assert_array_equal(parallel.u, simulation.u)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"seeds": 3}, "got the single integer 3"),
        ({"seeds": []}, "seeds must be a non-empty 1-D sequence of integers"),
        ({"seeds": [1, -2]}, "in [0, 2**32), got [1, -2]."),
        ({"seeds": [0.5]}, "seeds must be a non-empty 1-D sequence of integers"),
        ({"seeds": [0], "n_cells": 2}, "n_cells must be an integer >= 3, got 2."),
    ],
)
def test_simulation_bad_arguments(kwargs, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        simulate_diffusion_sorption(memory=False, **kwargs)


# --------------------------------------------------------------------------
# make_diffusion_sorption
# --------------------------------------------------------------------------

MAKE = {"n_cells": N_CELLS, "memory": False}


@pytest.fixture(scope="module")
def one_trajectory():
    return simulate_diffusion_sorption([0], n_cells=N_CELLS, memory=False)


def test_make_stencil_columns(one_trajectory):
    X, y = make_diffusion_sorption(400, n_trajectories=1, random_state=0, **MAKE)
    assert X.shape == (400, 68) and y.shape == (400,)
    u, x, t = one_trajectory.u[0], one_trajectory.x, one_trajectory.t
    i = np.rint(X[:, 66] * N_CELLS - 0.5).astype(int)
    k = np.rint(X[:, 67] / 5.0).astype(int)
    np.testing.assert_array_equal(x[i], X[:, 66])
    assert k.min() >= 1 and k.max() <= 99
    # window of 33 cells around x_i at t_{k-1} then t_k, ghosts outside
    ghost_right = 5e-4 * (u[:, -2] - u[:, -1]) * N_CELLS
    padded = np.hstack([np.ones((101, 16)), u, np.repeat(ghost_right[:, None], 16, 1)])
    for row in range(len(X)):
        window = padded[:, i[row] : i[row] + 33]
        np.testing.assert_allclose(X[row, :33], window[k[row] - 1], rtol=1e-12)
        np.testing.assert_allclose(X[row, 33:66], window[k[row]], rtol=1e-12)
    np.testing.assert_array_equal(y, u[k + 1, i])
    np.testing.assert_array_equal(X[:, 67], t[k])
    assert i.min() < 16 and i.max() > N_CELLS - 17  # both boundaries sampled


def test_make_sensors_columns(one_trajectory):
    X, y = make_diffusion_sorption(
        50,
        construction="sensors",
        n_inputs=10,
        n_trajectories=1,
        random_state=1,
        **MAKE,
    )
    assert X.shape == (50, 10) and y.shape == (50,)
    u = one_trajectory.u[0]
    i = np.rint(X[:, 8] * N_CELLS - 0.5).astype(int)
    k = np.rint(X[:, 9] / 5.0).astype(int)
    sensors = [0, 4, 9, 13, 18, 22, 27, 31]  # 8 equally spaced cells of 32
    np.testing.assert_array_equal(X[:, :8], u[k][:, sensors])
    np.testing.assert_array_equal(y, u[k + 1, i])


def test_make_initial_condition_columns():
    X, y, groups = make_diffusion_sorption(
        300,
        construction="initial-condition",
        n_inputs=10,
        n_trajectories=2,
        noise=0.01,
        random_state=2,
        return_groups=True,
        **MAKE,
    )
    assert X.shape == (300, 10) and y.shape == (300,) and groups.shape == (300,)
    clean = simulate_diffusion_sorption([0, 1], n_cells=N_CELLS, memory=False)
    i = np.rint(X[:, 8] * N_CELLS - 0.5).astype(int)
    k = np.rint(X[:, 9] / 5.0).astype(int)
    assert k.min() == 0 and k.max() == 100
    assert set(groups) == {0, 1}
    # u₀ is constant in space: 8 noisy copies of the trajectory's one value
    u0 = clean.u[groups, 0, 0]
    assert np.abs(X[:, :8] - u0[:, None]).max() <= 0.01
    assert np.abs(y - clean.u[groups, k, i]).max() <= 0.01
    np.testing.assert_array_equal(X[:, 8:], np.column_stack([clean.x[i], clean.t[k]]))


def test_make_returns_the_trajectory_of_each_sample(one_trajectory):
    X, y, groups = make_diffusion_sorption(
        60, n_trajectories=1, random_state=0, return_groups=True, **MAKE
    )
    X2, y2 = make_diffusion_sorption(60, n_trajectories=1, random_state=0, **MAKE)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(groups, 0)


def test_make_deterministic():
    X1, y1 = make_diffusion_sorption(100, n_trajectories=2, random_state=3, **MAKE)
    X2, y2 = make_diffusion_sorption(100, n_trajectories=2, random_state=3, **MAKE)
    X3, _ = make_diffusion_sorption(100, n_trajectories=2, random_state=4, **MAKE)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("noise", [0.05, "high"])
def test_make_noise_amplitude(noise):
    amplitude = NOISE_LEVELS.get(noise, noise)
    clean_X, clean_y = make_diffusion_sorption(
        300, n_trajectories=2, random_state=0, **MAKE
    )
    X, y = make_diffusion_sorption(
        300, n_trajectories=2, noise=noise, random_state=0, **MAKE
    )
    dX, dy = X - clean_X, y - clean_y
    np.testing.assert_array_equal(dX[:, 66:], 0.0)  # x_i and t_k stay exact
    assert np.abs(dX[:, :66]).max() <= amplitude
    assert np.abs(dy).max() <= amplitude
    assert np.abs(dX[:, :66]).max() > 0.99 * amplitude
    assert abs(np.abs(dX[:, :66]).mean() - amplitude / 2) < 0.02 * amplitude


def test_noise_levels_are_increasing():
    assert list(NOISE_LEVELS) == ["low", "medium", "high"]
    assert 0 < NOISE_LEVELS["low"] < NOISE_LEVELS["medium"] < NOISE_LEVELS["high"]


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((-5,), {}, "n_samples must be an integer >= 1, got -5."),
        ((10,), {"n_cells": 1}, "n_cells must be an integer >= 3, got 1."),
        ((10,), {"construction": "pixels"}, "got 'pixels'."),
        ((10,), {"noise": -0.1}, "noise must be a float >= 0"),
        ((10,), {"noise": "extreme"}, "got 'extreme'."),
        ((10,), {"n_inputs": 70}, "odd window width (e.g. 68 = 2 + 2 * 33), got 70."),
        ((10,), {"n_trajectories": 0}, "n_trajectories must be an integer >= 1"),
        (
            (10,),
            {"construction": "sensors", "n_inputs": 68},
            "must fit in n_cells=32 cells, got n_inputs=68.",
        ),
        (
            (10,),
            {"construction": "initial-condition", "n_inputs": 68},
            "construction='initial-condition', n_inputs - 2 grid cells must fit in "
            "n_cells=32",
        ),
    ],
)
def test_make_bad_arguments(args, kwargs, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        make_diffusion_sorption(*args, **{**MAKE, **kwargs})


# --------------------------------------------------------------------------
# load_diffusion_sorption
# --------------------------------------------------------------------------


def _write_pdebench_file(path, simulation, order):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as file:
        for j in order:
            group = file.create_group(f"{simulation.seeds[j]:04d}")
            group.create_dataset(
                "data", data=simulation.u[j][..., None], dtype="float32"
            )
            group.create_dataset("grid/x", data=simulation.x, dtype="float32")
            group.create_dataset("grid/t", data=simulation.t, dtype="float32")


def test_load_diffusion_sorption(tmp_path, simulation):
    path = tmp_path / "1D_diff-sorp_NA_NA.h5"
    _write_pdebench_file(path, simulation, order=[2, 0, 1])
    loaded = load_diffusion_sorption(path)
    assert loaded.u.dtype == np.float64
    np.testing.assert_array_equal(loaded.seeds, SEEDS)
    np.testing.assert_array_equal(loaded.u, simulation.u.astype(np.float32))
    np.testing.assert_allclose(loaded.x, simulation.x, rtol=1e-7)
    np.testing.assert_allclose(loaded.t, simulation.t, rtol=1e-7)
    first_two = load_diffusion_sorption(path, n_trajectories=2)
    np.testing.assert_array_equal(first_two.u, loaded.u[:2])
    with pytest.raises(
        ValueError, match=re.escape("n_trajectories must be at most 3, the number")
    ):
        load_diffusion_sorption(path, n_trajectories=4)


def test_load_diffusion_sorption_errors(tmp_path):
    h5py = pytest.importorskip("h5py")
    with pytest.raises(FileNotFoundError, match=re.escape("No such HDF5 file")):
        load_diffusion_sorption(tmp_path / "absent.h5")
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("tensor", data=np.zeros(3))
    with pytest.raises(ValueError, match=re.escape("found groups ['tensor']")):
        load_diffusion_sorption(path)


def test_load_diffusion_sorption_without_h5py(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'skprune[hdf5]'")):
        load_diffusion_sorption(tmp_path / "any.h5")


# ------------------------------------------------------- train/test splits


def test_digits_split_is_fixed_and_stratified():
    first, second = load_digits_split(), load_digits_split()
    np.testing.assert_array_equal(first.X_train, second.X_train)
    assert first.X_train.shape == (1347, 64) and first.X_test.shape == (450, 64)
    assert 0 <= first.X_train.min() and first.X_train.max() <= 1
    train_share = np.bincount(first.y_train) / len(first.y_train)
    test_share = np.bincount(first.y_test) / len(first.y_test)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)


def test_infer_task():
    assert infer_task(pd.Series(["a", "b", "a"])) == "classification"
    assert infer_task(pd.Series(np.arange(100))) == "classification"  # ints
    assert infer_task(pd.Series([0.0, 1.0] * 20)) == "classification"  # few
    assert infer_task(pd.Series(np.linspace(0, 1, 11))) == "regression"


def _write_csv(path, n=120, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n) * 100,
            "colour": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    frame["label"] = np.where(frame["x1"] > 0, "yes", "no")
    frame["value"] = 3 * frame["x1"] + rng.normal(size=n)
    frame.to_csv(path, index=False)
    return frame


def test_csv_split_one_hot_standardised(tmp_path):
    _write_csv(tmp_path / "table.csv")
    data = load_csv_split(tmp_path / "table.csv", "label")
    assert data.name == "table" and data.task == "classification"
    # x1, x2, value and three one-hot columns of colour
    assert data.X_train.shape == (90, 6) and data.X_test.shape == (30, 6)
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-12)
    assert set(data.y_train) == {"yes", "no"}
    regression = load_csv_split(tmp_path / "table.csv", "value")
    assert regression.task == "regression"
    np.testing.assert_allclose(regression.y_train.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(regression.y_train.std(), 1)


def test_csv_errors(tmp_path):
    frame = _write_csv(tmp_path / "table.csv")
    message = "target column 'target' is not in table.csv; its columns are x1, x2"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_csv_split(tmp_path / "table.csv", "target")
    frame.loc[3, "x2"] = np.nan
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    message = "gaps.csv has missing values in column(s) x2; fill or drop them first."
    with pytest.raises(ValueError, match=re.escape(message)):
        load_csv_split(tmp_path / "gaps.csv", "label")


def test_dataset_subset_and_errors():
    data = load_digits_split()
    small = data.subset(n_train=100, n_test=10)
    assert small.X_train.shape == (100, 64) and small.y_test.shape == (10,)
    assert (small.loss_name, small.score_name) == ("cross-entropy", "accuracy")
    with pytest.raises(ValueError, match=re.escape("n_test=451 exceeds the 450 test")):
        data.subset(n_test=451)
    with pytest.raises(ValueError, match=re.escape("got 'ranking'")):
        Dataset("x", "ranking", *[np.zeros((2, 1))] * 4)


def test_csv_regression_names_its_standardised_loss(tmp_path):
    _write_csv(tmp_path / "table.csv")
    data = load_csv_split(tmp_path / "table.csv", "value")
    assert (data.loss_name, data.score_name) == ("MSE (standardised target)", "R²")
