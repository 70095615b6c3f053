"""Torch threads of fits, predictions and scoring: ``n_threads`` and its rule."""

import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback
from threadpoolctl import threadpool_limits

from skprune import CompensatedPruner, MLPClassifier, MLPRegressor
from skprune._torch import threads
from skprune._torch.threads import available_cores, torch_threads

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class RecordThreads(Callback):
    """Records torch's thread count after every batch, in the net's history."""

    def on_batch_end(self, net, **kwargs):
        net.history.record_batch("torch_threads", torch.get_num_threads())


class Boom(Callback):
    def on_batch_end(self, net, **kwargs):
        raise RuntimeError("boom")


def threads_seen(estimator, X=None, y=None):
    """The largest thread count recorded during ``estimator``'s fit (a scorer)."""
    per_epoch = estimator.net_.history[:, "batches", :, "torch_threads"]
    return max(max(batches) for batches in per_epoch)


def threads_allowed(estimator, X=None, y=None):
    """The most threads a fit could get where this runs: the fit's own, and the
    rule's share for work above ``SMALL_WORK`` (a scorer)."""
    return max(threads_seen(estimator), threads.thread_share())


@pytest.fixture
def one_thread():
    """torch on one thread during the test (the state the test suite runs in)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_n_threads_is_validated(bad):
    X, y = np.zeros((6, 2)), np.arange(6) % 2
    expected = "The 'n_threads' parameter of MLPClassifier must be an int in the range [1, inf) or None"
    with pytest.raises(ValueError, match=re.escape(expected)):
        MLPClassifier((3,), max_iter=1, n_threads=bad).fit(X, y)


def test_n_threads_is_a_parameter():
    mlp = MLPRegressor(n_threads=3)
    assert mlp.get_params()["n_threads"] == 3
    assert clone(mlp).n_threads == 3
    assert mlp.set_params(n_threads=None).n_threads is None
    pruner = CompensatedPruner(MLPClassifier(n_threads=2))
    assert pruner.get_params()["estimator__n_threads"] == 2


def test_an_int_is_honoured_in_fit_and_predict_and_restored(one_thread):
    X, y = np.random.RandomState(0).normal(size=(40, 4)), np.arange(40) % 2
    clf = MLPClassifier((5,), max_iter=2, n_threads=2, callbacks=[RecordThreads()])
    clf.fit(X, y)
    assert threads_seen(clf) == 2
    assert torch.get_num_threads() == 1
    seen = []
    clf.net_.module_.register_forward_hook(
        lambda *_: seen.append(torch.get_num_threads())
    )
    clf.predict_proba(X)
    clf.partial_fit(X, y)
    clf.fine_tune(X, y, epochs=1)
    assert seen and set(seen) == {2}
    assert torch.get_num_threads() == 1


def test_threads_are_restored_when_the_fit_raises(one_thread):
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(RuntimeError, match="boom"):
        MLPClassifier((3,), max_iter=1, n_threads=2, callbacks=[Boom()]).fit(X, y)
    assert torch.get_num_threads() == 1


def test_the_rule_gives_small_work_one_thread():
    X, y = np.random.RandomState(0).normal(size=(40, 4)), np.arange(40) % 2
    with torch_threads(2):
        clf = MLPClassifier((5,), max_iter=1, callbacks=[RecordThreads()]).fit(X, y)
        assert torch.get_num_threads() == 2
    assert threads_seen(clf) == 1


def test_the_rule_gives_big_work_the_share(monkeypatch):
    X, y = np.random.RandomState(0).normal(size=(40, 4)), np.arange(40) % 2
    clf = MLPClassifier((5,), max_iter=1, callbacks=[RecordThreads()])
    monkeypatch.setattr(threads, "SMALL_WORK", 0)  # every batch counts as big
    cores = available_cores()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with torch_threads(cores):
        assert threads_seen(clf.fit(X, y)) == cores
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a parallel parent's share
    with torch_threads(cores):
        assert threads_seen(clf.fit(X, y)) == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    with torch_threads(cores), threadpool_limits(1):  # threadpoolctl's limit
        assert threads_seen(clf.fit(X, y)) == 1


def test_the_share_is_capped_by_the_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with torch_threads(available_cores() + 3):
        assert threads.thread_share() == available_cores()


def test_pruner_scores_on_the_estimator_threads(one_thread, monkeypatch):
    seen = []
    scorer = threads.resolve_threads

    def recording(n_threads, work):
        seen.append((n_threads, scorer(n_threads, work)))
        return seen[-1][1]

    monkeypatch.setattr("skprune._pruner.resolve_threads", recording)
    X, y = np.random.RandomState(0).normal(size=(40, 4)), np.arange(40) % 2
    CompensatedPruner(
        MLPClassifier((5,), max_iter=1, n_threads=2), fine_tune_epochs=0
    ).fit(X, y)
    assert seen == [(2, 2)]
    assert torch.get_num_threads() == 1


def grid_search(n_jobs):
    """A search whose scores are the threads its fits had, or could have had."""
    X, y = np.random.RandomState(0).normal(size=(40, 4)), np.arange(40) % 2
    mlp = MLPClassifier((5,), max_iter=2, callbacks=[RecordThreads()])
    search = GridSearchCV(
        mlp,
        {"alpha": [1e-4, 1e-3]},
        cv=2,
        n_jobs=n_jobs,
        scoring=threads_allowed,
        error_score="raise",
    )
    return search, X, y


def test_grid_search_fits_use_their_share_of_the_cores():
    search, X, y = grid_search(n_jobs=2)  # joblib's loky workers
    search.fit(X, y)
    allowed = search.cv_results_["mean_test_score"]
    assert allowed.max() <= max(1, available_cores() // 2), allowed


def test_a_model_pickled_before_n_threads_existed_predicts():
    X, y = np.random.RandomState(0).normal(size=(20, 3)), np.arange(20) % 2
    clf = MLPClassifier((4,), max_iter=2).fit(X, y)
    state = clf.__getstate__()
    del state["n_threads"]
    old = MLPClassifier.__new__(MLPClassifier)
    old.__setstate__(state)
    assert old.n_threads is None
    np.testing.assert_array_equal(old.predict(X), clf.predict(X))
