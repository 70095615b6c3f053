"""
Choosing the pruning ratio and method by cross-validation
=========================================================

Every setting of :class:`skprune.CompensatedPruner` is a hyperparameter, so
:class:`sklearn.model_selection.GridSearchCV` can sweep pruning ratios and
methods, the smaller dense network of the same size (``"fully_connected"``)
included. Here it does so on scikit-learn's 8x8 digits, scoring by the
cross-validated log loss.

The pruner's ``memory`` caches the dense fits: each cross-validation split
trains its dense network once, however many ratios and methods are tried on
it. Instead of the best score, the refit picks the sparsest network whose
score is within one standard deviation of the best one.
"""

# %%
# Settings and data
# -----------------
# ``SKPRUNE_EXAMPLE_FAST=1`` shrinks the grid and the training (used by the
# test suite).
import os
import warnings

FAST = os.environ.get("SKPRUNE_EXAMPLE_FAST") == "1"
HIDDEN = (8,) if FAST else (32, 32)
EPOCHS, FINE_TUNE_EPOCHS = (5, 1) if FAST else (40, 10)
RATIOS = [0.5, 0.9] if FAST else [0.3, 0.5, 0.7, 0.8, 0.9, 0.95]
METHODS = ["compensated", "magnitude", "random", "fully_connected"]
if FAST:
    METHODS = ["compensated", "fully_connected"]
CV = 2 if FAST else 3

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# The search
# ----------
# The dense network trains for exactly ``EPOCHS`` epochs (``tol=0``, no early
# stop), so the ConvergenceWarning is expected. ``FINE_TUNE_EPOCHS`` epochs
# of fine-tuning follow the pruning, and "fully_connected" trains its smaller
# network for ``EPOCHS + FINE_TUNE_EPOCHS`` epochs: the same budget.
import tempfile

import numpy as np
from joblib import Memory
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skprune import CompensatedPruner, MLPClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def sparsest_within_one_std(cv_results):
    """Index of the largest ratio scoring within one std of the best score."""
    scores = cv_results["mean_test_score"]
    best = np.argmax(scores)
    good = np.flatnonzero(scores >= scores[best] - cv_results["std_test_score"][best])
    ratios = np.asarray(cv_results["param_prune_ratio"], dtype=float)
    return good[np.argmax(ratios[good])]


cache = tempfile.mkdtemp(prefix="skprune-example-")
mlp = MLPClassifier(
    HIDDEN, "prelu", max_iter=EPOCHS, tol=0.0, n_iter_no_change=EPOCHS, random_state=0
)
pruner = CompensatedPruner(
    mlp,
    fine_tune_epochs=FINE_TUNE_EPOCHS,
    memory=Memory(cache, verbose=0),
    random_state=0,
)
search = GridSearchCV(
    pruner,
    {"prune_ratio": RATIOS, "method": METHODS},
    scoring="neg_log_loss",
    cv=CV,
    refit=sparsest_within_one_std,
).fit(X_train, y_train)

# %%
# Cross-validated log loss
# ------------------------
import pandas as pd

cv_results = pd.DataFrame(search.cv_results_)
cv_results["log_loss"] = -cv_results["mean_test_score"]
table = cv_results.pivot(
    index="param_method", columns="param_prune_ratio", values="log_loss"
)
print(table.round(3).to_string())

# %%
# The chosen network
# ------------------
from sklearn.metrics import log_loss

best = search.best_estimator_
print(
    f"chosen: {search.best_params_}, {best.n_pruned_} of {best.n_weights_} "
    f"weights removed; test accuracy {best.score(X_test, y_test):.3f}, "
    f"test log loss {log_loss(y_test, best.predict_proba(X_test)):.3f}"
)

# %%
# Log loss against pruning ratio
# ------------------------------
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 4))
for method, runs in cv_results.groupby("param_method", sort=False):
    ax.errorbar(
        runs["param_prune_ratio"].astype(float),
        runs["log_loss"],
        yerr=runs["std_test_score"],
        marker="o",
        capsize=3,
        label=method,
    )
ax.axvline(search.best_params_["prune_ratio"], color="grey", linestyle=":")
ax.set_xlabel("pruning ratio")
ax.set_ylabel(f"{CV}-fold cross-validated log loss")
ax.legend()
fig.tight_layout()
fig.savefig("grid_search.png", dpi=100)  # a file: no window opens without a display
print("wrote grid_search.png")

# %%
# The cached dense fits are no longer needed.
import shutil

shutil.rmtree(cache, ignore_errors=True)
