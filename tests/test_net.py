"""The skorch net: its explicit backward pass against torch's autograd, and
its copies."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch import NeuralNet
from skorch.callbacks import Callback

from skprune import MLPClassifier, MLPRegressor
from skprune._torch import net as net_module
from skprune._torch import versions
from skprune._torch.activations import ACTIVATIONS
from skprune._torch.data import BatchIterator
from skprune._torch.losses import PerSampleLoss, forward_backward
from skprune._torch.module import MLPModule
from skprune._torch.net import DeferredLosses, MLPNet
from skprune._torch.serialization import (
    CPU_TORCH_STATE,
    dump_cpu_storages,
    load_cpu_storages,
)
from skprune._torch.solvers import SklearnStopping

OUT_ACTIVATIONS = ("softmax", "logistic", "identity")


def _batch(out_activation, n=37, n_in=5, n_out=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, n_in, generator=gen)
    if out_activation == "softmax":
        y = torch.randint(0, n_out, (n,), generator=gen)
    elif out_activation == "logistic":
        y = torch.randint(0, 2, (n, n_out), generator=gen).float()
    else:
        y = torch.randn(n, n_out, generator=gen)
    return X, y


def _autograd_grads(module, X, y, sample_weight, out_activation, alpha):
    """The loss of MLPNet.get_loss, differentiated by autograd."""
    module.zero_grad(set_to_none=True)
    losses = PerSampleLoss(out_activation)(module(X), y)
    if sample_weight is None:
        total, loss = len(X), losses.sum()
    else:
        total, loss = sample_weight.sum(), losses @ sample_weight
    penalty = sum((layer.weight**2).sum() for layer in module.layers)
    loss = (loss + 0.5 * alpha * penalty) / total
    loss.backward()
    return loss.item(), {k: p.grad.clone() for k, p in module.named_parameters()}


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("out_activation", OUT_ACTIVATIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_explicit_gradients_equal_autograd(activation, out_activation, weighted, alpha):
    X, y = _batch(out_activation)
    module = MLPModule((5, 7, 6, 3), activation, seed=1)
    if activation == "prelu":  # slopes away from the default, some rows at 0
        with torch.no_grad():
            module.activations[0].weight.fill_(-0.4)
        X[:3] = 0.0
    sample_weight = None
    if weighted:
        sample_weight = torch.rand(len(X), generator=torch.Generator().manual_seed(2))
        sample_weight[:4] = 0.0
    expected_loss, expected = _autograd_grads(
        module, X, y, sample_weight, out_activation, alpha
    )
    module.zero_grad(set_to_none=True)
    loss, raw = forward_backward(module, X, y, sample_weight, out_activation, alpha)
    assert loss.item() == pytest.approx(expected_loss, rel=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(raw, module(X))
    for name, param in module.named_parameters():
        torch.testing.assert_close(
            param.grad, expected[name], rtol=1e-5, atol=1e-7, msg=name
        )


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("out_activation", OUT_ACTIVATIONS)
def test_reused_gradients_are_written_in_place(activation, out_activation):
    # With reuse_grads, the gradients land in the tensors the parameters
    # hold (whatever they held, even a strided view), with autograd's values.
    X, y = _batch(out_activation)
    module = MLPModule((5, 7, 6, 3), activation, seed=1)
    _, expected = _autograd_grads(module, X, y, None, out_activation, 0.3)
    held = {}
    for name, param in module.named_parameters():
        param.grad = torch.full_like(param, 7.0)
        held[name] = param.grad
    weight = module.layers[1].weight
    weight.grad = torch.full(weight.shape[::-1], 7.0).t()  # not contiguous
    held["layers.1.weight"] = weight.grad
    forward_backward(module, X, y, None, out_activation, 0.3, reuse_grads=True)
    for name, param in module.named_parameters():
        torch.testing.assert_close(param.grad, expected[name], msg=name)
        if not name.startswith("activations"):  # the PReLU slope: always new
            assert param.grad is held[name], name


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backward_reads_no_s_that_function_overwrites(activation):
    # The training step computes x = function_(s) in place and hands the
    # overwritten s to backward: where function_ writes over s, backward
    # must not need it.
    entry = ACTIVATIONS[activation]
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(20, 4, generator=gen)
    s[:2] = 0.0
    slope = torch.tensor([-0.4]) if activation == "prelu" else None
    delta = torch.randn(20, 4, generator=gen)
    x = entry.function(s, slope)
    s_after = s.clone()
    torch.testing.assert_close(entry.function_(s_after, slope), x)
    expected, expected_slope = entry.backward(delta.clone(), x, s, slope)
    got, got_slope = entry.backward(delta.clone(), x, s_after, slope)
    torch.testing.assert_close(got, expected)
    if expected_slope is not None:
        torch.testing.assert_close(got_slope, expected_slope)


def test_gradients_are_new_tensors_by_default():
    X, y = _batch("softmax")
    module = MLPModule((5, 7, 3), "relu", seed=1)
    forward_backward(module, X, y, None, "softmax", 0.0)
    first = [p.grad for p in module.parameters()]
    forward_backward(module, X, y, None, "softmax", 0.0)
    assert all(p.grad is not g for p, g in zip(module.parameters(), first))


class _KeepsGradients(Callback):
    """Keeps the gradient tensors it is shown, without copying them."""

    def initialize(self):
        self.seen = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.seen.append([(p.grad, p.grad.clone()) for _, p in named_parameters])


def test_a_gradient_listener_keeps_what_it_was_shown():
    # Gradients a callback kept are not overwritten by the next steps.
    keeper = _KeepsGradients()
    _small_fit(callbacks=[("keeper", keeper)])
    assert len(keeper.seen) > 2
    for step in keeper.seen:
        for kept, copy_at_the_time in step:
            assert torch.equal(kept, copy_at_the_time)


def test_gradients_are_reused_without_a_listener(monkeypatch):
    reused = []
    original = net_module.forward_backward

    def spy(*args, reuse_grads=False, **kwargs):
        reused.append(reuse_grads)
        return original(*args, reuse_grads=reuse_grads, **kwargs)

    monkeypatch.setattr(net_module, "forward_backward", spy)
    _small_fit()
    assert reused and all(reused)


def test_relu_derivative_at_zero_is_autograds():
    # A unit whose pre-activation is exactly 0 passes no gradient (as torch).
    module = MLPModule((2, 2, 1), "relu", seed=0)
    with torch.no_grad():
        module.layers[0].weight.zero_()
        module.layers[0].bias.zero_()
    X, y = torch.ones(4, 2), torch.ones(4, 1)
    _, expected = _autograd_grads(module, X, y, None, "identity", 0.0)
    forward_backward(module, X, y, None, "identity", 0.0)
    for name, param in module.named_parameters():
        torch.testing.assert_close(param.grad, expected[name], msg=name)


class _RecordsLosses(Callback):
    def initialize(self):
        self.losses = []
        return self

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if training:
            self.losses.append(loss.item())


class _ScaledLoss(PerSampleLoss):
    """A user's criterion (a subclass): trained through autograd."""


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_explicit_and_autograd_training_agree(estimator):
    # The same fit, once with skprune's criterion (explicit backward) and once
    # with a user's criterion subclass (autograd), follows the same path.
    rng = np.random.RandomState(0)
    X = rng.randn(120, 4)
    y = (X[:, 0] > 0).astype(int) if estimator is MLPClassifier else X @ [1, 2, 0, -1]
    params = dict(
        hidden_layer_sizes=(6,),
        activation="tanh",
        alpha=0.01,
        batch_size=32,
        max_iter=4,
        tol=0.0,
        random_state=0,
    )
    explicit = estimator(callbacks=[("rec", _RecordsLosses())], **params).fit(X, y)
    autograd = estimator(
        callbacks=[("rec", _RecordsLosses())],
        net_params={"criterion": _ScaledLoss},
        **params,
    ).fit(X, y)
    batch = (torch.zeros(1), (torch.zeros(1), None))
    assert explicit.net_._explicit_backward(batch, {})
    assert not autograd.net_._explicit_backward(batch, {})
    np.testing.assert_allclose(
        dict(explicit.net_.callbacks_)["rec"].losses,
        dict(autograd.net_.callbacks_)["rec"].losses,
        rtol=1e-5,
    )
    np.testing.assert_allclose(explicit.loss_curve_, autograd.loss_curve_, rtol=1e-5)
    for ours, theirs in zip(explicit.coefs_, autograd.coefs_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


@pytest.fixture
def fitted_clf():
    rng = np.random.RandomState(0)
    X = rng.randn(90, 4)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    clf = MLPClassifier((5,), max_iter=6, batch_size=30, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    return clf, X, y


@pytest.mark.parametrize(
    "duplicate", [copy.deepcopy, lambda c: pickle.loads(pickle.dumps(c))]
)
def test_copies_are_independent_and_complete(fitted_clf, duplicate):
    clf, X, y = fitted_clf
    twin = duplicate(clf)
    assert twin.net_.history.to_list() == clf.net_.history.to_list()
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))
    # The copy's optimizer steps the copy's parameters, not the original's.
    params = twin.net_.optimizer_.param_groups[0]["params"]
    assert params[0] is twin.net_.module_.layers[0].weight
    before = [c.copy() for c in clf.coefs_]
    n_epochs = len(clf.net_.history)
    twin.partial_fit(X, y)
    assert len(twin.net_.history) == n_epochs + 1
    assert len(clf.net_.history) == n_epochs
    for old, new in zip(before, clf.coefs_):
        np.testing.assert_array_equal(old, new)
    assert not np.array_equal(twin.coefs_[0], clf.coefs_[0])


