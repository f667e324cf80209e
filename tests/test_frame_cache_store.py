"""The frame store's LRU and counters, the reader digest, and ``policy.cache_memory_mb``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from rltransfer.config.parse import parse_dataclass
from rltransfer.config.spec import DEFAULT_CACHE_MEMORY_MB, PolicySpec
from rltransfer.envs.vision_testing import GridPixelEnv
from rltransfer.errors import UserError
from rltransfer.study import _policy_identity
from rltransfer.validation import load_study
from rltransfer.vision import FeatureVecEnv, frame_cache
from rltransfer.vision.frame_cache import INDEX_BYTES, KEY_BYTES, FrameStore, frame_keys
from rltransfer.vision.sb3 import build_reader


def _means(frames: np.ndarray) -> np.ndarray:
    """A real, cheap 'encoder' for store tests: (M, 2, 2) frames → (M, 3) float32."""
    flat = frames.reshape(len(frames), -1).astype(np.float32)
    return np.stack([flat.mean(1), flat.min(1), flat.max(1)], axis=1)


def test_store_evicts_the_least_recently_used_frame_and_counts():
    frames = np.arange(5 * 4, dtype=np.uint8).reshape(5, 2, 2)  # five distinct frames
    keys = frame_keys(frames, salt=b"reader")
    store = FrameStore(dim=3, max_bytes=2 * (3 * 4 + KEY_BYTES + INDEX_BYTES))
    assert store.capacity == 2
    encoded: list[int] = []

    def encode(batch: np.ndarray) -> np.ndarray:
        encoded.append(len(batch))
        return _means(batch)

    first = store.features(keys[:2] + keys[:1], frames[[0, 1, 0]], encode)  # 0 repeats
    assert encoded == [2] and np.array_equal(first, _means(frames[[0, 1, 0]]))
    store.features(keys[:1], frames[:1], encode)  # 0 used: 1 is now the oldest
    store.features(keys[2:3], frames[2:3], encode)  # evicts 1
    again = store.features([keys[0], keys[1]], frames[[0, 1]], encode)  # 0 hit, 1 re-encoded
    assert encoded == [2, 1, 1] and np.array_equal(again, _means(frames[[0, 1]]))
    stats = store.stats()
    assert (stats["hits"], stats["misses"], stats["evictions"], stats["entries"]) == (3, 4, 2, 2)
    assert stats["bytes"] == 2 * store.entry_bytes <= stats["max_bytes"]
    assert stats["hit_rate"] == 3 / 7


def test_a_budget_below_one_entry_stores_nothing():
    frames = np.zeros((3, 2, 2), np.uint8)
    store = FrameStore(dim=3, max_bytes=10)
    out = store.features(frame_keys(frames, b"r"), frames, _means)
    assert store.capacity == 0 and len(store) == 0 and np.array_equal(out, _means(frames))
    assert store.stats()["misses"] == 1 and store.stats()["hits"] == 2  # repeats in one batch


@pytest.mark.parametrize("hasher", ["xxhash", "blake2b"])
def test_keys_depend_on_bytes_shape_dtype_and_reader(hasher, monkeypatch):
    if hasher == "blake2b":  # the path taken where xxhash is not installed
        monkeypatch.setattr(frame_cache, "xxhash", None)
    else:
        pytest.importorskip("xxhash")
    a = np.zeros((1, 4, 4), np.uint8)
    keys = {
        frame_keys(a, b"r1")[0],
        frame_keys(a, b"r2")[0],
        frame_keys(a.reshape(1, 2, 8), b"r1")[0],
        frame_keys(a.astype(np.int8), b"r1")[0],
        frame_keys(a + 1, b"r1")[0],
    }
    assert len(keys) == 5 and frame_keys(a.copy(), b"r1")[0] in keys


def _venv() -> DummyVecEnv:
    return DummyVecEnv([lambda: GridPixelEnv(size=32, max_steps=10) for _ in range(2)])


def test_readers_that_differ_never_share_entries():
    torch.manual_seed(0)
    a = build_reader(_venv().observation_space, {"encoder": "tiny_cnn"})
    torch.manual_seed(1)
    b = build_reader(_venv().observation_space, {"encoder": "tiny_cnn"})
    cache_a = FeatureVecEnv(_venv(), a, memory_mb=1.0)
    cache_b = FeatureVecEnv(_venv(), b, memory_mb=1.0, store=cache_a.store)  # one store
    twin = FeatureVecEnv(_venv(), a, memory_mb=1.0, store=cache_a.store)
    assert cache_a.digest != cache_b.digest and twin.digest == cache_a.digest
    obs = cache_a.venv.reset()
    fa, fb = cache_a.encode(obs), cache_b.encode(obs)
    assert not np.array_equal(fa, fb) and np.array_equal(fb, cache_b.encode_each(obs))
    assert np.array_equal(twin.encode(obs), fa)  # the same reader: served from the store
    stats = twin.cache_stats()
    assert stats["misses"] == 2 * len({o.tobytes() for o in obs}) and stats["hits"] >= len(obs)


def test_no_store_encodes_each_batch_and_counts_it():
    reader = build_reader(_venv().observation_space, {"encoder": "tiny_cnn"})
    cache = FeatureVecEnv(_venv(), reader, memory_mb=0.0)
    obs = cache.venv.reset()
    assert np.array_equal(cache.encode(obs), cache.encode_raw(obs))
    stats = cache.cache_stats()
    assert not stats["content_addressed"] and stats["misses"] == len(obs) and stats["hits"] == 0


def test_cache_memory_mb_parses_and_keeps_default_run_ids():
    default = parse_dataclass(PolicySpec, {}, "policy")
    explicit = parse_dataclass(PolicySpec, {"cache_memory_mb": 512}, "policy")
    small = parse_dataclass(PolicySpec, {"cache_memory_mb": 64}, "policy")
    assert default.cache_memory_mb == explicit.cache_memory_mb == DEFAULT_CACHE_MEMORY_MB
    # the budget never changes a feature, so it is not part of a run's id
    assert _policy_identity(default) == _policy_identity(small) == _policy_identity(explicit)
    assert "cache_memory_mb" not in _policy_identity(small)
    assert dataclasses.asdict(default)["cache_memory_mb"] == DEFAULT_CACHE_MEMORY_MB
    assert dataclasses.replace(small, cache=True).cache_memory_mb == 64.0


@pytest.mark.parametrize("value", [-1, "lots"])
def test_a_bad_cache_memory_mb_names_the_field(tiny_study, value):
    tiny_study["policy"] = {"cache_memory_mb": value, "net_arch": [16]}
    with pytest.raises(UserError, match=r"policy\.cache_memory_mb: must be"):
        load_study(tiny_study)
