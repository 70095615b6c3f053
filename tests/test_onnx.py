"""to_onnx and the skl2onnx converters: onnxruntime gives the same outputs."""

import re

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skprune import CompensatedPruner, MLPClassifier, MLPRegressor, compact

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
to_onnx = pytest.importorskip("skprune.onnx").to_onnx

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def run(model, X):
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(None, {session.get_inputs()[0].name: X.astype(np.float32)})
    return dict(zip(names, outputs))


def mlp(activation="relu", **params):
    return MLPClassifier(
        (24, 12), activation=activation, max_iter=8, random_state=0, **params
    )


@pytest.mark.parametrize(
    "activation", ["identity", "logistic", "tanh", "relu", "prelu"]
)
def test_pruned_and_compacted_networks_export_the_same_outputs(digits, activation):
    X, y = digits
    pruner = CompensatedPruner(mlp(activation), prune_ratio=0.8, fine_tune_epochs=0)
    pruner.fit(X, y)
    for estimator in (pruner, pruner.estimator_, compact(pruner, sparse=True)):
        out = run(to_onnx(estimator), X)
        np.testing.assert_allclose(
            out["probabilities"], estimator.predict_proba(X), rtol=0, atol=1e-5
        )
        np.testing.assert_array_equal(out["label"], estimator.predict(X))


@pytest.mark.parametrize(
    "labels",
    [
        lambda y: np.array(["even", "odd"])[y % 2],
        lambda y: y % 2,
        lambda y: np.array(["a", "b", "c"])[y % 3],
        lambda y: 10 * y + 3,
        lambda y: np.column_stack([y % 2, y > 4]).astype(int),
    ],
    ids=["binary-str", "binary-int", "str", "int", "multilabel"],
)
def test_classifier_labels(digits, labels):
    X, y = digits
    clf = mlp().fit(X, labels(y))
    out = run(to_onnx(clf), X)
    np.testing.assert_allclose(out["probabilities"], clf.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(out["label"], clf.predict(X))


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_regressor(digits, n_outputs):
    X, y = digits
    target = np.column_stack([y + k for k in range(n_outputs)]).astype(float) / 10
    reg = MLPRegressor((16,), max_iter=8, random_state=0).fit(X, target.squeeze())
    out = run(to_onnx(reg), X)
    np.testing.assert_allclose(
        out["variable"], reg.predict(X).reshape(len(X), -1), rtol=1e-5, atol=1e-5
    )


def test_pipeline_converts_with_skl2onnx(digits):
    X, y = digits
    pruner = CompensatedPruner(mlp("prelu"), prune_ratio=0.7, fine_tune_epochs=1)
    pipe = make_pipeline(StandardScaler(), pruner).fit(X, y)
    model = skl2onnx.to_onnx(
        pipe, X[:1].astype(np.float32), options={MLPClassifier: {"zipmap": False}}
    )
    label, probabilities = run(model, X).values()
    np.testing.assert_allclose(probabilities, pipe.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(label, pipe.predict(X))
    small = make_pipeline(pipe[0], compact(pipe[-1]))
    model = skl2onnx.to_onnx(small, X[:1].astype(np.float32))  # zipmap: dicts
    out = list(run(model, X).values())[1]
    probabilities = np.array([[row[c] for c in sorted(row)] for row in out])
    np.testing.assert_allclose(probabilities, pipe.predict_proba(X), atol=1e-5)


def test_to_onnx_bad_input(digits):
    X, y = digits
    with pytest.raises(
        NotFittedError, match="This MLPClassifier instance is not fitted"
    ):
        to_onnx(MLPClassifier())
    with pytest.raises(
        TypeError,
        match=re.escape(
            "to_onnx expects a fitted skprune MLPClassifier, MLPRegressor or "
            "CompensatedPruner; got LogisticRegression"
        ),
    ):
        to_onnx(LogisticRegression())
