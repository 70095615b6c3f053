"""Training and scoring speed on a GPU: skprune against plain torch loops.

From the same host float32 arrays (random rows of MNIST's shape, 784
features in [0, 1) and 10 classes, not MNIST itself: only the speed is
measured), ``--epochs`` epochs of Adam (learning rate 1e-3, L2 ``alpha`` =
1e-4 as scikit-learn's, relu, shuffled batches) for two nets, each timed from
the host arrays to the trained model, transfers included:

(a) skprune's ``MLPClassifier(..., device=DEVICE, max_iter=EPOCHS, tol=0,
    early_stopping=False, shuffle=True).fit(X, y)``, the same with a
    callback that listens on every batch (the net then runs skorch's loop,
    which reads each batch's loss back as the batch ends), and the same with
    ``net_params={"cuda_graph": True}`` (full batches stepped by replaying
    the net's own step captured as a CUDA graph; on CUDA it is first checked
    against the fit without it);
(b) a plain torch loop: the data moved to the device once, a random
    permutation per epoch, one ``index_select``, forward, autograd backward
    and ``torch.optim.Adam`` step per batch, the losses read back once per
    epoch;
(c) the same step captured once as a CUDA graph (static input buffers,
    three warm-up steps on a side stream, ``torch.optim.Adam(capturable=True)``,
    the short last batch of an epoch stepped eagerly): CUDA only.

and (d) the time of :func:`skprune.importance.compensated` on the rows for the
784-1024-1024-10 net fitted in (a). On CUDA, the graph loop is first checked
against the plain loop (same initial weights and batches, two epochs on a
few thousand rows: the largest parameter difference is printed, with
"MISMATCH" above 1e-4). Each loop is run once to warm up, then
``--repeat`` times in alternating order; the table gives minimum and median
seconds, and the ratios of the minima ours / graph loop (goal on an
H200-class GPU: <= 1.3 for both nets) and the scoring time (goal: <= 0.1 s).
``--quick`` runs 2,048 rows, one epoch, once, without warm-up: a check
that the script runs (a test runs it on the CPU), not a measurement.

    python benchmarks/gpu_speed.py [--device cuda] [--rows 60000]
        [--epochs 3] [--repeat 5] [--quick]
"""

import argparse
import math
import os
import time
import warnings

import numpy as np
import torch
from _common import machine
from loss_readback import PerBatchListener
from sklearn.exceptions import ConvergenceWarning
from torch import nn
from torch.nn import functional as F

from skprune import MLPClassifier
from skprune.importance import compensated

RUNS = (((300, 100), 200), ((1024, 1024), 2048))
"""(hidden layer sizes, batch size) of the two nets (784 inputs, 10 classes)."""
SCORED_RUN = 1  # the run whose fitted model is scored: 784-1024-1024-10
N_FEATURES, N_CLASSES = 784, 10
LEARNING_RATE, ALPHA = 1e-3, 1e-4
WARMUP_STEPS = 3  # eager steps on a side stream before the capture
GOAL_RATIO, GOAL_SCORING_S = 1.3, 0.1
GRAPH = "CUDA-graph loop"
OURS_GRAPHED = "skprune, cuda_graph"
GRAPH_TOLERANCE = 1e-4  # largest parameter difference from the plain loop


def random_mnist_shaped(rows, seed=0):
    """Random float32 rows of MNIST's shape and int64 labels (not MNIST)."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(size=(rows, N_FEATURES)).astype(np.float32)
    return X, rng.randint(N_CLASSES, size=rows).astype(np.int64)


def fit_skprune(X, y, hidden, batch, epochs, device, per_batch=False, graphed=False):
    """(a) skprune's MLPClassifier for ``epochs`` epochs; the fitted model.

    ``per_batch``: with a callback listening on every batch, so that the net
    runs skorch's loop, which reads each batch's loss back as it ends.
    ``graphed``: with ``net_params={"cuda_graph": True}`` (full batches
    stepped by replaying the step captured as a CUDA graph).
    """
    clf = MLPClassifier(
        hidden,
        batch_size=batch,
        max_iter=epochs,
        n_iter_no_change=epochs + 1,
        tol=0.0,
        shuffle=True,
        early_stopping=False,
        learning_rate_init=LEARNING_RATE,
        alpha=ALPHA,
        random_state=0,
        device=device,
        callbacks=[("listener", PerBatchListener())] if per_batch else None,
        net_params={"cuda_graph": True} if graphed else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def _module(hidden, device):
    units = (N_FEATURES, *hidden, N_CLASSES)
    layers = []
    for n_in, n_out in zip(units[:-1], units[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).to(device)


def _loss(module, X, y):
    """Mean cross-entropy plus scikit-learn's ``0.5 * alpha * ||W||^2 / n``."""
    weights = [m.weight for m in module if isinstance(m, nn.Linear)]
    penalty = sum(w.square().sum() for w in weights)
    return F.cross_entropy(module(X), y) + 0.5 * ALPHA * penalty / len(y)


