"""Tests for skprune.cli (the ``skprune compare`` command) and its report."""

from __future__ import annotations

import os
import re
import urllib.request
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

import skprune
from skprune import cli
from skprune.report import RESULT_COLUMNS

matplotlib.use("Agg")

MNIST_DIR = Path(
    os.environ.get("SKPRUNE_MNIST_HOME")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
)
HAS_MNIST = (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file()

# Tiny runs: a few epochs of a one-hidden-layer net on a few hundred rows.
TINY = ["--epochs", "3", "--fine-tune-epochs", "1", "--architecture", "8", "--quiet"]


def _error_of(argv, capsys) -> str:
    """The message of the argparse error (exit status 2) that `argv` causes."""
    with pytest.raises(SystemExit) as exc_info:
        cli.main(argv)
    assert exc_info.value.code == 2
    return capsys.readouterr().err


# ----------------------------------------------------------------- parsers


def test_parse_architecture_presets_and_widths():
    assert cli.parse_architecture("mnist-small") == (32, 32)
    assert cli.parse_architecture("mnist-large") == (64, 64)
    assert cli.parse_architecture("diffsorp-small") == (32, 32, 32)
    assert cli.parse_architecture("diffsorp-large") == (64, 32, 32, 16, 16)
    assert cli.parse_architecture("16") == (16,)
    assert cli.parse_architecture("64, 8") == (64, 8)


@pytest.mark.parametrize("text", ["", "abc", "32,0", "32,,32", "-4", "mnist-tiny"])
def test_parse_architecture_rejects(text):
    with pytest.raises(ValueError, match=re.escape(f"got {text!r}")):
        cli.parse_architecture(text)


def test_parse_ratios():
    assert cli.parse_ratios("0.9,0.1,0.5") == (0.1, 0.5, 0.9)
    assert cli.parse_ratios("0") == (0.0,)


@pytest.mark.parametrize("text", ["1", "1.5", "-0.1", "x", "0.5,nan", "0.5,,0.6"])
def test_parse_ratios_rejects_out_of_range(text):
    message = f"expected comma-separated pruning ratios in [0, 1) like '0.1,0.5,0.9', got {text!r}."
    with pytest.raises(ValueError, match=re.escape(message)):
        cli.parse_ratios(text)


def test_parse_ratios_rejects_duplicates():
    with pytest.raises(
        ValueError, match=re.escape("each pruning ratio may appear once")
    ):
        cli.parse_ratios("0.5,0.50")


def test_parse_methods():
    assert cli.parse_methods("all") == cli.METHODS
    assert cli.parse_methods("random,compensated") == ("random", "compensated")
    with pytest.raises(ValueError, match=re.escape("unknown method(s) 'prune', 'x'")):
        cli.parse_methods("prune,magnitude,x")
    with pytest.raises(ValueError, match=re.escape("each method may appear once")):
        cli.parse_methods("random,random")


def test_parse_seeds():
    assert cli.parse_seeds("3,1") == (3, 1)
    for text in ["-1", "a", "1,1", "1.5", str(2**32)]:
        with pytest.raises(ValueError, match=re.escape(f"got {text!r}")):
            cli.parse_seeds(text)


def test_parse_noise():
    assert cli.parse_noise("medium") == "medium"
    assert cli.parse_noise("0.02") == 0.02
    for text in ["loud", "-0.1", "inf"]:
        with pytest.raises(
            ValueError, match=re.escape(f"or a number >= 0, got {text!r}")
        ):
            cli.parse_noise(text)


# --------------------------------------------------------- argument errors


def test_defaults():
    args = cli.build_parser().parse_args(["compare"])
    assert args.dataset == "digits"
    assert args.activation == "prelu"
    assert args.methods == cli.METHODS
    assert args.ratios == cli.DEFAULT_RATIOS
    assert args.download is False
    assert args.architecture is None and args.seeds is None and args.n_seeds is None
    assert args.threads is None  # the library's thread rule


def test_threads_option():
    args = cli.build_parser().parse_args(["compare", "--threads", "3"])
    assert args.threads == 3  # compare_methods(threads=3): the MLPs' n_threads


def test_no_command_is_an_error(capsys):
    assert "the following arguments are required: command" in _error_of([], capsys)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--ratios", "0.5,1.2"], "argument --ratios: expected comma-separated pruning ratios"),
        (["--methods", "l1"], "argument --methods: unknown method(s) 'l1'"),
        (["--architecture", "32,x"], "argument --architecture: expected a preset"),
        (["--epochs", "0"], "argument --epochs: expected an integer >= 1, got '0'"),
        (["--n-jobs", "0"], "argument --n-jobs: expected a non-zero integer"),
        (["--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar'"),
        (["--seeds", "0,1", "--n-seeds", "2"], "argument --n-seeds: not allowed with argument --seeds"),
        (["--noise", "low"], "--noise applies only to --dataset diffusion-sorption, not to --dataset digits."),
        (["--target", "y"], "--target applies only to --dataset csv, not to --dataset digits."),
        (["--dataset", "mnist", "--n-cells", "64"], "--n-cells applies only to --dataset diffusion-sorption"),
        (["--data-home", "x"], "--data-home applies only to --dataset mnist"),
        (["--compensations", "auto,lsq"], "argument --compensations: expected distinct comma-separated compensations of auto, least_squares, layer_least_squares, none, got 'auto,lsq'."),
        (["--rounds", "1,0"], "argument --rounds: expected distinct comma-separated integers >= 1 like '1,5', got '1,0'."),
        (["--construction", "initial-condition"], "--construction applies only to --dataset diffusion-sorption"),
        (["--dataset", "csv", "--target", "y"], "--dataset csv needs --csv PATH and --target COLUMN."),
    ],
)  # fmt: skip
def test_bad_arguments(argv, message, capsys):
    error = _error_of(["compare", *argv], capsys)
    assert f"skprune compare: error: {message}" in error


