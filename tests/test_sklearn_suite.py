"""scikit-learn's own MLP tests, run against skprune's classes.

The installed scikit-learn's ``neural_network/tests/test_mlp.py`` runs
unchanged in a separate pytest process; the plugin
``_sklearn_suite_plugin.py`` points ``sklearn.neural_network.MLPClassifier``
/ ``MLPRegressor`` at skprune's classes before the module imports them.
Every failure must be declared below with its reason, and every declared
failure must still fail (a stale declaration is an error).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sklearn

TESTS = Path(__file__).resolve().parent
SUITE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"

# Tests that drive scikit-learn's private solver internals (they set
# ``_coef_grads`` etc. on an unfitted estimator, or call ``_loss_grad_lbfgs``,
# or read ``_optimizer``): not counted; they may pass or fail.
PRIVATE_INTERNALS = {
    "test_fit": "builds the net by assigning scikit-learn's private solver state "
    "(_coef_grads, _intercept_velocity, ...) to an unfitted estimator",
    "test_gradient": "calls scikit-learn's private _loss_grad_lbfgs",
    "test_learning_rate_warmstart": "reads scikit-learn's private "
    "_optimizer.learning_rate",
}

FLOAT32 = (
    "training runs in float32 for speed (also on float64 input): coefs_ and "
    "intercepts_ are float32 views of the live torch weights, so they are not "
    "float64 as the test expects; float32 input gives float32 throughout"
)

# Every other expected failure, with its reason.
EXPECTED_FAILURES = {
    "test_mlp_param_dtypes[MLPClassifier-float64]": FLOAT32,
    "test_mlp_param_dtypes[MLPRegressor-float64]": FLOAT32,
    "test_partial_fit_regression": (
        "the initial weights are drawn from random_state by torch, not by "
        "scikit-learn's numpy draws (same distribution): with random_state=1 "
        "and momentum=0 this net ends at R^2 0.640 against the test's 0.65 "
        "(scikit-learn's draw: 0.668); over random_state 1-7 ours give "
        "0.616-0.711 and scikit-learn's 0.644-0.699 (its own draw fails the "
        "threshold at random_state=2)"
    ),
}

SKLEARN_VERSION = "1.9.1"
N_TESTS = 59  # in scikit-learn 1.9.1's test_mlp.py, parametrizations counted
MIN_PASSED = 52  # of the tests that use only public behaviour


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    if sklearn.__version__ != SKLEARN_VERSION:
        pytest.skip(
            f"the counts are those of scikit-learn {SKLEARN_VERSION}'s tests; "
            f"installed: {sklearn.__version__}"
        )
    assert SUITE.is_file(), f"scikit-learn's MLP tests are missing: {SUITE}"
    report = tmp_path_factory.mktemp("sklearn_suite") / "outcomes.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)]),
        "SKPRUNE_SUITE_REPORT": str(report),
        "SKPRUNE_SUITE_THREADS": "1",
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [
        *(sys.executable, "-m", "pytest", str(SUITE), "-q", "-p"),
        *("_sklearn_suite_plugin", "-p", "no:cacheprovider", "-p", "no:xdist"),
        *("-o", "addopts="),
    ]
    run = subprocess.run(
        command, env=env, cwd=report.parent, capture_output=True, text=True
    )
    assert report.is_file(), f"the suite did not run:\n{run.stdout}\n{run.stderr}"
    return json.loads(report.read_text())


def test_the_whole_suite_ran(outcomes):
    assert len(outcomes) == N_TESTS, sorted(outcomes)
    declared = set(PRIVATE_INTERNALS) | set(EXPECTED_FAILURES)
    assert declared <= set(outcomes), declared - set(outcomes)


def test_only_declared_failures(outcomes):
    failed = {name: o["message"] for name, o in outcomes.items() if _failed(o)}
    unexpected = {
        name: message
        for name, message in failed.items()
        if name not in EXPECTED_FAILURES and name not in PRIVATE_INTERNALS
    }
    assert not unexpected, unexpected
    stale = [name for name in EXPECTED_FAILURES if name not in failed]
    assert not stale, f"declared as failing but passed: {stale}"


def test_public_behaviour_passes(outcomes):
    public = {k: o for k, o in outcomes.items() if k not in PRIVATE_INTERNALS}
    assert len(public) == N_TESTS - len(PRIVATE_INTERNALS) == 56
    passed = sum(not _failed(o) for o in public.values())
    assert passed >= MIN_PASSED, f"{passed} of {len(public)} passed"


def _failed(outcome):
    return outcome["outcome"] != "passed"
