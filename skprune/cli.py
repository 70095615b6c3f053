"""The ``skprune`` command line: ``skprune compare`` runs the paper's comparison.

For every seed it trains one dense network, then prunes it with every
method at every pruning ratio, once without and once with fine-tuning, and
writes ``results.csv`` (one row per run), ``results.md`` (median test loss
per method and ratio, printed too) and ``violin.png`` (test loss against
pruning ratio, as in the paper's figures)::

    skprune compare                                   # digits, about a minute
    skprune compare --dataset mnist --architecture mnist-large --n-seeds 5
    skprune compare --dataset diffusion-sorption --noise high
    skprune compare --dataset csv --csv data.csv --target label --ratios 0.5,0.9
    python -m skprune compare --help
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from ._torch.activations import ACTIVATIONS
from .datasets._mnist import MNIST_HOME_ENV
from .datasets._splits import (
    DEFAULT_DIFFSORP_SAMPLES,
    DEFAULT_N_CELLS,
    DEFAULT_NOISE,
    FEW_UNIQUE,
)
from .experiments import (
    ARCHITECTURES,
    DEFAULT_ACTIVATION,
    DEFAULT_EPOCHS,
    DEFAULT_FINE_TUNE_EPOCHS,
    DEFAULT_RATIOS,
    DEFAULT_SEEDS,
)
from .importance import METHODS

PRESETS = ARCHITECTURES
"""The paper's architectures, by name: their hidden-layer widths."""

DATASETS = ("digits", "mnist", "diffusion-sorption", "csv")
DEFAULT_ARCHITECTURE = {
    "digits": "32,32",
    "mnist": "mnist-small",
    "diffusion-sorption": "diffsorp-small",
    "csv": "32,32",
}
DEFAULT_N_SEEDS = len(DEFAULT_SEEDS)
MAX_SEED = 2**32 - 1  # numpy's RandomState takes seeds below 2**32


# ----------------------------------------------------------------- parsing
# Pure parsers raising ValueError with the offending input; argparse shows
# their message as is.


def _split_list(text: str, what: str) -> list[str]:
    items = [item.strip() for item in str(text).split(",")]
    if not all(items):
        raise ValueError(f"expected comma-separated {what}, got {text!r}.")
    return items


def parse_architecture(text: str) -> tuple[int, ...]:
    """Hidden-layer widths from a preset name or comma-separated widths.

    Examples
    --------
    >>> from skprune.cli import parse_architecture
    >>> parse_architecture("diffsorp-small"), parse_architecture("64,16")
    ((32, 32, 32), (64, 16))
    """
    if text in PRESETS:
        return PRESETS[text]
    try:
        widths = tuple(int(item) for item in _split_list(text, "hidden widths"))
    except ValueError:
        widths = ()
    if not widths or min(widths) < 1:
        raise ValueError(
            f"expected a preset ({', '.join(PRESETS)}) or "
            f"comma-separated positive hidden widths like '32,32', got {text!r}."
        )
    return widths


def parse_ratios(text: str) -> tuple[float, ...]:
    """Distinct pruning ratios in [0, 1), sorted, from ``"0.1,0.5,0.9"``."""
    try:
        ratios = [float(item) for item in _split_list(text, "pruning ratios")]
    except ValueError:
        ratios = [np.nan]
    if not all(0 <= r < 1 for r in ratios):
        raise ValueError(
            "expected comma-separated pruning ratios in [0, 1) like "
            f"'0.1,0.5,0.9', got {text!r}."
        )
    if len(set(ratios)) < len(ratios):
        raise ValueError(f"each pruning ratio may appear once, got {text!r}.")
    return tuple(sorted(ratios))


def parse_methods(text: str) -> tuple[str, ...]:
    """Pruning methods from ``"compensated,magnitude"`` (or ``"all"``)."""
    if text == "all":
        return METHODS
    methods = _split_list(text, "methods")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(
            f"unknown method(s) {', '.join(map(repr, unknown))}; "
            f"expected a comma-separated list of {', '.join(METHODS)} (or 'all')."
        )
    if len(set(methods)) < len(methods):
        raise ValueError(f"each method may appear once, got {text!r}.")
    return tuple(methods)


