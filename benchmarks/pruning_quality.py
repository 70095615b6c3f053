"""Test loss after pruning without fine-tuning: EC against the baselines.

MNIST, 784-32-32-10 PReLU (the paper's small net), trained for a few epochs
on a training subset, one dense net per seed. Every method prunes the same
dense net (scored once, on the same rows) at ratios 0.5, 0.7 and 0.9 with no
fine-tuning, through :func:`skprune.compare_methods`; the table shows the
median test cross-entropy over seeds. The paper claims EC ("compensated") is
never worse than magnitude pruning.

    python benchmarks/pruning_quality.py [--seeds 5] [--n-train 10000]
"""

import argparse

from _common import DEFAULT_MNIST_HOME, machine

from skprune import compare_methods
from skprune.datasets import load_mnist_split
from skprune.experiments import make_estimator
from skprune.report import markdown_table, median_loss_table

METHODS = ["compensated", "nonlinear", "magnitude", "gradient_magnitude", "random"]
RATIOS = [0.5, 0.7, 0.9]


def seeds_where_ec_wins(results):
    """Per ratio, the seeds where EC's test loss is <= magnitude's."""
    loss = results.pivot_table(
        index=["ratio", "seed"], columns="method", values="test_loss"
    )
    wins = loss["compensated"] <= loss["magnitude"]
    return wins.groupby(level="ratio").sum().astype(int).to_dict()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-samples", type=int, default=2_000)
    args = parser.parse_args(argv)
    data = load_mnist_split(args.data_home or DEFAULT_MNIST_HOME, args.n_train)
    results = compare_methods(
        make_estimator("classification", (32, 32), "prelu", args.epochs),
        data,
        methods=METHODS,
        ratios=RATIOS,
        seeds=range(args.seeds),
        fine_tune_epochs=[0],
        pruner_params={"max_samples": args.max_samples},
        threads=1,
    )
    median = median_loss_table(results, fine_tuned=False)
    print(f"machine: {machine()}")
    print(
        f"MNIST 784-32-32-10 PReLU, {args.epochs} epochs on {args.n_train} rows, "
        f"{args.seeds} seeds, scored on {args.max_samples} rows, no fine-tuning"
    )
    dense = results.groupby("seed")["dense_test_loss"].first().median()
    print(f"median dense test cross-entropy: {dense:.4g}\n")
    print("median test cross-entropy after pruning:\n")
    print(markdown_table(median, index_name="method"))
    print(
        f"\nseeds where compensated <= magnitude, per ratio: {seeds_where_ec_wins(results)}"
    )
    ok = all(median.loc["compensated", r] <= median.loc["magnitude", r] for r in RATIOS)
    print(
        "claim (median compensated <= magnitude at 0.5, 0.7, 0.9):",
        "holds" if ok else "does NOT hold",
    )


if __name__ == "__main__":
    main()
