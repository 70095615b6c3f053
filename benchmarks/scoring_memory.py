"""Peak memory of "compensated" scoring: 10,000 vs 60,000 MNIST rows.

The compensated importance streams the rows in blocks (``batch_size``), so
the memory it needs should not grow with the number of rows scored. Each
size runs in a fresh subprocess: load the MNIST rows, fit a 784-64-64-10
PReLU MLP for one epoch on the first 2,000 of them, score 10 rows once (lazy
initialisation of torch is not counted), reset the kernel's peak-RSS counter
(``/proc/self/clear_refs``), note the resident set size, score every row and
read the peak (``VmHWM``). The increase is the memory scoring needed on top of
the data and the model; ``tracemalloc`` would not see torch's allocations.
With glibc's default (dynamic) mmap threshold, freed row blocks fragment the
heap: the increase varies by 10-20 MiB from process to process and tends to
grow with the number of blocks. Every size is therefore measured ``--repeat``
times, alternating sizes, and the medians are compared.
``--mmap-threshold 131072`` fixes glibc's threshold in the subprocesses (block
buffers are then returned to the system when freed), which measures the
scorer's own working set. Prints the medians and their ratio (goal: <= 1.2).
Linux only.

    python benchmarks/scoring_memory.py [--data-home DIR] [--sizes 10000 60000]
        [--repeat 3] [--mmap-threshold BYTES]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch
from _common import machine, mnist
from sklearn.exceptions import ConvergenceWarning

from skprune import MLPClassifier
from skprune.importance import BATCH_SIZE, compensated

ARCHITECTURE = (64, 64)
N_FIT = 2000
GOAL = 1.2


def memory_kib(field):
    """``VmRSS`` or ``VmHWM`` (peak RSS) of this process, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def reset_peak():
    """Set ``VmHWM`` back to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def measure(n_rows, data_home, batch_size):
    """Scoring's peak RSS increase for ``n_rows`` rows (run in a subprocess)."""
    X, _, y, _ = mnist(n_rows, n_test=1, data_home=data_home)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(ARCHITECTURE, "prelu", max_iter=1, random_state=0)
        mlp.fit(X[:N_FIT], y[:N_FIT])
    compensated(mlp, X[:10], batch_size=batch_size)  # lazy initialisation
    gc.collect()
    reset_peak()
    before = memory_kib("VmRSS")
    start = time.perf_counter()
    importances, _ = compensated(mlp, X, batch_size=batch_size)
    seconds = time.perf_counter() - start
    peak = memory_kib("VmHWM")
    return {
        "rows": int(X.shape[0]),
        "data_mib": X.nbytes / 2**20,
        "rss_before_mib": before / 1024,
        "peak_mib": peak / 1024,
        "increase_mib": (peak - before) / 1024,
        "seconds": seconds,
        "n_weights": int(sum(i.size for i in importances)),
    }


def run_child(n_rows, args):
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(n_rows)]
    command += ["--batch-size", str(args.batch_size), "--threads", str(args.threads)]
    if args.data_home is not None:
        command += ["--data-home", args.data_home]
    env = dict(os.environ)
    if args.mmap_threshold is not None:
        env["MALLOC_MMAP_THRESHOLD_"] = str(args.mmap_threshold)
    output = subprocess.run(
        command, check=True, capture_output=True, text=True, env=env
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None, help="folder of the MNIST files")
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 60_000])
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size")
    parser.add_argument(
        "--mmap-threshold",
        type=int,
        default=None,
        help="glibc MALLOC_MMAP_THRESHOLD_ of the subprocesses (default: glibc's)",
    )
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.child is not None:
        print(json.dumps(measure(args.child, args.data_home, args.batch_size)))
        return
    runs = [[] for _ in args.sizes]
    for _ in range(args.repeat):  # alternate the sizes
        for n_rows, results in zip(args.sizes, runs):
            results.append(run_child(n_rows, args))
    report(args, runs)


def median(results, key):
    return statistics.median(r[key] for r in results)


def report(args, runs):
    """Print a Markdown table of the runs (one list of results per size)."""
    print(f"machine: {machine()}")
    print(
        f"compensated scoring of 784-{'-'.join(map(str, ARCHITECTURE))}-10 (PReLU), "
        f"batch_size={args.batch_size}, one fresh process per run, "
        f"median of {args.repeat} runs"
    )
    threshold = args.mmap_threshold
    print(
        "glibc mmap threshold: "
        + ("default (dynamic)" if threshold is None else f"{threshold} bytes")
    )
    print(
        "| rows | data (MiB) | RSS before (MiB) | peak (MiB) | increase (MiB) "
        "| increase, every run (MiB) | s |"
    )
    print("|---|---|---|---|---|---|---|")
    for n_rows, results in zip(args.sizes, runs):
        every = ", ".join(f"{r['increase_mib']:.1f}" for r in results)
        print(
            f"| {n_rows:,} | {results[0]['data_mib']:.0f} "
            f"| {median(results, 'rss_before_mib'):.0f} "
            f"| {median(results, 'peak_mib'):.0f} "
            f"| {median(results, 'increase_mib'):.1f} | {every} "
            f"| {median(results, 'seconds'):.2f} |"
        )
    small, large = (median(results, "increase_mib") for results in runs)
    ratio = large / small if small > 0 else float("inf")
    verdict = "met" if ratio <= GOAL else "missed"
    print(
        f"median increase ratio ({args.sizes[1]:,} / {args.sizes[0]:,} rows): "
        f"{ratio:.2f}x (goal <= {GOAL}x: {verdict})"
    )


if __name__ == "__main__":
    main()
