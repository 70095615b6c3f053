"""Tables and plots of a pruning comparison (one row per pruner fit).

The functions take a :class:`pandas.DataFrame` with the columns of
:data:`RESULT_COLUMNS`, as :func:`skprune.compare_methods` returns it and
``skprune compare`` writes it to ``results.csv``, so that examples and
notebooks can rebuild the command's report from their own runs or from a
saved CSV (``pandas.read_csv``). Every number is printed with
:data:`DIGITS` significant digits.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

RESULT_COLUMNS = (
    "dataset",
    "architecture",
    "seed",
    "method",
    "ratio",
    "fine_tuned",
    "fine_tune_epochs",
    "test_loss",
    "test_score",
    "sparsity",
    "compact_params",
    "predict_speedup",
    "dense_test_loss",
    "dense_test_score",
    "loss_metric",
    "score_metric",
    "fit_seconds",
    "prune_seconds",
    "fine_tune_seconds",
)
"""Columns of a result table: one row per (seed, method, ratio, fine_tuned).

- ``dataset``: the data set's name; ``architecture``: the dense net's layer
  widths, input to output (``784-32-32-10``).
- ``seed``: ``random_state`` of the dense net and of the pruner.
- ``method``: the pruning method; ``ratio``: the requested pruning ratio
  (removed weights / all weights, biases excluded); ``fine_tune_epochs``:
  epochs of fine-tuning after pruning; ``fine_tuned``: whether there were
  any.
- ``test_loss``, ``test_score``: the pruned net on the test rows, in the
  metrics named by ``loss_metric`` (``cross-entropy`` for a classifier,
  ``MSE`` for a regressor, of the standardised target where the data set
  standardises it) and ``score_metric`` (``accuracy`` or ``R²``).
- ``sparsity``: the share of weights actually removed.
- ``compact_params``: parameters (kept weights, biases, PReLU slopes) of the
  pruned net after :func:`skprune.compact`; ``predict_speedup``: the dense
  net's prediction time on the test rows over the compacted net's (medians
  of alternating repeats, see :func:`skprune.experiments.compact_columns`;
  indicative where runs share the machine).
- ``dense_test_loss``, ``dense_test_score``: the dense net of that seed, same
  metrics.
- ``fit_seconds``: wall-clock seconds of the pruner's whole ``fit`` on the
  already fitted (frozen) dense net, scoring included (where the runner
  scores once per seed and method, those seconds are added to every run
  that used the scores); ``prune_seconds`` the part spent scoring and
  pruning; ``fine_tune_seconds`` the part spent fine-tuning (for
  ``"fully_connected"``: training the smaller net from scratch).

Swept pruner parameters other than these (see
:func:`skprune.compare_methods`) add one column each, after
``fine_tune_epochs``.
"""

PANELS = ((False, "without fine-tuning"), (True, "with fine-tuning"))
"""(value of ``fine_tuned``, panel title), in the order the report shows them."""

DIGITS = 4
"""Significant digits of every number in the tables."""

PLOT_DPI = 100
"""Resolution of the saved plots (kept small: they go into the repository)."""
VIOLIN_SPAN = 0.8  # share of the gap between two ratios filled by the violins
LOG_TICK_DECADES = 2  # beyond this many decades, tick only the powers of 10


def _in_order(values) -> list:
    """Unique values in order of first appearance."""
    return list(dict.fromkeys(values))


def _ratio_label(ratio: float) -> str:
    return f"{ratio:g}"


def median_loss_table(results: pd.DataFrame, fine_tuned: bool) -> pd.DataFrame:
    """Median test loss over seeds, methods as rows and pruning ratios as columns.

    Parameters
    ----------
    results : DataFrame
        One row per run, with at least the columns ``method``, ``ratio``,
        ``fine_tuned`` and ``test_loss``.
    fine_tuned : bool
        Which runs to summarise.

    Returns
    -------
    table : DataFrame
        Rows in the order the methods first appear in `results`, columns
        sorted by ratio.

    Examples
    --------
    >>> import pandas as pd
    >>> from skprune.report import median_loss_table
    >>> runs = pd.DataFrame({"method": ["magnitude"] * 3, "ratio": [0.5] * 3,
    ...                      "fine_tuned": [False] * 3, "test_loss": [1.0, 2.0, 9.0]})
    >>> float(median_loss_table(runs, fine_tuned=False).loc["magnitude", 0.5])
    2.0
    """
    runs = results[results["fine_tuned"] == fine_tuned]
    table = runs.pivot_table(
        index="method", columns="ratio", values="test_loss", aggfunc="median"
    )
    methods = [m for m in _in_order(results["method"]) if m in table.index]
    return table.loc[methods, sorted(table.columns)]


def mean_seconds_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean seconds per method: pruning alone, and pruning plus fine-tuning.

    Parameters
    ----------
    results : DataFrame
        One row per run, with the columns ``method``, ``fine_tuned`` and
        ``fit_seconds``.

    Returns
    -------
    table : DataFrame
        One row per method; columns ``without fine-tuning`` and ``with
        fine-tuning``: the mean ``fit_seconds`` of those runs.
    """
    table = results.pivot_table(
        index="method", columns="fine_tuned", values="fit_seconds", aggfunc="mean"
    )
    table = table.rename(columns=dict(PANELS))
    table.columns.name = None
    methods = _in_order(results["method"])
    return table.loc[methods, [t for _, t in PANELS if t in table.columns]]


