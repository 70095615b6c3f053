"""MLPClassifier / MLPRegressor: drop-in behaviour, skorch integration, errors."""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from scipy.special import softmax
from sklearn.datasets import load_digits, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor
from skorch import NeuralNet
from skorch.callbacks import Callback

from skprune import MLPClassifier, MLPRegressor, _mlp
from skprune._torch.module import MLPModule
from skprune._torch.net import MLPNet

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def small():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


def fast_clf(**params):
    settings = dict(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    return MLPClassifier(**{**settings, **params})


# ------------------------------------------------------------------ inputs


@pytest.mark.parametrize(
    "convert",
    [
        lambda X: X,
        lambda X: X.astype(np.float32),
        lambda X: X.tolist(),
        lambda X: pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]),
    ],
    ids=["float64", "float32", "list", "pandas"],
)
def test_input_kinds_give_the_same_model(small, convert):
    X, y = small
    reference = fast_clf().fit(X, y).predict_proba(X)
    proba = fast_clf().fit(convert(X), y).predict_proba(convert(X))
    np.testing.assert_allclose(proba, reference, atol=1e-6)


def test_feature_names_in(small):
    X, y = small
    frame = pd.DataFrame(X, columns=list("abcde"))
    clf = fast_clf().fit(frame, y)
    assert list(clf.feature_names_in_) == list("abcde")
    assert clf.n_features_in_ == 5


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog"]),
        np.array([-7, 40]),
        np.array([False, True]),
    ],
    ids=["strings", "non-contiguous-ints", "bools"],
)
def test_binary_labels_come_back_as_given(small, labels):
    X, y = small
    y_labels = labels[y]
    clf = fast_clf().fit(X, y_labels)
    pred = clf.predict(X)
    assert set(pred) <= set(labels)
    assert pred.dtype == y_labels.dtype
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1


def test_multiclass_string_and_categorical_labels(digits):
    X_train, X_test, y_train, y_test = digits
    names = np.array([f"digit-{d}" for d in range(10)])
    clf = fast_clf().fit(X_train, names[y_train])
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 10
    assert np.mean(clf.predict(X_test) == names[y_test]) > 0.8
    categorical = pd.Series(pd.Categorical(names[y_train]))
    clf_cat = fast_clf().fit(X_train, categorical)
    np.testing.assert_array_equal(clf_cat.predict(X_test), clf.predict(X_test))


def test_multilabel_indicator():
    X, Y = make_multilabel_classification(n_samples=150, n_classes=4, random_state=0)
    clf = MLPClassifier((32,), max_iter=100, random_state=0).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    assert clf.predict_proba(X).shape == Y.shape
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 4
    assert clf.score(X, Y) > 0.4  # subset accuracy


@pytest.mark.parametrize("shape", [(80,), (80, 1), (80, 3)])
def test_regressor_predictions_shaped_like_y(shape):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 4))
    y = rng.normal(size=shape)
    reg = MLPRegressor((8,), max_iter=20, random_state=0).fit(X, y)
    assert reg.predict(X).shape == shape
    assert reg.out_activation_ == "identity"


def test_sample_weight_zero_equals_dropping_rows(small):
    X, y = small
    weight = np.ones(len(X))
    weight[::3] = 0.0
    params = dict(shuffle=False, batch_size=len(X), max_iter=20)
    with_weights = fast_clf(**params).fit(X, y, sample_weight=weight)
    keep = weight > 0
    params["batch_size"] = int(keep.sum())
    dropped = fast_clf(**params).fit(X[keep], y[keep])
    np.testing.assert_allclose(
        with_weights.predict_proba(X), dropped.predict_proba(X), atol=1e-5
    )


# ---------------------------------------------------------- reproducibility


def test_random_state_reproducible_without_touching_global_rng(small):
    X, y = small
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    first = fast_clf(shuffle=True).fit(X, y).predict_proba(X)
    second = fast_clf(shuffle=True).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state))
    other = MLPClassifier((16,), max_iter=30, random_state=1).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), first)


# ---------------------------------------------------------- fitted attributes


def test_coefs_are_the_live_torch_parameters(small):
    X, y = small
    clf = MLPClassifier((7, 6), max_iter=5, random_state=0).fit(X, y)
    layers = clf.net_.module_.layers
    assert [c.shape for c in clf.coefs_] == [(5, 7), (7, 6), (6, 1)]
    for coef, bias, layer in zip(clf.coefs_, clf.intercepts_, layers):
        np.testing.assert_array_equal(coef, layer.weight.detach().numpy().T)
        np.testing.assert_array_equal(bias, layer.bias.detach().numpy())
    clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.coefs_[0], layers[0].weight.detach().numpy().T)
    before = clf.predict_proba(X)
    clf.coefs_ = [np.zeros_like(c) for c in clf.coefs_]
    assert np.all(layers[0].weight.detach().numpy() == 0)
    assert not np.allclose(clf.predict_proba(X), before)


