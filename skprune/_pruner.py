"""CompensatedPruner: fit, score, prune with bias compensation, fine-tune."""

from __future__ import annotations

import copy
import math
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
)
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, check_memory, validate_data

from ._mlp import MLPClassifier
from ._torch.threads import resolve_threads, torch_threads
from ._validation import numeric_input
from .compensation import least_squares_refit
from .importance import (
    BATCH_SIZE,
    METHOD_NAMES,
    call_scorer,
    check_scorer_output,
    get_scorer,
    network_params,
    neuron_compensated_importance,
    neuron_magnitude,
    neuron_masks,
    neuron_scores_from_weights,
)


def _fit_dense(estimator, X, y, fit_params):
    """Fit ``estimator``; module level so that joblib's Memory can cache it."""
    return estimator.fit(X, y, **fit_params)


PRUNING_CONTRACT = ("set_masks", "fine_tune", "encode_targets", "hidden_layer_sizes")
"""What the pruner needs of an MLP besides scikit-learn's fitted attributes."""


def _unwrap(estimator):
    """The MLP inside ``estimator`` and whether it is frozen (already fitted)."""
    frozen = isinstance(estimator, FrozenEstimator)
    mlp = estimator.estimator if frozen else estimator
    if not all(hasattr(mlp, name) for name in PRUNING_CONTRACT):
        raise TypeError(
            "CompensatedPruner needs a skprune MLPClassifier or MLPRegressor as "
            "`estimator` (or a FrozenEstimator wrapping a fitted one); got "
            f"{estimator!r}."
        )
    return mlp, frozen


def score_weights(dense, X, y, *, method, max_samples=None, random_state=None):
    """Importances and compensations of a fitted MLP's weights, as the pruner ranks them.

    The one scoring path of :class:`CompensatedPruner` (and of
    :func:`skprune.compare_methods`, which scores each dense net once per
    method): at most ``max_samples`` rows drawn by :func:`scoring_rows`, the
    method's scorer called by :func:`~skprune.importance.call_scorer` with
    the same ``RandomState``, its output checked.

    Parameters
    ----------
    dense : fitted MLPClassifier or MLPRegressor
        The network to score.
    X, y : ndarray
        Validated training rows and targets.
    method : str or callable
        A method name (see :func:`~skprune.importance.get_scorer`) or a scorer.
    max_samples : int, default=None
        Rows to score on (None: all).
    random_state : int, RandomState instance or None, default=None
        Draws the rows, then goes to the scorer.

    Returns
    -------
    importances : list of ndarray
        Float64, shaped like ``coefs_``.
    compensations : list of ndarray or None
        The method's bias shifts, if it has any.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune import MLPClassifier
    >>> from skprune._pruner import score_weights
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    >>> importances, compensations = score_weights(
    ...     clf, X, y, method="compensated", max_samples=50, random_state=0)
    >>> [a.shape for a in compensations]
    [(4, 8), (8, 3)]
    """
    rng = check_random_state(random_state)
    X_score, y_score = scoring_rows(X, y, max_samples, rng)
    scorer = get_scorer(method)
    with _scoring_threads(dense, len(X_score)):
        output = call_scorer(scorer, dense, X_score, y_score, random_state=rng)
    return check_scorer_output(output, dense)


def _scoring_threads(net, n_rows):
    """Context: torch threads for scoring ``n_rows`` rows of ``net``.

    The MLP's ``n_threads`` rule, with the scoring work (a block of up to
    :data:`~skprune.importance.BATCH_SIZE` rows times the weights) in place
    of a training batch's. The weights are counted from the parameters'
    shapes where they are, so a model on a GPU is not copied to count them.
    """
    n_weights = sum(math.prod(c.shape) for c in network_params(net)["coefs"])
    rows = min(n_rows, BATCH_SIZE)
    n_threads = getattr(net, "n_threads", None)
    return torch_threads(resolve_threads(n_threads, rows * n_weights))


def n_weights_of(layer_units):
    """Number of weights (biases excluded) of a dense net with these widths."""
    return int(sum(a * b for a, b in zip(layer_units[:-1], layer_units[1:])))


