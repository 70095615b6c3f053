"""The solvers: SGD and its schedules against scikit-learn's own optimizer,
the stopping rule, L-BFGS, and what no fit may return silently."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits, make_regression
from sklearn.neural_network import MLPClassifier as SklearnClassifier
from sklearn.neural_network import MLPRegressor as SklearnRegressor
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer
from sklearn.preprocessing import scale

from skprune import CompensatedPruner, MLPClassifier, MLPRegressor
from skprune._torch import versions
from skprune._torch.net import fused_adam_supported
from skprune._torch.solvers import (
    LearningRateSchedule,
    SklearnSGD,
    fused_sgd_supported,
    fused_step,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.RandomState(0)
X = RNG.normal(size=(60, 4))
Y = (X[:, 0] + X[:, 1] > 0).astype(int)
Y_REG = X[:, 0] - 0.5 * X[:, 1]


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_steps_equal_sklearns_optimizer(momentum, nesterov):
    """Same updates as scikit-learn's SGDOptimizer, also when the rate changes."""
    rng = np.random.RandomState(0)
    start = [rng.normal(size=(3, 2)), rng.normal(size=2)]
    theirs = [p.copy() for p in start]
    reference = SGDOptimizer(theirs, 0.1, "invscaling", momentum, nesterov, 0.5)
    ours = [torch.nn.Parameter(torch.tensor(p)) for p in start]
    optimizer = SklearnSGD(ours, lr=0.1, momentum=momentum, nesterov=nesterov)
    schedule = LearningRateSchedule("invscaling", 0.1, power_t=0.5)
    for step in range(6):
        grads = [rng.normal(size=p.shape) for p in start]
        reference.update_params(theirs, grads)
        for param, grad in zip(ours, grads):
            param.grad = torch.tensor(grad)
        optimizer.step()
        reference.iteration_ends(10 * (step + 1))
        schedule.iteration_ends(10 * (step + 1))
        schedule.apply(optimizer)
        assert schedule.learning_rate == reference.learning_rate
    for param, expected in zip(ours, theirs):
        np.testing.assert_allclose(param.detach().numpy(), expected, rtol=1e-12)


def test_sgd_check_fails_with_torchs_momentum():
    """The test above tells torch's SGD (velocity without the rate) apart."""
    with pytest.raises(AssertionError):
        _compare_torch_sgd()


def _compare_torch_sgd():
    rng = np.random.RandomState(0)
    start = rng.normal(size=3)
    theirs = [start.copy()]
    reference = SGDOptimizer(theirs, 0.1, "invscaling", 0.9, True, 0.5)
    ours = torch.nn.Parameter(torch.tensor(start))
    optimizer = torch.optim.SGD([ours], lr=0.1, momentum=0.9, nesterov=True)
    for step in range(4):
        grad = rng.normal(size=3)
        reference.update_params(theirs, [grad])
        ours.grad = torch.tensor(grad)
        optimizer.step()
        reference.iteration_ends(10 * (step + 1))
        for group in optimizer.param_groups:
            group["lr"] = reference.learning_rate
    np.testing.assert_allclose(ours.detach().numpy(), theirs[0], rtol=1e-12)


def test_adaptive_schedule_divides_then_stops():
    schedule = LearningRateSchedule("adaptive", 1e-5)
    assert not schedule.trigger_stopping("no improvement.", verbose=False)
    assert schedule.learning_rate == pytest.approx(2e-6)
    assert not schedule.trigger_stopping("no improvement.", verbose=False)
    assert schedule.trigger_stopping("no improvement.", verbose=False)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_every_solver_learns_like_sklearn(solver):
    X_d, y_d = load_digits(return_X_y=True)
    X_d = X_d[:600] / 16
    y_d = y_d[:600]
    params = dict(hidden_layer_sizes=(32,), max_iter=60, random_state=0, solver=solver)
    ours = MLPClassifier(**params).fit(X_d, y_d).score(X_d, y_d)
    theirs = SklearnClassifier(**params).fit(X_d, y_d).score(X_d, y_d)
    assert ours > theirs - 0.05