def test_sklearn_attributes_exist(small):
    X, y = small
    clf = fast_clf().fit(X, y)
    assert clf.n_layers_ == 3
    assert len(clf.loss_curve_) == clf.n_iter_ == 30
    assert clf.loss_ == clf.loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.t_ == 30 * len(X)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None


def test_prelu_slopes_are_learned(small):
    X, y = small
    clf = MLPClassifier((8, 8), activation="prelu", max_iter=20, random_state=0)
    clf.fit(X, y)
    assert len(clf.prelu_weights_) == 2
    assert not np.allclose(clf.prelu_weights_[0], 0.25)


def test_loss_matches_sklearn_definition(small):
    # Same weights, same data: the reported loss (log-loss + L2 penalty over
    # the batch) equals scikit-learn's formula computed here in numpy.
    X, y = small
    clf = fast_clf(alpha=0.5, shuffle=False, batch_size=len(X), max_iter=1).fit(X, y)
    proba = clf.predict_proba(X)[:, 1]
    log_loss = -np.mean(y * np.log(proba) + (1 - y) * np.log(1 - proba))
    penalty = 0.5 * 0.5 * sum((c.astype(np.float64) ** 2).sum() for c in clf.coefs_)
    with torch.no_grad():
        raw = clf.net_.module_(torch.as_tensor(X, dtype=torch.float32))
        target = torch.as_tensor(y[:, None], dtype=torch.float32)
        loss = clf.net_.get_loss(raw, target).item()
    assert loss == pytest.approx(log_loss + penalty / len(X), rel=1e-5)


# ---------------------------------------------------------- training rules


def test_stopping_rule_matches_sklearn(small):
    X, y = small
    params = dict(hidden_layer_sizes=(8,), tol=1e9, n_iter_no_change=3, random_state=0)
    ours = MLPClassifier(max_iter=50, **params).fit(X, y)
    theirs = SklearnMLPClassifier(max_iter=50, **params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 5


def test_max_iter_warns_convergence(small):
    X, y = small
    with pytest.warns(ConvergenceWarning, match=re.escape("Maximum iterations (3)")):
        MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y)


def check_best_validation_model_is_restored(X, y):
    """Early stopping ends with the parameters of the best validation epoch."""
    clf = MLPClassifier(
        (16,), early_stopping=True, max_iter=40, n_iter_no_change=3, random_state=0
    ).fit(X, y)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ and clf.best_loss_ is None
    assert clf.best_validation_score_ == max(scores)
    assert scores[-1] < max(scores)  # so restoring the best epoch matters
    X_val, y_val, _ = clf._validation_set
    assert clf.score(X_val, y_val) == clf.best_validation_score_


def test_early_stopping_keeps_best_validation_model(digits):
    X_train, _, y_train, _ = digits
    check_best_validation_model_is_restored(X_train, y_train)


def test_early_stopping_check_fails_without_the_restore(digits, monkeypatch):
    X_train, _, y_train, _ = digits
    monkeypatch.setattr(MLPModule, "load_state_dict", lambda self, state: None)
    with pytest.raises(AssertionError):
        check_best_validation_model_is_restored(X_train, y_train)


def test_partial_fit_classifier_and_regressor(small):
    X, y = small
    clf = MLPClassifier((8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    for _ in range(5):
        clf.partial_fit(X, y, classes=[0, 1])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 5
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match=re.escape("`y` has classes not in")):
        clf.partial_fit(X, y + 5)
    reg = MLPRegressor((8,), random_state=0)
    for _ in range(5):
        reg.partial_fit(X, X[:, 0])
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]


def test_warm_start_continues(small):
    X, y = small
    clf = fast_clf(warm_start=True, max_iter=5).fit(X, y)
    first = clf.coefs_[0].copy()
    clf.fit(X, y)
    assert len(clf.loss_curve_) == 10
    assert not np.array_equal(first, clf.coefs_[0])


# ----------------------------------------------------------------- skorch


