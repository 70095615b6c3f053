"""Compacted pruned MLPs against the dense net: prediction time and pickle size.

For 784-300-100-10 and 784-64-64-10 (relu, a few epochs on MNIST), the dense
net is pruned without fine-tuning by ``"compensated"`` to 80/90/95/98 % of its
weights (unstructured), and by ``granularity="neuron"`` to the same weight
counts, then :func:`skprune.compact` (``sparse="auto"``) makes each a smaller
model. The reference is the dense net compacted the same way (``compact`` of
the unpruned net: same class, same state). For batch sizes 1, 32 and 10,000
the script prints, dense / compact:

- ``products``: the layer products alone, each as the model computes it
  when predicting (dense ``addmm`` over the padded widths of its prediction
  plan, or a sparse product);
- ``predict``: the whole ``predict_proba`` (validation and conversion of the
  input included);
- ``pickle``: the compact model's pickle size over the dense reference's.

Each time ratio is the median over repeats of the ratio of the two models'
times, measured side by side (``_common.paired_times``: a repeat calls the
two in turn, call by call, at least 20 ms of calls each, which one first
alternating between repeats; Python's garbage collector off, as in
``timeit``).

A first row times the reference against a second, identical copy of
itself: how far from 1 a ratio moves when the work is the same (the
resolution of the run).

``--crossover`` instead prints the dense / sparse time ratio of single layer
products over densities, the measurement behind ``sparse="auto"``;
``--rules`` prints the measurements behind the prediction plan's rules
(``PAD_UNITS``, ``GATHER_MIN_SAVING``, ``SPARSE_MIN_ROWS``, ``SPARSE_CHUNK_ROWS`` in
``skprune/_compact.py``) and the input conversion's (``TORCH_CONVERT_BYTES``
in ``skprune/_mlp.py``).

    python benchmarks/inference_speed.py [--repeats 15] [--crossover | --rules]

``--nets``, ``--ratios`` and ``--batches`` restrict the table to some cells.
"""

import argparse
import copy
import pickle
import warnings

import numpy as np
import torch
from _common import machine, mnist, paired_ratio
from sklearn.frozen import FrozenEstimator

from skprune import CompensatedPruner, MLPClassifier, _compact, _mlp, compact
from skprune._compact import CompactMLPModule, _csr_of
from skprune._torch.threads import resolve_threads, torch_threads

NETS = {"784-300-100-10": (300, 100), "784-64-64-10": (64, 64)}
RATIOS = [0.8, 0.9, 0.95, 0.98]
BATCHES = [1, 32, 10_000]


def _products(model, batch, rng):
    """A callable running only the layer products of ``model`` on ``batch`` rows,
    each as the model computes it when predicting (its prediction plan)."""
    plan = model.net_.module_.eval().plan()
    inputs = [
        torch.from_numpy(rng.random((batch, width), dtype=np.float32))
        for width in plan.widths[:-1]
    ]

    def run():
        with torch.no_grad():
            for i, x in enumerate(inputs):
                plan.product(i, x)

    return run


