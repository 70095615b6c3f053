"""Prune -> compact -> export, as a new user would: sizes and prediction times.

MNIST 784-300-100-10 (relu, ``--epochs`` epochs on ``--n-train`` rows),
pruned by ``CompensatedPruner`` (EC, no fine-tuning) to 90 % of its weights
(unstructured) and, separately, to 80 % by whole neurons; each is compacted
with :func:`skprune.compact` and exported with :func:`skprune.to_onnx`. The
script prints the pickle sizes (dense MLP, pruned MLP, fitted pruner,
compacted MLP) and the ONNX file size, the ``predict_proba`` time on the
10,000 test rows (dense, pruned, compacted, and the ONNX model in
onnxruntime; medians of alternating repeats), the test accuracy of each and
the largest probability difference between the compacted model, the ONNX
model and the pruned one.

    python benchmarks/compact_export.py [--repeats 11]
"""

import argparse
import pickle
import statistics
import time
import warnings

import numpy as np
import onnxruntime
from _common import machine, mnist
from sklearn.frozen import FrozenEstimator

from skprune import CompensatedPruner, MLPClassifier, compact, to_onnx


def _medians(functions, repeats):
    times = [[] for _ in functions]
    for fn in functions:
        fn()  # warm-up
    for _ in range(repeats):
        for fn, out in zip(functions, times):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def report(name, dense, pruner, X_test, y_test, repeats):
    small = compact(pruner)
    model = to_onnx(small).SerializeToString()
    # onnxruntime's threads spin after a run by default and would slow down
    # whichever model is timed next; without spinning they yield the cores.
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        model, options, providers=["CPUExecutionProvider"]
    )
    X32 = X_test.astype(np.float32)

    def onnx_proba():
        return session.run(["probabilities"], {"X": X32})[0]

    sizes = {
        "dense MLP": len(pickle.dumps(dense)),
        "pruned MLP": len(pickle.dumps(pruner.estimator_)),
        "fitted pruner": len(pickle.dumps(pruner)),
        "compacted MLP": len(pickle.dumps(small)),
        "ONNX file": len(model),
    }
    models = {
        "dense": dense.predict_proba,
        "pruned": pruner.estimator_.predict_proba,
        "compacted": small.predict_proba,
        "ONNX (onnxruntime)": onnx_proba,
    }
    seconds = _medians(
        [
            lambda f=f: f(X_test) if f is not onnx_proba else f()
            for f in models.values()
        ],
        repeats,
    )
    pruned_proba = pruner.predict_proba(X_test)
    print(
        f"\n## {name}: removed {pruner.sparsity_:.3f} of the weights; compacted "
        f"hidden widths {small.hidden_layer_sizes}, sparse layers "
        f"{small.net_.module_.sparse_layers}\n"
    )
    print("| object | pickle / file size |\n|---|---:|")
    for key, size in sizes.items():
        print(f"| {key} | {size / 1e6:.3f} MB |")
    print("\n| model | predict_proba, 10,000 rows | test accuracy |\n|---|---:|---:|")
    for (key, fn), sec in zip(models.items(), seconds):
        proba = fn(X_test) if fn is not onnx_proba else fn()
        accuracy = np.mean(pruner.classes_[proba.argmax(1)] == y_test)
        print(f"| {key} | {sec * 1e3:.1f} ms | {accuracy:.4f} |")
    print(
        f"\nmax |compacted - pruned| probability: "
        f"{np.abs(small.predict_proba(X_test) - pruned_proba).max():.2e}; "
        f"max |ONNX - pruned|: {np.abs(onnx_proba() - pruned_proba).max():.2e}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    X, X_test, y, y_test = mnist(args.n_train, 10_000, args.data_home)
    scale = 255.0 if X.max() > 1 else 1.0
    X, X_test = X / scale, X_test / scale
    print(f"machine: {machine()}")
    dense = MLPClassifier((300, 100), max_iter=args.epochs, random_state=0).fit(X, y)
    for name, ratio, granularity in [
        ("unstructured 90 %", 0.9, "weight"),
        ("neurons 80 %", 0.8, "neuron"),
    ]:
        pruner = CompensatedPruner(
            FrozenEstimator(dense),
            prune_ratio=ratio,
            granularity=granularity,
            fine_tune_epochs=0,
            max_samples=2000,
            random_state=0,
        ).fit(X, y)
        report(name, dense, pruner, X_test, y_test, args.repeats)


if __name__ == "__main__":
    main()