def _format_number(value, digits: int = DIGITS) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}"


def markdown_table(
    table: pd.DataFrame, *, index_name: str | None = None, digits: int = DIGITS
) -> str:
    """A DataFrame of numbers as a GitHub-flavoured markdown table.

    Parameters
    ----------
    table : DataFrame
        Rows become table rows; float column labels are printed with ``:g``.
    index_name : str, default=None
        Header of the first column (default: the index's name).
    digits : int, default=4
        Significant digits of the cells.

    Returns
    -------
    text : str

    Examples
    --------
    >>> import pandas as pd
    >>> from skprune.report import markdown_table
    >>> print(markdown_table(pd.DataFrame({0.5: [0.12345]}, index=["random"])))
    |  | 0.5 |
    |---|---:|
    | random | 0.1235 |
    """
    first = index_name if index_name is not None else (table.index.name or "")
    labels = [_ratio_label(c) if isinstance(c, float) else str(c) for c in table]
    lines = [
        "| " + " | ".join([first, *labels]) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for name, row in table.iterrows():
        cells = [_format_number(v, digits) for v in row]
        lines.append("| " + " | ".join([str(name), *cells]) + " |")
    return "\n".join(lines)


def _dense_baseline(results: pd.DataFrame, column: str) -> float:
    """Median over seeds of a dense-net column (one value per seed)."""
    return float(results.groupby("seed")[column].first().median())


def metric_names(results: pd.DataFrame) -> tuple[str, str]:
    """The names of the test loss and score metrics of `results`.

    Read from the ``loss_metric`` and ``score_metric`` columns; a table
    without them (an older CSV) gives ``("loss", "score")``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skprune.report import metric_names
    >>> metric_names(pd.DataFrame({"loss_metric": ["MSE"], "score_metric": ["R²"]}))
    ('MSE', 'R²')
    """
    names = []
    for column, default in (("loss_metric", "loss"), ("score_metric", "score")):
        values = _in_order(results[column]) if column in results else []
        names.append(", ".join(map(str, values)) if values else default)
    return names[0], names[1]


def markdown_report(results: pd.DataFrame, *, title: str | None = None) -> str:
    """The comparison as markdown: two loss tables, the dense baseline, timings.

    Parameters
    ----------
    results : DataFrame
        One row per run with the columns of :data:`RESULT_COLUMNS`.
    title : str, default=None
        First heading; default names the data set and the architecture.

    Returns
    -------
    text : str
        Median test loss over seeds per method x pruning ratio without and
        with fine-tuning, the dense nets' median test loss and score, and
        the mean seconds per method, each named by its metric.

    Examples
    --------
    >>> import pandas as pd
    >>> from skprune.report import markdown_report
    >>> runs = pd.DataFrame({"dataset": "toy", "architecture": "4-8-3", "seed": 0,
    ...     "method": ["magnitude", "magnitude"], "ratio": 0.5,
    ...     "fine_tuned": [False, True], "test_loss": [0.5, 0.4],
    ...     "dense_test_loss": 0.3, "dense_test_score": 0.9,
    ...     "loss_metric": "cross-entropy", "score_metric": "accuracy",
    ...     "fit_seconds": [0.01, 0.2]})
    >>> print(markdown_report(runs).splitlines()[4])
    Dense baseline: test cross-entropy 0.3, test accuracy 0.9.
    """
    if title is None:
        title = (
            f"Pruning comparison: {', '.join(map(str, _in_order(results['dataset'])))}"
            f", {', '.join(map(str, _in_order(results['architecture'])))}"
        )
    loss, score = metric_names(results)
    seeds = _in_order(results["seed"])
    dense_loss = _format_number(_dense_baseline(results, "dense_test_loss"))
    dense_score = _format_number(_dense_baseline(results, "dense_test_score"))
    parts = [
        f"# {title}",
        "",
        f"Median over {len(seeds)} seed(s) ({', '.join(map(str, seeds))}) of the "
        f"test {loss}; columns are pruning ratios.",
        "",
        f"Dense baseline: test {loss} {dense_loss}, test {score} {dense_score}.",
    ]
    for fine_tuned, name in PANELS:
        if (results["fine_tuned"] == fine_tuned).any():
            table = median_loss_table(results, fine_tuned)
            parts += ["", f"## Test {loss} {name}", "", markdown_table(table)]
    seconds = mean_seconds_table(results)
    parts += [
        "",
        "## Mean seconds per run (scoring + pruning, + fine-tuning)",
        "",
        markdown_table(seconds, index_name="method"),
    ]
    for column, heading in COMPACT_TABLES:
        if column in results and results[column].notna().any():
            table = median_table(results, column)
            parts += ["", heading, "", markdown_table(table)]
    return "\n".join(parts) + "\n"


COMPACT_TABLES = (
    (
        "compact_params",
        "## Parameters after `skprune.compact` (median, without fine-tuning)",
    ),
    (
        "predict_speedup",
        "## Prediction speed-up of the compacted net over the dense one "
        "(median, without fine-tuning; indicative)",
    ),
)
"""Columns of :func:`skprune.experiments.compact_columns` and their headings."""


def median_table(results: pd.DataFrame, column: str) -> pd.DataFrame:
    """Median of `column` over seeds per method x ratio, runs without fine-tuning.

    Examples
    --------
    >>> import pandas as pd
    >>> from skprune.report import median_table
    >>> runs = pd.DataFrame({"method": "magnitude", "ratio": 0.5,
    ...     "fine_tuned": False, "compact_params": [10, 20, 90]})
    >>> float(median_table(runs, "compact_params").loc["magnitude", 0.5])
    20.0
    """
    runs = results[~results["fine_tuned"].astype(bool)]
    table = runs.pivot_table(
        index="method", columns="ratio", values=column, aggfunc="median"
    )
    order = [m for m in _in_order(runs["method"]) if m in table.index]
    return table.loc[order].sort_index(axis=1)


def plot_title(results: pd.DataFrame) -> str:
    """``"<dataset>, <architecture>, <n> seed(s)"`` of a result table."""
    dataset = ", ".join(map(str, _in_order(results["dataset"])))
    architecture = ", ".join(map(str, _in_order(results["architecture"])))
    return f"{dataset}, {architecture}, {results['seed'].nunique()} seed(s)"


def write_report(results: pd.DataFrame, output_dir) -> dict:
    """Write ``results.csv``, ``results.md`` and ``violin.png``; return their paths.

    The plot needs matplotlib (``pip install skprune[plots]``); without it
    only the two tables are written. The plot is drawn without a display
    (matplotlib's file backend is used if none is selected yet).

    Parameters
    ----------
    results : DataFrame
        One row per run, as :func:`skprune.compare_methods` returns it.
    output_dir : str or path-like
        Created if missing; existing files are replaced.

    Returns
    -------
    paths : dict of {"csv", "markdown", "plot"} to pathlib.Path
        What was written (no ``"plot"`` without matplotlib).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": output_dir / "results.csv", "markdown": output_dir / "results.md"}
    results.to_csv(paths["csv"], index=False)
    paths["markdown"].write_text(markdown_report(results), encoding="utf-8")
    try:
        import matplotlib
    except ImportError:
        return paths
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths["plot"] = output_dir / "violin.png"
    fig = plot_loss_violins(results, title=plot_title(results))
    fig.savefig(paths["plot"], dpi=PLOT_DPI)
    plt.close(fig)
    return paths


def _violin_or_points(ax, values, position, width, color):
    """A violin of `values` at `position`, plus the values as dots."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size >= 2 and np.ptp(values) > 0:
        parts = ax.violinplot([values], [position], widths=width, showextrema=False)
        for body in parts["bodies"]:
            body.set_facecolor(color)
            body.set_edgecolor(color)
            body.set_alpha(0.4)
    ax.scatter(np.full(values.size, position), values, s=6, color=color, zorder=3)


def _plot_panel(ax, runs, methods, ratios, dense_loss, transform):
    width = VIOLIN_SPAN / len(methods)
    colors = _method_colors(methods)
    for m, method in enumerate(methods):
        for r, ratio in enumerate(ratios):
            mask = (runs["method"] == method) & (runs["ratio"] == ratio)
            position = r + (m - (len(methods) - 1) / 2) * width
            values = transform(runs.loc[mask, "test_loss"].to_numpy(dtype=float))
            _violin_or_points(ax, values, position, width * 0.9, colors[method])
    ax.axhline(transform(dense_loss), color="black", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(ratios)), [_ratio_label(r) for r in ratios])
    ax.set_xlabel("pruning ratio")


