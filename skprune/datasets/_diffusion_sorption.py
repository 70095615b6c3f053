"""PDEBench's 1D diffusion-sorption problem: simulation, regression data, loader.

The equation, from PDEBench (Takamoto et al., 2022), models a contaminant
diffusing into a porous medium where it is retarded by Freundlich sorption:

    u_t = D / R(u) * u_xx,
    R(u) = 1 + (1 - phi) / phi * rho_s * k_f * n_f * (u + 1e-6) ** (n_f - 1),

on x in [0, 1] for t in [0, 500], discretised like PDEBench's generator:
cell-centred finite volumes, a left ghost cell holding the value 1, a right
ghost cell holding ``D * (u[N-2] - u[N-1]) / dx`` (used as a cell value,
as PDEBench does), a constant initial value drawn from Uniform(0, 0.2) by
``RandomState(seed)``, and scipy's RK45 at its default tolerances.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from joblib import Memory, Parallel, delayed
from scipy.integrate import solve_ivp
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_memory

from ._base import get_data_home

DIFFUSIVITY = 5e-4  # D
POROSITY = 0.29  # phi
BULK_DENSITY = 2880.0  # rho_s
FREUNDLICH_K = 3.5e-4  # k_f
FREUNDLICH_N = 0.874  # n_f
SORPTION_OFFSET = 1e-6  # keeps (u + 1e-6) ** (n_f - 1) finite at u = 0
BOUNDARY_VALUE = 1.0  # u in the left ghost cell
T_END = 500.0
N_TIMES = 101
INITIAL_VALUE_RANGE = (0.0, 0.2)
DEFAULT_N_CELLS = 1024
MIN_N_CELLS = 3  # at least one cell between the two boundary cells
U_RANGE = 1.0  # u stays in [0, 1]: the unit that noise is measured in

_SORPTION_COEF = (1 - POROSITY) / POROSITY * BULK_DENSITY * FREUNDLICH_K * FREUNDLICH_N
_CACHE_VERSION = 1  # part of the disk-cache key: bump when the solver changes

NOISE_LEVELS = {"low": 0.01, "medium": 0.05, "high": 0.1}
"""Noise amplitudes for ``make_diffusion_sorption(noise="low")`` etc.

