"""Digits fit with the batch losses read back once per epoch or per batch.

``MLPClassifier(max_iter=50, random_state=0, solver=...)`` on
``load_digits``: the net's epoch loop that keeps the batch losses on the
device and reads them back once per epoch, against skorch's loop that reads
each batch's loss with ``.item()`` (what the net runs when a callback listens
per batch; here a callback whose ``on_batch_end`` does nothing). The two are
timed in alternating order, ``--repeat`` fits each; prints minimum and median
seconds and the ratio of the minima (below 1: reading once per epoch is
faster). On the CPU a read costs no device synchronisation, so the goal
there is only "no slower" (ratio <= 1.0 within noise).

    python benchmarks/loss_readback.py [--repeat 9] [--device cpu]
"""

import argparse
import os
import time
import warnings

import numpy as np
from _common import alternating, machine
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from skprune import MLPClassifier


class PerBatchListener(Callback):
    """Listens on every batch (and does nothing): skorch's per-batch loop runs."""

    def on_batch_end(self, net, **kwargs):
        pass


def _fit(X, y, solver, per_batch, device):
    callbacks = [("listener", PerBatchListener())] if per_batch else None
    clf = MLPClassifier(
        max_iter=50, random_state=0, solver=solver, device=device, callbacks=callbacks
    )
    start = time.perf_counter()
    clf.fit(X, y)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(f"device: {args.device}; {args.repeat} fits each, alternating")
    print(
        "| solver | once per epoch: min / median s | per batch: min / median s "
        "| ratio of minima |"
    )
    print("|---|---:|---:|---:|")
    for solver in ("adam", "sgd"):
        times = alternating(
            lambda per_batch, solver=solver: _fit(X, y, solver, per_batch, args.device),
            (False, True),
            args.repeat,
        )
        cells = [f"{min(times[p]):.3f} / {np.median(times[p]):.3f}" for p in times]
        ratio = min(times[False]) / min(times[True])
        print(f"| {solver} | {cells[0]} | {cells[1]} | {ratio:.2f} |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
