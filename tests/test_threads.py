"""Torch threads of fits, predictions and scoring: ``n_threads`` and its rule."""

import hashlib
import math
import os
import re
import threading
import time
import types

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback
from threadpoolctl import threadpool_limits

from skprune import CompensatedPruner, MLPClassifier, MLPRegressor
from skprune._torch import threads
from skprune._torch.module import MLPModule
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


# ---------------------------------------------------------------- rule 3: busy
# cores at the start of a fit (threads.BusyStart)


def _hash_until(stop):
    data = b"x" * (1 << 22)
    while not stop.is_set():
        hashlib.sha256(data).digest()  # releases the GIL: a running thread


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux only")
def test_busy_threads_lists_a_running_thread_and_forgets_it():
    stop = threading.Event()
    worker = threading.Thread(target=_hash_until, args=(stop,))
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while worker.native_id not in threads.busy_threads():
            assert time.monotonic() < deadline, "the hashing thread was never seen"
    finally:
        stop.set()
        worker.join()
    deadline = time.monotonic() + 5  # the ended thread leaves /proc soon after
    while worker.native_id in threads.busy_threads():
        assert time.monotonic() < deadline, "the ended thread is still listed"
    assert threading.get_native_id() not in threads.busy_threads()


class FakeThreads:
    """Stands in for /proc and the clock: ``running`` says which thread ids run."""

    def __init__(self, monkeypatch, busy, cores=2):
        self.now = 100.0
        self.running = dict.fromkeys(busy, True)
        self.looks = 0
        monkeypatch.setattr(threads, "available_cores", lambda: cores)
        monkeypatch.setattr(threads, "busy_threads", self.busy_threads)
        monkeypatch.setattr(threads, "_running", self.is_running)
        monkeypatch.setattr(
            threads, "time", types.SimpleNamespace(perf_counter=lambda: self.now)
        )
        monkeypatch.setattr(threads, "_last_parallel", [-math.inf])

    def busy_threads(self):
        return [tid for tid, running in self.running.items() if running]

    def is_running(self, tid):
        self.looks += 1
        return self.running.get(tid, False)


def test_busy_start_starts_on_the_free_cores_and_waits_for_the_busy_ones(
    monkeypatch,
):
    fake = FakeThreads(monkeypatch, busy=[101])
    with torch_threads(2):
        start = threads.BusyStart(2).start()
        assert (start.reduced, torch.get_num_threads(), start.watched) == (
            True,
            1,
            [101],
        )
        fake.now += threads.BUSY_POLL_SECONDS / 2
        start.tick()  # too early to look again
        assert (fake.looks, torch.get_num_threads()) == (0, 1)
        fake.now += threads.BUSY_POLL_SECONDS
        start.tick()  # still running
        assert (fake.looks, torch.get_num_threads()) == (1, 1)
        fake.running[101] = False
        fake.now += threads.BUSY_POLL_SECONDS
        start.tick()
        assert (start.reduced, torch.get_num_threads()) == (False, 2)
        start.tick()  # done: no more looks
        assert fake.looks == 2


def test_busy_start_gives_up_waiting_after_a_while(monkeypatch):
    fake = FakeThreads(monkeypatch, busy=[101])
    with torch_threads(2):
        start = threads.BusyStart(2).start()
        fake.now += threads.BUSY_WAIT_SECONDS - 1e-3
        start.tick()
        assert torch.get_num_threads() == 1
        fake.now += threads.BUSY_POLL_SECONDS
        start.tick()  # thread 101 still runs, but the wait is over
        assert (start.reduced, torch.get_num_threads()) == (False, 2)


def test_busy_start_finish_restores_the_count(monkeypatch):
    FakeThreads(monkeypatch, busy=[101])
    with torch_threads(2):
        start = threads.BusyStart(2).start()
        start.finish()
        assert (start.reduced, torch.get_num_threads()) == (False, 2)