Fractions of the range of u (which is 1). The paper uses three levels of
uniform noise without giving their values here; these are skprune's choice.
"""

CONSTRUCTIONS = ("stencil", "sensors", "initial-condition")
"""Ways ``make_diffusion_sorption`` builds its inputs (see its docstring)."""


def _retardation(u: np.ndarray) -> np.ndarray:
    """Freundlich retardation factor R(u), cell by cell."""
    return 1 + _SORPTION_COEF * (u + SORPTION_OFFSET) ** (FREUNDLICH_N - 1)


def _right_ghost(u: np.ndarray, dx: float) -> np.ndarray:
    """Value of the right ghost cell, ``D * (u[N-2] - u[N-1]) / dx``."""
    return (u[..., -2] - u[..., -1]) / dx * DIFFUSIVITY


def _rhs(t: float, u: np.ndarray, dx: float) -> np.ndarray:
    """du/dt of the finite-volume cell values `u` (t is unused).

    Same floating-point operations, in the same order, as PDEBench's
    generator, so that RK45 takes the same steps.
    """
    dx2 = dx**2
    d_over_r = DIFFUSIVITY / _retardation(u)
    laplacian = (-2.0 / dx2) * u
    laplacian[1:] += (1.0 / dx2) * u[:-1]
    laplacian[:-1] += (1.0 / dx2) * u[1:]
    du = d_over_r * laplacian
    du[0] += d_over_r[0] / dx2 * BOUNDARY_VALUE
    du[-1] += d_over_r[-1] / dx2 * _right_ghost(u, dx)
    return du


def _times() -> np.ndarray:
    return np.linspace(0.0, T_END, N_TIMES)


def _cell_centres(n_cells: int) -> np.ndarray:
    return (np.arange(n_cells) + 0.5) / n_cells


def _initial_value(seed: int) -> float:
    return np.random.RandomState(seed).uniform(*INITIAL_VALUE_RANGE)


def _solve_trajectory(seed: int, n_cells: int, version: int) -> np.ndarray:
    """One trajectory, shape (N_TIMES, n_cells); `version` keys the cache."""
    u0 = np.full(n_cells, _initial_value(seed))
    # On fine grids RK45's first trial steps are far too long for this stiff
    # problem: their stages overshoot below -1e-6, R becomes NaN, and RK45
    # rejects and shrinks the step (as in PDEBench). Silence that warning.
    with np.errstate(invalid="ignore"):
        solution = solve_ivp(
            _rhs,
            (0.0, T_END),
            u0,
            method="RK45",
            t_eval=_times(),
            args=(1.0 / n_cells,),
        )
    if not solution.success:
        raise RuntimeError(
            f"solve_ivp failed for seed={seed}, n_cells={n_cells}: {solution.message}"
        )
    return np.ascontiguousarray(solution.y.T)


def _check_int(value, name: str, minimum: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_seeds(seeds) -> list[int]:
    if isinstance(seeds, numbers.Integral):
        raise ValueError(
            f"seeds must be a sequence of integers such as [{seeds}] or "
            f"range({seeds}), got the single integer {seeds!r}."
        )
    array = np.asarray(list(seeds) if isinstance(seeds, Iterable) else seeds)
    if (
        array.ndim != 1
        or array.size == 0
        or array.dtype.kind not in "iu"
        or array.min() < 0
        or array.max() >= 2**32
    ):
        raise ValueError(
            "seeds must be a non-empty 1-D sequence of integers in [0, 2**32), "
            f"got {seeds!r}."
        )
    return [int(seed) for seed in array]


def _solver(memory, data_home):
    """`_solve_trajectory`, cached on disk as `memory` asks."""
    if memory is None or memory is False:
        return _solve_trajectory
    if memory is True:
        memory = get_data_home(data_home) / "diffusion_sorption"
    if isinstance(memory, os.PathLike):
        memory = os.fspath(memory)
    return check_memory(memory).cache(_solve_trajectory)


def simulate_diffusion_sorption(
    seeds: Iterable[int],
    *,
    n_cells: int = DEFAULT_N_CELLS,
    n_jobs: int | None = None,
    data_home: str | os.PathLike | None = None,
    memory: bool | str | os.PathLike | Memory | None = True,
) -> Bunch:
    """Simulate PDEBench's 1D diffusion-sorption trajectories.

    Solves ``u_t = D / R(u) * u_xx`` with the Freundlich retardation
    ``R(u) = 1 + (1 - phi) / phi * rho_s * k_f * n_f * (u + 1e-6)**(n_f - 1)``
    (D = 5e-4, phi = 0.29, rho_s = 2880, k_f = 3.5e-4, n_f = 0.874) exactly
    as PDEBench's generator does: `n_cells` cell-centred finite volumes on
    [0, 1]; a left ghost cell holding 1 and a right ghost cell holding
    ``D * (u[N-2] - u[N-1]) / dx``, both entering the three-point Laplacian
    as neighbour values; R taken at each cell's own value; the constant
    initial value ``RandomState(seed).uniform(0, 0.2)`` in every cell; one
    :func:`scipy.integrate.solve_ivp` RK45 solve per trajectory at its
    default tolerances, stored at ``t = linspace(0, 500, 101)``. With the
    default 1024 cells this gives, bit for bit, what PDEBench's 2022
    generator gives for the same seed (the code version that seeded NumPy's
    legacy global generator), so seed s should match group ``f"{s:04d}"`` of
    the released ``1D_diff-sorp_NA_NA.h5`` up to its float32 rounding.

    Parameters
    ----------
    seeds : sequence of int
        One trajectory per seed, each in [0, 2**32).
    n_cells : int, default=1024
        Number of finite-volume cells, at least 3. RK45's cost grows about
        as ``n_cells**3`` (the stable step shrinks as ``dx**2``).
    n_jobs : int, default=None
        Trajectories solved in parallel by joblib; None means 1 unless in a
        :func:`joblib.parallel_config` context, -1 means all processors.
    data_home : str or path-like, default=None
        Root of the disk cache used when `memory` is True; see
        :func:`get_data_home`.
    memory : bool, str, path-like or joblib.Memory, default=True
        Disk cache of trajectories, keyed by (seed, n_cells). True caches in
        ``get_data_home(data_home) / "diffusion_sorption"``; False or None
        disables caching; a folder or a :class:`joblib.Memory` is used as is.

    Returns
    -------
    simulation : :class:`~sklearn.utils.Bunch`
        t : ndarray of shape (101,)
            Stored times.
        x : ndarray of shape (n_cells,)
            Cell centres ``(i + 0.5) / n_cells``.
        u : ndarray of shape (len(seeds), 101, n_cells)
            Concentrations, float64.
        seeds : ndarray of shape (len(seeds),)
            The seeds, in the order of `u`.

    Examples
    --------
    >>> from skprune.datasets import simulate_diffusion_sorption
    >>> sim = simulate_diffusion_sorption([0, 1], n_cells=32, memory=False)
    >>> sim.u.shape
    (2, 101, 32)
    >>> bool(sim.u.min() >= 0.0 and sim.u.max() <= 1.0)
    True
    """
    seeds = _check_seeds(seeds)
    n_cells = _check_int(n_cells, "n_cells", MIN_N_CELLS)
    solve = _solver(memory, data_home)
    trajectories = Parallel(n_jobs=n_jobs)(
        delayed(solve)(seed, n_cells, _CACHE_VERSION) for seed in seeds
    )
    return Bunch(
        t=_times(),
        x=_cell_centres(n_cells),
        u=np.stack(trajectories),
        seeds=np.asarray(seeds, dtype=np.int64),
    )


def _pad_with_ghosts(u: np.ndarray, width: int) -> np.ndarray:
    """Extend `u` (..., n_cells) by `width` ghost values on each side."""
    left = np.full((*u.shape[:-1], width), BOUNDARY_VALUE)
    right_ghost = _right_ghost(u, 1.0 / u.shape[-1])
    right = np.repeat(right_ghost[..., None], width, axis=-1)
    return np.concatenate([left, u, right], axis=-1)


def _stencil_samples(sim: Bunch, n_samples: int, n_inputs: int, rng):
    """u at t_{k-1} and t_k on a window around x_i, then x_i and t_k."""
    width = (n_inputs - 2) // 2
    n_trajectories, n_times, n_cells = sim.u.shape
    traj = rng.randint(n_trajectories, size=n_samples)
    k = rng.randint(1, n_times - 1, size=n_samples)
    i = rng.randint(n_cells, size=n_samples)
    padded = _pad_with_ghosts(sim.u, width // 2)
    window = i[:, None] + np.arange(width)  # cells i - width//2 .. i + width//2
    X = np.hstack(
        [
            padded[traj[:, None], k[:, None] - 1, window],
            padded[traj[:, None], k[:, None], window],
            sim.x[i, None],
            sim.t[k, None],
        ]
    )
    return X, sim.u[traj, k + 1, i], 2 * width, traj


def _sensor_samples(sim: Bunch, n_samples: int, n_inputs: int, rng):
    """u at t_k on equally spaced sensor cells, then x_i and t_k."""
    n_trajectories, n_times, n_cells = sim.u.shape
    sensors = np.linspace(0, n_cells - 1, n_inputs - 2).round().astype(int)
    traj = rng.randint(n_trajectories, size=n_samples)
    k = rng.randint(0, n_times - 1, size=n_samples)
    i = rng.randint(n_cells, size=n_samples)
    X = np.hstack(
        [sim.u[traj[:, None], k[:, None], sensors], sim.x[i, None], sim.t[k, None]]
    )
    return X, sim.u[traj, k + 1, i], n_inputs - 2, traj


def _initial_condition_samples(sim: Bunch, n_samples: int, n_inputs: int, rng):
    """u₀ on equally spaced grid cells, then x_i and t_k; the target u(t_k, x_i)."""
    n_trajectories, n_times, n_cells = sim.u.shape
    grid = np.linspace(0, n_cells - 1, n_inputs - 2).round().astype(int)
    traj = rng.randint(n_trajectories, size=n_samples)
    k = rng.randint(0, n_times, size=n_samples)
    i = rng.randint(n_cells, size=n_samples)
    X = np.hstack([sim.u[traj[:, None], 0, grid], sim.x[i, None], sim.t[k, None]])
    return X, sim.u[traj, k, i], n_inputs - 2, traj


_BUILDERS = {
    "stencil": _stencil_samples,
    "sensors": _sensor_samples,
    "initial-condition": _initial_condition_samples,
}


def _check_noise(noise) -> float:
    if isinstance(noise, str):
        if noise not in NOISE_LEVELS:
            raise ValueError(
                f"noise must be a float >= 0 or one of {sorted(NOISE_LEVELS)}, "
                f"got {noise!r}."
            )
        return NOISE_LEVELS[noise]
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(
            f"noise must be a float >= 0 or one of {sorted(NOISE_LEVELS)}, "
            f"got {noise!r}."
        )
    return float(noise)


def _check_construction(construction, n_inputs, n_cells: int) -> int:
    if construction not in CONSTRUCTIONS:
        raise ValueError(
            f"construction must be one of {list(CONSTRUCTIONS)}, got {construction!r}."
        )
    n_inputs = _check_int(n_inputs, "n_inputs", 3)
    if construction == "stencil" and (n_inputs % 2 or (n_inputs - 2) % 4 != 2):
        raise ValueError(
            "With construction='stencil', n_inputs must be 2 + 2 * w with w an "
            f"odd window width (e.g. 68 = 2 + 2 * 33), got {n_inputs}."
        )
    if construction in ("sensors", "initial-condition") and n_inputs - 2 > n_cells:
        raise ValueError(
            f"With construction={construction!r}, n_inputs - 2 grid cells must fit "
            f"in n_cells={n_cells} cells, got n_inputs={n_inputs}."
        )
    return n_inputs


def make_diffusion_sorption(
    n_samples: int,
    *,
    n_cells: int = DEFAULT_N_CELLS,
    noise: float | str = 0.0,
    n_inputs: int = 68,
    construction: str = "stencil",
    n_trajectories: int = 10,
    n_jobs: int | None = None,
    data_home: str | os.PathLike | None = None,
    memory: bool | str | os.PathLike | Memory | None = True,
    random_state: int | np.random.RandomState | None = None,
    return_groups: bool = False,
) -> tuple[np.ndarray, ...]:
    """Make a regression data set from diffusion-sorption trajectories.

    Simulates trajectories for the seeds ``0 .. n_trajectories - 1`` with
    :func:`simulate_diffusion_sorption` (cached on disk) and draws
    `n_samples` triples (trajectory, time index k, cell i) uniformly with
    replacement from `random_state`. Each sample predicts one value,
    ``u(t_{k+1}, x_i)``, from `n_inputs` numbers. The paper this package
    follows (68 inputs, 1 output) does not say how its inputs are built, so
    the construction is a parameter:

    ``"stencil"`` (default)
        A one-step, local update rule: u at the two previous times
        ``t_{k-1}`` and ``t_k`` on the window of ``w = (n_inputs - 2) / 2``
        cells centred on ``x_i`` (w must be odd; 68 inputs give 33 cells,
        i.e. 16 on each side), then ``x_i`` and ``t_k``. Window cells
        outside [0, 1] take the value of that side's ghost cell as the
        simulator defines it: 1 on the left, ``D * (u[N-2] - u[N-1]) / dx``
        on the right. k runs over 1 .. 99.
    ``"sensors"``
        A global one: u at ``t_k`` on ``n_inputs - 2`` equally spaced sensor
        cells (from the first to the last cell), then ``x_i`` and ``t_k``.
        k runs over 0 .. 99.
    ``"initial-condition"``
        The paper's own description ("the vector (t, x, u₀) ... u₀ denotes
        the initial conditions on the grid"): the initial value ``u(0, ·)``
        on ``n_inputs - 2`` equally spaced grid cells (66 for 68 inputs),
        then ``x_i`` and ``t_k``; the target is ``u(t_k, x_i)`` itself (k runs
        over 0 .. 100). PDEBench's initial value is constant in space, so
        these 66 inputs carry one number (plus independent noise), and a net
        sees as many distinct initial conditions as there are trajectories.

    Columns: the u values first (two windows, oldest first, the sensors or
    the initial grid values, left to right), then ``x_i``, then ``t_k``.

    Noise: with ``noise = a``, every u-valued input and the target get
    ``a * U_RANGE * Uniform(-1, 1)`` added independently (U_RANGE = 1, the
    range of u, which stays in [0, 1]); ``x_i`` and ``t_k`` stay exact and
    nothing is clipped. The sample indices are drawn before the noise, so
    the same `random_state` gives the same samples at every noise level.

    Parameters
    ----------
    n_samples : int
        Number of samples, at least 1.
    n_cells : int, default=1024
        Cells of the simulation; see :func:`simulate_diffusion_sorption`.
    noise : float or {"low", "medium", "high"}, default=0.0
        Amplitude of the uniform noise as a fraction of the range of u, or
        a key of ``NOISE_LEVELS`` (0.01, 0.05, 0.1). The paper uses three
        noise levels; these values are our choice, not taken from it.
    n_inputs : int, default=68
        Number of input features.
    construction : {"stencil", "sensors", "initial-condition"}, \
