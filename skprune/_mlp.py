"""Drop-in replacements for scikit-learn's MLPs, trained by a skorch net."""

from __future__ import annotations

import functools
import math
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from scipy.special import expit
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    is_classifier,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)
from skorch.helper import predefined_split

from ._torch.activations import ACTIVATIONS
from ._torch.data import BatchIterator, TensorData
from ._torch.losses import PerSampleLoss
from ._torch.module import MLPModule
from ._torch.net import MLPNet, fused_adam_supported
from ._torch.serialization import on_cpu
from ._torch.solvers import (
    LearningRateSchedule,
    SklearnSGD,
    SklearnStopping,
    fit_lbfgs,
    fused_sgd_supported,
)
from ._torch.threads import BusyStart, resolve_threads, torch_threads
from ._validation import numeric_input

# Rows per forward pass at prediction time (bounded memory, few Python calls).
PREDICT_BATCH_SIZE = 4096

# Fewer rows than this are predicted by the module's ``predict_rows``: one
# float32 copy, no column gather, no per-block bookkeeping. A one-row
# prediction is mostly fixed cost; see ``_forward_small``.
SMALL_PREDICT_ROWS = 32

# torch's CPU softmax hands out rows in tasks of about
# ``at::internal::GRAIN_SIZE / 16 = 2048`` values (rows times classes): a
# softmax over at most that many runs as one task on the calling thread,
# whatever the thread count, so it is computed without setting it.
SOFTMAX_ONE_TASK = 2048

# Bytes of float64 input copied to float32 and checked for NaN/inf at a time
# at prediction time: the copy is still in cache for the check (and the
# gather of a compact model's columns), so the input is read from memory once.
CONVERT_BLOCK_BYTES = 1 << 19

# From this many bytes of input rows (about 320 float64 MNIST rows), torch
# converts and checks them on the call's torch threads: 1.66-1.82x as fast
# as numpy's blocks above from 512 to 4,096 rows, 0.62-1.20x at 256, 0.66x
# at 32 (2 cores, two runs of ``benchmarks/inference_speed.py --rules`` in
# ``docs/results/inference_rules.txt``); smaller blocks keep numpy's lower
# overhead.
TORCH_CONVERT_BYTES = 1 << 21

# scikit-learn's solvers; the first two train through skorch's epoch loop.
SOLVERS = ("adam", "sgd", "lbfgs")
STOCHASTIC_SOLVERS = ("adam", "sgd")


def _as_layer_sizes(hidden_layer_sizes):
    """Validate ``hidden_layer_sizes`` into a tuple of positive ints."""
    sizes = (
        [hidden_layer_sizes]
        if isinstance(hidden_layer_sizes, Integral)
        else list(hidden_layer_sizes)
    )
    if not all(isinstance(s, Integral) and s > 0 for s in sizes):
        raise ValueError(
            "hidden_layer_sizes must contain only positive integers (one width "
            f"per hidden layer); got {hidden_layer_sizes!r}."
        )
    return tuple(int(s) for s in sizes)


def _check_non_negative(sample_weight):
    """Raise if a sample weight is negative, quoting how many and the smallest."""
    negative = sample_weight < 0
    if negative.any():
        raise ValueError(
            "Negative values in data passed to `sample_weight`: expected weights "
            f">= 0; got {int(negative.sum())} negative value(s), the smallest "
            f"{sample_weight.min():.6g}."
        )


