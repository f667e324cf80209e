"""A content-addressed store of raw encoder features: each distinct frame is encoded once.

Many pixel environments show the same frames again and again (a grid world has a few thousand;
MiniGrid and Atari repeat many). ``FrameStore`` maps a frame's key — a 16-byte hash of its
bytes, shape and dtype, seeded by the reader's digest — to the frame's raw features
(the pooled, concatenated taps before any normalisation), least recently used entries evicted
beyond a memory budget. ``reader_digest`` condenses everything that decides a frame's raw
features (encoder weights and buffers, preprocessing, taps, pooling, input scaling and layout,
device), so readers that differ never share an entry.

Exactness: a conv net's float output for a frame can depend on how many frames share its batch
(BLAS/oneDNN pick other kernels for other shapes). ``encode_each`` therefore encodes every frame
on its own, in a batch of one: a frame's features are then a function of its bytes alone,
whichever batch, step, env copy or eviction brought it, and equal bit for bit to encoding every
frame that way without a store.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rltransfer.vision.features import FeatureReader

try:  # xxHash (installed with wandb) hashes a frame ~30x faster than BLAKE2b; either will do
    import xxhash
except ImportError:
    xxhash = None

MB = 2**20
"""Bytes in one MB of ``policy.cache_memory_mb``."""
KEY_BYTES = 16
INDEX_BYTES = 100
"""An estimate of the Python index's own cost per entry (its ``OrderedDict`` slot and key
object), counted in the budget with the feature row and the key."""
FIRST_ROWS = 1024
"""Rows allocated at first; the row table doubles as it fills, up to the budget."""


def _tensor_bytes(t: torch.Tensor) -> bytes:
    """The raw bytes of ``t`` in standard (contiguous) layout, for any dtype (bf16 too)."""
    flat = t.detach().cpu().contiguous().reshape(-1)
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    return flat.view(torch.uint8).numpy().tobytes()


def reader_digest(reader: FeatureReader, *, scale: bool, transpose: bool, device: Any) -> bytes:
    """A 16-byte BLAKE2b digest of what decides a frame's raw features under ``reader``: the
    encoder's name, kwargs, input shape, preprocessing, autocast and layout flags, every tensor
    of its state (weights and buffers), the taps and pooling, the input scaling (uint8 / 255)
    and transpose (channel-last → first), the device, and the torch version. The running
    statistics of ``standardize``/``discretize`` are not in it: they act after the store."""
    enc = reader.encoder
    config = {
        "encoder": enc.name,
        "kwargs": enc.kwargs,
        "in_shape": list(enc.in_shape),
        "preprocess": enc.preprocess.to_dict(),
        "autocast": enc.autocast,
        "channels_last": enc.channels_last,
        "taps": reader.taps,
        "pool": reader.pool_how,
        "dims": reader.dims,
        "scale": scale,
        "transpose": transpose,
        "device": str(torch.device(device)),
        "torch": torch.__version__,
    }
    h = hashlib.blake2b(digest_size=KEY_BYTES)
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    for name, t in enc.state_dict().items():
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(_tensor_bytes(t))
    return h.digest()


def frame_keys(frames: np.ndarray, salt: bytes) -> list[bytes]:
    """One 16-byte key per frame of ``frames`` (N, *obs_shape): a hash of the frame's bytes,
    seeded by ``salt`` (a ``reader_digest``) and the frames' shape and dtype. XXH3-128 when
    ``xxhash`` is installed, else BLAKE2b (keys live in memory only, so either is fine)."""
    frames = np.ascontiguousarray(frames)
    head = f"{frames.shape[1:]}:{frames.dtype.str}".encode()
    if xxhash is not None:
        seed = int.from_bytes(hashlib.blake2b(head, digest_size=8, key=salt).digest(), "little")
        return [xxhash.xxh3_128_digest(f.data, seed) for f in frames]
    keys = []
    for f in frames:
        h = hashlib.blake2b(head, digest_size=KEY_BYTES, key=salt)
        h.update(f.data)
        keys.append(h.digest())
    return keys


class FrameStore:
    """An LRU map from frame keys to raw feature rows (``dim`` float32 each), holding at most
    ``max_bytes`` (each entry costs ``dim * 4 + KEY_BYTES + INDEX_BYTES`` bytes). ``max_bytes``
    below one entry keeps nothing: every lookup is a miss. One store may serve several
    wrappers (the training env and its evaluation env); its counters are theirs together.

    Counters: ``hits`` (frames found, including repeats within one batch), ``misses`` (frames
    encoded), ``evictions``; ``entries`` and ``bytes`` now held."""

    def __init__(self, dim: int, max_bytes: int):
        if dim < 1 or max_bytes < 0:
            raise ValueError(f"need dim >= 1 and max_bytes >= 0, got {dim} and {max_bytes}")
        self.dim = int(dim)
        self.max_bytes = int(max_bytes)
        self.entry_bytes = self.dim * 4 + KEY_BYTES + INDEX_BYTES
        self.capacity = self.max_bytes // self.entry_bytes
        self._rows = np.empty((min(self.capacity, FIRST_ROWS), self.dim), np.float32)
        self._slots: OrderedDict[bytes, int] = OrderedDict()
        self.hits = self.misses = self.evictions = 0

    def __len__(self) -> int:
        return len(self._slots)

    def features(
        self, keys: list[bytes], frames: np.ndarray, encode: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """Raw features (N, dim) float32 of ``frames`` (N, ...) with keys ``keys``: stored rows
        where present, else ``encode(frames[missing])`` → (M, dim), each distinct missing frame
        encoded once and stored (evicting the least recently used entries)."""
        out = np.empty((len(keys), self.dim), np.float32)
        first: dict[bytes, int] = {}  # a missing key → its first index in this batch
        for i, k in enumerate(keys):
            slot = self._slots.get(k)
            if slot is not None:
                self._slots.move_to_end(k)
                out[i] = self._rows[slot]
            elif k not in first:
                first[k] = i
        if first:
            idx = list(first.values())
            rows = np.asarray(encode(frames[idx]), np.float32).reshape(len(idx), self.dim)
            out[idx] = rows
            for k, row in zip(first, rows, strict=True):
                self._put(k, row)
        for i, k in enumerate(keys):  # repeats of a frame missing earlier in this batch
            j = first.get(k)
            if j is not None and j != i:
                out[i] = out[j]
        self.misses += len(first)
        self.hits += len(keys) - len(first)
        return out

    def count_encoded(self, n: int) -> None:
        """Count ``n`` frames encoded without a lookup (a wrapper with no store)."""
        self.misses += int(n)

    def _put(self, key: bytes, row: np.ndarray) -> None:
        if self.capacity == 0:
            return
        if len(self._slots) < self.capacity:
            slot = len(self._slots)
            if slot == len(self._rows):
                grown = np.empty((min(2 * slot, self.capacity), self.dim), np.float32)
                grown[:slot] = self._rows
                self._rows = grown
        else:
            _, slot = self._slots.popitem(last=False)
            self.evictions += 1
        self._rows[slot] = row
        self._slots[key] = slot

    def stats(self) -> dict[str, Any]:
        """``hits``, ``misses``, ``evictions``, ``entries``, ``bytes`` (held now, by the
        per-entry cost above), ``max_bytes``, ``hit_rate`` (hits / lookups; 0.0 before any)."""
        looked = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
            "entries": len(self._slots),
            "bytes": len(self._slots) * self.entry_bytes,
            "max_bytes": self.max_bytes,
            "hit_rate": self.hits / looked if looked else 0.0,
        }