default="stencil"
        How the inputs are built, see above. The default stays ``"stencil"``:
        it is a well-posed local update rule whose 66 u inputs all carry
        information, while ``"initial-condition"`` (the closest reading of
        the paper) has 66 copies of one number per trajectory.
    n_trajectories : int, default=10
        Number of simulated trajectories (seeds 0 .. n_trajectories - 1).
    n_jobs : int, default=None
        Trajectories simulated in parallel; see
        :func:`simulate_diffusion_sorption`.
    data_home : str or path-like, default=None
        Root of the trajectory cache; see :func:`get_data_home`.
    memory : bool, str, path-like or joblib.Memory, default=True
        Trajectory cache; see :func:`simulate_diffusion_sorption`.
    random_state : int, RandomState instance or None, default=None
        Draws the samples and the noise.
    return_groups : bool, default=False
        Also return the trajectory of each sample (for splits that hold out
        whole trajectories, e.g. :class:`sklearn.model_selection.GroupShuffleSplit`).

    Returns
    -------
    X : ndarray of shape (n_samples, n_inputs)
        Inputs, float64.
    y : ndarray of shape (n_samples,)
        Targets ``u(t_{k+1}, x_i)`` (``u(t_k, x_i)`` for
        ``"initial-condition"``), float64.
    groups : ndarray of shape (n_samples,)
        The trajectory (its seed) of each sample; only with
        ``return_groups=True``.

    Examples
    --------
    >>> from skprune.datasets import make_diffusion_sorption
    >>> X, y = make_diffusion_sorption(
    ...     200, n_cells=32, n_trajectories=2, memory=False, random_state=0
    ... )
    >>> X.shape, y.shape
    ((200, 68), (200,))
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_cells = _check_int(n_cells, "n_cells", MIN_N_CELLS)
    noise = _check_noise(noise)
    n_inputs = _check_construction(construction, n_inputs, n_cells)
    n_trajectories = _check_int(n_trajectories, "n_trajectories", 1)
    sim = simulate_diffusion_sorption(
        range(n_trajectories),
        n_cells=n_cells,
        n_jobs=n_jobs,
        data_home=data_home,
        memory=memory,
    )
    rng = check_random_state(random_state)
    X, y, n_u_inputs, traj = _BUILDERS[construction](sim, n_samples, n_inputs, rng)
    if noise > 0:
        X[:, :n_u_inputs] += (
            noise * U_RANGE * rng.uniform(-1, 1, (n_samples, n_u_inputs))
        )
        y += noise * U_RANGE * rng.uniform(-1, 1, n_samples)
    return (X, y, sim.seeds[traj]) if return_groups else (X, y)