def _method_colors(methods) -> dict:
    import matplotlib as mpl

    cycle = mpl.colormaps["tab10"].colors
    return {method: cycle[i % len(cycle)] for i, method in enumerate(methods)}


def _log_ticks(low: float, high: float) -> np.ndarray:
    """Round values (1, 2, 5 times a power of 10) spanning [10**low, 10**high]."""
    decades = np.arange(math.floor(low), math.ceil(high) + 1)
    steps = (1.0,) if high - low > LOG_TICK_DECADES else (1.0, 2.0, 5.0)
    ticks = np.array([s * 10.0**d for d in decades for s in steps])
    return ticks[(np.log10(ticks) >= low) & (np.log10(ticks) <= high)]


def _log_axis(ax):
    """Label a log10-valued axis with the values themselves, at round values."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    low, high = ax.get_ylim()
    ticks = _log_ticks(low, high)
    if ticks.size >= 2:
        ax.yaxis.set_major_locator(FixedLocator(np.log10(ticks)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{10**v:.3g}"))


def plot_loss_violins(
    results: pd.DataFrame, *, axes=None, log: bool = True, title=None, legend=True
):
    """Violin plots of the test loss against pruning ratio, as in the paper's figures.

    One panel without and one with fine-tuning (those present in `results`);
    in each, one violin per method and ratio over the seeds (the seeds also
    drawn as dots), and the dense nets' median test loss as a dashed line.

    Parameters
    ----------
    results : DataFrame
        One row per run with at least the columns ``seed``, ``method``,
        ``ratio``, ``fine_tuned``, ``test_loss`` and ``dense_test_loss``.
    axes : sequence of matplotlib Axes, default=None
        One Axes per panel to draw into; default: a new figure.
    log : bool, default=True
        Draw the violins of log10(loss) (labelled with the loss itself), so
        that small and large losses are both readable. Ignored if a loss is
        not positive.
    title : str, default=None
        Figure title (new figure) or title prefix of the panels (given `axes`).
    legend : bool, default=True
        Add a legend of the methods (below a new figure, else right of the
        last Axes).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    methods = _in_order(results["method"])
    ratios = sorted(_in_order(results["ratio"]))
    dense_loss = _dense_baseline(results, "dense_test_loss")
    losses = np.append(results["test_loss"].to_numpy(dtype=float), dense_loss)
    log = log and bool(np.all(losses[np.isfinite(losses)] > 0))
    transform = np.log10 if log else np.asarray
    panels = [p for p in PANELS if (results["fine_tuned"] == p[0]).any()]
    new_figure = axes is None
    if new_figure:
        fig, axes = _new_figure(len(panels))
    axes = list(np.ravel(axes))
    fig = axes[0].figure
    for ax, (fine_tuned, name) in zip(axes, panels):
        runs = results[results["fine_tuned"] == fine_tuned]
        _plot_panel(ax, runs, methods, ratios, dense_loss, transform)
        ax.set_title(name if new_figure or not title else f"{title}, {name}")
    for ax in axes[: len(panels)]:
        if log:
            _log_axis(ax)
    loss_name = metric_names(results)[0]
    axes[0].set_ylabel(f"test {loss_name}" + (" (log scale)" if log else ""))
    handles = _legend_handles(methods) if legend else []
    if new_figure:
        if handles:
            fig.legend(
                handles=handles, loc="lower center", ncol=len(handles), fontsize="small"
            )
        if title:
            fig.suptitle(title)
        fig.tight_layout(rect=(0, 0.07 if handles else 0, 1, 1))
    elif handles:  # right of the last panel
        axes[len(panels) - 1].legend(
            handles=handles,
            fontsize="x-small",
            loc="upper left",
            bbox_to_anchor=(1.02, 1),
        )
    return fig


def _new_figure(n_panels: int):
    import matplotlib.pyplot as plt

    return plt.subplots(
        1, n_panels, figsize=(1.2 + 5.5 * n_panels, 4.2), sharey=True, squeeze=False
    )


def _legend_handles(methods) -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    colors = _method_colors(methods)
    handles = [Patch(color=colors[m], alpha=0.6, label=m) for m in methods]
    return handles + [Line2D([], [], color="black", linestyle="--", label="dense")]


__all__ = [
    "DIGITS",
    "RESULT_COLUMNS",
    "markdown_report",
    "markdown_table",
    "mean_seconds_table",
    "median_loss_table",
    "metric_names",
    "plot_loss_violins",
    "plot_title",
    "write_report",
]
