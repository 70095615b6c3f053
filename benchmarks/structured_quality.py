"""Structured EC (whole neurons removed) against a smaller dense net trained from scratch.

MNIST, both paper nets (784-32-32-10 and 784-64-64-10, PReLU), one dense net
per seed trained for ``--epochs`` epochs on the first ``--n-train`` training
rows. At each ratio, ``CompensatedPruner(granularity="neuron")`` removes
whole hidden neurons until at least that share of the weights is gone, with
``"compensated"`` (structured EC: next-layer bias shifts with the cross
terms) and ``"magnitude"`` (L2 norm of a neuron's weights), without and with
``--fine-tune-epochs`` of fine-tuning; ``"EC + LS"`` and ``"magnitude +
LS"`` remove the same kind of neurons and then refit the kept weights and
biases of every neuron by weighted least squares on the scoring rows
(``compensation="least_squares"``: the next layer's weights make up for the
removed neurons) instead of shifting biases; ``"fully_connected"`` trains a
dense net of the same weight count from scratch for the dense epochs plus
the fine-tuning epochs (both columns show that same net). Test
cross-entropy on the 10,000 test rows, median over seeds. The goal:
structured EC beats ``fully_connected`` without fine-tuning at every ratio
up to 80 % (checked for EC and for EC + LS).

    python benchmarks/structured_quality.py [--seeds 3] [--output-dir DIR]
        [--nets 784-32-32-10 784-64-64-10]
"""

import argparse
from pathlib import Path

import pandas as pd
from _common import DEFAULT_MNIST_HOME, machine

from skprune import compare_methods
from skprune.datasets import load_mnist_split
from skprune.experiments import make_estimator
from skprune.report import markdown_table, median_loss_table

METHODS = ["compensated", "magnitude", "fully_connected"]
LEAST_SQUARES = {"compensated": "EC + LS", "magnitude": "magnitude + LS"}
RATIOS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
NETS = {"784-32-32-10": (32, 32), "784-64-64-10": (64, 64)}


def goal_rows(results, fine_tuned, method="compensated"):
    """Per ratio: median loss of ``method`` and fully_connected."""
    median = median_loss_table(results, fine_tuned=fine_tuned)
    return {
        r: (median.loc[method, r], median.loc["fully_connected", r])
        for r in median.columns
    }


def _compare(widths, data, args, methods, **pruner_params):
    return compare_methods(
        make_estimator("classification", widths, "prelu", args.epochs),
        data,
        methods=methods,
        ratios=RATIOS,
        seeds=range(args.seeds),
        fine_tune_epochs=[0, args.fine_tune_epochs],
        pruner_params={
            "max_samples": args.max_samples,
            "granularity": "neuron",
            **pruner_params,
        },
        threads=1,
    )


def run_net(name, widths, data, args):
    refit = _compare(
        widths, data, args, list(LEAST_SQUARES), compensation="least_squares"
    )
    refit["method"] = refit["method"].map(LEAST_SQUARES)
    results = pd.concat([_compare(widths, data, args, METHODS), refit])
    if args.output_dir:
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        results.to_csv(out / f"structured-{name}.csv", index=False)
    dense = results.groupby("seed")["dense_test_loss"].first().median()
    print(f"\n## {name} (median dense test cross-entropy {dense:.4g})")
    for fine_tuned in (False, True):
        label = "with" if fine_tuned else "without"
        print(f"\n{label} fine-tuning, median test cross-entropy:\n")
        print(
            markdown_table(median_loss_table(results, fine_tuned), index_name="method")
        )
        sparsity = results[results.method == "compensated"].groupby("ratio")["sparsity"]
        if not fine_tuned:
            print(
                "\nremoved share of weights (EC, median):",
                {r: round(s, 3) for r, s in sparsity.median().items()},
            )
    for method, label in (("compensated", "structured EC"), ("EC + LS", "EC + LS")):
        pairs = goal_rows(results, fine_tuned=False, method=method)
        wins = {r: bool(ec < fc) for r, (ec, fc) in pairs.items() if r <= 0.8}
        print(f"\n{label} < fully_connected without fine-tuning, per ratio: {wins}")
        print(
            "goal (every ratio up to 0.8):", "met" if all(wins.values()) else "NOT met"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--fine-tune-epochs", type=int, default=5)
    parser.add_argument("--max-samples", type=int, default=2_000)
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--nets", nargs="+", choices=list(NETS), default=list(NETS))
    args = parser.parse_args(argv)
    data = load_mnist_split(args.data_home or DEFAULT_MNIST_HOME, args.n_train)
    print(f"machine: {machine()}")
    print(
        f"MNIST PReLU, {args.epochs} epochs on {args.n_train} rows, {args.seeds} "
        f"seeds, scored on {args.max_samples} rows, fine-tuning {args.fine_tune_epochs}"
    )
    for name in args.nets:
        run_net(name, NETS[name], data, args)


if __name__ == "__main__":
    main()