def _import_h5py():
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(
            "load_diffusion_sorption needs h5py, which is not installed. "
            "Install it with: pip install 'skprune[hdf5]'"
        ) from exc
    return h5py


def _seed_groups(file, path, n_trajectories) -> list[str]:
    """Names of the first `n_trajectories` seed groups, in seed order."""
    names = [name for name in file if name.isdigit() and "data" in file[name]]
    if not names:
        raise ValueError(
            f"{path}: expected PDEBench seed groups '0000', '0001', ... each "
            f"holding 'data', found groups {sorted(file)[:5]!r}."
        )
    names.sort(key=int)
    if n_trajectories is None:
        return names
    n_trajectories = _check_int(n_trajectories, "n_trajectories", 1)
    if n_trajectories > len(names):
        raise ValueError(
            f"n_trajectories must be at most {len(names)}, the number of "
            f"trajectories in {path}, got {n_trajectories}."
        )
    return names[:n_trajectories]


def _read_u(file, path, names: list[str]) -> np.ndarray:
    """Stack the groups' ``data`` (n_times, n_cells, 1) into float64."""
    shape = file[names[0]]["data"].shape
    u = np.empty((len(names), *shape[:2]))
    for j, name in enumerate(names):
        data = file[name]["data"]
        if data.shape != shape or len(shape) != 3 or shape[2] != 1:
            raise ValueError(
                f"{path}: expected group {name!r} to hold data of shape "
                f"(n_times, n_cells, 1) = {shape}, found {data.shape}."
            )
        u[j] = data[..., 0]
    return u