def test_net_is_a_skorch_net_with_callbacks(small):
    X, y = small

    class CountEpochs(Callback):
        def initialize(self):
            self.epochs = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    counter = CountEpochs()
    clf = fast_clf(callbacks=[("count", counter)]).fit(X, y)
    assert isinstance(clf.net_, NeuralNet)
    fitted = dict(clf.net_.callbacks_)["count"]
    assert fitted.epochs == 30
    assert len(clf.net_.history) == 30
    np.testing.assert_allclose(clf.net_.history[:, "train_loss"], clf.loss_curve_)


class GradNorms(Callback):
    """Records the gradient norm seen at every ``on_grad_computed``."""

    def initialize(self):
        self.norms = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        grads = [p.grad for _, p in named_parameters]
        self.norms.append(
            float(torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in grads])))
        )


def check_grad_callbacks_are_called(X, y):
    """Every optimizer step notifies ``on_grad_computed``, in callback order."""
    from skorch.callbacks import GradientNormClipping

    recorder = GradNorms()
    clf = fast_clf(
        batch_size=40,
        callbacks=[GradientNormClipping(gradient_clip_value=1e-3), recorder],
    ).fit(X, y)
    assert len(recorder.norms) == clf.n_iter_ * 3  # 120 rows, batches of 40
    assert max(recorder.norms) <= 1e-3 * (1 + 1e-5)  # seen after the clipping


def test_grad_callbacks_are_called(small):
    check_grad_callbacks_are_called(*small)


def test_grad_callback_check_fails_without_the_notification(small, monkeypatch):
    monkeypatch.setattr(MLPNet, "notify", _notify_all_but("on_grad_computed"))
    with pytest.raises(AssertionError):
        check_grad_callbacks_are_called(*small)


def _notify_all_but(skipped):
    original = MLPNet.notify

    def notify(self, method_name, **kwargs):
        if method_name != skipped:
            original(self, method_name, **kwargs)

    return notify


def test_net_params_reach_skorch(small):
    X, y = small
    clf = fast_clf(net_params={"optimizer__weight_decay": 0.1}).fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 0.1


def test_pickle_round_trip(small):
    X, y = small
    clf = fast_clf().fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


# ----------------------------------------------------------- parity


def test_accuracy_parity_with_sklearn_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    ours, theirs = [], []
    for seed in range(3):
        params = dict(hidden_layer_sizes=(32,), max_iter=60, random_state=seed)
        ours.append(MLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test))
        theirs.append(
            SklearnMLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test)
        )
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.01, (ours, theirs)


def test_regression_parity_with_sklearn():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(400, 3))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    params = dict(hidden_layer_sizes=(32,), max_iter=200, random_state=0)
    ours = MLPRegressor(**params).fit(X_train, y_train).score(X_test, y_test)
    theirs = SklearnMLPRegressor(**params).fit(X_train, y_train).score(X_test, y_test)
    assert ours > theirs - 0.05, (ours, theirs)


# ----------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"hidden_layer_sizes": (0,)},
            "hidden_layer_sizes must contain only positive integers (one width per "
            "hidden layer); got (0,).",
        ),
        (
            {"hidden_layer_sizes": (8, -2)},
            "hidden_layer_sizes must contain only positive integers (one width per "
            "hidden layer); got (8, -2).",
        ),
        (
            {"activation": "swish"},
            "The 'activation' parameter of MLPClassifier must be",
        ),
        ({"activation": "swish"}, "Got 'swish' instead."),
        (
            {"alpha": -1.0},
            "The 'alpha' parameter of MLPClassifier must be a float in the range [0.0, inf). Got -1.0 instead.",
        ),
        (
            {"max_iter": 0},
            "The 'max_iter' parameter of MLPClassifier must be an int in the range [1, inf). Got 0 instead.",
        ),
        (
            {"solver": "Adam"},
            "The 'solver' parameter of MLPClassifier must be a str among",
        ),
    ],
)
def test_invalid_parameters(small, params, message):
    X, y = small
    with pytest.raises(ValueError, match=re.escape(message)):
        MLPClassifier(**params).fit(X, y)


def test_partial_fit_rejects_early_stopping(small):
    X, y = small
    with pytest.raises(
        ValueError, match=re.escape("partial_fit does not support early_stopping=True.")
    ):
        MLPRegressor(early_stopping=True).partial_fit(X, X[:, 0])


def test_no_warnings_on_clean_fit(small):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MLPClassifier((8,), max_iter=500, tol=1e-2, random_state=0).fit(X, y)


