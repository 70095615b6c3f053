"""Features, targets and sample weights as tensors, and their mini-batches."""

from __future__ import annotations

import math

import numpy as np
import torch


def _take(tensor, index):
    if tensor is None:
        return None
    if isinstance(index, torch.Tensor):
        return torch.index_select(tensor, 0, index)
    return tensor[index]


class TensorData(torch.utils.data.Dataset):
    """Features, encoded targets and sample weights as tensors on one device.

    Batches are ``(X, (y, sample_weight))``; ``y`` and ``sample_weight`` may be
    None (prediction, unweighted training).
    """

    def __init__(self, X, y=None, sample_weight=None):
        self.X = X
        self.y = y
        self.sample_weight = sample_weight

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        return _take(self.X, index), (
            _take(self.y, index),
            _take(self.sample_weight, index),
        )

    def take(self, index):
        """The rows ``index`` (slice or index tensor) as a new TensorData."""
        return TensorData(
            _take(self.X, index), _take(self.y, index), _take(self.sample_weight, index)
        )


class BatchIterator:
    """Mini-batches sliced from a :class:`TensorData`, optionally shuffled.

    ``random_state`` is a numpy ``RandomState`` owned by the estimator, so the
    permutation sequence continues across ``partial_fit`` calls and no global
    random state is touched. Any other dataset falls back to a DataLoader.
    """

    def __init__(self, dataset, batch_size=200, shuffle=False, random_state=None):
        if isinstance(dataset, torch.utils.data.Subset) and isinstance(
            dataset.dataset, TensorData
        ):
            dataset = dataset.dataset.take(torch.as_tensor(dataset.indices))
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.random_state = random_state

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        data = self.dataset
        if not isinstance(data, TensorData):
            yield from torch.utils.data.DataLoader(
                data, batch_size=self.batch_size, shuffle=self.shuffle
            )
            return
        n = len(data)
        if not self.shuffle:
            for start in range(0, n, self.batch_size):
                yield data[start : start + self.batch_size]
            return
        rng = self.random_state or np.random.mtrand._rand
        order = torch.from_numpy(rng.permutation(n)).to(data.X.device)
        # Gathering batch by batch is much faster than permuting all rows
        # at once (the gathered block stays in cache).
        for start in range(0, n, self.batch_size):
            yield data[order[start : start + self.batch_size]]