def load_diffusion_sorption(
    path: str | os.PathLike, *, n_trajectories: int | None = None
) -> Bunch:
    """Load PDEBench's released 1D diffusion-sorption HDF5 file.

    Reads ``1D_diff-sorp_NA_NA.h5`` (DaRUS, doi:10.18419/darus-2922): one
    group per seed, ``"0000"`` .. ``"9999"``, each holding ``data`` of
    shape (101, 1024, 1) and ``grid/x``, ``grid/t``, all float32. Needs
    h5py (``pip install 'skprune[hdf5]'``).

    Parameters
    ----------
    path : str or path-like
        The HDF5 file.
    n_trajectories : int, default=None
        Read only the first `n_trajectories` seeds; None reads all. All
        10,000 trajectories take 8.3 GB in float64.

    Returns
    -------
    simulation : :class:`~sklearn.utils.Bunch`
        The form of :func:`simulate_diffusion_sorption`: ``t`` (n_times,),
        ``x`` (n_cells,), ``u`` (n_trajectories, n_times, n_cells) and
        ``seeds``, all converted to float64 / int64.

    Examples
    --------
    >>> from skprune.datasets import load_diffusion_sorption
    >>> sim = load_diffusion_sorption(
    ...     "1D_diff-sorp_NA_NA.h5", n_trajectories=100
    ... )  # doctest: +SKIP
    >>> sim.u.shape  # doctest: +SKIP
    (100, 101, 1024)
    """
    h5py = _import_h5py()
    if not Path(path).is_file():
        raise FileNotFoundError(f"No such HDF5 file: '{path}'.")
    with h5py.File(path, "r") as file:
        names = _seed_groups(file, path, n_trajectories)
        u = _read_u(file, path, names)
        x = np.asarray(file[names[0]]["grid"]["x"], dtype=np.float64)
        t = np.asarray(file[names[0]]["grid"]["t"], dtype=np.float64)
    return Bunch(
        t=t,
        x=x,
        u=u,
        seeds=np.array([int(name) for name in names], dtype=np.int64),
    )