def test_lbfgs_reaches_sklearns_loss_and_attributes():
    X_r, y_r = make_regression(n_samples=200, n_features=10, noise=10, random_state=7)
    params = dict(hidden_layer_sizes=(20,), solver="lbfgs", random_state=1)
    ours = MLPRegressor(**params).fit(X_r, scale(y_r))
    theirs = SklearnRegressor(**params).fit(X_r, scale(y_r))
    assert ours.loss_ < 1.5 * theirs.loss_ + 1e-3
    assert not hasattr(ours, "loss_curve_") and not hasattr(ours, "best_loss_")
    assert ours.t_ == 0 and 0 < ours.n_iter_ <= 200
    assert len(ours.net_.history) == ours.n_iter_  # one skorch row per iteration
    assert ours.coefs_[0].dtype == np.float32


def test_lbfgs_holds_masks():
    clf = MLPClassifier((6,), solver="lbfgs", max_iter=20, random_state=0).fit(X, Y)
    masks = [np.abs(c) > np.median(np.abs(c)) for c in clf.coefs_]
    clf.set_masks(masks).fine_tune(X, Y, epochs=10)
    for coef, mask in zip(clf.coefs_, masks):
        assert (coef[~mask] == 0.0).all() and (coef[mask] != 0.0).any()


def test_n_iter_no_change_inf_runs_every_epoch():
    clf = MLPClassifier((4,), tol=1e9, n_iter_no_change=np.inf, max_iter=25)
    clf.fit(X, Y)
    assert clf.n_iter_ == 25


def test_verbose_prints_sklearns_lines(capsys):
    MLPClassifier((4,), solver="sgd", max_iter=2, verbose=True).fit(X, Y)
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        out[0],
        out[1],
    ] and [line.split(",")[0] for line in out] == ["Iteration 1", "Iteration 2"]
    assert out[0].startswith("Iteration 1, loss = ") and "\x1b" not in "".join(out)


def test_poisson_loss_predicts_positive_counts():
    rng = np.random.RandomState(0)
    x = np.linspace(0, 1, 100).reshape(-1, 1)
    counts = rng.poisson(np.exp(x.ravel() + 1))
    reg = MLPRegressor((1,), loss="poisson", activation="identity", solver="lbfgs")
    reg.set_params(alpha=0, tol=1e-7, random_state=0).fit(x, counts)
    assert reg.out_activation_ == "exp"
    pred = reg.predict(x)
    assert (pred > 0).all() and abs(pred.mean() - counts.mean()) < 0.05


# ---------------------------------------------------- nothing silently wrong