def parse_compensations(text: str) -> tuple[str, ...]:
    """Compensations from ``"auto,least_squares"`` (see ``CompensatedPruner``)."""
    from ._pruner import COMPENSATIONS

    items = _split_list(text, "compensations")
    if any(c not in COMPENSATIONS for c in items) or len(set(items)) < len(items):
        raise ValueError(
            f"expected distinct comma-separated compensations of "
            f"{', '.join(COMPENSATIONS)}, got {text!r}."
        )
    return tuple(items)


def parse_rounds(text: str) -> tuple[int, ...]:
    """Distinct numbers of pruning rounds (integers >= 1) from ``"1,5"``."""
    try:
        rounds = [int(item) for item in _split_list(text, "numbers of rounds")]
    except ValueError:
        rounds = [0]
    if min(rounds) < 1 or len(set(rounds)) < len(rounds):
        raise ValueError(
            f"expected distinct comma-separated integers >= 1 like '1,5', got {text!r}."
        )
    return tuple(rounds)


def parse_seeds(text: str) -> tuple[int, ...]:
    """Distinct non-negative integer seeds from ``"0,1,2"``."""
    try:
        seeds = [int(item) for item in _split_list(text, "seeds")]
    except ValueError:
        seeds = [-1]
    if not 0 <= min(seeds) <= max(seeds) <= MAX_SEED or len(set(seeds)) < len(seeds):
        raise ValueError(
            f"expected distinct comma-separated integer seeds in [0, {MAX_SEED}] "
            f"like '0,1,2', got {text!r}."
        )
    return tuple(seeds)


def parse_noise(text: str) -> str | float:
    """A noise level name (low, medium, high) or an amplitude >= 0."""
    from .datasets import NOISE_LEVELS

    if text in NOISE_LEVELS:
        return text
    try:
        noise = float(text)
    except ValueError:
        noise = np.nan
    if not (noise >= 0 and np.isfinite(noise)):
        raise ValueError(
            f"expected a noise level, one of {', '.join(NOISE_LEVELS)} or a number "
            f">= 0, got {text!r}."
        )
    return noise


