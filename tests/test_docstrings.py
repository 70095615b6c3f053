"""The examples in skprune's docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import torch

import skprune
from skprune.importance import _registry, unregister_scorer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(skprune.__path__, prefix="skprune.")
    if info.name != "skprune.__main__"
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [test for test in finder.find(module, name) if test.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    threads, scorers = torch.get_num_threads(), set(_registry.SCORERS)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    try:
        for test in _examples(name):
            runner.run(test)
    finally:  # the process as it was: threads, the scorers' registry
        torch.set_num_threads(threads)
        for added in set(_registry.SCORERS) - scorers:
            unregister_scorer(added)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} docstring example(s) failed"


def test_public_objects_have_examples():
    missing = [
        name
        for name in skprune.__all__
        if ">>>" not in (getattr(skprune, name).__doc__ or "")
    ]
    assert not missing, missing