def test_too_many_rows_is_an_error():
    message = "n_train=5000 exceeds the 1347 train rows of digits."
    with pytest.raises(SystemExit, match=re.escape(message)):
        cli.main(["compare", "--n-train", "5000", *TINY])


def test_missing_mnist_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SKPRUNE_MNIST_HOME", raising=False)
    monkeypatch.setenv("SKPRUNE_DATA_HOME", str(tmp_path))
    argv = ["compare", "--dataset", "mnist", "--data-home", str(tmp_path / "none")]
    with pytest.raises(SystemExit, match=re.escape("MNIST files not found")):
        cli.main(argv)


# -------------------------------------------------------------- end to end


def _write_csv(path, n=120, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n) * 100,
            "colour": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    frame["label"] = np.where(frame["x1"] > 0, "yes", "no")
    frame["value"] = 3 * frame["x1"] + rng.normal(size=n)
    frame.to_csv(path, index=False)
    return frame


def test_csv_errors_exit_with_the_message(tmp_path):
    frame = _write_csv(tmp_path / "table.csv")
    frame.loc[3, "x2"] = np.nan
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    argv = ["compare", "--dataset", "csv", "--csv", str(tmp_path / "gaps.csv")]
    with pytest.raises(SystemExit, match=re.escape("skprune compare: error: gaps.csv")):
        cli.main([*argv, "--target", "label"])


def _check_outputs(output_dir: Path, n_rows: int) -> pd.DataFrame:
    results = pd.read_csv(output_dir / "results.csv")
    assert list(results.columns) == list(RESULT_COLUMNS)
    assert len(results) == n_rows
    assert (output_dir / "results.md").read_text().startswith("# Pruning comparison")
    assert (output_dir / "violin.png").read_bytes()[:4] == b"\x89PNG"
    assert results["fine_tuned"].sum() == n_rows // 2
    assert np.isfinite(results["test_loss"]).all()
    # one dense net per seed
    assert (results.groupby("seed")["dense_test_loss"].nunique() == 1).all()
    return results


def test_compare_digits_end_to_end(tmp_path, capsys):
    argv = ["compare", *TINY, "--n-train", "400", "--seeds", "0,1"]
    argv += ["--ratios", "0.3,0.7", "--output-dir", str(tmp_path)]
    assert cli.main(argv) == 0
    results = _check_outputs(tmp_path, n_rows=2 * len(cli.METHODS) * 2 * 2)
    assert set(results["method"]) == set(cli.METHODS)
    assert set(results["seed"]) == {0, 1} and set(results["ratio"]) == {0.3, 0.7}
    assert (results["dataset"] == "digits").all()
    assert (results["architecture"] == "64-8-10").all()
    pruned = results[results["method"] != "fully_connected"]
    np.testing.assert_allclose(pruned["sparsity"], pruned["ratio"], atol=1e-3)
    out = capsys.readouterr().out
    n_runs = 2 * len(cli.METHODS) * 2 * 2
    assert (
        "## Test cross-entropy with fine-tuning" in out and f"{n_runs} runs in" in out
    )
    assert set(results["loss_metric"]) == {"cross-entropy"}
    assert set(results["score_metric"]) == {"accuracy"}


def test_compare_csv_end_to_end(tmp_path):
    _write_csv(tmp_path / "table.csv")
    argv = ["compare", "--dataset", "csv", "--csv", str(tmp_path / "table.csv")]
    argv += ["--target", "value", *TINY, "--n-seeds", "1", "--ratios", "0.5"]
    argv += ["--methods", "compensated,fully_connected"]
    argv += ["--output-dir", str(tmp_path / "out")]
    assert cli.main(argv) == 0
    results = _check_outputs(tmp_path / "out", n_rows=1 * 2 * 1 * 2)
    assert (results["dataset"] == "table").all()
    # x1, x2, one-hot label (2) and colour (3); one output: a regression
    assert (results["architecture"] == "7-8-1").all()