def test_cpu_storages_round_trip_with_dtypes_views_and_sharing():
    base = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    state = {
        "base": base,
        "view": base[1:, ::2],  # offset and strides into base's storage
        "param": torch.nn.Parameter(torch.randn(2, 3)),
        "half": torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
        "flags": torch.tensor([True, False, True]),
        "ints": torch.tensor([3, -7], dtype=torch.int64),
        "empty": torch.empty(0, 5),
        "scalar": torch.tensor(4.0),
    }
    loaded = load_cpu_storages(dump_cpu_storages(state))
    assert loaded.keys() == state.keys()
    for key, tensor in state.items():
        assert loaded[key].dtype == tensor.dtype, key
        assert loaded[key].shape == tensor.shape, key
        assert loaded[key].stride() == tensor.stride(), key
        assert torch.equal(loaded[key], tensor), key
    assert isinstance(loaded["param"], torch.nn.Parameter)
    # The view still shares the base's storage (saved once), and the copy
    # shares nothing with the original.
    loaded["base"][2, 0] = -1.0
    assert loaded["view"][1, 0] == -1.0
    assert base[2, 0] == 8.0


def test_nets_pickled_in_skorchs_format_still_load(fitted_clf):
    clf, X, _ = fitted_clf
    state = NeuralNet.__getstate__(clf.net_)  # the torch state torch.save'd
    assert isinstance(state["__cuda_dependent_attributes__"], bytes)
    net = MLPNet.__new__(MLPNet)
    net.__setstate__(state)
    twin = copy.copy(clf)
    twin.net_ = net
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))