def _cell(reference, model, X, batch, repeats, rng):
    rows = X[:batch]
    products = paired_ratio(
        _products(reference, batch, rng), _products(model, batch, rng), repeats
    )
    predict = paired_ratio(
        lambda: reference.predict_proba(rows),
        lambda: model.predict_proba(rows),
        repeats,
    )
    return products, predict


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
        + " | ".join(f"products b={b} | predict b={b}" for b in args.batches)
        + " |"
    )
    print("|---" * (5 + 2 * len(args.batches)) + "|")
    control = [
        _cell(reference, compact(dense), X_test, b, args.repeats, rng)
        for b in args.batches
    ]
    print(
        "| control: the reference against a second copy | 0 | | | 1 | "
        + " | ".join(f"{p:.2f} | {q:.2f}" for p, q in control)
        + " |",
        flush=True,
    )
    for ratio in args.ratios:
        for kind, (sparsity, model) in _models(dense, X, y, ratio).items():
            cells = [
                _cell(reference, model, X_test, b, args.repeats, rng)
                for b in args.batches
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


def _layer_ratio(n_in, n_out, batch, density, repeats, rng, chunk=None):
    """Dense / sparse time of one layer product with ``density`` kept weights,
    the CSR product by chunks of ``chunk`` rows (one piece when None)."""
    x = torch.from_numpy(rng.random((batch, n_in), dtype=np.float32))
    keep = torch.from_numpy(rng.random((n_out, n_in)) < density)
    weight, bias = torch.randn(n_out, n_in) * keep, torch.randn(n_out)
    csr = _csr_of(weight, keep)

    def sparse():
        saved = _compact.SPARSE_CHUNK_ROWS
        _compact.SPARSE_CHUNK_ROWS = chunk or batch
        try:
            _compact._csr_product(csr, x.numpy(), bias)
        finally:
            _compact.SPARSE_CHUNK_ROWS = saved

    return paired_ratio(lambda: torch.addmm(bias, x, weight.T), sparse, repeats)


def crossover(args):
    """Dense / sparse time of one layer product, over densities and batch sizes
    (the CSR product by chunks of SPARSE_CHUNK_ROWS rows, as a model computes it)."""
    rng = np.random.default_rng(0)
    chunk = _compact.SPARSE_CHUNK_ROWS
    print("| layer | batch | " + " | ".join(f"{d:.0%}" for d in DENSITIES) + " |")
    print("|---" * (2 + len(DENSITIES)) + "|")
    for n_in, n_out in [(784, 300), (300, 100), (784, 64), (64, 64)]:
        for batch in BATCHES:
            ratios = [
                _layer_ratio(n_in, n_out, batch, d, args.repeats, rng, chunk)
                for d in DENSITIES
            ]
            cells = " | ".join(f"{r:.2f}" for r in ratios)
            print(f"| {n_in}x{n_out} | {batch} | {cells} |", flush=True)


PADDED_WIDTHS = [(300, 100), (287, 92), (273, 92), (175, 91), (59, 91), (59, 56)]
LIVE_SHARES = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
GATHER_WIDTHS = [(300, 100), (64, 64)]
SPARSE_ROWS = (1, 4, 16, 64, 256, 1024, 2048, 4096, 10_000)
CONVERT_ROWS = (32, 128, 256, 512, 1024, 4096)


def _plans(module, name, values):
    """``module``'s prediction plan built under each value of ``_compact.<name>``."""
    saved, plans = getattr(_compact, name), []
    try:
        for value in values:
            setattr(_compact, name, value)
            module._plan_cache = None
            plans.append(module.plan())
    finally:
        setattr(_compact, name, saved)
        module._plan_cache = None
    return plans


def _chain(plan, batch, rng):
    """A callable running ``plan``'s products and ReLUs on ``batch`` random rows."""
    x = torch.from_numpy(rng.random((batch, plan.widths[0]), dtype=np.float32))

    def run():
        with torch.no_grad():
            h = x
            for i in range(len(plan.weights)):
                h = plan.product(i, h)
                h = h.clamp_min_(0) if i < len(plan.weights) - 1 else h

    return run


def padding_rule(args, rng):
    """Unpadded / padded time of the forward products of 784-h1-h2-10 nets."""
    print("\n| widths (PAD_UNITS) | " + " | ".join(f"b={b}" for b in BATCHES) + " |")
    print("|---" * (1 + len(BATCHES)) + "|")
    for widths in PADDED_WIDTHS:
        module = CompactMLPModule((784, *widths, 10))
        plain, padded = _plans(module, "PAD_UNITS", (1, _compact.PAD_UNITS))
        ratios = [
            paired_ratio(_chain(plain, b, rng), _chain(padded, b, rng), args.repeats)
            for b in BATCHES
        ]
        cells = " | ".join(f"{r:.2f}" for r in ratios)
        print(f"| {widths} | {cells} |", flush=True)


def _planned(model, name, value):
    """``model`` with its prediction plan built (and cached) under
    ``_compact.<name> = value``."""
    module, saved = model.net_.module_, getattr(_compact, name)
    try:
        setattr(_compact, name, value)
        module._plan_cache = None
        module.plan()
    finally:
        setattr(_compact, name, saved)
    return model


def _predict_ratio(first, second, rows, repeats):
    """Time ratio of ``predict_proba`` of two models on ``rows``."""
    return paired_ratio(
        lambda: first.predict_proba(rows), lambda: second.predict_proba(rows), repeats
    )


def _gather_models(dense, share, rng):
    """``dense`` with about ``share`` of its inputs live, compacted twice:
    predicting from the full input and from the gathered live columns."""
    masks = [np.ones(c.shape, dtype=bool) for c in dense.coefs_]
    masks[0][rng.random(masks[0].shape[0]) > share] = False
    pruned = copy.deepcopy(dense)
    pruned.set_masks(masks)
    full = _planned(compact(pruned, sparse=False), "GATHER_MIN_SAVING", np.inf)
    gathered = _planned(compact(pruned, sparse=False), "GATHER_MIN_SAVING", 0.0)
    return masks[0].any(axis=1).mean(), full, gathered


def gather_rule(args, data, rng):
    """Full-input / gathered time of predict_proba over shares of live inputs,
    with the first product's multiply-adds saved per value copied."""
    X, y, X_test = data
    header = " | ".join(f"b={b}" for b in BATCHES)
    print(f"\n| net | live inputs | saved per copy (GATHER_MIN_SAVING) | {header} |")
    print("|---" * (3 + len(BATCHES)) + "|")
    for widths in GATHER_WIDTHS:
        dense = MLPClassifier(widths, max_iter=1, random_state=0)
        dense.fit(X[:2000], y[:2000])
        width = _compact._padded(widths[0])
        for share in LIVE_SHARES:
            live, full, gathered = _gather_models(dense, share, rng)
            ratios = [
                _predict_ratio(full, gathered, X_test[:b], args.repeats)
                for b in BATCHES
            ]
            saved = (1 - live) / live * width
            cells = " | ".join(f"{r:.2f}" for r in ratios)
            print(f"| 784-{widths[0]} | {live:.2f} | {saved:.0f} | {cells} |")


def sparse_rows_rule(args, rng):
    """Dense / CSR time of one 784x304 layer product over row counts, the CSR
    product in one piece and by chunks of SPARSE_CHUNK_ROWS rows."""
    chunk = _compact.SPARSE_CHUNK_ROWS
    header = " | ".join(f"{d:.0%}" for d in DENSITIES)
    print(f"\n| rows (SPARSE_MIN_ROWS, SPARSE_CHUNK_ROWS) | CSR | {header} |")
    print("|---" * (2 + len(DENSITIES)) + "|")
    for batch in SPARSE_ROWS:
        for label, size in (("whole", None), (f"by {chunk}", chunk)):
            if size is not None and batch <= size:
                continue
            ratios = [
                _layer_ratio(784, 304, batch, d, args.repeats, rng, size)
                for d in DENSITIES
            ]
            cells = " | ".join(f"{r:.2f}" for r in ratios)
            print(f"| {batch} | {label} | {cells} |", flush=True)


def _converter(rows, threshold, columns):
    """Prediction's conversion of ``rows`` under ``TORCH_CONVERT_BYTES = threshold``."""
    width = rows.shape[1] if columns is None else len(columns)
    out = np.empty((len(rows), width), np.float32)

    def run():
        saved = _mlp.TORCH_CONVERT_BYTES
        _mlp.TORCH_CONVERT_BYTES = threshold
        try:
            _mlp._float32_rows(rows, _mlp._no_check, columns, out)
        finally:
            _mlp.TORCH_CONVERT_BYTES = saved

    return run


def convert_rule(args, data):
    """numpy / torch time of converting and checking float64 MNIST rows, on the
    threads ``predict_proba`` of 784-300-100-10 uses for that many rows."""
    X_test = data[2]
    header = " | ".join(f"{r} rows" for r in CONVERT_ROWS)
    print(f"\n| columns (TORCH_CONVERT_BYTES) | {header} |")
    print("|---" * (1 + len(CONVERT_ROWS)) + "|")
    weights = 784 * 300 + 300 * 100 + 100 * 10
    four_in_five = np.setdiff1d(np.arange(784), np.arange(0, 784, 5))
    for name, columns in (("all 784", None), ("gather 627", four_in_five)):
        ratios = []
        for n in CONVERT_ROWS:
            rows = np.ascontiguousarray(X_test[:n], dtype=np.float64)
            numpy_way = _converter(rows, np.iinfo(np.int64).max, columns)
            torch_way = _converter(rows, 0, columns)
            with torch_threads(resolve_threads(None, n * weights)):
                ratios.append(paired_ratio(numpy_way, torch_way, args.repeats))
        print(f"| {name} | " + " | ".join(f"{r:.2f}" for r in ratios) + " |")


def rules(args, data):
    """The measurements behind PAD_UNITS, GATHER_MIN_SAVING, SPARSE_MIN_ROWS,
    SPARSE_CHUNK_ROWS and TORCH_CONVERT_BYTES (``skprune._mlp``)."""
    rng = np.random.default_rng(0)
    convert_rule(args, data)
    padding_rule(args, rng)
    gather_rule(args, data, rng)
    sparse_rows_rule(args, rng)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--crossover", action="store_true")
    parser.add_argument("--rules", action="store_true")
    parser.add_argument("--nets", nargs="+", choices=list(NETS), default=list(NETS))
    parser.add_argument("--ratios", nargs="+", type=float, default=RATIOS)
    parser.add_argument("--batches", nargs="+", type=int, default=BATCHES)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    print(f"machine: {machine()}")
    if args.crossover:
        return crossover(args)
    X, X_test, y, _ = mnist(args.n_train, 10_000, args.data_home)
    scale = 255.0 if X.max() > 1 else 1.0
    X, X_test = X / scale, X_test / scale
    if args.rules:
        return rules(args, (X, y, X_test))
    print(
        f"ratios dense / compact (> 1: compact faster or smaller); time ratios: "
        f"medians of {args.repeats} ratios of >= 20 ms of calls side by side"
    )
    for name in args.nets:
        run_net(name, NETS[name], (X, y, X_test), args)


if __name__ == "__main__":
    main()