def test_pruning_contract(small):
    """set_masks, fine_tune, hidden_layer_sizes_, encode_targets, loss_function_."""
    X, y = small
    labels = np.array(["no", "yes"])[y]
    clf = MLPClassifier((8, 4), max_iter=20, random_state=0).fit(X, labels)
    assert clf.hidden_layer_sizes_ == (8, 4)
    masks = [np.abs(c) > np.median(np.abs(c)) for c in clf.coefs_]
    assert clf.set_masks(masks) is clf
    assert clf.fine_tune(X, labels, epochs=3) is clf and clf.n_iter_ == 3
    for coef, mask, held in zip(clf.coefs_, masks, clf.masks_):
        np.testing.assert_array_equal(held, mask)
        assert (coef[~mask] == 0.0).all()
    X_checked, encoded = clf.encode_targets(X, labels)
    np.testing.assert_array_equal(encoded, y.reshape(-1, 1).astype(np.float32))
    with torch.no_grad():
        raw = clf.net_.module_(torch.as_tensor(X_checked, dtype=torch.float32))
        losses = clf.loss_function_(raw, torch.as_tensor(encoded))
    expected = log_loss(labels, clf.predict_proba(X))
    assert losses.mean().item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match=re.escape("`y` has classes not in")):
        clf.encode_targets(X[:2], ["no", "maybe"])
    assert clf.set_masks(None).masks_ is None


# ---------------------------------------------------------------- predict


def test_plain_float_rows_skip_only_a_silent_validation(small, monkeypatch):
    """float64/float32 numpy rows of the fitted width, for a model fitted
    without feature names, are predicted without scikit-learn's validation
    (which would return them unchanged); every other input still goes
    through it, with its errors and warnings."""
    X, y = small
    clf = fast_clf(max_iter=3).fit(X, y)
    expected = clf.predict_proba(X)
    named = fast_clf(max_iter=3).fit(pd.DataFrame(X).add_prefix("f"), y)

    def validated(*args, **kwargs):
        raise AssertionError("validated")

    monkeypatch.setattr(_mlp, "validate_data", validated)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    clf.predict(np.asfortranarray(X[:5], dtype=np.float32))
    wider = np.hstack([X, X[:, :1]])
    others = [X.tolist(), X[:, :-1], wider, X.astype(np.int64), X[:0], sp.csr_matrix(X)]
    for other in [*others, pd.DataFrame(X)]:
        with pytest.raises(AssertionError, match="validated"):
            clf.predict_proba(other)
    with pytest.raises(AssertionError, match="validated"):  # it would warn
        named.predict_proba(X)


@pytest.mark.parametrize(
    ("value", "message"),
    [(np.nan, "Input X contains NaN."), (np.inf, "Input X contains infinity")],
)
@pytest.mark.parametrize("kind", ["float64", "float32", "csr"])
def test_predict_rejects_nan_and_inf_in_any_block(
    small, monkeypatch, kind, value, message, converter
):
    """Prediction input is checked block by block: a bad value in the last
    block is found, with scikit-learn's error."""
    X, y = small
    clf = fast_clf(max_iter=3).fit(X, y)
    monkeypatch.setattr(_mlp, "CONVERT_BLOCK_BYTES", 2 * X.shape[1] * 8)
    bad = X.copy()
    bad[-1, 2] = value
    bad = {"float64": bad, "float32": bad.astype(np.float32)}.get(
        kind, sp.csr_matrix(bad)
    )
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(ValueError, match=re.escape(message)):
            method(bad)


def test_blockwise_conversion_does_not_change_predictions(
    small, monkeypatch, converter
):
    """Probabilities are the softmax of the float32 network's output, however
    the input is cut into blocks (scipy's softmax as the reference)."""
    X, y = train_test_split(*small, random_state=0)[::2]
    clf = fast_clf(max_iter=3).fit(X, np.arange(len(y)) % 3)
    module = clf.net_.module_.eval()
    with torch.no_grad():
        raw = module(torch.from_numpy(X.astype(np.float32))).numpy()
    expected = softmax(raw.astype(np.float64), axis=1)
    for block_bytes in (8, 3 * X.shape[1] * 8, 1 << 20):
        monkeypatch.setattr(_mlp, "CONVERT_BLOCK_BYTES", block_bytes)
        np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-12)