def shrunk_widths(layer_units, n_target):
    """Hidden widths scaled by one factor so the net has about ``n_target`` weights.

    Every hidden width is ``max(1, round(factor * width))``; among a fine grid
    of factors in (0, 1] the one whose weight count is closest to
    ``n_target`` wins (ties: the larger net).
    """
    n_in, *hidden, n_out = layer_units
    best = None
    for factor in np.linspace(1.0, 1e-3, 4000):
        widths = tuple(max(1, int(round(factor * h))) for h in hidden)
        gap = abs(n_weights_of((n_in, *widths, n_out)) - n_target)
        if best is None or gap < best[0]:
            best = (gap, widths)
    return best[1]


def scoring_rows(X, y, max_samples, rng):
    """At most ``max_samples`` rows of ``(X, y)``, drawn with ``rng``, in order."""
    if max_samples is None or max_samples >= X.shape[0]:
        return X, y
    rows = np.sort(rng.choice(X.shape[0], max_samples, replace=False))
    return X[rows], np.asarray(y)[rows]


def prune_masks(importances, prune_ratio, scope="global"):
    """Masks (True = kept) removing the least important weights.

    ``scope="global"`` removes exactly ``round(prune_ratio * n_weights)``
    weights ranked against one threshold over all layers; ``scope="layer"``
    removes ``round(prune_ratio * n_l)`` of each layer ``l``. Ties are broken
    by position (layer, then row-major order): the earlier weight goes first.
    """
    if scope == "layer":
        return [prune_masks([imp], prune_ratio)[0] for imp in importances]
    flat = np.concatenate([np.ravel(imp) for imp in importances])
    n_prune = int(round(prune_ratio * flat.size))
    keep = np.ones(flat.size, dtype=bool)
    keep[np.argsort(flat, kind="stable")[:n_prune]] = False
    splits = np.cumsum([np.size(imp) for imp in importances])[:-1]
    return [
        part.reshape(np.shape(imp))
        for part, imp in zip(np.split(keep, splits), importances)
    ]


def compensated_intercepts(intercepts, compensations, masks):
    """Biases shifted by the summed compensation of each neuron's pruned weights."""
    if compensations is None:
        return [np.asarray(b, dtype=np.float64).copy() for b in intercepts]
    return [
        np.asarray(b, dtype=np.float64) + np.where(mask, 0.0, comp).sum(axis=0)
        for b, comp, mask in zip(intercepts, compensations, masks)
    ]


def neuron_pruning(net, scored, prune_ratio, scope):
    """Neuron scores to ``(importances, compensations, masks)`` of the pruner.

    ``importances`` holds one score per hidden neuron (one array per hidden
    layer); ``compensations`` is shaped like ``coefs_``: the shift of the next
    layer's biases for removing neuron i sits on the row of its outgoing
    weights (``compensations[l + 1][i]``, zero for kept neurons), so summing
    over the pruned weights of each column applies the removed neurons' shifts.
    """
    scores, shifts = scored
    units = (net.n_features_in_, *net.hidden_layer_sizes_, net.n_outputs_)
    masks, removed = neuron_masks(scores, units, prune_ratio, scope)
    compensations = None
    if shifts is not None:  # only the removed neurons' rows: a removed neuron
        # of the next layer loses every incoming weight, kept rows included
        rows = [np.where(r[:, None], shift, 0.0) for r, shift in zip(removed, shifts)]
        first = network_params(net)["coefs"][0]
        compensations = [np.zeros(tuple(first.shape)), *rows]
    return scores, compensations, masks


COMPENSATIONS = ("auto", "least_squares", "layer_least_squares", "none")
"""Values of ``CompensatedPruner(compensation=...)``."""


def round_ratios(prune_ratio, n_rounds):
    """Pruning ratio reached after each round: ``1 − (1 − r)^(k / n)``.

    Each round removes the same share of the weights still kept, and the last
    round reaches ``prune_ratio`` exactly.
    """
    keep = 1.0 - prune_ratio
    ratios = [1.0 - keep ** (k / n_rounds) for k in range(1, n_rounds + 1)]
    ratios[-1] = prune_ratio
    return ratios