def _eager_step(module, optimizer, X, y, set_to_none=True):
    optimizer.zero_grad(set_to_none=set_to_none)
    loss = _loss(module, X, y)
    loss.backward()
    optimizer.step()
    return loss.detach()


class _CapturedStep:
    """One Adam step on static buffers, captured as a CUDA graph after warm-up."""

    def __init__(self, module, optimizer, batch, device):
        self.module, self.optimizer = module, optimizer
        self.x = torch.empty(batch, N_FEATURES, device=device)
        self.y = torch.empty(batch, dtype=torch.long, device=device)
        self.side = torch.cuda.Stream(device)
        self.graph, self.loss, self.steps = None, None, 0

    def __call__(self, X, y, idx):
        torch.index_select(X, 0, idx, out=self.x)
        torch.index_select(y, 0, idx, out=self.y)
        if self.steps < WARMUP_STEPS:  # the warm-up steps train too
            self.steps += 1
            self.side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.side):
                loss = _eager_step(self.module, self.optimizer, self.x, self.y)
            torch.cuda.current_stream().wait_stream(self.side)
            return loss
        if self.graph is None:  # capturing records the step without running it
            self.graph = torch.cuda.CUDAGraph()
            self.optimizer.zero_grad(set_to_none=True)
            with torch.cuda.graph(self.graph):
                self.loss = _loss(self.module, self.x, self.y)
                self.loss.backward()
                self.optimizer.step()
        self.graph.replay()
        return self.loss


def train_loop(X_host, y_host, hidden, batch, epochs, device, captured, seed=None):
    """(b) or, ``captured``, (c); the loss curve and the trained module.

    The data are moved to the device once; each epoch draws a permutation
    on the device, and the losses are read back once per epoch. ``seed``
    fixes the initial weights and the permutations.
    """
    X = torch.as_tensor(X_host, device=device)
    y = torch.as_tensor(y_host, device=device)
    if seed is not None:
        torch.manual_seed(seed)
    generator = None if seed is None else torch.Generator(device).manual_seed(seed)
    module = _module(hidden, device)
    optimizer = torch.optim.Adam(
        module.parameters(), lr=LEARNING_RATE, capturable=captured
    )
    step = _CapturedStep(module, optimizer, batch, device) if captured else None
    n, curve = len(X), []
    for _ in range(epochs):
        perm = torch.randperm(n, device=device, generator=generator)
        losses = torch.empty(math.ceil(n / batch), device=device)
        for k, start in enumerate(range(0, n, batch)):
            idx = perm[start : start + batch]
            if step is not None and len(idx) == batch:
                losses[k] = step(X, y, idx)
            else:  # plain, or the graph loop's short last batch (not captured)
                losses[k] = _eager_step(
                    module, optimizer, X[idx], y[idx], set_to_none=step is None
                )
        curve.append(float(np.mean(losses.tolist())))  # one read per epoch
    return curve, module


def check_graph_loop(X, y, hidden, batch, device, epochs=2):
    """Largest parameter difference, graph loop against plain loop, same start.

    On enough rows for the warm-up, the capture, replays and a short last
    batch; float32 rounding (Adam's capturable update orders its arithmetic
    differently) should be all that separates them.
    """
    rows = min(len(X), batch * (WARMUP_STEPS + 3) + batch // 2)
    trained = [
        train_loop(X[:rows], y[:rows], hidden, batch, epochs, device, captured, 0)[1]
        for captured in (False, True)
    ]
    pairs = zip(trained[0].parameters(), trained[1].parameters())
    return max((a - b).abs().max().item() for a, b in pairs)


def _synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device):
    _synchronize(device)
    start = time.perf_counter()
    result = fn()
    _synchronize(device)
    return time.perf_counter() - start, result


def time_run(X, y, hidden, batch, args):
    """Seconds of each loop (alternating order); the last fitted skprune model.

    Each loop runs once first as a warm-up (CUDA context, kernels, cuBLAS
    handles), except with ``--quick``.
    """
    run = (X, y, hidden, batch, args.epochs, args.device)
    loops = {
        "skprune": lambda: fit_skprune(*run),
        "skprune, losses read per batch": lambda: fit_skprune(*run, per_batch=True),
        OURS_GRAPHED: lambda: fit_skprune(*run, graphed=True),
        "plain torch loop": lambda: train_loop(*run, captured=False),
    }
    if torch.device(args.device).type == "cuda":
        loops[GRAPH] = lambda: train_loop(*run, captured=True)
    results = {}
    if not args.quick:  # warm-up
        results = {name: _timed(fn, args.device)[1] for name, fn in loops.items()}
    times = {name: [] for name in (*loops, GRAPH)}
    for r in range(args.repeat):
        for name in list(loops)[:: 1 if r % 2 == 0 else -1]:
            seconds, results[name] = _timed(loops[name], args.device)
            times[name].append(seconds)
    return times, results["skprune"]


