"""CompensatedPruner: pruning, compensation, masks, and life inside scikit-learn."""

import copy
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import config_context
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skprune import CompensatedPruner, MLPClassifier, MLPRegressor
from skprune.datasets import load_mnist
from skprune.importance import BATCH_SIZE
from skprune.importance._structured import STRUCTURED_BATCH_SIZE

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

MNIST_HOME = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def dense(digits):
    X, y = digits
    return MLPClassifier((24, 16), max_iter=20, random_state=0).fit(X, y)


def mlp(**params):
    settings = dict(hidden_layer_sizes=(24, 16), max_iter=20, random_state=0)
    return MLPClassifier(**{**settings, **params})


def frozen_pruner(dense, **params):
    return CompensatedPruner(FrozenEstimator(dense), **params)


# ------------------------------------------------------------- the pruning


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.37, 0.5, 0.9, 0.99])
def test_global_scope_removes_exactly_round_ratio_weights(digits, dense, ratio):
    X, y = digits
    pruner = frozen_pruner(dense, prune_ratio=ratio, fine_tune_epochs=0).fit(X, y)
    n_weights = sum(c.size for c in dense.coefs_)
    assert pruner.n_weights_ == n_weights
    assert pruner.n_pruned_ == round(ratio * n_weights)
    assert sum((~m).sum() for m in pruner.masks_) == pruner.n_pruned_
    assert pruner.sparsity_ == pytest.approx(pruner.n_pruned_ / n_weights)


def test_layer_scope_removes_round_ratio_of_each_layer(digits, dense):
    X, y = digits
    pruner = frozen_pruner(dense, prune_ratio=0.3, scope="layer", fine_tune_epochs=0)
    pruner.fit(X, y)
    for mask in pruner.masks_:
        assert (~mask).sum() == round(0.3 * mask.size)


def test_the_least_important_weights_are_removed(digits, dense):
    X, y = digits
    pruner = frozen_pruner(dense, prune_ratio=0.4, fine_tune_epochs=0).fit(X, y)
    kept = np.concatenate([i[m] for i, m in zip(pruner.importances_, pruner.masks_)])
    removed = np.concatenate(
        [i[~m] for i, m in zip(pruner.importances_, pruner.masks_)]
    )
    assert removed.max() <= kept.min()


def test_biases_are_compensated_by_the_removed_weights(digits, dense):
    X, y = digits
    pruner = frozen_pruner(dense, prune_ratio=0.6, fine_tune_epochs=0).fit(X, y)
    for layer, mask in enumerate(pruner.masks_):
        shift = np.where(mask, 0.0, pruner.compensations_[layer]).sum(axis=0)
        expected = dense.intercepts_[layer].astype(np.float64) + shift
        np.testing.assert_allclose(
            pruner.estimator_.intercepts_[layer], expected, rtol=1e-6, atol=1e-6
        )
        coef = pruner.estimator_.coefs_[layer]
        assert np.all(coef[~mask] == 0.0)
        np.testing.assert_array_equal(coef[mask], dense.coefs_[layer][mask])


def test_methods_without_compensation_leave_biases(digits, dense):
    X, y = digits
    pruner = frozen_pruner(dense, method="magnitude", fine_tune_epochs=0).fit(X, y)
    assert pruner.compensations_ is None
    for ours, theirs in zip(pruner.estimator_.intercepts_, dense.intercepts_):
        np.testing.assert_array_equal(ours, theirs)


def test_zero_ratio_without_fine_tuning_is_the_dense_model(digits, dense):
    X, y = digits
    pruner = frozen_pruner(dense, prune_ratio=0.0, fine_tune_epochs=0).fit(X, y)
    np.testing.assert_array_equal(pruner.predict_proba(X), dense.predict_proba(X))


