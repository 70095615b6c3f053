"""Compacted pruned MLPs against the dense net: prediction time and pickle size.

For 784-300-100-10 and 784-64-64-10 (relu, a few epochs on MNIST), the dense
net is pruned without fine-tuning by ``"compensated"`` to 80/90/95/98 % of its
weights (unstructured), and by ``granularity="neuron"`` to the same weight
counts, then :func:`skprune.compact` (``sparse="auto"``) makes each a smaller
model. The reference is the dense net compacted the same way (``compact`` of
the unpruned net: same class, same state). For batch sizes 1, 32 and 10,000
the script prints, dense / compact:

- ``products``: the layer products alone (dense ``addmm`` or the compact
  model's sparse product per layer), median of repeats;
- ``predict``: the whole ``predict_proba`` (validation and conversion of the
  input included), median of repeats;
- ``pickle``: the compact model's pickle size over the dense reference's.

The two models are timed in alternation, so both see the same machine load.
``--crossover`` instead prints the dense / sparse time ratio of single layer
products over densities, the measurement behind ``sparse="auto"``.

    python benchmarks/inference_speed.py [--repeats 15] [--crossover]
"""

import argparse
import pickle
import statistics
import time
import warnings

import numpy as np
import torch
from _common import machine, mnist
from sklearn.frozen import FrozenEstimator

from skprune import CompensatedPruner, MLPClassifier, compact
from skprune._compact import _csr_of

NETS = {"784-300-100-10": (300, 100), "784-64-64-10": (64, 64)}
RATIOS = [0.8, 0.9, 0.95, 0.98]
BATCHES = [1, 32, 10_000]


def _median_pair(first, second, repeats):
    """Median seconds of two callables timed in alternation."""
    times = ([], [])
    first(), second()  # warm-up: caches, sparse copies, thread pools
    for _ in range(repeats):
        for fn, out in zip((first, second), times):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def _products(model, batch, rng):
    """A callable running only the layer products of ``model`` on ``batch`` rows."""
    module = model.net_.module_.eval()
    inputs = [
        torch.from_numpy(rng.random((batch, layer.in_features), dtype=np.float32))
        for layer in module.layers
    ]
    sparse = getattr(module, "sparse_layers", (False,) * len(inputs))

    def run():
        with torch.no_grad():
            for i, (layer, x) in enumerate(zip(module.layers, inputs)):
                module._sparse_linear(i, x) if sparse[i] else layer(x)

    return run


def _cell(reference, model, X, batch, repeats, rng):
    rows = X[:batch]
    products = _median_pair(
        _products(reference, batch, rng), _products(model, batch, rng), repeats
    )
    predict = _median_pair(
        lambda: reference.predict_proba(rows),
        lambda: model.predict_proba(rows),
        repeats,
    )
    return products[0] / products[1], predict[0] / predict[1]


def _models(dense, X, y, ratio):
    frozen = FrozenEstimator(dense)
    out = {}
    for kind, granularity in (("unstructured", "weight"), ("neuron", "neuron")):
        pruner = CompensatedPruner(
            frozen,
            prune_ratio=ratio,
            granularity=granularity,
            fine_tune_epochs=0,
            max_samples=2000,
            random_state=0,
        ).fit(X, y)
        out[kind] = (pruner.sparsity_, compact(pruner))
    return out


def run_net(name, widths, data, args):
    X, y, X_test = data
    dense = MLPClassifier(widths, max_iter=args.epochs, random_state=0).fit(X, y)
    reference = compact(dense)
    size = len(pickle.dumps(reference))
    rng = np.random.default_rng(0)
    print(f"\n## {name}: dense pickle {size / 1e6:.3f} MB\n")
    print(
        "| pruning | removed | widths | sparse layers | pickle | "
        + " | ".join(f"products b={b} | predict b={b}" for b in BATCHES)
        + " |"
    )
    print("|---" * (5 + 2 * len(BATCHES)) + "|")
    for ratio in RATIOS:
        for kind, (sparsity, model) in _models(dense, X, y, ratio).items():
            cells = [
                _cell(reference, model, X_test, b, args.repeats, rng) for b in BATCHES
            ]
            flags = "".join("S" if s else "d" for s in model.net_.module_.sparse_layers)
            print(
                f"| {kind} {ratio:.0%} | {sparsity:.3f} | {model.hidden_layer_sizes} "
                f"| {flags} | {len(pickle.dumps(model)) / size:.3f} | "
                + " | ".join(f"{p:.2f} | {q:.2f}" for p, q in cells)
                + " |",
                flush=True,
            )


DENSITIES = (0.3, 0.2, 0.1, 0.05, 0.02)


def _layer_ratio(n_in, n_out, batch, density, repeats, rng):
    """Dense / sparse time of one layer product with ``density`` kept weights."""
    x = torch.from_numpy(rng.random((batch, n_in), dtype=np.float32))
    keep = torch.from_numpy(rng.random((n_out, n_in)) < density)
    weight, bias = torch.randn(n_out, n_in) * keep, torch.randn(n_out)
    csr = _csr_of(weight, keep)
    dense_t, sparse_t = _median_pair(
        lambda: torch.addmm(bias, x, weight.T),
        lambda: torch.from_numpy(csr @ x.numpy().T).T + bias,
        repeats,
    )
    return dense_t / sparse_t


def crossover(args):
    """Dense / sparse time of one layer product, over densities and batch sizes."""
    rng = np.random.default_rng(0)
    print("| layer | batch | " + " | ".join(f"{d:.0%}" for d in DENSITIES) + " |")
    print("|---" * (2 + len(DENSITIES)) + "|")
    for n_in, n_out in [(784, 300), (300, 100), (784, 64), (64, 64)]:
        for batch in BATCHES:
            ratios = [
                _layer_ratio(n_in, n_out, batch, d, args.repeats, rng)
                for d in DENSITIES
            ]
            cells = " | ".join(f"{r:.2f}" for r in ratios)
            print(f"| {n_in}x{n_out} | {batch} | {cells} |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--crossover", action="store_true")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    print(f"machine: {machine()}")
    if args.crossover:
        return crossover(args)
    X, X_test, y, _ = mnist(args.n_train, 10_000, args.data_home)
    scale = 255.0 if X.max() > 1 else 1.0
    X, X_test = X / scale, X_test / scale
    print(
        f"ratios dense / compact (> 1: compact faster or smaller); "
        f"medians of {args.repeats} alternating repeats"
    )
    for name, widths in NETS.items():
        run_net(name, widths, (X, y, X_test), args)


if __name__ == "__main__":
    main()
