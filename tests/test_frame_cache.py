"""The content-addressed frozen-feature cache: features bit-identical to encoding every frame
(after evictions, for the training and evaluation wrappers, with running statistics), an LRU
store that counts honestly, digests that keep readers apart, and its study field."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper

from rltransfer.config.parse import parse_dataclass
from rltransfer.config.spec import EnvSpec, PolicySpec
from rltransfer.environments import make_env
from rltransfer.vision import find_feature_env, prepare_env, wrap_like
from rltransfer.vision.cache import normalise
from rltransfer.vision.features import FeatureReader
from rltransfer.vision.frame_cache import MB
from rltransfer.vision.plan import build_cached_reader
from rltransfer.vision.sb3 import build_reader

PIXELGRID = EnvSpec("rltransfer/PixelGrid-v0", {"size": 32, "max_episode_steps": 9})


class Recorder(VecEnvWrapper):
    """Keeps what the wrapped env returns: per reset or step, (terminal observations or None,
    observations)."""

    def __init__(self, venv):
        super().__init__(venv)
        self.steps: list[tuple[np.ndarray | None, np.ndarray]] = []

    def reset(self):
        obs = self.venv.reset()
        self.steps.append((None, obs.copy()))
        return obs

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self.steps.append((_terminals(infos), obs.copy()))
        return obs, rewards, dones, infos


def _terminals(infos: list[dict]) -> np.ndarray | None:
    last = [info["terminal_observation"] for info in infos if "terminal_observation" in info]
    return np.stack(last) if last else None


def _pixelgrid(n: int, seed: int) -> Recorder:
    venv = DummyVecEnv([lambda: make_env(PIXELGRID) for _ in range(n)])
    venv.seed(seed)
    return Recorder(venv)


def _policy(memory_mb: float, norm: str) -> PolicySpec:
    data = {
        "encoder": "resnet18",
        "groups": {"all": "freeze"},
        "features": {"taps": ["stage2", "stage4"], "norm": norm},
        "cache_memory_mb": memory_mb,
    }
    return parse_dataclass(PolicySpec, data, "policy")


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _each(reader: FeatureReader, frames: np.ndarray) -> torch.Tensor:
    """The oracle's raw features: every frame encoded alone, (N, features_dim)."""
    x = torch.as_tensor(frames).permute(0, 3, 1, 2).float() / 255.0
    with torch.inference_mode():
        return torch.cat([torch.cat(reader.raw(x[i : i + 1]), 1) for i in range(len(x))])


def _oracle(reader: FeatureReader, frames: np.ndarray, update: bool) -> np.ndarray:
    """Encoding every frame without a cache, then the reader's normalisation of the batch."""
    raw = _each(reader, frames)
    parts = [p.contiguous() for p in torch.split(raw, reader.dims, dim=1)]
    with torch.inference_mode():
        if update:
            for norm, p in zip(reader.norms, parts, strict=True):
                norm.update(p)
        return torch.cat([n(p) for n, p in zip(reader.norms, parts, strict=True)], 1).numpy()


# A budget of about 12 entries of resnet18's stage2 + stage4 features (640 floats): evicts.
TINY_MB = 12 * (640 * 4 + 116) / MB


@pytest.mark.parametrize(("memory_mb", "norm"), [(TINY_MB, "standardize"), (64.0, "none")])
def test_training_and_evaluation_features_equal_encoding_every_frame(memory_mb, norm):
    train_rec, eval_rec = _pixelgrid(2, seed=0), _pixelgrid(2, seed=50)
    env, setup = prepare_env(train_rec, _policy(memory_mb, norm), device="cpu", seed=1)
    cache = find_feature_env(env)
    assert setup.cached and cache is not None
    oracle = build_cached_reader(setup, train_rec.observation_space, seed=1).eval()
    # the same memory layout as the cache's reader: oneDNN picks kernels by layout (and CPU),
    # and NCHW and NHWC convolutions may differ in the last bit
    oracle.encoder.optimize_layout()
    assert _same_state(cache.reader, oracle)  # the same weights and (fresh) statistics
    evaluation = wrap_like(eval_rec, env)
    assert evaluation.store is cache.store and evaluation.reader is cache.reader
    rng = np.random.default_rng(0)
    got = {"train": [(None, env.reset())], "eval": [(None, evaluation.reset())]}
    for _ in range(40):  # episodes of 9 steps: terminal observations too
        for name, venv in (("train", env), ("eval", evaluation)):
            obs, _, _, infos = venv.step(rng.integers(0, 4, 2))
            got[name].append((_terminals(infos), obs))
    # the oracle replays the same calls in the same order: per step, training then evaluation,
    # and in each the terminal observations (statistics untouched) before the observations
    frames, ends = 0, 0
    for k in range(41):
        for name, rec, update in (("train", train_rec, True), ("eval", eval_rec, False)):
            (got_last, got_obs), (last, obs) = got[name][k], rec.steps[k]
            assert (got_last is None) == (last is None), f"{name} step {k}"
            if last is not None:
                want = _oracle(oracle, last, update=False)
                assert np.array_equal(got_last, want), f"{name} terminal, step {k}"
                frames, ends = frames + len(last), ends + 1
            assert np.array_equal(got_obs, _oracle(oracle, obs, update)), f"{name} step {k}"
            frames += len(obs)
    assert ends > 0
    stats = cache.cache_stats()
    assert stats == evaluation.cache_stats()  # one store, one set of counters
    assert stats["hits"] + stats["misses"] == frames and stats["hits"] > 0
    assert stats["content_addressed"] and stats["bytes"] <= stats["max_bytes"]
    if memory_mb == TINY_MB:
        assert stats["evictions"] > 0 and stats["entries"] == cache.store.capacity == 12
        assert _same_state(cache.reader, oracle)  # the running statistics too
    else:
        assert stats["evictions"] == 0 and stats["entries"] == stats["misses"]


def test_normalise_is_feature_readers_own_finish():
    """The cache's normalisation of stored raw features = ``FeatureReader.forward``, bitwise."""
    config = {"encoder": "tiny_cnn", "features": {"taps": ["stem", "head"], "norm": "standardize"}}
    reader = build_reader(_pixelgrid(1, 0).observation_space, config)
    twin = copy.deepcopy(reader)
    x = torch.rand(5, *reader.encoder.in_shape)
    with torch.inference_mode():
        direct = reader(x, update_stats=True)
        finished = normalise(twin, torch.cat(twin.raw(x), 1), update_stats=True)
    assert torch.equal(direct, finished)
    assert _same_state(reader.norms, twin.norms)