@pytest.mark.parametrize("rows", [slice(None), slice(-1, None)])
def test_predict_rejects_finite_values_beyond_float32(
    small, monkeypatch, rows, converter
):
    """A finite float64 value too large for float32 would become inf in the
    network's float32 input and give NaN probabilities: an error instead."""
    X, y = small
    clf = fast_clf(max_iter=3).fit(X, y)
    monkeypatch.setattr(_mlp, "CONVERT_BLOCK_BYTES", 2 * X.shape[1] * 8)
    bad = X.copy()
    bad[rows, 1] = 1e300
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(ValueError, match=re.escape("beyond float32's range")):
            method(bad)


# ----------------------------------------------------- small prediction blocks


class _ShiftedModule(MLPModule):
    """A user's module: its own forward, which small blocks must also run."""

    def forward(self, X):
        return super().forward(X) + 1.0


def _small_inputs(X):
    """Few rows of ``X`` as numpy hands them over: C, Fortran, read-only,
    reversed, float32."""
    few = X[: _mlp.SMALL_PREDICT_ROWS - 1]
    read_only = few.copy()
    read_only.flags.writeable = False
    return {
        "C": few,
        "Fortran": np.asfortranarray(few),
        "read-only": read_only,
        "reversed": few[::-1],
        "float32": few.astype(np.float32),
        "one row": X[:1],
    }


@pytest.mark.parametrize("activation", ["relu", "prelu", "logistic"])
def test_small_blocks_predict_as_large_ones(small, activation):
    """Fewer than SMALL_PREDICT_ROWS rows go through the module's
    predict_rows; the outputs equal the large-block path's, in the input's
    dtype."""
    X, y = small
    clf = fast_clf(max_iter=3, activation=activation).fit(X, y)
    reg = MLPRegressor((8,), max_iter=3, activation=activation, random_state=0)
    reg.fit(X, X[:, :2])
    assert len(X) >= _mlp.SMALL_PREDICT_ROWS
    for model, method in ((clf, "predict_proba"), (reg, "predict")):
        whole = getattr(model, method)(X)
        for name, rows in _small_inputs(X).items():
            out = getattr(model, method)(rows)
            expected = whole[: len(rows)][:: -1 if name == "reversed" else 1]
            np.testing.assert_allclose(
                out, expected, rtol=1e-5, atol=1e-6, err_msg=name
            )
            assert out.dtype == rows.dtype, name


def test_small_blocks_go_through_predict_rows(small, monkeypatch):
    X, y = small
    clf = fast_clf(max_iter=3).fit(X, y)
    calls = []
    original = MLPModule.predict_rows
    monkeypatch.setattr(
        MLPModule,
        "predict_rows",
        lambda self, rows: calls.append(len(rows)) or original(self, rows),
    )
    clf.predict_proba(X[:1])
    clf.predict_proba(X[: _mlp.SMALL_PREDICT_ROWS - 1])
    clf.predict_proba(X[: _mlp.SMALL_PREDICT_ROWS])  # a large block
    assert calls == [1, _mlp.SMALL_PREDICT_ROWS - 1]


def test_small_blocks_run_a_users_forward(small):
    """A module with a forward of its own is called, also for one row."""
    X, y = small
    reg = MLPRegressor((8,), max_iter=3, random_state=0)
    reg.fit(X, X[:, 0])
    shifted = MLPRegressor(
        (8,), max_iter=3, random_state=0, net_params={"module": _ShiftedModule}
    ).fit(X, X[:, 0])
    shifted.net_.module_.load_state_dict(reg.net_.module_.state_dict())
    for rows in (X[:1], X):
        np.testing.assert_allclose(
            shifted.predict(rows), reg.predict(rows) + 1.0, rtol=1e-5, atol=1e-6
        )
    assert not _mlp._predicts_rows(_ShiftedModule)
    assert _mlp._predicts_rows(MLPModule)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_small_blocks_reject_nan_and_infinity(small, dtype, value):
    X, y = small
    clf = fast_clf(max_iter=3).fit(X, y)
    bad = X[:3].astype(dtype)
    bad[1, 2] = value
    word = "NaN" if np.isnan(value) else "infinity"
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(ValueError, match=re.escape(f"Input X contains {word}")):
            method(bad)
    beyond = X[:1].copy()
    beyond[0, 1] = 1e300
    with pytest.raises(ValueError, match=re.escape("beyond float32's range")):
        clf.predict_proba(beyond)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_small_blocks_predict_on_cuda(small):
    X, y = small
    clf = fast_clf(max_iter=3, device="cuda").fit(X, y)
    whole = clf.predict_proba(X)
    for rows in (X[:1], X[:5].astype(np.float32)):
        np.testing.assert_allclose(
            clf.predict_proba(rows), whole[: len(rows)], rtol=1e-5, atol=1e-6
        )
