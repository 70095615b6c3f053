"""solver="lbfgs": scipy's L-BFGS-B (as scikit-learn) against torch's LBFGS.

Both optimise the same skprune network from the same initial weights on the
whole training set, with scikit-learn's limits (``max_iter`` iterations,
``max_fun`` loss evaluations, gradient tolerance ``tol``): scipy's L-BFGS-B
on a float64 copy of the network (what ``solver="lbfgs"`` runs), and
``torch.optim.LBFGS`` with a strong-Wolfe line search, in float32 and in
float64. scikit-learn's own MLP is timed alongside. Prints, per problem,
the final training loss (the objective both minimise, penalty included),
the training score and the minimum wall-clock seconds over ``--repeat``
interleaved runs.

One thread per library by default (``--threads``): on a shared machine,
threads spinning against each other make small full-batch problems many
times slower, for both libraries.

    python benchmarks/lbfgs_choice.py [--repeat 3] [--threads 1]
"""

import argparse
import copy
import time
import warnings

import numpy as np
import torch
from _common import machine
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnClassifier
from sklearn.neural_network import MLPRegressor as SklearnRegressor
from sklearn.preprocessing import MinMaxScaler, scale
from threadpoolctl import threadpool_limits

from skprune import MLPClassifier, MLPRegressor
from skprune._torch.solvers import _FullBatchLoss


def problems():
    X, y = load_digits(return_X_y=True)
    X = MinMaxScaler().fit_transform(X)
    X_reg, y_reg = make_regression(
        n_samples=200, n_features=10, bias=20.0, noise=100.0, random_state=7
    )
    settings = dict(hidden_layer_sizes=(50,), max_iter=200, random_state=1)
    return {
        "digits 10 classes, 1797 rows": (
            MLPClassifier,
            SklearnClassifier,
            X,
            y,
            settings,
        ),
        "regression 200 rows": (
            MLPRegressor,
            SklearnRegressor,
            X_reg,
            scale(y_reg),
            settings,
        ),
    }


def torch_lbfgs(estimator, X, y, dtype, settings):
    """Refit ``estimator``'s net from its weights with torch's LBFGS."""
    net = estimator.net_
    train = estimator._to_tensor_data(
        X,
        estimator._encode(y)
        if hasattr(estimator, "_encode")
        else y.reshape(-1, 1).astype(np.float32),
    )
    objective = _FullBatchLoss(net, train)
    module = objective.module.to(dtype)
    X_t = objective.X.to(dtype)
    y_t = objective.y if objective.y.dtype == torch.int64 else objective.y.to(dtype)
    optimizer = torch.optim.LBFGS(
        [p for p in module.parameters()],
        max_iter=settings["max_iter"],
        max_eval=settings.get("max_fun", 15000),
        tolerance_grad=settings.get("tol", 1e-4),
        tolerance_change=0,
        history_size=10,
        line_search_fn="strong_wolfe",
    )

    def objective():
        losses = net.criterion_(module(X_t), y_t)
        penalty = sum(layer.weight.square().sum() for layer in module.layers)
        return (losses.sum() + 0.5 * net.alpha * penalty) / len(X_t)

    def closure():
        optimizer.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float(objective()), module


def fit_all(ours_cls, theirs_cls, X, y, settings):
    """Seconds and final loss of each way, from the same initial weights."""
    results = {}
    start = time.perf_counter()
    ours = ours_cls(solver="lbfgs", **settings).fit(X, y)
    results["scipy L-BFGS-B, float64 (skprune)"] = (
        time.perf_counter() - start,
        ours.loss_,
        ours.score(X, y),
    )
    for dtype in (torch.float32, torch.float64):
        initial = ours_cls(solver="lbfgs", **{**settings, "max_iter": 1, "max_fun": 1})
        initial.fit(X, y)
        init_net = copy.deepcopy(initial)
        start = time.perf_counter()
        loss, module = torch_lbfgs(init_net, X, y, dtype, settings)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            for target, source in zip(
                init_net.net_.module_.parameters(), module.parameters()
            ):
                target.copy_(source)
        results[f"torch LBFGS, {str(dtype)[6:]}"] = (
            seconds,
            loss,
            init_net.score(X, y),
        )
    start = time.perf_counter()
    theirs = theirs_cls(solver="lbfgs", **settings).fit(X, y)
    results["scikit-learn"] = (
        time.perf_counter() - start,
        theirs.loss_,
        theirs.score(X, y),
    )
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"machine: {machine()}")
    for name, (ours_cls, theirs_cls, X, y, settings) in problems().items():
        runs = [
            fit_all(ours_cls, theirs_cls, X, y, settings) for _ in range(args.repeat)
        ]
        print(
            f"\n{name}, hidden (50,), max_iter=200, tol=1e-4; min seconds of {args.repeat}"
        )
        print("| way | seconds | final loss | training score |")
        print("|---|---:|---:|---:|")
        for way in runs[0]:
            seconds = min(run[way][0] for run in runs)
            _, loss, score = runs[0][way]
            print(f"| {way} | {seconds:.3f} | {loss:.6g} | {score:.4f} |")


if __name__ == "__main__":
    main()