def round_epochs(epochs, n_rounds):
    """``epochs`` spread over the rounds as evenly as possible, later rounds first."""
    base, extra = divmod(epochs, n_rounds)
    return [base + (k >= n_rounds - extra) for k in range(n_rounds)]


def _keep_pruned(importances, masks):
    """Importances with already pruned weights ranked first (below every score)."""
    return [np.where(mask, imp, -1.0) for imp, mask in zip(importances, masks)]


def _estimator_has(attr):
    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class CompensatedPruner(SelectorMixin, MetaEstimatorMixin, BaseEstimator):
    """Prune a fully connected network by elimination–compensation.

    ``fit`` trains a clone of ``estimator`` (the dense net), scores every
    weight with ``method``, removes the ``prune_ratio`` least important ones,
    shifts each neuron's bias by the compensation of its removed weights
    (for methods that have one), and fine-tunes the survivors with the mask
    held: pruned weights stay exactly 0.0 after every optimizer step.

    Parameters
    ----------
    estimator : MLPClassifier, MLPRegressor or FrozenEstimator
        The dense network to prune. A :class:`sklearn.frozen.FrozenEstimator`
        wrapping a fitted skprune MLP is used as it is and never modified.
    prune_ratio : float in [0, 1), default=0.5
        Share of the weights (biases excluded) to remove.
    method : str or callable, default="compensated"
        ``"compensated"`` (the paper's linearised importance with optimal
        bias compensation), ``"nonlinear"`` (exact output change),
        ``"magnitude"``, ``"gradient_magnitude"``, ``"random"``,
        ``"fully_connected"`` (a smaller dense net with the same number of
        weights, trained from scratch) or a callable
        ``method(estimator, X, y)`` returning importances shaped like
        ``coefs_``, or a tuple ``(importances, compensations)``.
    scope : {"global", "layer"}, default="global"
        Rank all weights against one threshold, or prune each layer by
        ``prune_ratio``.
    fine_tune_epochs : int, default=10
        Epochs of training after pruning (0: none); with ``n_rounds > 1``
        spread over the rounds (gradual pruning).
    max_samples : int or None, default=None
        Score on at most this many rows (drawn with ``random_state``); more
        than the data simply uses every row.
    memory : str, joblib.Memory or None, default=None
        Cache of the dense fits, so a sweep over ratios and methods trains
        each dense net once.
    random_state : int, RandomState instance or None, default=None
        Seeds ``method="random"`` and the ``max_samples`` subsample.
    verbose : bool, default=False
        Print the time of each stage.
    granularity : {"weight", "neuron"}, default="weight"
        Remove single weights, or whole hidden neurons (with their incoming
        and outgoing weights) until at least ``round(prune_ratio *
        n_weights)`` weights are gone (``scope="layer"``: that share of each
        hidden layer's neurons). Per neuron, ``"compensated"`` is structured
        EC: the least first-order output change when the neuron is removed
        and the next layer's biases take the best shift, cross terms between
        the next layer's neurons included
        (:func:`skprune.importance.neuron_compensated_importance`);
        ``"magnitude"`` is the squared L2 norm of the neuron's incoming and
        outgoing weights; ``"random"`` a uniform draw; any other method or
        callable sums its weight importances over the neuron's weights, with
        no compensation. Neurons of different layers are ranked by score per
        weight they take with them (:func:`skprune.importance.neuron_masks`).
        With ``compensation="least_squares"`` (or ``"layer_least_squares"``)
        the next layer's kept weights and biases are refitted instead of the
        bias shift alone. :func:`skprune.compact` turns the result into a
        smaller dense net.
    compensation : {"auto", "least_squares", "layer_least_squares", "none"}, \
default="auto"
        How the removed weights are compensated. ``"auto"``: the method's own
        bias shifts (``"compensated"``, ``"nonlinear"``, a callable returning
        compensations), none for the others. ``"least_squares"``: after the
        mask is chosen, each neuron's kept weights and bias are refitted by
        least squares weighted by the output sensitivity G (EC's objective),
        layer by layer from the input, on the pruned net's own inputs and the
        scoring rows (see :func:`skprune.compensation.least_squares_refit`).
        ``"layer_least_squares"``: the same with G ≡ 1 (each layer's own
        squared error; cheaper). Both work with every method and ``scope``;
        the method's own compensations are then not used (they are still
        stored in ``compensations_``). ``"none"``: no compensation at all.
        Ignored by ``"fully_connected"``.
    n_rounds : int, default=1
        Prune in this many rounds. After round k of n the ratio is
        ``1 − (1 − prune_ratio)^(k/n)`` (each round removes the same share of
        the weights still kept); every round re-scores the current pruned
        net, removes more weights (pruned ones stay pruned), compensates
        against the net as it was before that round and fine-tunes its share
        of ``fine_tune_epochs``. Ignored by ``"fully_connected"``.

    Attributes
    ----------
    estimator_ : MLPClassifier or MLPRegressor
        The pruned, fine-tuned network.
    dense_estimator_ : MLPClassifier or MLPRegressor
        The dense network before pruning.
    importances_ : list of ndarray or None
        Importance of every weight, shaped like ``coefs_``, as the method
        scored them in the last round (None for ``"fully_connected"``); with
        ``granularity="neuron"``, the score of every hidden neuron, one array
        per hidden layer.
    compensations_ : list of ndarray or None
        Bias shift of neuron ``i`` when weight ``coefs_[l][j, i]`` is removed,
        as the method returned it in the last round, shaped like ``coefs_``
        (None where the method has none); applied only with
        ``compensation="auto"``.
    masks_ : list of ndarray of bool
        True where a weight is kept, shaped like ``estimator_.coefs_``.
    n_weights_ : int
        Weights of the dense network.
    n_pruned_ : int
        Weights removed.
    sparsity_ : float
        ``n_pruned_ / n_weights_``.
    feature_importances_ : ndarray of shape (n_features_in_,) or None
        Summed importance of each input's outgoing weights (None for
        ``"fully_connected"`` and ``granularity="neuron"``).
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input column names, when X had string column names.
    timings_ : dict
        Seconds spent fitting the dense net, scoring, compensating and
        fine-tuning (summed over the rounds).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skprune import CompensatedPruner, MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> mlp = MLPClassifier((32,), max_iter=30, random_state=0)
    >>> pruner = CompensatedPruner(mlp, prune_ratio=0.5, fine_tune_epochs=5)
    >>> pruner = pruner.fit(X / 16, y)
    >>> pruner.n_pruned_, pruner.n_weights_
    (1184, 2368)
    >>> bool(pruner.score(X / 16, y) > 0.9)
    True
    """

    # Expected failures of scikit-learn's common checks: those of the MLPs.
    _xfail_checks = MLPClassifier._xfail_checks

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "prune_ratio": [Interval(Real, 0, 1, closed="left")],
        "method": [StrOptions(METHOD_NAMES), callable],
        "scope": [StrOptions({"global", "layer"})],
        "fine_tune_epochs": [Interval(Integral, 0, None, closed="left")],
        "max_samples": [Interval(Integral, 1, None, closed="left"), None],
        "memory": [None, str, HasMethods(["cache"])],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "granularity": [StrOptions({"weight", "neuron"})],
        "compensation": [StrOptions(set(COMPENSATIONS))],
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimator,
        *,
        prune_ratio=0.5,
        method="compensated",
        scope="global",
        fine_tune_epochs=10,
        max_samples=None,
        memory=None,
        random_state=None,
        verbose=False,
        granularity="weight",
        compensation="auto",
        n_rounds=1,
    ):
        self.estimator = estimator
        self.prune_ratio = prune_ratio
        self.method = method
        self.scope = scope
        self.fine_tune_epochs = fine_tune_epochs
        self.max_samples = max_samples
        self.memory = memory
        self.random_state = random_state
        self.verbose = verbose
        self.granularity = granularity
        self.compensation = compensation
        self.n_rounds = n_rounds

    # -------------------------------------------------------------------- fit

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit the dense net, prune it and fine-tune it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        **fit_params : dict
            Passed to the MLP's ``fit`` (e.g. ``sample_weight``); with
            metadata routing enabled, routed as requested by the MLP.

        Returns
        -------
        self : CompensatedPruner
        """
        state = dict(self.__dict__)
        try:
            return self._fit(X, y, **fit_params)
        except BaseException:
            # A failed fit leaves a previously fitted pruner as it was.
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _fit(self, X, y, **fit_params):
        self._check_integer_params()
        mlp, frozen = _unwrap(self.estimator)
        with numeric_input(X):
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse=False,
                multi_output=True,
                dtype=[np.float64, np.float32],
            )
        mlp_params = self._mlp_fit_params(fit_params)
        rng = check_random_state(self.random_state)
        self.timings_ = {}
        with self._timer("dense"):
            self.dense_estimator_ = self._dense_fit(mlp, frozen, X, y, mlp_params)
        if self.method == "fully_connected":
            return self._fit_fully_connected(mlp, X, y, mlp_params)
        X_score, y_score = scoring_rows(X, y, self.max_samples, rng)
        self.estimator_ = copy.deepcopy(self.dense_estimator_)
        masks = [
            np.ones(tuple(c.shape), dtype=bool)
            for c in network_params(self.estimator_)["coefs"]
        ]
        epochs = round_epochs(self.fine_tune_epochs, self.n_rounds)
        for ratio, n_epochs in zip(
            round_ratios(self.prune_ratio, self.n_rounds), epochs
        ):
            masks = self._prune_round(X_score, y_score, rng, masks, ratio)
            with self._timer("fine_tuning"):
                if n_epochs:
                    self.estimator_.fine_tune(X, y, epochs=n_epochs, **mlp_params)
        self.masks_ = masks
        self.n_weights_ = int(sum(m.size for m in masks))
        self.n_pruned_ = int(sum(m.size - m.sum() for m in masks))
        self.sparsity_ = self.n_pruned_ / self.n_weights_
        self.feature_importances_ = (
            self.importances_[0].sum(axis=1) if self.granularity == "weight" else None
        )
        return self

    def _check_integer_params(self):
        """Reject bools, which pass the Integral constraints."""
        expected = {
            "max_samples": "an int in the range [1, inf) or None",
            "n_rounds": "an int in the range [1, inf)",
        }
        for name, allowed in expected.items():
            value = getattr(self, name)
            if isinstance(value, bool):
                raise InvalidParameterError(
                    f"The {name!r} parameter of CompensatedPruner must be {allowed}, "
                    f"not a bool. Got {value!r} instead."
                )

    def _prune_round(self, X, y, rng, masks, ratio):
        """Score the current net, prune it to ``ratio`` and compensate."""
        with _scoring_threads(self.estimator_, len(X)):
            with self._timer("scoring"):
                importances, compensations, new_masks = self._score_and_mask(
                    self.estimator_, X, y, rng, masks, ratio
                )
            self.importances_, self.compensations_ = importances, compensations
            with self._timer("compensation"):
                self._compensate(X, compensations, masks, new_masks)
        return new_masks

    def _compensate(self, X, compensations, old_masks, masks):
        """Compensate the weights pruned by ``masks`` and hold the masks."""
        net = self.estimator_
        if self.compensation in ("least_squares", "layer_least_squares"):
            net.coefs_, net.intercepts_ = least_squares_refit(
                **network_params(net),
                X=X,
                masks=masks,
                weighted=self.compensation == "least_squares",
            )
        elif self.compensation == "auto":
            newly = [m | ~old for m, old in zip(masks, old_masks)]
            net.intercepts_ = compensated_intercepts(
                net.intercepts_, compensations, newly
            )
        net.set_masks(masks)

    def _mlp_fit_params(self, fit_params):
        if _routing_enabled():
            return dict(process_routing(self, "fit", **fit_params).estimator.fit)
        return fit_params

    def _dense_fit(self, mlp, frozen, X, y, fit_params):
        if frozen:
            check_is_fitted(mlp)
            return mlp
        fit = check_memory(self.memory).cache(_fit_dense)
        return fit(clone(mlp), X, y, fit_params)

    def _score_and_mask(self, net, X, y, rng, masks, ratio):
        """Importances, compensations and masks of this fit's granularity.

        Weights (or neurons) pruned in an earlier round stay pruned.
        """
        if self.granularity == "weight":
            importances, compensations = self._score(net, X, y, rng)
            ranked = _keep_pruned(importances, masks)
            return importances, compensations, prune_masks(ranked, ratio, self.scope)
        scored = self._neuron_scores(net, X, y, rng)
        importances, compensations, new = neuron_pruning(net, scored, ratio, self.scope)
        return importances, compensations, [a & b for a, b in zip(new, masks)]

    def _neuron_scores(self, net, X, y, rng):
        """Per-neuron scores and next-layer bias shifts (None without)."""
        if self.method == "compensated":
            return neuron_compensated_importance(**network_params(net), X=X)
        if self.method == "magnitude":
            return neuron_magnitude(network_params(net)["coefs"]), None
        if self.method == "random":
            return [rng.random_sample(n) for n in net.hidden_layer_sizes_], None
        weights, _ = score_weights(net, X, y, method=self.method, random_state=rng)
        return neuron_scores_from_weights(weights), None

    def _score(self, net, X, y, rng):
        output = call_scorer(get_scorer(self.method), net, X, y, random_state=rng)
        return check_scorer_output(output, net)

    def _fit_fully_connected(self, mlp, X, y, fit_params):
        dense = self.dense_estimator_
        units = (dense.n_features_in_, *dense.hidden_layer_sizes_, dense.n_outputs_)
        self.n_weights_ = n_weights_of(units)
        target = self.n_weights_ - int(round(self.prune_ratio * self.n_weights_))
        widths = shrunk_widths(units, target)
        budget = dense.n_iter_ + self.fine_tune_epochs
        small = clone(mlp).set_params(
            hidden_layer_sizes=widths, max_iter=budget, warm_start=False
        )
        with self._timer("fine_tuning"):
            self.estimator_ = small.fit(X, y, **fit_params)
        self.n_pruned_ = self.n_weights_ - n_weights_of((units[0], *widths, units[-1]))
        self.sparsity_ = self.n_pruned_ / self.n_weights_
        self.masks_ = [np.ones(c.shape, dtype=bool) for c in self.estimator_.coefs_]
        self.importances_ = self.compensations_ = self.feature_importances_ = None
        return self

    def _timer(self, stage):
        return _Timer(self, stage)

    # ------------------------------------------------------------ delegation

    def _checked(self, X):
        """X checked against the fit's features (count and names, as any
        scikit-learn estimator), as the array the MLP was fitted on."""
        check_is_fitted(self)
        with numeric_input(X):
            return validate_data(
                self,
                X,
                reset=False,
                accept_sparse=["csr", "csc"],
                dtype=[np.float64, np.float32],
            )

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the pruned network."""
        X = self._checked(X)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the pruned network."""
        X = self._checked(X)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the pruned network."""
        X = self._checked(X)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the pruned network."""
        X = self._checked(X)
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """The pruned network's score (accuracy or R²) on ``(X, y)``."""
        X = self._checked(X)
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    @property
    def classes_(self):
        """Class labels of the pruned classifier."""
        check_is_fitted(self)
        return self.estimator_.classes_

    # -------------------------------------------------------------- selector

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.masks_[0].any(axis=1)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimator_")

    # ----------------------------------------------------------- sklearn API

    def get_metadata_routing(self):
        """Route ``fit`` parameters (e.g. ``sample_weight``) to the MLP."""
        return MetadataRouter(owner=self.__class__.__name__).add(
            estimator=self.estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.target_tags = inner.target_tags
        tags.target_tags.required = True
        tags.input_tags.sparse = False
        return tags


class _Timer:
    """Record the seconds of one stage in ``pruner.timings_``."""

    def __init__(self, pruner, stage):
        self.pruner, self.stage = pruner, stage

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        seconds = time.perf_counter() - self.start
        timings = self.pruner.timings_
        timings[self.stage] = timings.get(self.stage, 0.0) + seconds
        if self.pruner.verbose:
            print(f"[CompensatedPruner] {self.stage}: {seconds:.3f} s")


__all__ = ["CompensatedPruner"]