@pytest.mark.parametrize(
    "n_threads, cores, busy, expected",
    [
        (2, 2, [], 2),  # nothing else runs
        (2, 4, [101], 2),  # enough free cores
        (4, 4, [101], 3),  # the free cores
        (4, 4, [101, 102, 103, 104], 1),  # at least one
        (1, 1, [101], 1),  # one thread: nothing to lower
    ],
)
def test_busy_start_threads(monkeypatch, n_threads, cores, busy, expected):
    FakeThreads(monkeypatch, busy=busy, cores=cores)
    with torch_threads(n_threads):
        threads.BusyStart(n_threads).start()
        assert torch.get_num_threads() == expected


def test_busy_start_is_off_after_own_parallel_calls_and_when_switched_off(
    monkeypatch,
):
    fake = FakeThreads(monkeypatch, busy=[101])
    with torch_threads(2):
        # torch's own OpenMP threads may still spin after a call of ours on
        # two threads (partial_fit in a loop): no look at the threads
        with torch_threads(2):
            pass
        threads._last_parallel[0] = fake.now
        fake.now += threads.OWN_SPIN_SECONDS / 2
        assert not threads.BusyStart(2).start().reduced
        fake.now += threads.OWN_SPIN_SECONDS
        monkeypatch.setattr(threads, "YIELD_TO_BUSY_THREADS", False)
        assert not threads.BusyStart(2).start().reduced
        monkeypatch.setattr(threads, "YIELD_TO_BUSY_THREADS", True)
        assert threads.BusyStart(2).start().reduced


def test_a_call_on_several_threads_records_when_it_ended(monkeypatch):
    monkeypatch.setattr(threads, "_last_parallel", [-math.inf])
    with torch_threads(1):
        pass
    assert threads._last_parallel[0] == -math.inf
    with torch_threads(2):
        pass
    assert time.perf_counter() - threads._last_parallel[0] < 1.0


def _batch_threads(clf):
    return [
        t for epoch in clf.net_.history[:, "batches", :, "torch_threads"] for t in epoch
    ]


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_fit_that_finds_busy_threads_starts_on_one(monkeypatch, solver):
    fake = FakeThreads(monkeypatch, busy=[101])
    monkeypatch.setattr(threads, "SMALL_WORK", 0)  # every batch counts as big
    monkeypatch.setattr(threads, "BUSY_POLL_SECONDS", 0.0)  # look every batch
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    looks = []

    def is_running(tid):  # running during the first batch only
        looks.append(tid)
        return len(looks) < 2

    monkeypatch.setattr(threads, "_running", is_running)
    X, y = np.random.RandomState(0).normal(size=(40, 4)), np.arange(40) % 2
    params = dict(
        hidden_layer_sizes=(5,),
        solver=solver,
        batch_size=10,
        max_iter=2,
        callbacks=[RecordThreads()],
    )
    with torch_threads(2):
        clf = MLPClassifier(**params).fit(X, y)
        assert _batch_threads(clf) == [1, 2, 2, 2, 2, 2, 2, 2]
        assert torch.get_num_threads() == 2
        assert clf.net_.busy_start_ is None
        fake.now += 1.0  # past OWN_SPIN_SECONDS of the fit just made
        looks.clear()
        fixed = MLPClassifier(**params, n_threads=2).fit(X, y)
        assert _batch_threads(fixed) == [2] * 8  # an int is used as it is
        assert looks == []


def test_the_module_is_initialised_on_one_thread(monkeypatch):
    # Parallel regions there would leave torch's OpenMP threads spinning at the
    # start of the fit, where BusyStart would take them for someone else's.
    seen = []
    reset = MLPModule.reset_parameters

    def recording(self, seed):
        seen.append(torch.get_num_threads())
        reset(self, seed)

    monkeypatch.setattr(MLPModule, "reset_parameters", recording)
    with torch_threads(2):
        MLPModule((784, 64, 10), "relu", seed=0)
        assert torch.get_num_threads() == 2
    assert seen == [1]
