"""Read stable-baselines3 ``.zip`` checkpoints without unpickling anything.

SB3 stores the policy weights as ``policy.pth`` (a plain state dict, read here with
``torch.load(weights_only=True)``) and the rest as JSON in ``data``, where Python objects are
cloudpickled. We never unpickle those: the algorithm and the spaces are read from their plain
JSON attributes.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch


class CheckpointError(Exception):
    """The file is not a readable SB3 checkpoint; the message says why."""


@dataclass(frozen=True)
class SpaceInfo:
    """A comparable description of a Gymnasium space: kind ("Box", "Discrete", …) and size."""

    kind: str
    shape: tuple[int, ...]
    n: int | None = None

    def __str__(self) -> str:
        return f"Discrete({self.n})" if self.kind == "Discrete" else f"{self.kind}{self.shape}"

    @classmethod
    def of(cls, space: gym.Space) -> SpaceInfo:
        n = int(space.n) if isinstance(space, gym.spaces.Discrete) else None
        return cls(type(space).__name__, tuple(space.shape or ()), n)

    @classmethod
    def as_policy_sees(cls, space: gym.Space) -> SpaceInfo:
        """The space as an SB3 checkpoint records it: channel-last images are transposed to
        channel-first, as SB3's ``VecTransposeImage`` does before the policy sees them."""
        from stable_baselines3.common.preprocessing import (
            is_image_space,
            is_image_space_channels_first,
        )

        info = cls.of(space)
        if is_image_space(space, check_channels=False) and not is_image_space_channels_first(space):
            h, w, c = info.shape
            return cls(info.kind, (c, h, w), info.n)
        return info


@dataclass(frozen=True)
class CheckpointInfo:
    algo: str
    observation_space: SpaceInfo
    action_space: SpaceInfo
    num_timesteps: int
    exploration_rate: float | None = None
    """DQN's ε when the checkpoint was saved (its exploration schedule's last value)."""
    policy: Any = None
    """The agent's architecture (a ``PolicySpec``) when the study states it (``source.policy``)."""


def _space_from_json(entry: dict[str, Any]) -> SpaceInfo:
    kind = entry[":type:"].rsplit(".", 1)[-1].rstrip("'>")
    raw = entry.get("_shape", "[]")
    shape = tuple(int(x) for x in (json.loads(raw) if isinstance(raw, str) else raw or ()))
    n = int(entry["n"]) if "n" in entry else None
    return SpaceInfo(kind, shape, n)


def _algo_from_data(data: dict[str, Any]) -> str:
    module = data.get("policy_class", {}).get("__module__", "")
    for algo in ("dqn", "sac", "td3", "ddpg"):
        if f".{algo}." in module:
            return algo
    return "ppo" if "clip_range" in data else "a2c"


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    try:
        with zipfile.ZipFile(path) as z:
            data = json.loads(z.read("data"))
            if "policy.pth" not in z.namelist():
                raise CheckpointError("no policy.pth inside (not a stable-baselines3 checkpoint)")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"not a stable-baselines3 checkpoint ({e})") from None
    try:
        return CheckpointInfo(
            algo=_algo_from_data(data),
            observation_space=_space_from_json(data["observation_space"]),
            action_space=_space_from_json(data["action_space"]),
            num_timesteps=int(data.get("num_timesteps", 0)),
            exploration_rate=_float_or_none(data.get("exploration_rate")),
        )
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"cannot read its spaces ({e})") from None


def read_policy_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The policy's state dict, loaded with ``weights_only=True`` on the CPU."""
    with zipfile.ZipFile(path) as z:
        raw = z.read("policy.pth")
    return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
