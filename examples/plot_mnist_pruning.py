"""
Pruning an MNIST classifier: test loss against pruning ratio
=============================================================

The paper's first experiment (its Figure 1) at a small scale: a 784-32-32-10
PReLU network is trained with Adam on MNIST, then pruned by every method at
several ratios, once without and once with fine-tuning, and the test loss
(cross-entropy) is plotted against the pruning ratio, one violin per method
and ratio over the seeds. The dashed line is the dense network.

:func:`skprune.compare_methods` trains each seed's dense network once and
prunes that same fitted network with every method and ratio (each method
scores it once). ``skprune compare --dataset mnist`` runs the same
comparison from the command line, at full scale.

The MNIST files are read from ``$SKPRUNE_MNIST_HOME`` or from
``shared/data/mnist`` next to the repository; the script stops with a message
if they are not there.
"""

# %%
# Settings
# --------
# Small, so that the script runs in well under a minute; the paper uses all
# 60,000 training images, more epochs, more seeds and the ratios 0.1 .. 0.9.
# ``SKPRUNE_EXAMPLE_FAST=1`` shrinks them further (used by the test suite).
# "nonlinear" evaluates the output change of every weight, which is what
# makes it the slow method.
import os
from pathlib import Path

FAST = os.environ.get("SKPRUNE_EXAMPLE_FAST") == "1"
N_TRAIN, N_TEST = (500, 200) if FAST else (2000, 1000)
HIDDEN = (8, 8) if FAST else (32, 32)  # the paper's small MNIST network
EPOCHS, FINE_TUNE_EPOCHS = (3, 1) if FAST else (12, 4)
SEEDS = (0, 1)
RATIOS = (0.5, 0.9) if FAST else (0.5, 0.7, 0.9)
MAX_SAMPLES = 64 if FAST else 128
# %%
# Load MNIST
# ----------
# The first ``N_TRAIN`` training and ``N_TEST`` test images of MNIST's own split.
from skprune.datasets import load_mnist_split

try:
    HERE = Path(__file__).resolve().parent
except NameError:  # run cell by cell in a notebook
    HERE = Path.cwd()
MNIST_HOME = Path(
    os.environ.get("SKPRUNE_MNIST_HOME")
    or HERE.parents[1] / "shared" / "data" / "mnist"
)
try:
    data = load_mnist_split(MNIST_HOME, n_train=N_TRAIN, n_test=N_TEST)
except FileNotFoundError as exc:
    print(f"Skipping this example: {exc}")
    raise SystemExit(0) from None
print(f"{len(data.X_train)} training and {len(data.X_test)} test images")

# %%
# Train, prune, fine-tune
# -----------------------
# The dense network trains for exactly ``EPOCHS`` epochs (``tol=0`` and
# ``n_iter_no_change=EPOCHS`` switch the stopping rule off). A fine-tuning
# budget of 0 epochs gives the pruned network before fine-tuning. Every
# method scores the weights on the same ``MAX_SAMPLES`` training rows.
from skprune import compare_methods
from skprune.experiments import make_estimator
from skprune.importance import METHODS  # all six methods

results = compare_methods(
    make_estimator("classification", HIDDEN, "prelu", EPOCHS),
    data,
    methods=METHODS,
    ratios=RATIOS,
    seeds=SEEDS,
    fine_tune_epochs=(0, FINE_TUNE_EPOCHS),
    pruner_params={"max_samples": MAX_SAMPLES},
)
print(results[["seed", "method", "ratio", "fine_tuned", "test_loss"]].head())

# %%
# Median test cross-entropy over the seeds
# ----------------------------------------
from skprune.report import markdown_report

print(markdown_report(results))

# %%
# Test loss against pruning ratio
# -------------------------------
# The figure is saved to a file (no window opens on a machine without a
# display).
from skprune.report import PLOT_DPI, plot_loss_violins

fig = plot_loss_violins(results, title=f"MNIST, 784-{'-'.join(map(str, HIDDEN))}-10")
fig.savefig("mnist_pruning.png", dpi=PLOT_DPI)
print("wrote mnist_pruning.png")
