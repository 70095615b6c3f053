"""ONNX export of skprune's MLPs and pruners, and their skl2onnx converters.

Importing this module registers converters with skl2onnx for
:class:`~skprune.MLPClassifier`, :class:`~skprune.MLPRegressor` and
:class:`~skprune.CompensatedPruner` (which converts as its pruned
``estimator_``), so a fitted pipeline containing them converts with
``skl2onnx.to_onnx`` as any scikit-learn pipeline does. The graph is the
network's forward pass (``MatMul``, ``Add`` and the activation per layer;
PReLU as ``PRelu``) followed by scikit-learn's output: labels and
probabilities for a classifier, the predictions for a regressor. Needs the
``onnx`` extra: ``pip install skprune[onnx]``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

try:
    from skl2onnx import convert_sklearn, update_registered_converter
    from skl2onnx._parse import parse_sklearn
    from skl2onnx.common._apply_operation import apply_cast, apply_concat, apply_sub
    from skl2onnx.common.data_types import FloatTensorType
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from skl2onnx.proto import onnx_proto
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "skprune.onnx needs onnx and skl2onnx: pip install 'skprune[onnx]'"
    ) from error

from ._mlp import MLPClassifier, MLPRegressor, _BaseMLP
from ._pruner import CompensatedPruner

__all__ = ["to_onnx"]

_ONNX_ACTIVATIONS = {
    "identity": "Identity",
    "logistic": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "prelu": "PRelu",
}
_FLOAT = onnx_proto.TensorProto.FLOAT


def _weights(mlp):
    """coefs, intercepts and PReLU slopes as float32 arrays."""
    coefs = [np.asarray(c, dtype=np.float32) for c in mlp.coefs_]
    intercepts = [np.asarray(b, dtype=np.float32) for b in mlp.intercepts_]
    activation = mlp.net_.module_.activation
    slopes = mlp.prelu_weights_ if activation == "prelu" else [None] * len(coefs)
    return coefs, intercepts, activation, slopes


def _constant(scope, container, name, array):
    full = scope.get_unique_variable_name(name)
    array = np.asarray(array, dtype=np.float32)
    container.add_initializer(full, _FLOAT, list(array.shape), array.ravel())
    return full


def _forward_pass(scope, container, mlp, input_name):
    """Nodes of the raw output (logits) of ``mlp``; returns its name."""
    x = scope.get_unique_variable_name("input_float")
    apply_cast(scope, input_name, x, container, to=_FLOAT)
    coefs, intercepts, activation, slopes = _weights(mlp)
    for layer, (coef, bias) in enumerate(zip(coefs, intercepts)):
        product = scope.get_unique_variable_name("product")
        container.add_node(
            "MatMul", [x, _constant(scope, container, "coef", coef)], product
        )
        x = scope.get_unique_variable_name("signal")
        container.add_node(
            "Add", [product, _constant(scope, container, "bias", bias)], x
        )
        if layer < len(coefs) - 1:
            inputs = [x]
            if activation == "prelu":
                inputs.append(_constant(scope, container, "slope", slopes[layer]))
            x = scope.get_unique_variable_name("activation")
            container.add_node(_ONNX_ACTIVATIONS[activation], inputs, x)
    return x


def _probabilities(scope, container, mlp, raw, output):
    """Nodes of ``predict_proba`` from the logits into ``output``."""
    if mlp.out_activation_ == "softmax":
        container.add_node("Softmax", raw, output, axis=1)
        return
    if mlp._label_binarizer.y_type_ != "binary":  # multilabel: one sigmoid each
        container.add_node("Sigmoid", raw, output)
        return
    positive = scope.get_unique_variable_name("positive")
    negative = scope.get_unique_variable_name("negative")
    container.add_node("Sigmoid", raw, positive)
    one = _constant(scope, container, "one", np.ones(1))
    apply_sub(scope, [one, positive], negative, container, broadcast=1)
    apply_concat(scope, [negative, positive], output, container, axis=1)


def _labels(scope, container, mlp, proba, output):
    """Nodes of ``predict`` from the probabilities into ``output``."""
    if mlp._label_binarizer.y_type_ == "multilabel-indicator":
        above = scope.get_unique_variable_name("above_half")
        container.add_node(
            "Binarizer", proba, above, threshold=0.5, op_domain="ai.onnx.ml"
        )
        apply_cast(scope, above, output, container, to=onnx_proto.TensorProto.INT64)
        return
    classes = mlp.classes_
    if classes.dtype.kind in "biu":
        classes, kind = classes.astype(np.int64), onnx_proto.TensorProto.INT64
    else:
        classes = np.array([str(c).encode("utf-8") for c in classes])
        kind = onnx_proto.TensorProto.STRING
    table = scope.get_unique_variable_name("classes")
    container.add_initializer(table, kind, list(classes.shape), classes)
    index = scope.get_unique_variable_name("argmax")
    container.add_node("ArgMax", proba, index, axis=1, keepdims=0)
    container.add_node("Gather", [table, index], output, axis=0)


def _convert_classifier(scope, operator, container):
    mlp = operator.raw_operator
    raw = _forward_pass(scope, container, mlp, operator.inputs[0].full_name)
    label, proba = (out.full_name for out in operator.outputs[:2])
    _probabilities(scope, container, mlp, raw, proba)
    _labels(scope, container, mlp, proba, label)


def _convert_regressor(scope, operator, container):
    mlp = operator.raw_operator
    raw = _forward_pass(scope, container, mlp, operator.inputs[0].full_name)
    container.add_node("Identity", raw, operator.outputs[0].full_name)


def _regressor_shapes(operator):
    calculate_linear_regressor_output_shapes(operator)
    n_outputs = operator.raw_operator.n_outputs_
    operator.outputs[0].type = FloatTensorType([None, n_outputs])


def _parse_pruner(scope, model, inputs, custom_parsers=None):
    """A fitted pruner converts as its pruned network."""
    check_is_fitted(model)
    return parse_sklearn(scope, model.estimator_, inputs, custom_parsers=custom_parsers)


def register_converters():
    """Register skprune's estimators with skl2onnx (done on import).

    Examples
    --------
    >>> from skprune.onnx import register_converters
    >>> register_converters()
    """
    classifier_options = {"zipmap": [True, False, "columns"], "nocl": [True, False]}
    update_registered_converter(
        MLPClassifier,
        "SkpruneMLPClassifier",
        calculate_linear_classifier_output_shapes,
        _convert_classifier,
        options=classifier_options,
    )
    update_registered_converter(
        MLPRegressor, "SkpruneMLPRegressor", _regressor_shapes, _convert_regressor
    )
    update_registered_converter(
        CompensatedPruner,
        "SkpruneCompensatedPruner",
        calculate_linear_regressor_output_shapes,  # never used: parsed as estimator_
        _convert_regressor,
        parser=_parse_pruner,
    )


def _fitted_network(estimator):
    if isinstance(estimator, CompensatedPruner):
        check_is_fitted(estimator)
        estimator = estimator.estimator_
    if not isinstance(estimator, _BaseMLP):
        raise TypeError(
            "to_onnx expects a fitted skprune MLPClassifier, MLPRegressor or "
            f"CompensatedPruner; got {type(estimator).__name__}: {estimator!r}."
        )
    check_is_fitted(estimator)
    return estimator


def to_onnx(estimator, *, target_opset: int | None = None):
    """An ONNX model computing ``predict`` and ``predict_proba`` of an estimator.

    The graph takes one input ``"X"`` (float32, ``n_features_in_`` columns).
    A classifier's outputs are ``"label"`` (its classes: int64, or strings for
    other labels; a 0/1 int64 indicator for multilabel targets) and
    ``"probabilities"`` (float32, the columns of ``predict_proba``); a
    regressor's output is ``"variable"`` (float32, ``(n_samples,
    n_outputs_)``). Works for pruned, compacted and dense networks alike.

    Parameters
    ----------
    estimator : MLPClassifier, MLPRegressor or CompensatedPruner
        Fitted; a pruner exports its pruned ``estimator_``.
    target_opset : int, default=None
        ONNX opset (skl2onnx's default when None).

    Returns
    -------
    model : onnx.ModelProto
        Save it with ``model.SerializeToString()``; run it with onnxruntime.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> from sklearn.datasets import load_digits
    >>> from skprune import MLPClassifier
    >>> from skprune.onnx import to_onnx
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier((16,), max_iter=10, random_state=0).fit(X / 16, y)
    >>> session = onnxruntime.InferenceSession(to_onnx(clf).SerializeToString())
    >>> labels, proba = session.run(None, {"X": (X / 16).astype(np.float32)})
    >>> bool(np.abs(proba - clf.predict_proba(X / 16)).max() < 1e-5)
    True
    """
    mlp = _fitted_network(estimator)
    options = {id(mlp): {"zipmap": False}} if is_classifier(mlp) else None
    return convert_sklearn(
        mlp,
        initial_types=[("X", FloatTensorType([None, mlp.n_features_in_]))],
        options=options,
        target_opset=target_opset,
    )


register_converters()
