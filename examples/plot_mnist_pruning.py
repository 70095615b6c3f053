"""
Pruning an MNIST classifier: test loss against pruning ratio
=============================================================

The paper's first experiment (its Figure 1) at a small scale: a 784-32-32-10
PReLU network is trained with Adam on MNIST, then pruned by every method at
several ratios, once without and once with fine-tuning, and the test loss
(cross-entropy) is plotted against the pruning ratio, one violin per method
and ratio over the seeds. The dashed line is the dense network.

Each seed's dense network is trained once and wrapped in
:class:`sklearn.frozen.FrozenEstimator`, so every pruner starts from the same
fitted network instead of training its own. ``skprune compare --dataset
mnist`` runs the same loop from the command line, at full scale.

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
# Every method scores the weights on the same ``MAX_SAMPLES`` training rows:
# "nonlinear" runs one forward pass per weight, which is what makes it slow.
import os
import warnings
from pathlib import Path

import torch

torch.set_num_threads(1)  # small networks train fastest on one thread

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
from skprune.datasets import load_mnist
from skprune.importance import METHODS  # all six methods

try:
    HERE = Path(__file__).resolve().parent
except NameError:  # run cell by cell in a notebook
    HERE = Path.cwd()
MNIST_HOME = Path(
    os.environ.get("SKPRUNE_MNIST_HOME")
    or HERE.parents[1] / "shared" / "data" / "mnist"
)
try:
    X_train, X_test, y_train, y_test = load_mnist(
        data_home=MNIST_HOME, n_train=N_TRAIN, n_test=N_TEST, return_X_y=True
    )
except FileNotFoundError as exc:
    print(f"Skipping this example: {exc}")
    raise SystemExit(0) from None
print(f"{len(X_train)} training and {len(X_test)} test images, pixels in [0, 1]")

# %%
# Train, prune, fine-tune
# -----------------------
# The dense network trains for exactly ``EPOCHS`` epochs (``tol=0`` and
# ``n_iter_no_change=EPOCHS`` switch the stopping rule off), so scikit-learn's
# ConvergenceWarning is expected and silenced. ``fine_tune_epochs=0`` gives
# the pruned network before fine-tuning.
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss

from skprune import CompensatedPruner, MLPClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)

rows = []
for seed in SEEDS:
    dense = MLPClassifier(
        HIDDEN,
        "prelu",
        max_iter=EPOCHS,
        tol=0.0,
        n_iter_no_change=EPOCHS,
        random_state=seed,
    ).fit(X_train, y_train)
    dense_loss = log_loss(y_test, dense.predict_proba(X_test), labels=dense.classes_)
    for method in METHODS:
        for ratio in RATIOS:
            for fine_tune_epochs in (0, FINE_TUNE_EPOCHS):
                pruner = CompensatedPruner(
                    FrozenEstimator(dense),
                    prune_ratio=ratio,
                    method=method,
                    fine_tune_epochs=fine_tune_epochs,
                    max_samples=MAX_SAMPLES,
                    random_state=seed,
                ).fit(X_train, y_train)
                proba = pruner.predict_proba(X_test)
                rows.append(
                    {
                        "seed": seed,
                        "method": method,
                        "ratio": ratio,
                        "fine_tuned": fine_tune_epochs > 0,
                        "test_loss": log_loss(y_test, proba, labels=dense.classes_),
                        "dense_test_loss": dense_loss,
                    }
                )
results = pd.DataFrame(rows)

# %%
# Median test loss over the seeds
# -------------------------------
from skprune._report import markdown_table, median_loss_table

print(f"Dense network: median test loss {results['dense_test_loss'].median():.4f}")
for fine_tuned in (False, True):
    print(f"\nTest loss {'with' if fine_tuned else 'without'} fine-tuning:")
    print(markdown_table(median_loss_table(results, fine_tuned)))

# %%
# Test loss against pruning ratio
# -------------------------------
import matplotlib.pyplot as plt

from skprune._report import plot_loss_violins

plot_loss_violins(results, title=f"MNIST, 784-{'-'.join(map(str, HIDDEN))}-10")
plt.show()
