"""pytest plugin: run scikit-learn's own MLP tests against skprune's classes.

Loaded with ``-p _sklearn_suite_plugin`` in a separate pytest process. It
points ``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor`` at
skprune's classes before the test module is imported, so that module's
``from sklearn.neural_network import MLPClassifier, MLPRegressor`` gets
skprune's; nothing else in scikit-learn imports them from there. Every
test's outcome is written as JSON to the file named by
``SKPRUNE_SUITE_REPORT``.
"""

import json
import os

import sklearn.neural_network
import torch

import skprune

sklearn.neural_network.MLPClassifier = skprune.MLPClassifier
sklearn.neural_network.MLPRegressor = skprune.MLPRegressor

if os.environ.get("SKPRUNE_SUITE_THREADS"):
    torch.set_num_threads(int(os.environ["SKPRUNE_SUITE_THREADS"]))

_OUTCOMES = {}


def pytest_runtest_logreport(report):
    name = report.nodeid.split("::", 1)[-1]
    failed = report.failed or (report.when == "setup" and report.skipped)
    if failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash else report.longreprtext.strip()
        _OUTCOMES[name] = {"outcome": "failed", "message": message[:300]}
    elif report.when == "call" and name not in _OUTCOMES:
        _OUTCOMES[name] = {"outcome": "passed", "message": ""}


def pytest_sessionfinish(session):
    with open(os.environ["SKPRUNE_SUITE_REPORT"], "w") as file:
        json.dump(_OUTCOMES, file, indent=1, sort_keys=True)