def _integer(text: str, valid, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise ValueError(f"expected {expected}, got {text!r}.")
    return value


def _positive_int(text: str) -> int:
    return _integer(text, lambda v: v >= 1, "an integer >= 1")


def _n_jobs(text: str) -> int:
    return _integer(text, lambda v: v != 0, "a non-zero integer (-1: all cores)")


def _argtype(parse):
    """An argparse ``type`` that shows the parser's ValueError message."""

    def convert(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


# fmt: off
def _option(group, flag, parse=None, **kwargs):
    """Add ``flag``; ``parse`` (a pure parser) becomes its argparse type."""
    if parse is not None:
        kwargs.setdefault("metavar", "N" if parse is _positive_int else "LIST")
        kwargs["type"] = _argtype(parse)
    group.add_argument(flag, **kwargs)


def _add_data_arguments(parser):
    data = parser.add_argument_group("data")
    _option(data, "--dataset", choices=DATASETS, default="digits",
            help="data set (default: %(default)s, shipped with scikit-learn)")
    _option(data, "--data-home", metavar="DIR",
            help=f"MNIST folder (default: ${MNIST_HOME_ENV})")
    _option(data, "--download", action="store_true",
            help="download missing MNIST files (checksums verified)")
    _option(data, "--n-train", _positive_int, help="use the first N training rows")
    _option(data, "--n-test", _positive_int, help="use the first N test rows")
    group = parser.add_argument_group("--dataset diffusion-sorption")
    _option(group, "--noise", parse_noise, metavar="LEVEL",
            help=f"low, medium, high or an amplitude (default: {DEFAULT_NOISE})")
    _option(group, "--n-samples", _positive_int,
            help=f"samples, train and test (default: {DEFAULT_DIFFSORP_SAMPLES})")
    _option(group, "--construction",
            choices=("stencil", "sensors", "initial-condition"),
            help="how the 68 inputs are built (default: stencil; initial-condition "
            "is the paper's (t, x, u0); see make_diffusion_sorption)")
    _option(group, "--n-cells", _positive_int,
            help=f"simulation grid cells (default: {DEFAULT_N_CELLS}; simulations "
            "are cached on disk, the first ones take minutes)")
    group = parser.add_argument_group("--dataset csv")
    _option(group, "--csv", metavar="PATH", type=Path,
            help="the CSV file, with a header row")
    _option(group, "--target", metavar="COLUMN", help="the target column")
    _option(group, "--task", choices=("classification", "regression"),
            help="default: classification if the target is not float or has at "
            f"most {FEW_UNIQUE} distinct values")


def _add_network_arguments(parser):
    group = parser.add_argument_group("network")
    _option(group, "--architecture", parse_architecture, metavar="WIDTHS",
            help=f"hidden widths like 32,32 or a preset: {', '.join(PRESETS)} "
            "(default: mnist-small, diffsorp-small for those data sets, else 32,32)")
    _option(group, "--activation", choices=tuple(ACTIVATIONS),
            default=DEFAULT_ACTIVATION, help="hidden activation (default: %(default)s)")
    _option(group, "--epochs", _positive_int, default=DEFAULT_EPOCHS,
            help="dense training epochs, never stopped early (default: %(default)s)")
    _option(group, "--fine-tune-epochs", _positive_int,
            default=DEFAULT_FINE_TUNE_EPOCHS,
            help="epochs of the fine-tuned runs (default: %(default)s)")


def _add_sweep_arguments(parser):
    group = parser.add_argument_group("pruning runs")
    _option(group, "--methods", parse_methods, default=METHODS,
            help=f"comma-separated, of {', '.join(METHODS)} (default: all)")
    _option(group, "--ratios", parse_ratios, default=DEFAULT_RATIOS,
            help="comma-separated pruning ratios (default: 0.1,0.3,0.5,0.7,0.9; "
            "the paper: 0.1,0.2,...,0.9)")
    seeds = group.add_mutually_exclusive_group()
    _option(seeds, "--seeds", parse_seeds, help="comma-separated seeds, e.g. 0,1,2")
    _option(seeds, "--n-seeds", _positive_int,
            help=f"use the seeds 0..N-1 (default: {DEFAULT_N_SEEDS})")
    _option(group, "--scope", choices=("global", "layer"), default="global",
            help="rank all weights together or each layer apart "
            "(default: %(default)s)")
    _option(group, "--max-samples", _positive_int,
            help="score the weights on at most N training rows (default: all)")
    _option(group, "--compensations", parse_compensations, default=("auto",),
            help="comma-separated, of auto, least_squares, layer_least_squares, "
            "none: every method runs with each (default: auto; fully_connected "
            "only with auto, none only for methods with a compensation of their own)")
    _option(group, "--rounds", parse_rounds, default=(1,),
            help="comma-separated numbers of pruning rounds: every method runs "
            "with each (default: 1)")


def _add_run_arguments(parser):
    group = parser.add_argument_group("run")
    _option(group, "--n-jobs", _n_jobs, metavar="N", default=1,
            help="parallel runs (default: %(default)s; -1: all cores)")
    _option(group, "--output-dir", metavar="DIR", type=Path,
            help="where to write results.csv, results.md and violin.png "
            "(default: results/<dataset>)")
    _option(group, "--threads", _positive_int,
            help="torch threads per run, the estimators' n_threads (default: the "
            "library's rule: its share of the cores, one thread for small "
            "batches; use --n-jobs for more cores)")
    _option(group, "--quiet", action="store_true", help="no progress bar")
# fmt: on


def build_parser() -> argparse.ArgumentParser:
    """The ``skprune`` argument parser (subcommand ``compare``)."""
    parser = argparse.ArgumentParser(
        prog="skprune",
        description="Elimination-compensation pruning of fully-connected networks.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(title="commands", dest="command", required=True)
    compare = commands.add_parser(
        "compare",
        help="compare pruning methods over ratios and seeds",
        description="Train one dense net per seed, prune it with every method at "
        "every ratio, without and with fine-tuning; write results.csv, "
        "results.md and violin.png.",
    )
    for add_arguments in (
        _add_data_arguments,
        _add_network_arguments,
        _add_sweep_arguments,
        _add_run_arguments,
    ):
        add_arguments(compare)
    compare.set_defaults(handler=_compare, parser=compare)
    return parser


_DATASET_OPTIONS = {
    "data_home": ("--data-home", ("mnist",)),
    "download": ("--download", ("mnist",)),
    "noise": ("--noise", ("diffusion-sorption",)),
    "n_samples": ("--n-samples", ("diffusion-sorption",)),
    "n_cells": ("--n-cells", ("diffusion-sorption",)),
    "construction": ("--construction", ("diffusion-sorption",)),
    "csv": ("--csv", ("csv",)),
    "target": ("--target", ("csv",)),
    "task": ("--task", ("csv",)),
}


def check_compare_args(args: argparse.Namespace) -> None:
    """Check options that depend on each other; raise ValueError if they clash."""
    for name, (flag, datasets) in _DATASET_OPTIONS.items():
        if getattr(args, name) not in (None, False) and args.dataset not in datasets:
            raise ValueError(
                f"{flag} applies only to --dataset {' or '.join(datasets)}, "
                f"not to --dataset {args.dataset}."
            )
    if args.dataset == "csv" and (args.csv is None or args.target is None):
        raise ValueError("--dataset csv needs --csv PATH and --target COLUMN.")


# -------------------------------------------------------------------- data


def load_dataset(args: argparse.Namespace):
    """The :class:`~skprune.datasets.Dataset` the ``compare`` arguments ask for."""
    from . import datasets

    if args.dataset == "mnist":
        return datasets.load_mnist_split(
            args.data_home, args.n_train, args.n_test, download=args.download
        )
    if args.dataset == "digits":
        data = datasets.load_digits_split()
    elif args.dataset == "diffusion-sorption":
        data = datasets.load_diffusion_sorption_split(
            DEFAULT_NOISE if args.noise is None else args.noise,
            args.n_samples or DEFAULT_DIFFSORP_SAMPLES,
            args.n_cells or DEFAULT_N_CELLS,
            n_jobs=args.n_jobs,
            construction=args.construction or "stencil",
        )
    else:
        data = datasets.load_csv_split(args.csv, args.target, args.task)
    return data.subset(args.n_train, args.n_test)


def _one_or_list(values):
    return values[0] if len(values) == 1 else list(values)


def _fail(message: str):
    raise SystemExit(f"skprune compare: error: {message}")


def _compare(args: argparse.Namespace) -> int:
    from .experiments import compare_methods, make_estimator, name_variants
    from .report import write_report

    if args.dataset == "diffusion-sorption" and not args.quiet:
        print(
            "Simulating diffusion-sorption trajectories, or reading them from the "
            "cache; the first simulation on a fine grid takes minutes.",
            file=sys.stderr,
        )
    try:
        data = load_dataset(args)
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    architecture = args.architecture or parse_architecture(
        DEFAULT_ARCHITECTURE[args.dataset]
    )
    estimator = make_estimator(data.task, architecture, args.activation, args.epochs)
    start = time.perf_counter()
    results = compare_methods(
        estimator,
        data,
        methods=args.methods,
        ratios=args.ratios,
        seeds=args.seeds or tuple(range(args.n_seeds or DEFAULT_N_SEEDS)),
        fine_tune_epochs=(0, args.fine_tune_epochs),
        pruner_params={
            "scope": args.scope,
            "max_samples": args.max_samples,
            # a list is swept (a column of its own), a single value is not
            "compensation": _one_or_list(args.compensations),
            "n_rounds": _one_or_list(args.rounds),
        },
        n_jobs=args.n_jobs,
        threads=args.threads,
        progress=not args.quiet,
    )
    results = name_variants(results)
    paths = write_report(results, args.output_dir or Path("results") / data.name)
    if "plot" not in paths:
        print("matplotlib is not installed: no violin.png (pip install matplotlib)")
    print(paths["markdown"].read_text(encoding="utf-8"))
    print(
        f"{len(results)} runs in {time.perf_counter() - start:.1f} s; wrote "
        + ", ".join(str(p) for p in paths.values())
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``skprune`` command line with `argv` (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 on success; bad arguments and missing data exit with a message.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_compare_args(args)
    except ValueError as exc:
        args.parser.error(str(exc))
    return args.handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
