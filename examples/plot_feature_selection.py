"""
Pruning as feature selection
============================

An input feature whose outgoing weights are all pruned no longer reaches the
network. :class:`skprune.CompensatedPruner` is therefore also a feature
selector (a scikit-learn ``SelectorMixin``): ``get_support()`` marks the
inputs that keep at least one weight, and ``transform`` keeps those columns.

Here the pruner selects pixels of scikit-learn's 8x8 digits for a logistic
regression, in a :class:`~sklearn.pipeline.Pipeline`. Elimination-
compensation ranks the weights of a constant input (the blank border
pixels) lowest, since the bias absorbs them exactly.
"""

# %%
# Settings and data
# -----------------
# ``SKPRUNE_EXAMPLE_FAST=1`` shrinks the training (used by the test suite).
import os
import warnings

FAST = os.environ.get("SKPRUNE_EXAMPLE_FAST") == "1"
HIDDEN = (8,) if FAST else (32, 32)
EPOCHS = 5 if FAST else 50
RATIOS = (0.9, 0.97) if FAST else (0.5, 0.8, 0.9, 0.95, 0.97, 0.98)

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# The pipeline
# ------------
# The selector's network is only used to rank the inputs, so it is not
# fine-tuned after pruning (``fine_tune_epochs=0``). It trains for exactly
# ``EPOCHS`` epochs, so the ConvergenceWarning is expected.
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from skprune import CompensatedPruner, MLPClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)

mlp = MLPClassifier(
    HIDDEN, "prelu", max_iter=EPOCHS, tol=0.0, n_iter_no_change=EPOCHS, random_state=0
)
pipe = Pipeline(
    [
        ("select", CompensatedPruner(mlp, fine_tune_epochs=0, random_state=0)),
        ("clf", LogisticRegression(max_iter=1000)),
    ]
)
full = LogisticRegression(max_iter=1000).fit(X_train, y_train)
print(f"all {X.shape[1]} pixels: test accuracy {full.score(X_test, y_test):.3f}")

# %%
# Pixels kept and accuracy per pruning ratio
# ------------------------------------------
# Only the share of weights removed is set; how many pixels survive follows
# from which weights the method ranks lowest.
supports = {}
for ratio in RATIOS:
    pipe.set_params(select__prune_ratio=ratio).fit(X_train, y_train)
    select = pipe.named_steps["select"]
    supports[ratio] = select.get_support()
    print(
        f"ratio {ratio:.2f}: {supports[ratio].sum():2d} pixels kept, "
        f"transform -> {select.transform(X_test).shape}, "
        f"test accuracy {pipe.score(X_test, y_test):.3f}"
    )

# %%
# Which pixels survive
# --------------------
# Dark: pixels still connected to the network.
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, len(RATIOS), figsize=(2 * len(RATIOS), 2.4))
for ax, (ratio, support) in zip(axes, supports.items()):
    ax.imshow(support.reshape(8, 8), cmap="Greys", vmin=0, vmax=1)
    ax.set_title(f"ratio {ratio}\n{support.sum()} pixels", fontsize="small")
    ax.set_axis_off()
fig.tight_layout()
fig.savefig(
    "feature_selection.png", dpi=100
)  # a file: no window opens without a display
print("wrote feature_selection.png")