def time_scoring(model, X, y, args):
    """Seconds of ``compensated`` scoring of the rows (after one warm-up)."""
    fn = lambda: compensated(model, X, y)  # noqa: E731
    if not args.quick:  # warm-up
        _timed(fn, args.device)
    return [_timed(fn, args.device)[0] for _ in range(args.repeat)]


def _cell(times):
    if not times:
        return "not available (no CUDA)"
    return f"{min(times):.3f} / {np.median(times):.3f}"


def _ratio(times, ours, theirs):
    if not times[theirs]:
        return "n/a"
    return f"{min(times[ours]) / min(times[theirs]):.2f}"


def _print_run(hidden, batch, times):
    name = "-".join(map(str, (N_FEATURES, *hidden, N_CLASSES)))
    cells = " | ".join(_cell(t) for t in times.values())
    print(
        f"| {name}, batch {batch} | {cells} "
        f"| {_ratio(times, 'skprune', GRAPH)} "
        f"| {_ratio(times, OURS_GRAPHED, GRAPH)} "
        f"| {_ratio(times, 'skprune', 'plain torch loop')} |"
    )


def _print_graph_check(X, y):
    """Check the graph loop against the plain loop before timing it."""
    for hidden, batch in RUNS:
        diff = check_graph_loop(X, y, hidden, batch, "cuda")
        verdict = "ok" if diff <= GRAPH_TOLERANCE else "MISMATCH: do not use"
        print(
            f"graph loop against the plain loop, {hidden}, batch {batch}, same "
            f"start, 2 epochs: largest parameter difference {diff:.2e} ({verdict})"
        )
        rows = min(len(X), 4 * batch + batch // 2)  # full batches and a short one
        fits = [
            fit_skprune(X[:rows], y[:rows], hidden, batch, 2, "cuda", graphed=g)
            for g in (False, True)
        ]
        diff = max(
            float(np.abs(a - b).max()) for a, b in zip(fits[0].coefs_, fits[1].coefs_)
        )
        verdict = "ok" if diff <= GRAPH_TOLERANCE else "MISMATCH: do not use"
        print(
            f"skprune with cuda_graph against without, {hidden}, batch {batch}, "
            f"2 epochs: largest weight difference {diff:.2e} ({verdict})"
        )


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", default=default)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2,048 rows, 1 epoch, 1 repeat, no warm-up (a check that it runs)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.epochs, args.repeat = 2048, 1, 1
    return args


def main(argv=None):
    args = _parse(argv)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(
        f"device: {args.device} ({name}); {args.rows} random MNIST-shaped rows, "
        f"{args.epochs} epochs of Adam; {args.repeat} repeats"
        + (" (no warm-up: not a measurement)" if args.quick else " after a warm-up")
        + ", alternating; min / median seconds, transfers included"
    )
    X, y = random_mnist_shaped(args.rows)
    if device.type == "cuda":
        _print_graph_check(X, y)
    print(
        "| run | skprune | skprune, losses read per batch | skprune, cuda_graph "
        "| plain torch loop | CUDA-graph loop | ours / graph loop "
        "| ours with cuda_graph / graph loop | ours / plain loop |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    ratios, scored = [], None
    for i, (hidden, batch) in enumerate(RUNS):
        times, model = time_run(X, y, hidden, batch, args)
        _print_run(hidden, batch, times)
        ratios.append(
            f"{_ratio(times, 'skprune', GRAPH)} "
            f"(cuda_graph {_ratio(times, OURS_GRAPHED, GRAPH)})"
        )
        scored = model if i == SCORED_RUN else scored
    scoring = time_scoring(scored, X, y, args)
    print(
        f"\ncompensated scoring, {args.rows} rows, 784-1024-1024-10: "
        f"{_cell(scoring)} s (min / median)"
    )
    print(
        f"goals (H200-class GPU): ours / graph loop <= {GOAL_RATIO} for both runs: "
        f"{', '.join(ratios)}; scoring <= {GOAL_SCORING_S} s: {min(scoring):.3f} s"
        + ("" if device.type == "cuda" else " (not a GPU run: goals not assessed)")
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