class _BaseMLP(BaseEstimator):
    """Shared fitting machinery of :class:`MLPClassifier` and :class:`MLPRegressor`."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions(set(SOLVERS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "callbacks": [list, None],
        "net_params": [dict, None],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        device="cpu",
        callbacks=None,
        net_params=None,
        n_threads=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device
        self.callbacks = callbacks
        self.net_params = net_params
        self.n_threads = n_threads

    # ------------------------------------------------------------------ fitted
    # views on the live torch parameters (no copies on the CPU)

    def _module(self):
        if "net_" not in self.__dict__:
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet; the "
                "parameters exist after `fit` or `partial_fit`."
            )
        return self.net_.module_

    @property
    def coefs_(self):
        """Weights per layer, ``coefs_[l]`` of shape ``(n_in, n_out)``."""
        return [_to_numpy(layer.weight).T for layer in self._module().layers]

    @coefs_.setter
    def coefs_(self, values):
        self._set_params_of("weight", values, transpose=True)

    @property
    def intercepts_(self):
        """Biases per layer, ``intercepts_[l]`` of shape ``(n_out,)``."""
        return [_to_numpy(layer.bias) for layer in self._module().layers]

    @intercepts_.setter
    def intercepts_(self, values):
        self._set_params_of("bias", values, transpose=False)

    @property
    def prelu_weights_(self):
        """Learned PReLU slopes per hidden layer (only for ``activation="prelu"``)."""
        module = self._module()
        if module.activation != "prelu":
            raise AttributeError("prelu_weights_ exists only for activation='prelu'.")
        return [_to_numpy(act.weight) for act in module.activations]

    def _set_params_of(self, name, values, transpose):
        layers = self._module().layers
        if len(values) != len(layers):
            raise ValueError(
                f"Expected {len(layers)} arrays, one per layer; got {len(values)}."
            )
        params = [getattr(layer, name) for layer in layers]
        tensors = []
        for param, value in zip(params, values):  # check all before changing any
            value = torch.as_tensor(np.asarray(value, dtype=np.float32))
            expected = tuple(param.T.shape if transpose else param.shape)
            if tuple(value.shape) != expected:
                raise ValueError(
                    f"Expected an array of shape {expected}; got {tuple(value.shape)}."
                )
            tensors.append(value.T if transpose else value)
        with torch.no_grad():
            for param, value in zip(params, tensors):
                param.copy_(value)
        self.net_.module_.apply_masks_()

    # --------------------------------------------------------------- the net

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"Got batch_size={self.batch_size} larger than the number of "
                f"samples ({n_samples}); it is clipped to {n_samples}.",
                UserWarning,
                stacklevel=3,
            )
        return min(self.batch_size, n_samples)

    def _optimizer_settings(self):
        """skorch settings of the torch optimizer for ``solver``."""
        if self.solver == "sgd":
            return {
                "optimizer": SklearnSGD,
                "optimizer__momentum": self.momentum,
                "optimizer__nesterov": self.nesterovs_momentum,
                "optimizer__fused": fused_sgd_supported(str(self.device)) or None,
            }
        settings = {
            "optimizer": torch.optim.Adam,
            "optimizer__betas": (self.beta_1, self.beta_2),
            "optimizer__eps": self.epsilon,
        }
        if fused_adam_supported(str(self.device)):
            settings["optimizer__fused"] = True
        return settings

    def _build_net(self, n_features, n_samples, valid_data):
        seed = self._random_state.randint(np.iinfo(np.int32).max)
        layer_units = (n_features, *self.hidden_layer_sizes_, self.n_outputs_)
        settings = dict(
            module__layer_units=layer_units,
            module__activation=self.activation,
            module__seed=seed,
            criterion=PerSampleLoss,
            criterion__out_activation=self.out_activation_,
            lr=self.learning_rate_init,
            max_epochs=self.max_iter,
            batch_size=self._batch_size(n_samples),
            iterator_train=BatchIterator,
            iterator_train__shuffle=self.shuffle,
            iterator_train__random_state=self._random_state,
            iterator_valid=BatchIterator,
            iterator_valid__batch_size=PREDICT_BATCH_SIZE,
            train_split=_split_for(valid_data),
            callbacks=[
                ("sklearn_stopping", self._stopping_callback()),
                *(self.callbacks or []),
            ],
            device=self.device,
            verbose=0,  # scikit-learn's lines are printed by SklearnStopping
            alpha=self.alpha,
            **self._optimizer_settings(),
        )
        settings.update(self.net_params or {})  # the user's settings win
        net = MLPNet(settings.pop("module", MLPModule), **settings)
        return net.initialize()

    def _new_schedule(self):
        """scikit-learn's learning-rate state (its ``_optimizer.learning_rate``)."""
        kind = self.learning_rate if self.solver == "sgd" else "constant"
        return LearningRateSchedule(kind, self.learning_rate_init, self.power_t)

    def _stopping_callback(self):
        score_fn = self._validation_score if self.early_stopping else None
        return SklearnStopping(
            tol=self.tol, n_iter_no_change=self.n_iter_no_change, score_fn=score_fn
        )

    def _validation_score(self, net):
        """The validation score; NaN when the network's output is not finite."""
        X_val, y_val, w_val = self._validation_set
        raw = _forward(net, X_val)
        if not np.isfinite(raw).all():
            return np.nan
        y_pred = self._predict_from_raw(raw)
        return self._score_fn(y_val, y_pred, sample_weight=w_val)

    def _to_tensor_data(self, X, y=None, sample_weight=None):
        device = self.device
        return TensorData(
            torch.as_tensor(_writeable_float32(X), device=device),
            None if y is None else torch.as_tensor(y, device=device),
            None
            if sample_weight is None
            else torch.as_tensor(sample_weight, dtype=torch.float32, device=device),
        )

    # ------------------------------------------------------------------- fit

    def _fit(
        self,
        X,
        y,
        sample_weight=None,
        incremental=False,
        epochs=None,
        keep=False,
        classes=None,
    ):
        """Fit from scratch, or continue (``warm_start``, ``incremental``, ``keep``).

        Everything is validated and set up before training starts; an error
        until then leaves the estimator exactly as it was. A fit that ends
        with non-finite parameters raises ValueError, as scikit-learn's does.
        """
        with self._unchanged_on_error():
            train, stopping = self._prepare_fit(
                X, y, sample_weight, incremental, keep, classes
            )
        if epochs is None:
            epochs = 1 if incremental else self.max_iter
        lbfgs = self.solver == "lbfgs" and not incremental
        rows = len(train) if lbfgs else self.net_.batch_size
        with self._torch_threads(rows):
            if lbfgs:
                self._run_lbfgs(train, epochs)
            else:
                self._run_epochs(train, epochs, stopping, incremental)
        _check_finite(self._module())
        return self

    def _torch_threads(self, rows):
        """Context: torch threads for calls on ``rows`` rows (``n_threads``'s rule)."""
        module = self._module()
        units = getattr(module, "layer_units", None)  # skprune's modules
        if units is None:
            weights = sum(p.numel() for p in module.parameters())
        else:
            weights = sum(a * b for a, b in zip(units, units[1:]))
        return torch_threads(resolve_threads(self.n_threads, rows * weights))

    @contextmanager
    def _unchanged_on_error(self):
        """Restore every attribute if the body raises."""
        state = dict(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _prepare_fit(self, X, y, sample_weight, incremental, keep, classes):
        """Validate the data, set up the outputs and the net; no training."""
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True.")
        if isinstance(self.n_threads, bool):  # passes the Integral constraint
            raise InvalidParameterError(
                f"The 'n_threads' parameter of {type(self).__name__} must be an int "
                f"in the range [1, inf) or None, not a bool. Got {self.n_threads!r}."
            )
        _check_device(self.device)
        if incremental:
            self._start_partial_fit(y, classes)
        first = not (hasattr(self, "net_") and (self.warm_start or incremental or keep))
        X, y_raw, y = self._validate_input(X, y, incremental, reset=first)
        X = X.toarray() if sp.issparse(X) else X
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            _check_non_negative(sample_weight)
        if first:
            self.hidden_layer_sizes_ = _as_layer_sizes(self.hidden_layer_sizes)
            self._random_state = check_random_state(self.random_state)
            self._initialize_outputs(y)
        train, valid = self._split(X, y_raw, y, sample_weight)
        if first:
            self.net_ = self._build_net(X.shape[1], len(train), valid)
            self.t_, self.n_iter_ = 0, 0
        if first or "_no_improvement_count" not in self.__dict__:
            self._start_stochastic_state()
        elif not (incremental or keep):  # a warm start: a fresh optimizer
            self.net_.initialize_optimizer()
            self._optimizer = self._new_schedule()
        self.net_.train_split = _split_for(valid)
        return train, self._stopping_for(train)

    def _start_stochastic_state(self):
        """The attributes of a first fit; scikit-learn's for each solver."""
        self._optimizer = self._new_schedule()
        self._no_improvement_count = 0
        self.loss_curve_ = []
        self.best_loss_ = None if self.early_stopping else np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None

    def _stopping_for(self, train):
        """The net's stopping callback, set up for this call's epochs."""
        callbacks = dict(self.net_.callbacks_)
        if "sklearn_stopping" not in callbacks:  # the net was built without it
            self.net_.callbacks = [
                ("sklearn_stopping", self._stopping_callback()),
                *(self.net_.callbacks or []),
            ]
            self.net_.initialize_callbacks()
            callbacks = dict(self.net_.callbacks_)
        stopping = callbacks["sklearn_stopping"].initialize()
        stopping.tol, stopping.n_iter_no_change = self.tol, self.n_iter_no_change
        stopping.score_fn = self._validation_score if self.early_stopping else None
        stopping.schedule, stopping.verbose = self._optimizer, self.verbose
        stopping.n_samples, stopping.t_ = len(train), self.t_
        stopping.no_improvement_count_ = self._no_improvement_count
        if self.early_stopping:
            stopping.validation_scores_ = list(self.validation_scores_ or [])
            stopping.best_validation_score_ = _or(self.best_validation_score_, -np.inf)
        else:
            stopping.best_loss_ = _or(self.best_loss_, np.inf)
        return stopping

    def _start_partial_fit(self, y, classes):
        """Set up what the first call to ``partial_fit`` needs (classifier labels)."""
        return None

    # ------------------------------------------------- the pruning contract

    def fine_tune(self, X, y, *, epochs, sample_weight=None):
        """Train ``epochs`` more epochs with a fresh optimizer, masks held.

        The fitted network continues from its current weights (labels and
        output layer unchanged); pruned weights stay exactly 0.0. No
        ``ConvergenceWarning`` is raised for stopping after ``epochs``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, as passed to ``fit``.
        epochs : int
            Number of epochs (the stopping rule may stop earlier).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in the loss.

        Returns
        -------
        self
            The fine-tuned estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skprune import MLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
        >>> clf.fine_tune(X, y, epochs=3).n_iter_
        3
        """
        self.net_.initialize_optimizer()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self._fit(X, y, sample_weight, epochs=epochs, keep=True)

    def set_masks(self, masks):
        """Hold ``masks`` (bool, shaped like ``coefs_``; True = kept) from now on.

        Masked weights are set to 0.0 now and after every optimizer step of
        any later training (``fine_tune``, ``partial_fit``, ``warm_start``,
        skorch's own ``net_.partial_fit``); :attr:`masks_` returns them.

        Parameters
        ----------
        masks : list of array-like of bool, or None
            One mask per layer, shaped like ``coefs_[l]``; None removes the
            masks.

        Returns
        -------
        self
            The estimator, its pruned weights now 0.0.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from skprune import MLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
        >>> masks = [np.abs(c) > 0.1 for c in clf.coefs_]
        >>> clf = clf.set_masks(masks)
        >>> bool((clf.coefs_[0][~masks[0]] == 0).all())
        True
        """
        module = self._module()
        if masks is None:
            module.set_masks([None] * len(module.layers))
            return self
        module.set_masks([torch.as_tensor(np.asarray(m, dtype=bool).T) for m in masks])
        return self

    def encode_targets(self, X, y):
        """``X`` validated and ``y`` encoded as the training loss takes them.

        Used by scorers that differentiate the loss. Classifiers give class
        indices (int64) for a multiclass target and a 0/1 float32 indicator
        matrix otherwise; regressors give float32 of shape
        ``(n_samples, n_outputs)``. Labels the estimator was not fitted on
        raise a ``ValueError``. The estimator is not changed.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Input rows (sparse input stays sparse).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, as passed to ``fit``.

        Returns
        -------
        X : ndarray or sparse matrix of shape (n_samples, n_features)
            The validated input, float64 or float32.
        y_encoded : ndarray
            The targets as :attr:`loss_function_` takes them.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skprune import MLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
        >>> _, encoded = clf.encode_targets(X[:3], y[:3])
        >>> encoded.dtype.name, encoded.shape
        ('int64', (3,))
        """
        check_is_fitted(self)
        X, _, encoded = self._validate_input(X, y, incremental=True, reset=False)
        return X, encoded

    @property
    def loss_function_(self):
        """The per-sample data loss, ``loss(raw, y_encoded) -> (n_samples,)``.

        A torch callable of the raw output (logits for classifiers) and the
        targets from :meth:`encode_targets`: log-loss for a classifier, half
        squared error (mean over outputs) for a regressor, without the
        ``alpha`` penalty. It is the fitted net's criterion (``net_.criterion_``).
        """
        check_is_fitted(self)
        return self.net_.criterion_

    def __setstate__(self, state):
        # Releases up to 0.1.0 kept the fitted widths under a private name.
        if "_layer_sizes" in state:
            state["hidden_layer_sizes_"] = state.pop("_layer_sizes")
        # Releases before n_threads existed ran on torch's setting as it was.
        state.setdefault("n_threads", None)
        super().__setstate__(state)

    @property
    def masks_(self):
        """Pruning masks (bool, shaped like ``coefs_``), or None when unpruned."""
        masks = self._module().masks()
        if all(m is None for m in masks):
            return None
        return [
            np.ones(layer.weight.T.shape, dtype=bool) if m is None else _to_numpy(m).T
            for layer, m in zip(self._module().layers, masks)
        ]

    def _split(self, X, y_raw, y, sample_weight):
        if not self.early_stopping or self.solver == "lbfgs":
            self._validation_set = None
            return self._to_tensor_data(X, y, sample_weight), None
        # scikit-learn stratifies only single-output classification, on the
        # binarized labels.
        single = is_classifier(self) and self.n_outputs_ == 1
        stratify = np.asarray(y, dtype=bool) if single else None
        arrays = [X, y_raw, y] + ([] if sample_weight is None else [sample_weight])
        parts = train_test_split(
            *arrays,
            random_state=self._random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        X_tr, X_val, _, y_raw_val, y_tr, y_val = parts[:6]
        w_tr, w_val = (
            (parts[6], parts[7]) if sample_weight is not None else (None, None)
        )
        if X_val.shape[0] < 2:
            raise ValueError(
                f"The validation set is too small ({X_val.shape[0]} row): increase "
                f"validation_fraction (got {self.validation_fraction}) or the data."
            )
        self._validation_set = (X_val, y_raw_val, w_val)
        return (
            self._to_tensor_data(X_tr, y_tr, w_tr),
            self._to_tensor_data(X_val, y_val, w_val),
        )

    def _run_epochs(self, train, epochs, stopping, incremental=False):
        n_before = len(self.net_.history)
        # Under the thread rule, a fit that finds the cores busy (numpy's
        # BLAS threads still spinning) starts on the free ones.
        busy = None
        if self.n_threads is None and on_cpu(self.net_.device):
            busy = BusyStart(torch.get_num_threads()).start()
        self.net_.busy_start_ = busy if busy is not None and busy.reduced else None
        try:
            self.net_.partial_fit(train, None, epochs=epochs)
        finally:
            if busy is not None:
                busy.finish()
            self.net_.busy_start_ = None
        new_losses = [float(row["train_loss"]) for row in self.net_.history[n_before:]]
        self.n_iter_ = len(new_losses)
        self.loss_curve_.extend(new_losses)
        self.loss_ = self.loss_curve_[-1]
        self.t_ += self.n_iter_ * len(train)
        self._no_improvement_count = stopping.no_improvement_count_
        stopping.schedule = None  # the estimator's _optimizer; set for each fit
        if self.early_stopping:
            self.validation_scores_ = stopping.validation_scores_
            self.best_validation_score_ = stopping.best_validation_score_
            if stopping.best_state_ is not None:
                self.net_.module_.load_state_dict(stopping.best_state_)
            # Keep no tensors outside the net's torch state (module, optimizer,
            # criterion): pickle would load them with torch.load(weights_only=False).
            stopping.best_state_ = None
            self.net_.train_split = None
        else:
            self.best_loss_ = stopping.best_loss_
        if not incremental and not stopping.stopped_ and self.n_iter_ == epochs:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({epochs}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _run_lbfgs(self, train, max_iter):
        """Full-batch L-BFGS (scikit-learn's attributes: no loss curve)."""
        self.n_iter_, self.loss_ = fit_lbfgs(
            self.net_,
            train,
            max_iter=max_iter,
            max_fun=self.max_fun,
            tol=self.tol,
            verbose=self.verbose,
        )
        for name in _STOCHASTIC_ONLY:
            self.__dict__.pop(name, None)

    def _check_solver(self):
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers "
                f"({' and '.join(STOCHASTIC_SOLVERS)}); got solver={self.solver!r}."
            )
        return True

    # --------------------------------------------------------------- predict

    def _raw_output(self, X):
        """The network's raw output (logits for classifiers), float32 or float64."""
        if "net_" not in self.__dict__:  # check_is_fitted reads the tags first
            check_is_fitted(self)
        if not self._validated_as_is(X):
            with numeric_input(X):
                X = validate_data(
                    self,
                    X,
                    accept_sparse=["csr", "csc"],
                    dtype=[np.float64, np.float32],
                    reset=False,
                    ensure_all_finite=False,  # checked below, with the copy
                )
        if sp.issparse(X):
            X = self._check_finite_input(X).toarray()
        with self._torch_threads(min(len(X), PREDICT_BATCH_SIZE)):
            return _forward(self.net_, X, dtype=X.dtype, check=self._check_finite_input)

    def __sklearn_is_fitted__(self):
        # What check_is_fitted asks on every prediction, without its scan of
        # every attribute: a fitted model has its skorch net.
        return "net_" in self.__dict__

    def _validated_as_is(self, X):
        """Whether scikit-learn's validation would return ``X`` unchanged and
        silent: a numpy array of float64 or float32 rows of the fitted width,
        for a model fitted without feature names (NaN and infinity are
        checked later, with the copy). Skipping it saves most of a small
        prediction's time (scikit-learn also checks for dataframes)."""
        return (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype in (np.float64, np.float32)
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
        )

    def _check_finite_input(self, X):
        """scikit-learn's NaN / infinity check of prediction input (its errors)."""
        return check_array(
            X,
            accept_sparse=["csr", "csc"],
            dtype=None,
            ensure_all_finite=True,
            estimator=self,
            input_name="X",
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# Fitted attributes that only the stochastic solvers have (as in scikit-learn).
_STOCHASTIC_ONLY = (
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "_no_improvement_count",
)


def _or(value, default):
    return default if value is None else value


def _check_finite(module):
    """Raise scikit-learn's ValueError if a parameter is NaN or infinite."""
    if not all(torch.isfinite(p).all() for p in module.parameters()):
        raise ValueError(
            "Solver produced non-finite parameter weights. The input data may "
            "contain large values and need to be preprocessed."
        )


def _available_devices():
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def _check_device(device):
    """Raise ValueError unless ``device`` names a device that exists here."""
    available = _available_devices()
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device={device!r} is not a torch device ({error}); available on "
            f"this machine: {available}."
        ) from error
    if parsed.type == "cpu":
        return
    name = parsed.type if parsed.index is None else f"{parsed.type}:{parsed.index}"
    known = {d.split(":")[0] for d in available} if parsed.index is None else available
    if name not in known:
        raise ValueError(
            f"device={device!r} is not available on this machine; available: "
            f"{available}."
        )


def _split_for(valid):
    return None if valid is None else predefined_split(valid)


def _writeable_float32(X):
    """X as float32, copied when read-only (torch cannot wrap read-only memory)."""
    X = np.asarray(X, dtype=np.float32)
    return X if X.flags.writeable else X.copy()


def _to_numpy(tensor):
    """A numpy view of a CPU tensor (a copy for other devices)."""
    return tensor.detach().cpu().numpy()


def _float32_rows(X, check, columns=None, out=None):
    """Rows of ``X`` as a float32 array (``out`` when given), tested for NaN/inf.

    ``columns`` (an index, None for all) are gathered into the first
    columns of ``out``; its other columns are left as they are. Every
    column is converted to float32 and tested by its sum (scikit-learn's
    own first pass), where NaN, infinity and values beyond float32's range
    all show; a block whose sum is not finite goes to ``check``,
    scikit-learn's exact test, which raises its error if the block holds NaN
    or infinity (a sum can also overflow). Large blocks are converted by
    torch on the call's threads, small ones by numpy in cache-sized pieces.
    """
    if out is None:
        width = X.shape[1] if columns is None else len(columns)
        out = np.empty((len(X), width), np.float32)
    convert = _convert_torch if _torch_converts(X) else _convert_numpy
    with np.errstate(over="ignore", invalid="ignore"):
        convert(X, check, columns, out)
    return out


def _torch_converts(X):
    """Whether torch converts ``X``: a large block torch can wrap."""
    return (
        X.nbytes >= TORCH_CONVERT_BYTES
        and X.dtype in (np.float64, np.float32)
        and all(stride >= 0 for stride in X.strides)
    )


def _convert_torch(X, check, columns, out):
    """:func:`_float32_rows` of a large block: one torch copy, sum and gather."""
    target = torch.from_numpy(out)
    if columns is None:
        converted = target
    else:
        converted = torch.empty(X.shape, dtype=torch.float32)
    converted.copy_(torch.from_numpy(X))
    if not torch.isfinite(converted.sum()):
        _check_float32_range(X, converted.numpy(), check)
    if columns is not None:
        index = torch.from_numpy(np.asarray(columns, dtype=np.int64))
        target[:, : len(index)] = converted.index_select(1, index)


def _convert_numpy(X, check, columns, out):
    """:func:`_float32_rows` in blocks of :data:`CONVERT_BLOCK_BYTES`: each
    block converted, summed and gathered while in cache."""
    step = max(1, CONVERT_BLOCK_BYTES // max(1, X.shape[1] * X.itemsize))
    if columns is not None:
        scratch = np.empty((min(step, len(X)), X.shape[1]), np.float32)
    for start in range(0, X.shape[0], step):
        block = X[start : start + step]
        if columns is None:
            converted = out[start : start + step]
        else:
            converted = scratch[: len(block)]
        converted[...] = block
        if not np.isfinite(converted.sum()):
            _check_float32_range(block, converted, check)
        if columns is not None:
            out[start : start + len(block), : len(columns)] = converted[:, columns]


def _check_float32_range(block, converted, check):
    """Raise for NaN/inf (``check``) or for values float32 cannot hold."""
    check(block)
    if not np.isfinite(converted).all():
        raise ValueError(
            "Input X has finite values beyond float32's range (largest "
            f"magnitude {np.abs(block).max():.3g}; float32 holds up to "
            f"{np.finfo(np.float32).max:.3g}); the network computes in "
            "float32, so scale X first."
        )


def _prediction_input(module, X):
    """``(columns, width, run)``: the rows ``module`` predicts from, and how."""
    spec = getattr(module, "prediction_input", None)
    if spec is None:
        return None, X.shape[1], module
    columns, width = spec(min(len(X), PREDICT_BATCH_SIZE))
    return columns, width, module.predict_prepared


def _forward(net, X, dtype=None, check=None):
    """Raw network output for ``X`` in row blocks: float32 for float32 ``X``
    (as scikit-learn), float64 otherwise, or ``dtype`` when given.

    ``check`` (scikit-learn's NaN/infinity test, raising its error) is run
    on input not yet checked; a module with ``prediction_input`` (a compact
    model) gets its rows gathered and padded while they are converted.
    """
    module = net.module_
    if dtype is None:
        dtype = X.dtype if X.dtype == np.float32 else np.float64
    if len(X) < SMALL_PREDICT_ROWS and _predicts_rows(type(module)):
        return _forward_small(module, X, dtype, check)
    device = next(module.parameters()).device
    out = np.empty((X.shape[0], module.layer_units[-1]), dtype=dtype)
    columns, width, run = _prediction_input(module, X)
    if check is not None and columns is None and X.dtype == np.float32:
        check(X)  # float32 rows go to the net as they are
    # skprune's modules compute the same in training and evaluation mode:
    # only another module (set through net_params) is switched to eval().
    was_training = module.training and not isinstance(module, MLPModule)
    if was_training:
        module.eval()
    converts = columns is not None or X.dtype != np.float32
    if converts:  # one float32 block, reused: padding columns stay zero
        buffer = np.empty((min(len(X), PREDICT_BATCH_SIZE), width), np.float32)
        if columns is not None:  # the converted rows fill the other columns
            buffer[:, len(columns) :] = 0.0
    with torch.no_grad():
        for start in range(0, X.shape[0], PREDICT_BATCH_SIZE):
            rows = X[start : start + PREDICT_BATCH_SIZE]
            if converts:
                block = buffer[: len(rows)]
                rows = _float32_rows(rows, check or _no_check, columns, block)
            else:
                rows = _writeable_float32(rows)
            result = run(torch.from_numpy(rows).to(device))
            out[start : start + len(rows)] = result.cpu().numpy()
    if was_training:
        module.train()
    return out


def _forward_small(module, X, dtype, check):
    """:func:`_forward` of a few rows through skprune's own module.

    The rows are copied to float32 in one call and tested by their sum
    (NaN, infinity and values beyond float32's range show; ``check`` then
    raises scikit-learn's error), and ``module.predict_rows`` computes the
    layers straight from its parameters, without ``nn.Module`` calls: a
    one-row prediction pays little more than its products.
    """
    with np.errstate(over="ignore"):  # beyond float32's range: checked below
        rows = torch.from_numpy(X.astype(np.float32))  # a copy torch can wrap
    device = module.parameter_device()
    if device.type != "cpu":
        rows = rows.to(device)
    if check is not None and not math.isfinite(rows.sum().item()):
        _check_float32_range(X, rows.cpu().numpy(), check)
    out = module.predict_rows(rows).cpu().numpy()
    return out if out.dtype == dtype else out.astype(dtype)


@functools.cache
def _predicts_rows(cls):
    """Whether ``cls`` computes small predictions by ``predict_rows``: skprune's
    modules do; a subclass with a ``forward`` of its own does not."""
    owner = {
        name: next((c for c in cls.__mro__ if name in vars(c)), None)
        for name in ("forward", "predict_rows")
    }
    return (
        owner["predict_rows"] is not None and owner["predict_rows"] is owner["forward"]
    )


def _no_check(block):
    """The rows were checked before (fit's validation set)."""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by a skorch net on torch.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`
    with its three solvers: same parameter names and meanings, same fitted
    attributes, log-loss plus ``alpha``-weighted L2 penalty, scikit-learn's
    initialisation (same distribution, other draws) and stopping rule. Adam
    and SGD train through the skorch net's epoch loop in float32 on
    ``device``; L-BFGS runs scipy's L-BFGS-B on the whole training set in
    float64 and stores the result in float32. Float32 input gives float32
    outputs.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int or int, default=(100,)
        Width of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu", "prelu"}, default="relu"
        Hidden-layer activation; ``"prelu"`` learns one slope per hidden layer.
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        ``"adam"``: torch's Adam (fused where available). ``"sgd"``:
        scikit-learn's stochastic gradient descent with momentum.
        ``"lbfgs"``: scipy's L-BFGS-B on the full training set, as
        scikit-learn; no ``partial_fit``, ``early_stopping`` is ignored, and
        ``net_.history`` gets one row per L-BFGS iteration.
    alpha : float, default=1e-4
        Strength of the L2 penalty (divided by the batch's sample weight).
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        SGD's schedule: ``"invscaling"`` sets the rate to
        ``learning_rate_init / (t_ + 1) ** power_t`` after every epoch;
        ``"adaptive"`` divides it by 5 whenever the stopping rule would stop,
        and stops once it is at most 1e-6. Only for ``solver="sgd"``.
    learning_rate_init : float, default=1e-3
        Step size of Adam and SGD.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the training rows every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the early-stopping split. Global
        numpy and torch random states are left untouched when it is given.
    tol : float, default=1e-4
        Minimum improvement of the loss (or validation score) that counts.
    verbose : bool, default=False
        Print scikit-learn's progress lines (``Iteration N, loss = ...``,
        ``Validation score: ...`` and the reason for stopping).
    warm_start : bool, default=False
        Continue from the previous fit's parameters (with a fresh optimizer,
        as scikit-learn); ``y`` must have the same classes.
    momentum : float in [0, 1], default=0.9
        SGD's momentum: velocity ``v <- momentum * v - rate * gradient``.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for SGD (when ``momentum > 0``).
    early_stopping : bool, default=False
        Stop on the validation accuracy of a held-out ``validation_fraction``.
    validation_fraction : float, default=0.1
        Share of the training rows held out for early stopping.
    beta_1, beta_2, epsilon : float
        Adam's parameters.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement by ``tol`` before stopping (``np.inf``:
        never stop early).
    max_fun : int, default=15000
        L-BFGS's maximum number of loss evaluations (``max_iter`` bounds its
        iterations).
    device : str or torch.device, default="cpu"
        Where the network is trained (e.g. ``"cuda"``).
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks for the net.
    net_params : dict, default=None
        Any other :class:`skorch.NeuralNet` parameter, e.g.
        ``{"optimizer__weight_decay": 0.0}``; they override skprune's settings.
        ``{"cuda_graph": True}`` steps the full batches of a fit on CUDA by
        replaying the step captured as a CUDA graph (off by default: not yet
        run on a GPU; see ``skprune._torch.net.GraphedStep``).
    n_threads : int or None, default=None
        Torch threads of every ``fit``, ``partial_fit``, ``fine_tune``,
        prediction and pruning score; torch's own setting is restored after
        each call. None: the library's rule. A call uses at most its share
        of the cores: the cores the process may run on
        (``os.sched_getaffinity``), capped by ``OMP_NUM_THREADS`` and by
        ``torch.get_num_threads()``, which is where a parallel parent states
        the share (joblib's loky workers get ``cpu_count() // n_jobs``, a
        dask nanny's workers 1, threadpoolctl's ``threadpool_limits`` and
        ``torch.set_num_threads`` count too); and it uses one thread when a
        torch call does less than 3e6 multiply-adds (rows per call, e.g.
        ``batch_size``, times the net's weights), below which
        ``benchmarks/thread_rule.py`` found a second thread slower. An int
        fixes the count.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coefs_ : list of ndarray
        ``coefs_[l]`` has shape ``(n_in, n_out)``: views on the live torch weights.
    intercepts_ : list of ndarray
        ``intercepts_[l]`` has shape ``(n_out,)``: views on the live torch biases.
    loss_ : float
        Mean training loss of the last epoch (penalty included).
    loss_curve_ : list of float
        Training loss per epoch (Adam and SGD only).
    best_loss_ : float or None
        Lowest training loss (None with early stopping; Adam and SGD only).
    validation_scores_ : list of float or None
        Validation accuracy per epoch with early stopping (NaN for an epoch
        whose network output is not finite).
    best_validation_score_ : float or None
        Best validation accuracy with early stopping.
    t_ : int
        Training rows seen by Adam and SGD (0 for L-BFGS, as scikit-learn).
    n_iter_ : int
        Epochs run by the last call to ``fit`` / ``partial_fit``.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        ``"softmax"`` (multiclass) or ``"logistic"`` (binary, multilabel).
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input column names, when X had string column names.
    hidden_layer_sizes_ : tuple of int
        The fitted hidden widths (``hidden_layer_sizes`` as validated).
    masks_ : list of ndarray of bool or None
        Pruning masks shaped like ``coefs_`` (True = kept) from
        :meth:`set_masks`, or None when unpruned.
    loss_function_ : callable
        The per-sample data loss of the raw output (see :meth:`encode_targets`).
    net_ : MLPNet
        The fitted skorch net (history, callbacks, ``module_``).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skprune import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier((32,), max_iter=30, random_state=0).fit(X / 16, y)
    >>> clf.coefs_[0].shape
    (64, 32)
    >>> bool(clf.score(X / 16, y) > 0.9)
    True
    """

    _score_fn = staticmethod(accuracy_score)

    # Expected failures of scikit-learn's common checks, with the reason.
    _xfail_checks = {
        check: (
            "training runs in float32 for speed: fitting with integer weights "
            "and with repeated rows agrees to ~1e-6, the check's tolerance is 1e-7"
        )
        for check in (
            "check_sample_weight_equivalence_on_dense_data",
            "check_sample_weight_equivalence_on_sparse_data",
        )
    }

    def _initialize_outputs(self, y):
        multiclass = self._label_binarizer.y_type_ == "multiclass"
        self.n_outputs_ = len(self.classes_) if multiclass else y.shape[1]
        self.n_layers_ = len(self.hidden_layer_sizes_) + 2
        self.out_activation_ = (
            "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"
        )

    def _validate_input(self, X, y, incremental, reset):
        with numeric_input(X):
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse=["csr", "csc"],
                multi_output=True,
                dtype=[np.float64, np.float32],
                reset=reset,
            )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if reset and not incremental:
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            self._check_known_classes(y, incremental)
        return X, y, self._encode(y)

    def _check_known_classes(self, y, incremental):
        classes = unique_labels(y)
        if incremental:
            if not np.isin(classes, self.classes_).all():
                raise ValueError(
                    f"`y` has classes not in `self.classes_`: self.classes_ has "
                    f"{self.classes_}, `y` has {classes}."
                )
        elif set(classes) != set(self.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in "
                f"the previous call to fit. Previously got {self.classes_}, `y` has "
                f"{classes}."
            )

    def _encode(self, y):
        lb = self._label_binarizer
        if lb.y_type_ == "multiclass":
            return np.searchsorted(lb.classes_, y).astype(np.int64)
        return lb.transform(y).astype(np.float32)

    def _probabilities(self, raw):
        """Probabilities from ``raw``, in ``raw``'s dtype (``raw`` may be overwritten).

        The softmax is torch's (one vectorised pass on the call's threads,
        faster than numpy's five), over the rows as they are (float64 for
        float64 input, as scikit-learn).
        """
        if self.out_activation_ == "softmax":
            if raw.size <= SOFTMAX_ONE_TASK:
                return torch.softmax(torch.from_numpy(raw), dim=1).numpy()
            with self._torch_threads(len(raw)):
                return torch.softmax(torch.from_numpy(raw), dim=1).numpy()
        return expit(raw, out=raw)

    def _predict_from_raw(self, raw):
        proba = self._probabilities(raw)
        if self.n_outputs_ == 1:
            proba = proba.ravel()
        return self._label_binarizer.inverse_transform(proba)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` and labels ``y`` (1-D, or multilabel indicator).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the loss.

        Returns
        -------
        self : MLPClassifier
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train one epoch on ``(X, y)``; ``classes`` is needed on the first call.

        Returns
        -------
        self : MLPClassifier
        """
        return self._fit(
            X, y, sample_weight=sample_weight, incremental=True, classes=classes
        )

    def _start_partial_fit(self, y, classes):
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_

    def predict(self, X):
        """Predicted labels, of the same type as the training labels."""
        return self._predict_from_raw(self._raw_output(X))

    def predict_proba(self, X):
        """Class probabilities (columns in the order of ``classes_``)."""
        proba = self._probabilities(self._raw_output(X))
        if len(self.classes_) == 1:  # one class seen in training: it is certain
            return np.ones((len(proba), 1))
        if self.n_outputs_ == 1 and self._label_binarizer.y_type_ == "binary":
            return np.hstack([1 - proba, proba])
        return proba

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by a skorch net on torch.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor`
    with its three solvers: half squared error (or half Poisson deviance)
    plus ``alpha``-weighted L2 penalty, scikit-learn's parameters,
    attributes and stopping rule. Predictions have the shape of the training
    ``y`` (1-D or 2-D).

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        ``"poisson"``: half Poisson deviance with an exponential output
        (``predict`` returns ``exp`` of the network's output; ``y >= 0``).
        Keyword-only here (scikit-learn takes it as the first positional
        parameter, before ``hidden_layer_sizes``).
    hidden_layer_sizes, activation, solver, alpha, batch_size, \
learning_rate, learning_rate_init, power_t, max_iter, shuffle, random_state, \
tol, verbose, warm_start, momentum, nesterovs_momentum, early_stopping, \
validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun, \
device, callbacks, net_params, n_threads
        As in :class:`MLPClassifier`; early stopping uses the validation R².

    Attributes
    ----------
    coefs_, intercepts_, loss_, loss_curve_, best_loss_, validation_scores_, \
best_validation_score_, t_, n_iter_, n_layers_, n_outputs_, n_features_in_, \
feature_names_in_, hidden_layer_sizes_, masks_, loss_function_, net_
        As in :class:`MLPClassifier`.
    out_activation_ : str
        ``"identity"``, or ``"exp"`` for ``loss="poisson"``.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import scale
    >>> from skprune import MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MLPRegressor((16,), max_iter=5, random_state=0).fit(scale(X), scale(y))
    >>> reg.predict(scale(X)).shape
    (442,)
    """

    _score_fn = staticmethod(r2_score)

    _xfail_checks = MLPClassifier._xfail_checks

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        loss="squared_error",
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        device="cpu",
        callbacks=None,
        net_params=None,
        n_threads=None,
    ):
        self.loss = loss
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            device=device,
            callbacks=callbacks,
            net_params=net_params,
            n_threads=n_threads,
        )

    def _initialize_outputs(self, y):
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(self.hidden_layer_sizes_) + 2
        self.out_activation_ = "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        with numeric_input(X):
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse=["csr", "csc"],
                multi_output=True,
                y_numeric=True,
                dtype=[np.float64, np.float32],
                reset=reset,
            )
        if y.dtype.kind not in "biuf":
            raise ValueError(
                f"{type(self).__name__} needs numeric targets y; got y of dtype "
                f"{y.dtype} (first value {y.flat[0]!r})."
            )
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(
                "loss='poisson' needs targets y >= 0; got the smallest y "
                f"{y.min():.6g}."
            )
        if reset:
            self._y_ndim = y.ndim
        y2d = y.reshape(-1, 1) if y.ndim == 1 else y
        return X, y, y2d.astype(np.float32)

    def _predict_from_raw(self, raw):
        if self.out_activation_ == "exp":
            raw = np.exp(raw)
        return raw.ravel() if self._y_ndim == 1 else raw

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` and targets ``y`` (1-D or 2-D).

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on ``(X, y)``.

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predictions, shaped like the training ``y``."""
        return self._predict_from_raw(self._raw_output(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
