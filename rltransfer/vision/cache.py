"""The frozen-feature cache: a VecEnv wrapper that turns observations into features.

When every encoder group is frozen, encoding the same frame again in each PPO epoch is wasted
work. ``FeatureVecEnv`` encodes each observation as it arrives — without autograd, on the run's
device — and the policy becomes an MLP on features. With a memory budget (``memory_mb`` > 0,
``policy.cache_memory_mb``), raw features go through a content-addressed ``FrameStore``
(``frame_cache.py``): a frame seen before is not encoded again, and each new frame is encoded
on its own, so its features do not depend on its batch. Without one, each step's frames are
encoded in one batch. Normalisation (and the running statistics of ``standardize`` /
``discretize``) acts on every batch after the store, exactly as ``FeatureReader`` does. The
evaluation env is wrapped with the same encoder and store (``wrap_like``), so training and
evaluation see identical features.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, unwrap_vec_wrapper

from rltransfer.vision.features import FeatureReader
from rltransfer.vision.frame_cache import MB, FrameStore, frame_keys, reader_digest
from rltransfer.vision.groups import keep_frozen_bn_eval


def normalise(reader: FeatureReader, raw: torch.Tensor, update_stats: bool) -> torch.Tensor:
    """Raw features (B, features_dim) → ``reader``'s features: the taps' slices, made
    contiguous, through ``FeatureReader.normalise`` (as its ``forward`` finishes)."""
    parts = [p.contiguous() for p in torch.split(raw, reader.dims, dim=1)]
    return reader.normalise(parts, update_stats)


class FeatureVecEnv(VecEnvWrapper):
    """Observations (N, *obs_shape) → features (N, features_dim), float32.

    Images are scaled and transposed exactly as stable-baselines3 does for a CNN policy (uint8
    / 255, channel-last → channel-first). ``update_stats``: merge each batch into the running
    statistics of ``standardize``/``discretize`` (training env: yes; evaluation env: no).
    ``memory_mb``: the content-addressed store's budget (MB; 0: none); ``store``: an existing
    store to share instead (``wrap_like``). ``terminal_observation`` in infos is encoded too
    (for bootstrapping truncated episodes).
    """

    def __init__(
        self,
        venv: VecEnv,
        reader: FeatureReader,
        device: str | torch.device = "cpu",
        update_stats: bool = True,
        memory_mb: float = 0.0,
        store: FrameStore | None = None,
    ):
        space = gym.spaces.Box(-np.inf, np.inf, (reader.features_dim,), np.float32)
        super().__init__(venv, observation_space=space)
        self.device = torch.device(device)
        self.reader = reader.to(self.device).eval()
        reader.encoder.optimize_layout()
        keep_frozen_bn_eval(reader.encoder)
        for p in reader.parameters():
            p.requires_grad_(False)
        raw = venv.observation_space
        self.scale = is_image_space(raw)
        self.transpose = self.scale and not is_image_space_channels_first(raw)
        self.update_stats = update_stats
        if memory_mb < 0:
            raise ValueError(f"memory_mb must be >= 0, got {memory_mb}")
        if store is None:
            store = FrameStore(reader.features_dim, int(memory_mb * MB))
        self.store = store
        if self.store.dim != reader.features_dim:
            raise ValueError(
                f"a store of {self.store.dim} features for a reader of {reader.features_dim}"
            )
        self.digest = reader_digest(
            reader, scale=self.scale, transpose=self.transpose, device=self.device
        )

    def _input(self, obs: np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(obs), device=self.device)
        x = x.float() / 255.0 if self.scale else x.float()
        return x.permute(0, 3, 1, 2) if self.transpose else x

    def encode_raw(self, obs: np.ndarray) -> np.ndarray:
        """(N, *obs_shape) → raw features (N, features_dim) float32 (before normalisation),
        one batched forward pass."""
        with torch.inference_mode():
            return torch.cat(self.reader.raw(self._input(obs)), dim=1).cpu().numpy()

    def encode_each(self, obs: np.ndarray) -> np.ndarray:
        """Like ``encode_raw``, but one forward pass per frame (a batch of one), so that each
        frame's features are the same bits whatever other frames arrive with it."""
        rows = [self.encode_raw(obs[i : i + 1]) for i in range(len(obs))]
        return np.concatenate(rows) if rows else np.empty((0, self.reader.features_dim), np.float32)

    def raw_features(self, obs: np.ndarray) -> np.ndarray:
        """Raw features (N, features_dim) of ``obs``: through the store when it keeps any."""
        obs = np.asarray(obs)
        if self.store.capacity == 0:
            self.store.count_encoded(len(obs))
            return self.encode_raw(obs)
        return self.store.features(frame_keys(obs, self.digest), obs, self.encode_each)

    def encode(self, obs: np.ndarray, update_stats: bool | None = None) -> np.ndarray:
        """(N, *obs_shape) → (N, features_dim) float32: raw features, then normalised (and,
        with ``update_stats``, merged into the running statistics) as one batch."""
        update = self.update_stats if update_stats is None else update_stats
        with torch.inference_mode():
            raw = torch.as_tensor(self.raw_features(obs), device=self.device)
            return normalise(self.reader, raw, update).cpu().numpy()

    def cache_stats(self) -> dict[str, Any]:
        """The store's counters (shared with the evaluation env ``wrap_like`` made): ``hits``,
        ``misses`` (frames encoded), ``evictions``, ``entries``, ``bytes``, ``max_bytes``,
        ``hit_rate``; plus ``content_addressed`` (False: no store, every frame encoded)."""
        return {"content_addressed": self.store.capacity > 0, **self.store.stats()}

    def reset(self) -> np.ndarray:
        return self.encode(self.venv.reset())

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        last = [i for i, info in enumerate(infos) if "terminal_observation" in info]
        if not last:
            return self.encode(obs), rewards, dones, infos
        # One encoder pass for the observations and the terminal observations together; the
        # terminal ones are normalised first, without updating the statistics.
        stacked = np.stack([infos[i]["terminal_observation"] for i in last])
        with torch.inference_mode():
            raw = self.raw_features(np.concatenate([np.asarray(obs), stacked]))
            raw = torch.as_tensor(raw, device=self.device)
            ends = normalise(self.reader, raw[len(obs) :], False).cpu().numpy()
            feats = normalise(self.reader, raw[: len(obs)], self.update_stats).cpu().numpy()
        for i, f in zip(last, ends, strict=True):
            infos[i]["terminal_observation"] = f
        return feats, rewards, dones, infos


def find_feature_env(venv: Any) -> FeatureVecEnv | None:
    """The ``FeatureVecEnv`` inside a chain of VecEnv wrappers, if any."""
    return unwrap_vec_wrapper(venv, FeatureVecEnv)


def wrap_like(venv: VecEnv, train_env: Any) -> VecEnv:
    """Wrap ``venv`` with the same feature encoder and store as ``train_env`` (statistics
    frozen), or return it unchanged when training encodes no features."""
    cache = find_feature_env(train_env)
    if cache is None:
        return venv
    return FeatureVecEnv(venv, cache.reader, cache.device, update_stats=False, store=cache.store)