def test_pruned_weights_stay_zero_through_fine_tuning_and_later_training(digits):
    X, y = digits
    pruner = CompensatedPruner(mlp(), prune_ratio=0.7, fine_tune_epochs=3).fit(X, y)
    est = pruner.estimator_

    def assert_pruned_zero():
        for coef, mask in zip(est.coefs_, pruner.masks_):
            assert np.all(coef[~mask] == 0.0)
            assert np.all(coef[mask] != 0.0)

    assert_pruned_zero()
    est.partial_fit(X, y)
    assert_pruned_zero()
    est.net_.partial_fit(X.astype(np.float32), y)  # skorch's own training loop
    assert_pruned_zero()
    est.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert_pruned_zero()
    np.testing.assert_array_equal(
        np.concatenate([m.ravel() for m in est.masks_]),
        np.concatenate([m.ravel() for m in pruner.masks_]),
    )


def test_fine_tuning_recovers_accuracy(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    params = dict(prune_ratio=0.9, method="magnitude", random_state=0)
    without = CompensatedPruner(mlp(), fine_tune_epochs=0, **params)
    with_ft = CompensatedPruner(mlp(), fine_tune_epochs=10, **params)
    score_without = without.fit(X_train, y_train).score(X_test, y_test)
    score_with = with_ft.fit(X_train, y_train).score(X_test, y_test)
    assert score_with > score_without


def test_fitted_attributes(digits, dense):
    X, y = digits
    pruner = frozen_pruner(dense, fine_tune_epochs=1).fit(X, y)
    shapes = [c.shape for c in dense.coefs_]
    for name in ("importances_", "compensations_", "masks_"):
        assert [a.shape for a in getattr(pruner, name)] == shapes
    assert pruner.masks_[0].dtype == bool
    assert pruner.feature_importances_.shape == (64,)
    np.testing.assert_allclose(
        pruner.feature_importances_, pruner.importances_[0].sum(axis=1)
    )
    assert pruner.dense_estimator_ is dense
    assert pruner.n_features_in_ == 64
    assert set(pruner.timings_) == {"dense", "scoring", "compensation", "fine_tuning"}


def test_frozen_estimator_is_used_as_is_and_never_changed(digits, dense):
    X, y = digits
    coefs = [c.copy() for c in dense.coefs_]
    n_iter, loss_curve = dense.n_iter_, list(dense.loss_curve_)
    frozen_pruner(dense, prune_ratio=0.8, fine_tune_epochs=2).fit(X, y)
    for before, after in zip(coefs, dense.coefs_):
        np.testing.assert_array_equal(before, after)
    assert dense.n_iter_ == n_iter and dense.loss_curve_ == loss_curve
    assert dense.masks_ is None


class CountingMLP(MLPClassifier):
    """Counts its fits in a file (joblib's Memory needs a picklable class)."""

    def __init__(self, hidden_layer_sizes=(16,), *, log=None, max_iter=5):
        super().__init__(hidden_layer_sizes, max_iter=max_iter, random_state=0)
        self.log = log

    def fit(self, X, y, sample_weight=None):
        with open(self.log, "a") as f:
            f.write("fit\n")
        return super().fit(X, y, sample_weight=sample_weight)


def test_memory_trains_each_dense_net_once(digits, tmp_path):
    X, y = digits
    log = tmp_path / "fits.log"
    for ratio in (0.2, 0.5, 0.8):
        CompensatedPruner(
            CountingMLP(log=str(log)),
            prune_ratio=ratio,
            fine_tune_epochs=0,
            memory=str(tmp_path / "cache"),
        ).fit(X, y)
    assert log.read_text().count("fit") == 1


def test_callable_method(digits, dense):
    X, y = digits

    def by_position(estimator, X, y):
        sizes = np.cumsum([0] + [c.size for c in estimator.coefs_])
        return [
            np.arange(start, start + c.size, dtype=float).reshape(c.shape)
            for start, c in zip(sizes, estimator.coefs_)
        ]

    pruner = frozen_pruner(dense, method=by_position, fine_tune_epochs=0).fit(X, y)
    n_pruned = pruner.n_pruned_
    first = pruner.masks_[0].ravel()
    assert not first[:n_pruned].any() and first[n_pruned:].all()
    assert pruner.compensations_ is None

    def with_compensation(estimator, X, y):
        imp = [np.abs(c).astype(float) for c in estimator.coefs_]
        return imp, [np.ones_like(i) for i in imp]

    pruner = frozen_pruner(
        dense, method=with_compensation, prune_ratio=0.5, fine_tune_epochs=0
    ).fit(X, y)
    removed_per_unit = (~pruner.masks_[-1]).sum(axis=0)
    np.testing.assert_allclose(
        pruner.estimator_.intercepts_[-1],
        dense.intercepts_[-1] + removed_per_unit,
        rtol=1e-6,
    )


def test_max_samples(digits, dense):
    X, y = digits
    seen = []

    def record(estimator, X, y):
        seen.append(len(X))
        return [np.abs(c) for c in estimator.coefs_]

    frozen_pruner(dense, method=record, max_samples=100, fine_tune_epochs=0).fit(X, y)
    frozen_pruner(dense, method=record, max_samples=10**6, fine_tune_epochs=0).fit(X, y)
    assert seen == [100, len(X)]


def test_fully_connected_baseline(digits):
    X, y = digits
    pruner = CompensatedPruner(
        mlp(), method="fully_connected", prune_ratio=0.5, fine_tune_epochs=2
    ).fit(X, y)
    small = pruner.estimator_
    n_small = sum(c.size for c in small.coefs_)
    assert pruner.n_weights_ == 64 * 24 + 24 * 16 + 16 * 10
    assert pruner.n_pruned_ == pruner.n_weights_ - n_small
    assert abs(n_small - pruner.n_weights_ / 2) < 0.05 * pruner.n_weights_
    widths = small.hidden_layer_sizes
    assert widths[0] < 24 and widths[1] < 16
    assert small.max_iter == pruner.dense_estimator_.n_iter_ + 2
    assert all(m.all() for m in pruner.masks_)
    assert [m.shape for m in pruner.masks_] == [c.shape for c in small.coefs_]
    assert pruner.importances_ is None and pruner.compensations_ is None
    assert pruner.get_support().all()


# ---------------------------------------------------------- delegation


def test_delegation_and_tags(digits):
    X, y = digits
    clf = CompensatedPruner(mlp(), fine_tune_epochs=0).fit(X, y)
    assert is_classifier(clf)
    np.testing.assert_array_equal(clf.predict(X), clf.estimator_.predict(X))
    np.testing.assert_array_equal(clf.predict_proba(X), clf.estimator_.predict_proba(X))
    assert clf.score(X, y) == clf.estimator_.score(X, y)
    assert not hasattr(clf, "decision_function")
    reg = CompensatedPruner(MLPRegressor((8,), max_iter=5, random_state=0))
    assert is_regressor(reg) and not hasattr(reg, "predict_proba")
    reg.fit(X, X[:, 10])
    assert reg.predict(X).shape == (len(X),)


# ---------------------------------------------------------- transformer


def test_feature_selection_interface(digits):
    X, y = digits
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    pruner = CompensatedPruner(mlp(), prune_ratio=0.8, fine_tune_epochs=0).fit(frame, y)
    support = pruner.get_support()
    # constant (always-zero) pixels of digits lose every outgoing weight
    assert support.sum() < 64
    assert not support[0]  # pixel 0 is always 0 in digits
    expected = support & True
    np.testing.assert_array_equal(support, pruner.masks_[0].any(axis=1) & expected)
    assert pruner.transform(frame).shape == (len(X), support.sum())
    names = pruner.get_feature_names_out()
    assert list(names) == [f"px{i}" for i in np.flatnonzero(support)]
    pruner.set_output(transform="pandas")
    assert list(pruner.transform(frame).columns) == list(names)


def test_pipeline_last_and_middle_step(digits):
    X, y = digits
    as_predictor = make_pipeline(
        MinMaxScaler(), CompensatedPruner(mlp(), prune_ratio=0.5, fine_tune_epochs=2)
    ).fit(X, y)
    assert as_predictor.score(X, y) > 0.8
    as_selector = Pipeline(
        [
            ("select", CompensatedPruner(mlp(), prune_ratio=0.8, fine_tune_epochs=0)),
            ("clf", LogisticRegression(max_iter=300)),
        ]
    ).fit(X, y)
    n_kept = as_selector.named_steps["select"].get_support().sum()
    assert as_selector.named_steps["clf"].coef_.shape == (10, n_kept)
    assert as_selector.score(X, y) > 0.8


def test_grid_search_over_ratio_and_method_in_parallel(digits, tmp_path):
    X, y = digits
    search = GridSearchCV(
        CompensatedPruner(
            mlp(max_iter=10), fine_tune_epochs=2, memory=str(tmp_path), random_state=0
        ),
        {
            "prune_ratio": [0.3, 0.8],
            "method": ["compensated", "magnitude", "fully_connected"],
        },
        cv=3,
        n_jobs=2,
    ).fit(X, y)
    results = pd.DataFrame(search.cv_results_)
    assert len(results) == 6
    assert results["mean_test_score"].notna().all()
    assert search.best_estimator_.sparsity_ > 0.25


def test_grid_search_on_mnist_subset(tmp_path):
    if not MNIST_HOME.exists():
        pytest.skip("MNIST files not found next to the repository")
    X, _, y, _ = load_mnist(
        data_home=MNIST_HOME, n_train=1500, n_test=1, return_X_y=True
    )
    search = GridSearchCV(
        CompensatedPruner(
            MLPClassifier((32, 32), activation="prelu", max_iter=5, random_state=0),
            fine_tune_epochs=1,
            memory=str(tmp_path),
        ),
        {"prune_ratio": [0.5, 0.9], "method": ["compensated", "fully_connected"]},
        cv=2,
    ).fit(X, y)
    assert search.best_score_ > 0.5  # 10 classes; 5 epochs on 750 rows


def test_cross_val_score(digits):
    X, y = digits
    dense = cross_val_score(mlp(), X, y, cv=3)
    scores = cross_val_score(
        CompensatedPruner(mlp(), prune_ratio=0.5, fine_tune_epochs=2), X, y, cv=3
    )
    assert scores.shape == (3,)
    assert scores.mean() > dense.mean() - 0.05, (scores, dense)


def test_pickle_clone_deepcopy(digits):
    X, y = digits
    pruner = CompensatedPruner(mlp(), prune_ratio=0.6, fine_tune_epochs=1).fit(X, y)
    for other in (pickle.loads(pickle.dumps(pruner)), copy.deepcopy(pruner)):
        np.testing.assert_array_equal(other.predict_proba(X), pruner.predict_proba(X))
        for a, b in zip(other.masks_, pruner.masks_):
            np.testing.assert_array_equal(a, b)
    cloned = clone(pruner)
    assert not hasattr(cloned, "estimator_")
    assert cloned.get_params()["prune_ratio"] == 0.6


def test_sample_weight_is_routed_to_the_mlp(digits):
    X, y = digits
    weight = np.random.RandomState(0).uniform(0.1, 2.0, len(X))
    direct = mlp().fit(X, y, sample_weight=weight)
    with config_context(enable_metadata_routing=True):
        pruner = CompensatedPruner(
            mlp().set_fit_request(sample_weight=True), fine_tune_epochs=0
        ).fit(X, y, sample_weight=weight)
    for a, b in zip(pruner.dense_estimator_.coefs_, direct.coefs_):
        np.testing.assert_array_equal(a, b)
    legacy = CompensatedPruner(mlp(), fine_tune_epochs=0).fit(
        X, y, sample_weight=weight
    )
    for a, b in zip(legacy.dense_estimator_.coefs_, direct.coefs_):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------- errors


@pytest.mark.parametrize(
    "params, error, message",
    [
        (
            {"method": "lottery"},
            ValueError,
            "The 'method' parameter of CompensatedPruner must be a str among",
        ),
        ({"method": "lottery"}, ValueError, "'compensated'"),
        (
            {"prune_ratio": 1.0},
            ValueError,
            "The 'prune_ratio' parameter of CompensatedPruner must be a float in the "
            "range [0.0, 1.0). Got 1.0 instead.",
        ),
        ({"prune_ratio": -0.1}, ValueError, "Got -0.1 instead."),
        ({"prune_ratio": "0.5"}, TypeError, "Got '0.5' instead."),
        (
            {"scope": "neuron"},
            ValueError,
            "The 'scope' parameter of CompensatedPruner must be a str among",
        ),
        ({"max_samples": 0}, ValueError, "The 'max_samples' parameter"),
        ({"max_samples": 0.5}, TypeError, "Got 0.5 instead."),
        ({"fine_tune_epochs": -1}, ValueError, "The 'fine_tune_epochs' parameter"),
    ],
)
def test_invalid_parameters(digits, dense, params, error, message):
    X, y = digits
    with pytest.raises(error, match=re.escape(message)):
        frozen_pruner(dense, **params).fit(X, y)


def test_estimator_must_be_a_skprune_mlp(digits):
    X, y = digits
    with pytest.raises(
        TypeError,
        match=re.escape(
            "CompensatedPruner needs a skprune MLPClassifier or MLPRegressor as "
            "`estimator` (or a FrozenEstimator wrapping a fitted one); got "
            "LogisticRegression()."
        ),
    ):
        CompensatedPruner(LogisticRegression()).fit(X, y)


def test_callable_returning_wrong_shapes(digits, dense):
    X, y = digits

    def wrong(estimator, X, y):
        return [np.ones((3, 3)) for _ in estimator.coefs_]

    with pytest.raises(ValueError, match=re.escape("(64, 24)")):
        frozen_pruner(dense, method=wrong).fit(X, y)


def test_failed_fit_leaves_fitted_pruner_unchanged(digits, dense):
    X, y = digits
    pruner = frozen_pruner(dense, prune_ratio=0.5, fine_tune_epochs=0).fit(X, y)
    state = {k: v for k, v in vars(pruner).items() if k.endswith("_")}
    proba = pruner.predict_proba(X)

    def broken(estimator, X, y):
        return [np.full(c.shape, np.nan) for c in estimator.coefs_]

    pruner.set_params(method=broken)
    with pytest.raises(ValueError, match="NaN|finite"):
        pruner.fit(X, y)
    assert {
        k: v for k, v in vars(pruner).items() if k.endswith("_")
    }.keys() == state.keys()
    assert pruner.estimator_ is state["estimator_"]
    np.testing.assert_array_equal(pruner.predict_proba(X), proba)


# ------------------------------------------- compensation through the kept weights


def _log_loss(model, X, y):
    proba = np.clip(model.predict_proba(X), 1e-12, 1)
    return float(-np.log(proba[np.arange(len(y)), y]).mean())


@pytest.mark.parametrize("weighted", [True, False])
def test_least_squares_compensation_is_the_refit_of_the_kept_weights(
    digits, dense, weighted
):
    from skprune.compensation import least_squares_refit

    X, y = digits
    compensation = "least_squares" if weighted else "layer_least_squares"
    pruner = frozen_pruner(
        dense, prune_ratio=0.8, fine_tune_epochs=0, compensation=compensation
    ).fit(X, y)
    auto = frozen_pruner(dense, prune_ratio=0.8, fine_tune_epochs=0).fit(X, y)
    for mine, theirs in zip(pruner.masks_, auto.masks_):
        np.testing.assert_array_equal(mine, theirs)  # same mask, other refit
    coefs, intercepts = least_squares_refit(
        dense.coefs_, dense.intercepts_, "relu", X, pruner.masks_, weighted=weighted
    )
    for got, expected in zip(pruner.estimator_.coefs_, coefs):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    for got, expected in zip(pruner.estimator_.intercepts_, intercepts):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    for coef, mask in zip(pruner.estimator_.coefs_, pruner.masks_):
        assert (coef[~mask] == 0.0).all()
    # the method's own compensations are kept but not applied
    assert pruner.compensations_ is not None


@pytest.mark.parametrize("method", ["magnitude", "obd", "random"])
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_least_squares_beats_no_refit_at_high_ratio(digits, dense, method, scope):
    X, y = digits
    losses = {}
    for compensation in ("none", "least_squares"):
        pruner = frozen_pruner(
            dense,
            prune_ratio=0.9,
            fine_tune_epochs=0,
            method=method,
            scope=scope,
            compensation=compensation,
            random_state=0,
        ).fit(X, y)
        losses[compensation] = _log_loss(pruner, X, y)
    assert losses["least_squares"] < losses["none"]


def test_compensation_none_leaves_the_biases(digits, dense):
    X, y = digits
    pruner = frozen_pruner(dense, fine_tune_epochs=0, compensation="none").fit(X, y)
    for got, expected in zip(pruner.estimator_.intercepts_, dense.intercepts_):
        np.testing.assert_array_equal(got, expected)


def test_round_schedule():
    from skprune._pruner import round_epochs, round_ratios

    np.testing.assert_allclose(round_ratios(0.75, 2), [0.5, 0.75])
    assert round_ratios(0.9, 1) == [0.9]
    assert round_epochs(10, 3) == [3, 3, 4]
    assert round_epochs(1, 3) == [0, 0, 1]


def test_rounds_rescore_the_pruned_net_and_keep_pruned_weights_pruned(digits, dense):
    X, y = digits
    seen = []

    def record(estimator, X, y):
        seen.append([c == 0 for c in estimator.coefs_])
        # pruned (zero) weights score highest: they must stay pruned anyway
        return [np.abs(c) + len(seen) + 1e6 * (c == 0) for c in estimator.coefs_]

    pruner = frozen_pruner(
        dense, prune_ratio=0.8, method=record, n_rounds=3, fine_tune_epochs=0
    ).fit(X, y)
    assert len(seen) == 3
    n_weights = sum(c.size for c in dense.coefs_)
    assert pruner.n_pruned_ == round(0.8 * n_weights)
    zeros = [sum(int(z.sum()) for z in zs) for zs in seen]
    ratios = [1 - 0.2 ** (k / 3) for k in (0, 1, 2)]
    assert zeros == [round(r * n_weights) for r in ratios]
    for earlier, later in zip(seen, seen[1:] + [[~m for m in pruner.masks_]]):
        for a, b in zip(earlier, later):
            assert (b | ~a).all()  # pruned once, pruned for good
    # importances_ are those of the last round
    last = [np.abs(c) + 3 for c in pruner.estimator_.coefs_]
    for got, mask, expected in zip(pruner.importances_, pruner.masks_, last):
        np.testing.assert_allclose(got[mask], expected[mask], rtol=1e-6)


def test_rounds_spread_the_fine_tuning(digits, dense):
    X, y = digits
    pruner = frozen_pruner(dense, prune_ratio=0.6, n_rounds=3, fine_tune_epochs=4)
    pruner.fit(X, y)
    assert len(pruner.estimator_.net_.history) - len(dense.net_.history) == 4
    for coef, mask in zip(pruner.estimator_.coefs_, pruner.masks_):
        assert (coef[~mask] == 0.0).all()


def test_compensation_lists_valid_values(digits, dense):
    X, y = digits
    with pytest.raises(Exception, match="compensation") as info:
        frozen_pruner(dense, compensation="lsq").fit(X, y)
    for name in ("'auto'", "'least_squares'", "'layer_least_squares'", "'none'"):
        assert name in str(info.value)


# ------------------------------------------------------------- the device


# (method, granularity, compensation): the scoring and compensation paths
# that run on the model's device.
DEVICE_PATHS = [
    ("compensated", "weight", "auto"),
    ("compensated", "neuron", "auto"),
    ("nonlinear", "weight", "least_squares"),
    ("obd", "weight", "layer_least_squares"),
    ("gradient_magnitude", "weight", "none"),
    ("magnitude", "neuron", "least_squares"),
]


def _small_task(n_rows, seed=0):
    """Rows of 4 features and 3 classes, from a fixed generator."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 4))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)


@pytest.mark.parametrize(
    "method, granularity, compensation",
    DEVICE_PATHS[:4],
)
def test_pruning_copies_no_rows_or_weights_off_the_model_device(
    method, granularity, compensation, transfers
):
    """Scoring, compensating and masking a CPU model: the rows land on the
    model's device directly, the weights are never read on the host in
    float32 (only float64 results come back), nothing moves to another
    device, and the host reads do not depend on the number of row blocks."""
    block = BATCH_SIZE if granularity == "weight" else STRUCTURED_BATCH_SIZE
    dense = MLPClassifier((7, 6), "prelu", max_iter=5, random_state=0)
    dense.fit(*_small_task(200))
    shapes = {s for c in dense.coefs_ for s in (c.shape, c.T.shape)}
    reads = {}
    for n_blocks in (1, 5):
        n_rows = (n_blocks - 1) * block + (block if n_blocks == 1 else 11)
        X, y = _small_task(n_rows, seed=1)
        pruner = frozen_pruner(
            dense,
            method=method,
            granularity=granularity,
            compensation=compensation,
            fine_tune_epochs=0,
        )
        with transfers:
            pruner.fit(X, y)
        rows = {n_rows, block, n_rows % block}
        transfers.assert_on_device(torch.device(dense.device), rows, shapes)
        assert len(transfers.row_shaped(transfers.uploads, rows)) >= n_blocks
        # the masks, so the shapes of the refitted systems, depend on the rows
        reads[n_blocks] = sorted((r[0], str(r[2])) for r in transfers.reads)
    assert reads[1] == reads[5]


needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)
DEVICES = ["cpu", pytest.param("cuda", marks=needs_cuda)]
"""The device under test; "cpu" checks the test itself on any machine."""


def _twin_on(dense, X, y, device):
    """A fitted copy of ``dense`` on ``device`` with the very same parameters."""
    twin = clone(dense).set_params(device=device).fit(X, y)
    twin.net_.module_.load_state_dict(dense.net_.module_.state_dict())
    return twin


def _assert_layers_close(ours, theirs):
    for a, b in zip(ours, theirs):
        scale = max(float(np.abs(b).max()), 1e-12)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "method, granularity, compensation",
    DEVICE_PATHS,
)
def test_pruning_on_a_device_equals_the_cpu(device, method, granularity, compensation):
    """Scores, masks and compensated weights of a model on ``device`` equal
    those of the same model on the CPU (float32 rounding)."""
    X, y = _small_task(300)
    dense = MLPClassifier((7, 6), "prelu", max_iter=5, random_state=0).fit(X, y)
    settings = dict(
        method=method,
        granularity=granularity,
        compensation=compensation,
        fine_tune_epochs=0,
    )
    cpu = frozen_pruner(dense, **settings).fit(X, y)
    ours = frozen_pruner(_twin_on(dense, X, y, device), **settings).fit(X, y)
    module = ours.estimator_.net_.module_
    assert all(p.device.type == device for p in module.parameters())
    for a, b in zip(ours.masks_, cpu.masks_):
        np.testing.assert_array_equal(a, b)
    _assert_layers_close(ours.importances_, cpu.importances_)
    _assert_layers_close(ours.estimator_.coefs_, cpu.estimator_.coefs_)
    _assert_layers_close(ours.estimator_.intercepts_, cpu.estimator_.intercepts_)
    np.testing.assert_allclose(ours.predict_proba(X), cpu.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_fine_tuning_on_a_device_holds_the_masks(device):
    """A pruner on ``device`` prunes and fine-tunes there: the pruned weights
    stay exactly 0 and the result is the CPU's from the same dense weights
    (the same float32 steps, rounded differently)."""
    X, y = _small_task(300)
    dense = MLPClassifier((7, 6), "prelu", max_iter=5, random_state=0).fit(X, y)
    settings = dict(prune_ratio=0.6, fine_tune_epochs=3)
    cpu = frozen_pruner(dense, **settings).fit(X, y)
    ours = frozen_pruner(_twin_on(dense, X, y, device), **settings).fit(X, y)
    module = ours.estimator_.net_.module_
    assert all(p.device.type == device for p in module.parameters())
    assert ours.estimator_.n_iter_ == cpu.estimator_.n_iter_
    for coef, mask in zip(ours.estimator_.coefs_, ours.masks_):
        assert (coef[~mask] == 0.0).all()
    for a, b in zip(ours.masks_, cpu.masks_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(ours.predict_proba(X), cpu.predict_proba(X), atol=1e-4)