def test_storages_pickled_with_another_byte_order_are_refused():
    byteorder, data = dump_cpu_storages({"w": torch.ones(3)})
    other = "big" if byteorder == "little" else "little"
    with pytest.raises(pickle.UnpicklingError, match=f"pickled on a {other}-endian"):
        load_cpu_storages((other, data))


def test_models_pickled_by_the_previous_release_still_load(fitted_clf, monkeypatch):
    """Its pickles name the net's classes by ``skprune._net`` and keep the
    fitted widths under the private name ``_layer_sizes``."""
    clf, X, _ = fitted_clf
    for cls in (MLPNet, MLPModule, PerSampleLoss, BatchIterator, SklearnStopping):
        monkeypatch.setattr(cls, "__module__", "skprune._net")
    getstate = type(clf).__getstate__

    def old_state(self):
        state = dict(getstate(self))
        state["_layer_sizes"] = state.pop("hidden_layer_sizes_")
        for name in ("_optimizer", "_no_improvement_count"):  # newer than 0.1.0
            del state[name]
        return state

    monkeypatch.setattr(type(clf), "__getstate__", old_state)
    payload = pickle.dumps(clf)
    monkeypatch.undo()
    assert b"skprune._net" in payload and b"skprune._torch" not in payload
    assert b"hidden_layer_sizes_" not in payload
    loaded = pickle.loads(payload)
    assert type(loaded.net_) is MLPNet
    assert loaded.hidden_layer_sizes_ == clf.hidden_layer_sizes_ == (5,)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.partial_fit(X, clf.predict(X)).n_iter_ == 1


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_skorchs_own_train_step_where_untested(estimator, monkeypatch):
    """On an untested skorch the net trains through skorch's own train_step
    (autograd, closure): the same path as the fast step, masks held."""
    rng = np.random.RandomState(0)
    X = rng.randn(120, 4)
    y = (X[:, 0] > 0).astype(int) if estimator is MLPClassifier else X @ [1, 2, 0, -1]
    params = dict(
        hidden_layer_sizes=(6,),
        activation="tanh",
        alpha=0.01,
        batch_size=32,
        max_iter=4,
        tol=0.0,
        random_state=0,
    )
    fast = estimator(**params).fit(X, y)
    monkeypatch.setattr(versions, "FAST_TRAIN_STEP", False)
    calls = []
    original = NeuralNet.train_step
    monkeypatch.setattr(
        NeuralNet, "train_step", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    slow = estimator(**params).fit(X, y)
    assert len(calls) == 4 * 4  # skorch's step ran for every batch
    np.testing.assert_allclose(fast.loss_curve_, slow.loss_curve_, rtol=1e-5)
    for ours, theirs in zip(fast.coefs_, slow.coefs_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    masks = [np.abs(c) > np.median(np.abs(c)) for c in slow.coefs_]
    slow.set_masks(masks).fine_tune(X, y, epochs=2)
    assert all((c[~m] == 0.0).all() for c, m in zip(slow.coefs_, masks))


def test_skorchs_own_pickling_where_untested(fitted_clf, monkeypatch):
    clf, X, _ = fitted_clf
    monkeypatch.setattr(versions, "FAST_PICKLING", False)
    payload = pickle.dumps(clf)
    assert b"__cuda_dependent_attributes__" in payload  # skorch's format
    assert CPU_TORCH_STATE.encode() not in payload
    np.testing.assert_array_equal(
        pickle.loads(payload).predict_proba(X), clf.predict_proba(X)
    )


@pytest.mark.parametrize(
    "check, version, expected",
    [
        (versions.fast_train_step_supported, "1.4.0", True),
        (versions.fast_train_step_supported, "1.1.0", False),
        (versions.fast_train_step_supported, "1.5.0", False),
        (versions.fast_pickling_supported, "2.13.0+cpu", True),
        (versions.fast_pickling_supported, "2.1.2", False),
        (versions.fast_pickling_supported, "3.0.0", False),
    ],
)
def test_version_ranges(check, version, expected):
    assert check(version) is expected


# ------------------------------------------------- losses read back per epoch


class _ListensPerBatch(Callback):
    """Does nothing, but on every batch: the net must run skorch's loop."""

    def on_batch_end(self, net, **kwargs):
        pass


class _ChecksBatchRows(Callback):
    """Checks, at each batch's end, the history row skorch has just written."""

    def initialize(self):
        self.seen = []
        return self

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        row = net.history[-1]["batches"][-1]
        key = "train" if training else "valid"
        assert row[f"{key}_loss"] == loss.item()
        assert row[f"{key}_batch_size"] == len(batch[0])
        self.seen.append((training, row[f"{key}_loss"]))


def _history_without_timings(net):
    return [{k: v for k, v in row.items() if k != "dur"} for row in net.history]


def _assert_same_training(first, second):
    assert _history_without_timings(first.net_) == _history_without_timings(second.net_)
    assert getattr(first, "loss_curve_", 0) == getattr(second, "loss_curve_", 0)
    for ours, theirs in zip(
        first.coefs_ + first.intercepts_, second.coefs_ + second.intercepts_
    ):
        np.testing.assert_array_equal(ours, theirs)


def _small_fit(callbacks=None, batch_size=32, sample_weight=False, **params):
    rng = np.random.RandomState(0)
    X = rng.randn(150, 5)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    weights = rng.uniform(0.2, 2.0, len(X)) if sample_weight else None
    clf = MLPClassifier(
        (6,),
        batch_size=batch_size,
        max_iter=4,
        tol=0.0,
        n_iter_no_change=100,
        random_state=0,
        callbacks=callbacks,
        **params,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("sample_weight", [False, True])
def test_losses_read_per_epoch_give_skorchs_history(
    solver, early_stopping, sample_weight
):
    settings = dict(
        solver=solver, early_stopping=early_stopping, sample_weight=sample_weight
    )
    deferred = _small_fit(**settings)
    per_batch = _small_fit(callbacks=[("listens", _ListensPerBatch())], **settings)
    assert not deferred.net_._listens_to_batches()
    assert per_batch.net_._listens_to_batches()
    _assert_same_training(deferred, per_batch)
    assert deferred.n_iter_ == per_batch.n_iter_
    assert deferred.validation_scores_ == per_batch.validation_scores_


@pytest.mark.parametrize("early_stopping", [False, True])
def test_losses_are_read_back_once_per_epoch(transfers, early_stopping):
    reads = {}
    for batch_size in (75, 15):  # 2 and 10 batches per epoch
        with transfers:
            _small_fit(batch_size=batch_size, early_stopping=early_stopping)
        losses = [r for r in transfers.reads if r[0] in ("item", "tolist")]
        n_batches = {75: 2, 15: 10}[batch_size] - early_stopping  # 135 rows left
        train = [r for r in losses if r[1] == (n_batches,)]
        assert len(train) == 4  # one read of all the batch losses per epoch
        # The validation loss (one batch) is one read per epoch too.
        assert len(losses) == 4 + 4 * early_stopping
        reads[batch_size] = len(transfers.reads)
        # The training rows (X and the encoded y) land on the device once.
        n_train = 150 - 15 * early_stopping
        uploads = [u for u in transfers.uploads if u[1][:1] == (n_train,)]
        assert [u[0] for u in uploads if len(u[1]) == 2] == ["as_tensor"] * 2
    assert reads[75] == reads[15]  # nothing else is read per batch


def test_a_batch_listener_gets_skorchs_loop(transfers):
    checks = _ChecksBatchRows()
    with transfers:
        _small_fit(callbacks=[("checks", checks)], batch_size=15, early_stopping=True)
    # Every batch's loss was in the history when its on_batch_end ran.
    assert [t for t, _ in checks.seen] == ([True] * 9 + [False]) * 4
    assert len([r for r in transfers.reads if r[0] == "item"]) >= 4 * 10


@pytest.mark.parametrize("name", ["on_batch_begin", "on_batch_end", "on_grad_computed"])
def test_any_per_batch_hook_turns_the_deferred_read_off(name):
    listener = type("Listener", (Callback,), {name: lambda self, net, **kw: None})
    net = _small_fit(callbacks=[("listener", listener())]).net_
    assert net._listens_to_batches()
    assert not _small_fit().net_._listens_to_batches()


def test_skorchs_loop_where_untested(monkeypatch):
    net = _small_fit().net_
    monkeypatch.setattr(versions, "FAST_TRAIN_STEP", False)
    assert net._listens_to_batches()


def test_deferred_losses_in_chunks_and_of_mixed_types(monkeypatch):
    monkeypatch.setattr(net_module, "LOSS_CHUNK", 3)
    values = [torch.tensor(v / 7) for v in range(8)]
    losses = DeferredLosses()
    for value in values:
        losses.append(value)
    assert losses.read() == [v.item() for v in values]
    mixed = [torch.tensor(0.1), torch.tensor([0.2], dtype=torch.float64), 0.3]
    losses = DeferredLosses()
    for value in mixed[:2]:
        losses.append(value)
    assert losses.read() == [torch.tensor(0.1).item(), 0.2]
    losses.append(torch.tensor(0.3, requires_grad=True) * 2)
    assert losses.read()[-1] == pytest.approx(0.6)


# ------------------------------------------------------- the graphed step


@pytest.fixture
def graphed_steps(monkeypatch):
    """The GraphedSteps of the fits that follow, with the step "captured"
    as a plain call on the static buffers (GRAPH_EMULATION): everything but
    the CUDA capture itself runs on the CPU."""
    monkeypatch.setattr(net_module, "GRAPH_EMULATION", True)
    steps = []
    original = net_module.GraphedStep.__init__

    def recording(self, net):
        original(self, net)
        steps.append(self)

    monkeypatch.setattr(net_module.GraphedStep, "__init__", recording)
    return steps


GRAPHED = {"net_params": {"cuda_graph": True}}


@pytest.mark.parametrize(
    "settings, warm_ups",
    [
        (dict(solver="adam"), 1),
        (dict(solver="adam", alpha=0.1, early_stopping=True), 1),
        (dict(solver="sgd"), 1),
        (dict(solver="sgd", learning_rate="invscaling"), 4),  # a new rate per epoch
    ],
)
def test_the_graphed_step_trains_as_the_ordinary_step(
    graphed_steps, settings, warm_ups
):
    """Full batches replayed from the static buffers give the same history and
    weights, bit for bit; the short last batch of each epoch is an ordinary
    step, and a new learning rate means warming up and capturing again."""
    plain = _small_fit(**settings)
    graphed = _small_fit(**settings, **GRAPHED)
    (step,) = graphed_steps
    assert graphed.net_.graphed_step_ is None  # it lives for the fit only
    assert step.rows == 32
    # 150 rows (135 with early stopping): 4 batches of 32 and a short one,
    # 4 epochs: 16 full batches, less the warm-up steps.
    assert step.replays == 16 - warm_ups * net_module.GRAPH_WARMUP_STEPS
    _assert_same_training(plain, graphed)


def test_the_graphed_step_holds_the_masks(graphed_steps):
    fits = [_small_fit(), _small_fit(**GRAPHED)]
    masks = [np.abs(c) > np.median(np.abs(c)) for c in fits[0].coefs_]
    X = np.random.RandomState(1).randn(150, 5)
    y = (X[:, 0] > 0).astype(int)
    for clf in fits:
        clf.set_masks(masks).partial_fit(X, y)
        for coef, mask in zip(clf.coefs_, masks):
            assert not coef[~mask].any()
    assert graphed_steps[-1].replays == 4 - net_module.GRAPH_WARMUP_STEPS
    for ours, theirs in zip(fits[0].coefs_, fits[1].coefs_):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    "settings, built",
    [
        (dict(callbacks=[("listens", _ListensPerBatch())], **GRAPHED), False),
        (dict(solver="lbfgs", **GRAPHED), False),
        (dict(sample_weight=True, **GRAPHED), True),  # built, takes no batch
        (dict(), False),  # cuda_graph not set
    ],
)
def test_what_the_graphed_step_leaves_to_the_ordinary_step(
    graphed_steps, settings, built
):
    graphed = _small_fit(**settings)
    assert len(graphed_steps) == built
    assert all(step.replays == 0 for step in graphed_steps)
    plain = {k: v for k, v in settings.items() if k != "net_params"}
    _assert_same_training(_small_fit(**plain), graphed)


class _OwnModule(MLPModule):
    """A module of one's own (its forward runs through autograd)."""

    def forward(self, X):
        return super().forward(X) * 1.0


class _ListensToGradients(Callback):
    def on_grad_computed(self, net, named_parameters, **kwargs):
        pass


@pytest.mark.parametrize(
    "settings",
    [
        dict(net_params={"cuda_graph": True, "criterion": _ScaledLoss}),
        dict(net_params={"cuda_graph": True, "module": _OwnModule}),
        dict(callbacks=[("grads", _ListensToGradients())], **GRAPHED),
    ],
    ids=["criterion", "module", "gradient listener"],
)
def test_what_is_not_the_nets_own_step_is_not_graphed(graphed_steps, settings):
    net = _small_fit(**settings).net_
    assert not graphed_steps
    assert not net._graphs_the_step({})


def test_no_graphed_step_outside_cuda():
    net = _small_fit(**GRAPHED).net_
    assert net.cuda_graph and not net._graphs_the_step({})


def test_a_failed_capture_warns_and_trains_on(graphed_steps, monkeypatch):
    def fails(self):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(net_module.GraphedStep, "_record", fails)
    with pytest.warns(RuntimeWarning, match="could not be captured as a CUDA graph"):
        graphed = _small_fit(**GRAPHED)
    (step,) = graphed_steps
    assert step.failed and step.replays == 0
    _assert_same_training(_small_fit(), graphed)


def test_a_fitted_net_with_cuda_graph_copies_and_pickles(graphed_steps):
    clf = _small_fit(**GRAPHED)
    clf.net_.graphed_step_ = graphed_steps[0]  # as during a fit
    for copied in (copy.deepcopy(clf), pickle.loads(pickle.dumps(clf))):
        assert copied.net_.graphed_step_ is None
        assert copied.net_.cuda_graph
    clf.net_.graphed_step_ = None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_the_cuda_graph_trains_as_the_ordinary_step_on_cuda(solver):
    fits = [
        _small_fit(solver=solver, device="cuda", **params) for params in ({}, GRAPHED)
    ]
    np.testing.assert_allclose(fits[0].loss_curve_, fits[1].loss_curve_, rtol=1e-5)
    for ours, theirs in zip(fits[0].coefs_, fits[1].coefs_):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
