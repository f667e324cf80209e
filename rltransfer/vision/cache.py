"""The frozen-feature cache: a VecEnv wrapper that turns observations into features.

When every encoder group is frozen, encoding the same frame again in each PPO epoch is wasted
work. ``FeatureVecEnv`` encodes each observation once, as it arrives — batched over the env
copies, without autograd, on the run's device — and the policy becomes an MLP on features. The
evaluation env is wrapped with the same encoder (``wrap_like``), so training and evaluation see
identical features.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, unwrap_vec_wrapper

from rltransfer.vision.features import FeatureReader
from rltransfer.vision.groups import keep_frozen_bn_eval


class FeatureVecEnv(VecEnvWrapper):
    """Observations (N, *obs_shape) → features (N, features_dim), float32.

    Images are scaled and transposed exactly as stable-baselines3 does for a CNN policy (uint8
    / 255, channel-last → channel-first). ``update_stats``: merge each batch into the running
    statistics of ``standardize``/``discretize`` (training env: yes; evaluation env: no).
    ``terminal_observation`` in infos is encoded too (for bootstrapping truncated episodes).
    """

    def __init__(
        self,
        venv: VecEnv,
        reader: FeatureReader,
        device: str | torch.device = "cpu",
        update_stats: bool = True,
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

    def encode(self, obs: np.ndarray, update_stats: bool | None = None) -> np.ndarray:
        """(N, *obs_shape) → (N, features_dim) float32, one batched forward pass."""
        update = self.update_stats if update_stats is None else update_stats
        with torch.inference_mode():
            x = torch.as_tensor(np.asarray(obs), device=self.device)
            x = x.float() / 255.0 if self.scale else x.float()
            if self.transpose:
                x = x.permute(0, 3, 1, 2)
            return self.reader(x, update_stats=update).cpu().numpy()

    def reset(self) -> np.ndarray:
        return self.encode(self.venv.reset())

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        last = [i for i, info in enumerate(infos) if "terminal_observation" in info]
        if last:
            stacked = np.stack([infos[i]["terminal_observation"] for i in last])
            for i, f in zip(last, self.encode(stacked, update_stats=False), strict=True):
                infos[i]["terminal_observation"] = f
        return self.encode(obs), rewards, dones, infos


def find_feature_env(venv: Any) -> FeatureVecEnv | None:
    """The ``FeatureVecEnv`` inside a chain of VecEnv wrappers, if any."""
    return unwrap_vec_wrapper(venv, FeatureVecEnv)


def wrap_like(venv: VecEnv, train_env: Any) -> VecEnv:
    """Wrap ``venv`` with the same feature encoder as ``train_env`` (statistics frozen), or
    return it unchanged when training encodes no features."""
    cache = find_feature_env(train_env)
    if cache is None:
        return venv
    return FeatureVecEnv(venv, cache.reader, cache.device, update_stats=False)
