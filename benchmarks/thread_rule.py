"""Fit time against torch threads, for the ``n_threads=None`` rule's threshold.

Fits skprune's MLPClassifier (Adam, relu) with ``n_threads=1, 2, ...`` up to
the cores this process may use, for a few net and batch sizes, and prints
per case the multiply-adds of one batch (batch size times weights), the
minimum and median seconds per thread count and the ratio of the fastest
multi-thread minimum to the one-thread minimum (below 1: threads pay). The
thread counts are timed in interleaved order within each repeat, so a busy
spell of the machine hits all of them alike. The library uses one thread
below ``skprune._torch.threads.SMALL_WORK`` multiply-adds per call.

    python benchmarks/thread_rule.py [--data-home DIR] [--repeat 7] [--min-work 0]
"""

import argparse
import os
import warnings

import numpy as np
from _common import machine, mnist, timings
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skprune import MLPClassifier
from skprune._torch.threads import SMALL_WORK, available_cores

# (data, hidden layers, batch size, training rows, epochs)
CASES = (
    ("digits", (100,), 200, 1797, 10),
    ("mnist", (32, 32), 200, 10_000, 2),
    ("mnist", (64, 64), 200, 10_000, 2),
    ("mnist", (300, 100), 200, 6_000, 2),
    ("mnist", (300, 100), 2000, 6_000, 2),
    ("mnist", (1000, 1000), 2000, 6_000, 1),
    ("mnist", (2000, 2000), 2000, 4_000, 1),
)


def _data(name, n_rows, data_home):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return (X / 16.0).astype(np.float32), y
    X, _, y, _ = mnist(n_rows, 1, data_home)
    return X.astype(np.float32), y


def _work(n_features, hidden, n_classes, batch):
    units = (n_features, *hidden, n_classes)
    return batch * sum(a * b for a, b in zip(units[:-1], units[1:]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--min-work", type=float, default=0, help="skip cases of less work per batch"
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    counts = list(range(1, available_cores() + 1))
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(f"threads compared: {counts}; one thread below {SMALL_WORK:,} per call")
    print(
        "| case | multiply-adds per batch | "
        + " | ".join(f"{n} thread(s): min / median s" for n in counts)
        + " | best of >1 / 1 thread |"
    )
    print("|---|---:|" + "---:|" * len(counts) + "---:|")
    for name, hidden, batch, n_rows, epochs in CASES:
        X, y = _data(name, n_rows, args.data_home)
        work = _work(X.shape[1], hidden, len(np.unique(y)), batch)
        if work < args.min_work:
            continue
        times = {n: [] for n in counts}
        for _ in range(args.repeat):
            for n in counts:  # interleaved: one fit per count per repeat
                fit = _fit(X, y, hidden, batch, epochs, n)
                times[n].extend(timings(fit, 1))
        cells = " | ".join(
            f"{min(times[n]):.3f} / {np.median(times[n]):.3f}" for n in counts
        )
        best = min(min(times[n]) for n in counts[1:]) if len(counts) > 1 else np.nan
        units = "-".join(map(str, (X.shape[1], *hidden, len(np.unique(y)))))
        print(
            f"| {name} {units}, batch {batch}, {len(X)} rows, {epochs} epochs "
            f"| {work:,} | {cells} | {best / min(times[1]):.2f} |"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def _fit(X, y, hidden, batch, epochs, n_threads):
    return lambda: MLPClassifier(
        hidden,
        batch_size=batch,
        max_iter=epochs,
        tol=0.0,
        random_state=0,
        n_threads=n_threads,
    ).fit(X, y)


if __name__ == "__main__":
    main()
