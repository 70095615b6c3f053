"""Tests for skprune.report: tables and plots of a result table."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from skprune.report import (
    RESULT_COLUMNS,
    markdown_report,
    markdown_table,
    mean_seconds_table,
    median_loss_table,
    metric_names,
    plot_loss_violins,
    write_report,
)

matplotlib.use("Agg")


def _fake_results(seeds=(0, 1), methods=("compensated", "random"), ratios=(0.3, 0.6)):
    rows = [
        {
            "dataset": "toy",
            "architecture": "4-3-2",
            "seed": seed,
            "method": method,
            "ratio": ratio,
            "fine_tuned": fine_tuned,
            "fine_tune_epochs": 3 * fine_tuned,
            "test_loss": ratio + 0.1 * seed + 0.01 * fine_tuned,
            "test_score": 0.5,
            "sparsity": ratio,
            "dense_test_loss": 0.2 + seed,
            "dense_test_score": 0.9,
            "loss_metric": "cross-entropy",
            "score_metric": "accuracy",
            "fit_seconds": 1.0 + fine_tuned,
            "prune_seconds": 1.0,
            "fine_tune_seconds": float(fine_tuned),
        }
        for seed in seeds
        for method in methods
        for ratio in ratios
        for fine_tuned in (False, True)
    ]
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def test_median_tables():
    results = _fake_results(seeds=(0, 1, 2), methods=("random", "compensated"))
    table = median_loss_table(results, fine_tuned=True)
    assert list(table.index) == ["random", "compensated"]  # order of appearance
    assert list(table.columns) == [0.3, 0.6]
    assert table.loc["random", 0.6] == pytest.approx(0.6 + 0.1 + 0.01)
    seconds = mean_seconds_table(results)
    assert list(seconds.columns) == ["without fine-tuning", "with fine-tuning"]
    assert seconds.loc["compensated"].tolist() == [1.0, 2.0]


def test_markdown_report():
    text = markdown_report(_fake_results())
    assert text.startswith("# Pruning comparison: toy, 4-3-2\n")
    assert (
        "Dense baseline: test cross-entropy 0.7, test accuracy 0.9." in text
    )  # median of 0.2, 1.2
    assert "## Test cross-entropy without fine-tuning" in text
    assert "## Test cross-entropy with fine-tuning" in text
    assert (
        "| method | 0.3 | 0.6 |\n|---|---:|---:|\n| compensated | 0.35 | 0.65 |" in text
    )
    assert markdown_table(pd.DataFrame({"a": [np.nan]}, index=["m"])).endswith(
        "| m | – |"
    )


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)])
def test_plot_loss_violins(seeds):
    import matplotlib.pyplot as plt

    fig = plot_loss_violins(_fake_results(seeds=seeds), title="toy")
    assert [ax.get_title() for ax in fig.axes] == [
        "without fine-tuning",
        "with fine-tuning",
    ]
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    plot_loss_violins(_fake_results(seeds=seeds), axes=axes, log=False, title="x")
    assert axes[1].get_title() == "x, with fine-tuning"
    plt.close(fig)


def test_metric_names_fall_back_for_tables_without_them():
    results = _fake_results().drop(columns=["loss_metric", "score_metric"])
    assert metric_names(results) == ("loss", "score")
    assert "## Test loss with fine-tuning" in markdown_report(results)


def test_write_report(tmp_path):
    import matplotlib.pyplot as plt

    paths = write_report(_fake_results(), tmp_path / "out")
    assert sorted(paths) == ["csv", "markdown", "plot"]
    assert paths["plot"].read_bytes()[:4] == b"\x89PNG"
    pd.testing.assert_frame_equal(pd.read_csv(paths["csv"]), _fake_results())
    assert "test cross-entropy" in paths["markdown"].read_text(encoding="utf-8")
    fig = plot_loss_violins(_fake_results())
    assert fig.axes[0].get_ylabel() == "test cross-entropy (log scale)"
    plt.close(fig)
