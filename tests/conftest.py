"""Test-suite settings.

Each pytest-xdist worker trains its own small networks: one intra-op thread
per worker keeps two workers from oversubscribing two cores (spinning
OpenMP threads slow small networks down many times over).
"""

import os

import torch


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)
