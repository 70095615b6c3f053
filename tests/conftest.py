"""Test-suite settings.

Each pytest-xdist worker trains its own small networks: one intra-op thread
per worker keeps two workers from oversubscribing two cores (spinning
OpenMP threads slow small networks down many times over).
"""

import os

import numpy as np
import pytest
import torch


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)


# ------------------------------------------------------ transfers off the device

HOST_READS = ("cpu", "numpy", "item", "tolist", "__bool__", "__float__", "__int__")
"""Tensor methods that bring data to the host (on a GPU: a copy and a sync)."""

UPLOADS = ("as_tensor", "tensor", "from_numpy")
"""torch functions that turn host data into a tensor."""


class TransferLog:
    """What crossed between the host and torch while the log was recording.

    ``reads``: (method, shape, dtype) of every tensor brought to the host
    (``HOST_READS``); ``moves``: (shape, from, to) of every ``.to``/``.cuda``
    that changed a tensor's device; ``uploads``: (function, shape, device) of
    host data made into a tensor (``device`` None where none was named).
    """

    def __init__(self):
        self.reads, self.moves, self.uploads = [], [], []
        self.recording = False

    def __enter__(self):
        """Start a new recording (the previous one is forgotten)."""
        self.reads, self.moves, self.uploads = [], [], []
        self.recording = True
        return self

    def __exit__(self, *exc):
        self.recording = False

    def row_shaped(self, entries, row_counts):
        """The entries whose tensor has a first axis of one of ``row_counts``."""
        return [e for e in entries if len(e[1]) and e[1][0] in row_counts]

    def assert_on_device(self, device, row_counts, weight_shapes):
        """Nothing left ``device``; rows landed there directly and were never
        read back; weights were read on the host only as float64 results."""
        assert [m for m in self.moves if not _same_device(m[2], device)] == []
        rows = self.row_shaped(self.uploads, row_counts)
        assert all(u[0] != "from_numpy" and _same_device(u[2], device) for u in rows)
        assert self.row_shaped(self.reads, row_counts) == []
        weights = [r for r in self.reads if r[1] in weight_shapes]
        assert all(r[2] == torch.float64 for r in weights), weights


def _same_device(a, b) -> bool:
    """``a`` and ``b`` are one device (``cuda`` and ``cuda:0`` are)."""
    if a is None or b is None or a.type != b.type:
        return False
    return a.index is None or b.index is None or a.index == b.index


@pytest.fixture
def transfers(monkeypatch):
    """A :class:`TransferLog` of the tensor methods and functions that move data."""
    log = TransferLog()

    def read(name, original):
        def method(self, *args, **kwargs):
            if log.recording:
                log.reads.append((name, tuple(self.shape), self.dtype))
            return original(self, *args, **kwargs)

        return method

    def move(original, parse):
        def method(self, *args, **kwargs):
            target = parse(self, *args, **kwargs)
            if log.recording and target is not None and target != self.device:
                log.moves.append((tuple(self.shape), self.device, target))
            return original(self, *args, **kwargs)

        return method

    def upload(name, original):
        def function(data, *args, **kwargs):
            if log.recording and not isinstance(data, torch.Tensor):
                device = kwargs.get("device")
                device = None if device is None else torch.device(device)
                log.uploads.append((name, tuple(np.shape(data)), device))
            return original(data, *args, **kwargs)

        return function

    def to_target(self, *args, **kwargs):
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        return None if device is None else torch.device(device)

    def cuda_target(self, device=None, *args, **kwargs):
        return torch.device("cuda" if device is None else device)

    for name in HOST_READS:
        monkeypatch.setattr(torch.Tensor, name, read(name, getattr(torch.Tensor, name)))
    monkeypatch.setattr(torch.Tensor, "to", move(torch.Tensor.to, to_target))
    monkeypatch.setattr(torch.Tensor, "cuda", move(torch.Tensor.cuda, cuda_target))
    for name in UPLOADS:
        monkeypatch.setattr(torch, name, upload(name, getattr(torch, name)))
    return log


@pytest.fixture(params=["numpy", "torch"])
def converter(request, monkeypatch):
    """Prediction input converted by numpy's cache-sized blocks or by torch
    (which large inputs take), whatever the input's size."""
    from skprune import _mlp

    threshold = 0 if request.param == "torch" else np.iinfo(np.int64).max
    monkeypatch.setattr(_mlp, "TORCH_CONVERT_BYTES", threshold)
    return request.param
