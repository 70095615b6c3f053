"""
Diffusion-sorption: pruning regression networks at three noise levels
======================================================================

The paper's second experiment (its Figures 3 and 4), at a small scale. The
networks learn one step of PDEBench's 1D diffusion-sorption equation: from
68 inputs (u at two successive times on a window of 33 cells around a cell,
plus that cell's position and the time) they predict u at the cell one time
step later, see :func:`skprune.datasets.make_diffusion_sorption`. Inputs and
targets carry uniform noise at three levels.

For each noise level, one dense PReLU network per seed (the paper's
68-32-32-32-1; add "diffsorp-large" to ``ARCHITECTURES`` for its
68-64-32-32-16-16-1) is pruned by every method at several ratios, without
and with fine-tuning; the figures show the test loss (mean squared error of
u) against the pruning ratio.

This is what ``skprune compare --dataset diffusion-sorption --noise low
--architecture diffsorp-small`` runs, called here as the function
:func:`skprune.compare_methods`.
"""

# %%
# Settings
# --------
# Small, so that the script runs in well under a minute: a coarse grid
# (PDEBench uses 1024 cells), few samples, two seeds, three ratios, and the
# weights scored on ``MAX_SAMPLES`` rows. ``SKPRUNE_EXAMPLE_FAST=1`` shrinks
# the settings further (used by the test suite). Simulated trajectories are
# cached on disk (see :func:`skprune.datasets.get_data_home`).
import os

FAST = os.environ.get("SKPRUNE_EXAMPLE_FAST") == "1"
N_CELLS = 32 if FAST else 64
N_SAMPLES = 300 if FAST else 1000
NOISES = ("low",) if FAST else ("low", "medium", "high")
ARCHITECTURES = ("diffsorp-small",)  # and/or "diffsorp-large"
EPOCHS, FINE_TUNE_EPOCHS = (3, 1) if FAST else (20, 5)
SEEDS = (0, 1)
RATIOS = (0.5, 0.9) if FAST else (0.5, 0.7, 0.9)
MAX_SAMPLES = 50 if FAST else 100

# %%
# Run the comparisons
# -------------------
# ``load_diffusion_sorption_split`` simulates the trajectories, draws the
# samples with a fixed seed, splits them 75/25 and standardises the inputs
# (the targets stay in the units of u). Every dense network trains for
# exactly ``EPOCHS`` epochs; ``compare_methods`` fits it once per seed and
# returns one row per pruning run.
import pandas as pd

from skprune import compare_methods
from skprune.datasets import load_diffusion_sorption_split
from skprune.experiments import ARCHITECTURES as PRESETS
from skprune.experiments import make_estimator

results = []
for noise in NOISES:
    data = load_diffusion_sorption_split(noise, N_SAMPLES, N_CELLS)
    for architecture in ARCHITECTURES:
        estimator = make_estimator("regression", PRESETS[architecture], "prelu", EPOCHS)
        runs = compare_methods(
            estimator,
            data,
            ratios=RATIOS,
            seeds=SEEDS,
            fine_tune_epochs=(0, FINE_TUNE_EPOCHS),
            pruner_params={"max_samples": MAX_SAMPLES},
        )
        results.append(runs.assign(noise=noise, preset=architecture))
results = pd.concat(results, ignore_index=True)

# %%
# Median test loss with fine-tuning
# ---------------------------------
from skprune.report import markdown_table, median_loss_table

for (architecture, noise), runs in results.groupby(["preset", "noise"], sort=False):
    dense_mse = runs["dense_test_loss"].median()
    print(f"\n{architecture}, noise {noise}: dense test MSE {dense_mse:.4g}")
    print(markdown_table(median_loss_table(runs, fine_tuned=True)))

# %%
# Test loss against pruning ratio
# -------------------------------
# One figure per architecture; one row per noise level, without (left) and
# with (right) fine-tuning. Each figure is saved next to the script's working
# directory (no window opens on a machine without a display).
import matplotlib.pyplot as plt

from skprune.report import PLOT_DPI, plot_loss_violins

for architecture, by_architecture in results.groupby("preset", sort=False):
    fig, axes = plt.subplots(
        len(NOISES), 2, figsize=(11, 3.2 * len(NOISES)), squeeze=False
    )
    by_noise = by_architecture.groupby("noise", sort=False)
    for i, (noise, runs) in enumerate(by_noise):
        plot_loss_violins(runs, axes=axes[i], title=f"noise {noise}", legend=i == 0)
    units = runs["architecture"].iloc[0]
    fig.suptitle(f"diffusion-sorption, {architecture} ({units})")
    fig.tight_layout()
    fig.savefig(f"diffusion_sorption_{architecture}.png", dpi=PLOT_DPI)
    print(f"wrote diffusion_sorption_{architecture}.png")
