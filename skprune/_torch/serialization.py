"""Pickling of CPU tensor storages as raw bytes (no ``torch.save`` per storage)."""

from __future__ import annotations

import io
import pickle
import sys

import torch

CPU_TORCH_STATE = "__skprune_cpu_torch_state__"


def on_cpu(device):
    """Whether a net with this ``device`` setting keeps its tensors on the CPU."""
    return device is None or torch.device(device).type == "cpu"


class _StoragePickler(pickle.Pickler):
    """Pickles each CPU tensor storage once, as its raw bytes and dtype.

    This is what ``torch.save`` does inside its archive, without an archive
    per storage. Storages on other devices are pickled the usual way.
    """

    def __init__(self, file):
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self._index = {}

    def persistent_id(self, obj):
        if not isinstance(obj, torch.storage.TypedStorage):
            return None
        untyped = obj._untyped_storage
        if untyped.device.type != "cpu":
            return None
        key = untyped._cdata
        if key in self._index:  # shared by several tensors: saved once
            return ("storage", self._index[key], obj.dtype, None)
        self._index[key] = index = len(self._index)
        raw = torch.empty(0, dtype=torch.uint8).set_(untyped).numpy().tobytes()
        return ("storage", index, obj.dtype, raw)


class _StorageUnpickler(pickle.Unpickler):
    """Loads what :class:`_StoragePickler` wrote, every tensor on the CPU.

    Raw storage bytes are copied into fresh storages (no code is run); a
    storage pickled the usual way (it was on another device) goes through
    ``torch.load(weights_only=True)`` onto the CPU, as skorch loads it.
    """

    def __init__(self, file):
        super().__init__(file)
        self._storages = {}

    def persistent_load(self, pid):
        kind, index, dtype, raw = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        if raw is not None:
            self._storages[index] = (
                torch.frombuffer(bytearray(raw), dtype=torch.uint8).untyped_storage()
                if raw
                else torch.UntypedStorage(0)
            )
        return torch.storage.TypedStorage(
            wrap_storage=self._storages[index], dtype=dtype, _internal=True
        )

    def find_class(self, module, name):
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _load_storage_on_cpu
        return super().find_class(module, name)


def _load_storage_on_cpu(data):
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def dump_cpu_storages(obj):
    buffer = io.BytesIO()
    _StoragePickler(buffer).dump(obj)
    return sys.byteorder, buffer.getvalue()


def load_cpu_storages(packed):
    byteorder, data = packed
    if byteorder != sys.byteorder:
        raise pickle.UnpicklingError(
            f"This net's tensors were pickled on a {byteorder}-endian machine and "
            f"cannot be loaded on this {sys.byteorder}-endian one; move the net to "
            "the target machine's byte order with torch.save / torch.load of "
            "net_.module_.state_dict() instead."
        )
    return _StorageUnpickler(io.BytesIO(data)).load()