def test_non_finite_parameters_raise():
    huge = np.finfo(np.float64).max * RNG.uniform(size=(10, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="Solver produced non-finite parameter"):
            MLPClassifier((4,), max_iter=3).fit(huge, Y[:10])


def test_diverging_early_stopping_records_nan_scores():
    reg = MLPRegressor(
        (20,),
        activation="identity",
        solver="sgd",
        learning_rate_init=1.0,
        max_iter=20,
        early_stopping=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        reg.fit(X * 100, Y_REG * 100)
    assert np.isnan(reg.validation_scores_[-1])
    assert np.isfinite(reg.predict(X)).all()  # the best (finite) epoch is kept


def test_zero_weight_batch_adds_nothing():
    weights = np.r_[np.zeros(30), np.ones(30)]
    params = dict(hidden_layer_sizes=(4,), shuffle=False, batch_size=30, max_iter=5)
    weighted = MLPRegressor(**params, random_state=0).fit(
        X, Y_REG, sample_weight=weights
    )
    assert np.isfinite(weighted.loss_curve_).all()
    # The zero-weight batch changes nothing: SGD without momentum on the
    # second half alone takes the same steps.
    sgd = dict(params, solver="sgd", momentum=0.0, random_state=0)
    both = MLPRegressor(**sgd).fit(X, Y_REG, sample_weight=weights)
    half = MLPRegressor(**dict(sgd, batch_size=30)).fit(X[30:], Y_REG[30:])
    np.testing.assert_allclose(both.coefs_[0], half.coefs_[0], rtol=1e-6)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_float32_in_float32_out(cls):
    y = Y if cls is MLPClassifier else Y_REG
    est = cls((4,), max_iter=3, random_state=0).fit(X.astype(np.float32), y)
    out = est.predict_proba if cls is MLPClassifier else est.predict
    assert out(X.astype(np.float32)).dtype == np.float32
    assert out(X).dtype == np.float64


def test_pruner_same_frame_no_warning_reordered_frame_error():
    frame = pd.DataFrame(X, columns=list("abcd"))
    pruner = CompensatedPruner(
        MLPClassifier((5,), max_iter=5, random_state=0), fine_tune_epochs=0
    ).fit(frame, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pruner.predict_proba(frame)
        pruner.score(frame, Y)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        pruner.predict(frame[["b", "a", "c", "d"]])


def test_warm_start_resets_the_optimizer_like_sklearn():
    clf = MLPClassifier((4,), solver="sgd", learning_rate="invscaling", max_iter=1)
    clf.set_params(warm_start=True, power_t=0.25).fit(X, Y)
    clf.fit(X, Y)
    assert clf._optimizer.learning_rate == pytest.approx(1e-3 / (2 * 60 + 1) ** 0.25)


def _steps(optimizer_factory, step, n_steps=4):
    """Parameters after ``n_steps`` steps of ``step(optimizer)`` on fixed gradients."""
    generator = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(5, 3, generator=generator))]
    params.append(torch.nn.Parameter(torch.randn(5, generator=generator)))
    optimizer = optimizer_factory(params)
    for _ in range(n_steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=generator)
        step(optimizer)
    return [p.detach().clone() for p in params]


def _fused_or_plain(optimizer):
    if not fused_step(optimizer):
        optimizer.step()


@pytest.mark.parametrize(
    "factory",
    [
        lambda ps: torch.optim.Adam(ps, lr=0.01, fused=True),
        lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1, fused=True),
        lambda ps: SklearnSGD(ps, lr=0.1, momentum=0.9, nesterov=True, fused=True),
        lambda ps: SklearnSGD(ps, lr=0.1, momentum=0.5, nesterov=False, fused=True),
        lambda ps: SklearnSGD(ps, lr=0.1, momentum=0.0, fused=True),
    ],
)
def test_fused_step_equals_the_optimizers_step(factory):
    if not fused_sgd_supported("cpu") or not versions.FAST_OPTIMIZER_STEP:
        pytest.skip("no fused CPU kernels in this torch")
    expected = _steps(factory, lambda opt: opt.step())
    got = _steps(factory, _fused_or_plain)
    for a, b in zip(expected, got):
        assert torch.equal(a, b)


def test_fused_step_leaves_other_optimizers_to_their_step():
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.ones(2)
    for optimizer in (
        torch.optim.Adam([p], amsgrad=True, fused=True),
        torch.optim.Adam([p]),  # not fused
        torch.optim.AdamW([p], fused=True),
    ):
        optimizer.step()
        before = p.detach().clone()
        assert fused_step(optimizer) is False
        assert torch.equal(p, before)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_fits_step_through_the_fused_kernels(solver, monkeypatch):
    supported = fused_sgd_supported("cpu") and fused_adam_supported("cpu")
    if not supported or not versions.FAST_OPTIMIZER_STEP:
        pytest.skip("no fused CPU kernels in this torch")
    calls = []
    cls = torch.optim.Adam if solver == "adam" else SklearnSGD  # the classes fits use
    step = cls.step
    monkeypatch.setattr(cls, "step", lambda self, *a: calls.append(1) or step(self, *a))
    X, y = np.random.RandomState(0).normal(size=(40, 3)), np.arange(40) % 2
    clf = MLPClassifier((4,), solver=solver, batch_size=10, max_iter=3, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    assert len(calls) == 1  # the first step builds the state; 11 more are fused