def test_compare_diffusion_sorption_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("SKPRUNE_DATA_HOME", str(tmp_path / "cache"))
    argv = ["compare", "--dataset", "diffusion-sorption", "--noise", "0.05"]
    argv += ["--n-samples", "200", "--n-cells", "16", *TINY, "--seeds", "3"]
    argv += ["--ratios", "0.5", "--methods", "compensated,magnitude"]
    argv += ["--output-dir", str(tmp_path / "out")]
    assert cli.main(argv) == 0
    results = _check_outputs(tmp_path / "out", n_rows=4)
    assert (results["dataset"] == "diffusion-sorption-0.05").all()
    assert (results["architecture"] == "68-8-1").all()


def test_compare_sweeps_compensations_and_rounds(tmp_path):
    argv = ["compare", *TINY, "--n-train", "300", "--seeds", "0", "--ratios", "0.6"]
    argv += ["--methods", "compensated,magnitude,fully_connected"]
    argv += ["--compensations", "auto,least_squares,none", "--rounds", "1,2"]
    argv += ["--output-dir", str(tmp_path)]
    assert cli.main(argv) == 0
    results = pd.read_csv(tmp_path / "results.csv")
    expected = {
        "compensated",
        "compensated, 2 rounds",
        "compensated + least_squares",
        "compensated + least_squares, 2 rounds",
        "compensated + none",
        "compensated + none, 2 rounds",
        "magnitude",
        "magnitude, 2 rounds",
        "magnitude + least_squares",
        "magnitude + least_squares, 2 rounds",
        "fully_connected",
    }
    assert set(results["method"]) == expected
    assert len(results) == 2 * len(expected)
    ls = results[results["compensation"] == "least_squares"]
    assert set(ls["n_rounds"]) == {1, 2}
    np.testing.assert_allclose(ls["sparsity"], 0.6, atol=1e-3)
    assert (
        "compensated + least_squares, 2 rounds" in (tmp_path / "results.md").read_text()
    )


def test_diffusion_sorption_holds_out_whole_trajectories(tmp_path, monkeypatch):
    from skprune.datasets import load_diffusion_sorption_split

    monkeypatch.setenv("SKPRUNE_DATA_HOME", str(tmp_path / "cache"))
    data = load_diffusion_sorption_split(
        noise=0.0, n_samples=400, n_cells=70, construction="initial-condition"
    )
    assert data.name == "diffusion-sorption-initial-condition-0.0"
    assert data.X_train.shape[1] == 68
    # without noise, u₀ (any of the 66 first columns) names the trajectory
    train, test = (set(np.round(X[:, 0], 9)) for X in (data.X_train, data.X_test))
    assert train.isdisjoint(test)
    assert len(train) == 7 and len(test) == 3  # of 10 trajectories


@pytest.mark.skipif(not HAS_MNIST, reason=f"MNIST files not found in {MNIST_DIR}")
def test_compare_mnist_end_to_end(tmp_path):
    argv = ["compare", "--dataset", "mnist", "--data-home", str(MNIST_DIR)]
    argv += ["--n-train", "300", "--n-test", "100", *TINY, "--n-seeds", "1"]
    argv += ["--ratios", "0.5", "--methods", "compensated,magnitude"]
    argv += ["--output-dir", str(tmp_path)]
    assert cli.main(argv) == 0
    results = _check_outputs(tmp_path, n_rows=4)
    assert (results["architecture"] == "784-8-10").all()


@pytest.mark.skipif(not HAS_MNIST, reason=f"MNIST files not found in {MNIST_DIR}")
def test_download_fetches_and_verifies_mnist(tmp_path, monkeypatch):
    """--download through a stand-in opener that serves the local files."""
    real_urlopen = urllib.request.urlopen
    requested = []

    def local_urlopen(url, timeout=None):
        requested.append(url)
        return real_urlopen((MNIST_DIR / url.rsplit("/", 1)[-1]).as_uri())

    monkeypatch.setattr(urllib.request, "urlopen", local_urlopen)
    monkeypatch.delenv("SKPRUNE_MNIST_HOME", raising=False)
    target = tmp_path / "mnist"
    argv = ["compare", "--dataset", "mnist", "--data-home", str(target)]
    argv += ["--n-train", "300", "--n-test", "100", *TINY, "--n-seeds", "1"]
    argv += ["--ratios", "0.5", "--methods", "magnitude"]
    with pytest.raises(SystemExit, match=re.escape("--download) to fetch")):
        cli.main([*argv, "--output-dir", str(tmp_path / "out")])
    assert requested == []
    assert cli.main([*argv, "--download", "--output-dir", str(tmp_path / "out")]) == 0
    assert len(requested) == 4 and all(url.startswith("https://") for url in requested)
    assert sorted(p.name for p in target.iterdir()) == sorted(
        p.name for p in MNIST_DIR.glob("*.gz")
    )


def test_download_applies_to_mnist_only(capsys):
    error = _error_of(["compare", "--download"], capsys)
    assert (
        "--download applies only to --dataset mnist, not to --dataset digits" in error
    )


def test_version(capsys):
    with pytest.raises(SystemExit) as exc_info:
        cli.main(["--version"])
    assert exc_info.value.code == 0
    assert capsys.readouterr().out == f"skprune {skprune.__version__}\n"
