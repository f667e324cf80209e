"""Algorithms over stable-baselines3: a registry, hyperparameter checks and model building.

Hyperparameters are SB3 constructor arguments, plus rl-zoo3's conventions: ``n_envs`` (number of
training env copies) and ``normalize`` (``true`` or VecNormalize kwargs). Schedules may be written
``lin_<value>`` (linear decay from value to 0 over training).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3 import A2C, DQN, PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.torch_layers import FlattenExtractor, NatureCNN
from stable_baselines3.common.utils import LinearSchedule

from rltransfer.config.parse import FieldError, join
from rltransfer.errors import did_you_mean


@dataclass(frozen=True)
class AlgoInfo:
    cls: type[BaseAlgorithm]
    action_spaces: tuple[type[gym.Space], ...]
    """The action spaces the algorithm supports."""


ALGOS: dict[str, AlgoInfo] = {
    "ppo": AlgoInfo(PPO, (gym.spaces.Discrete, gym.spaces.Box, gym.spaces.MultiDiscrete)),
    "a2c": AlgoInfo(A2C, (gym.spaces.Discrete, gym.spaces.Box, gym.spaces.MultiDiscrete)),
    "dqn": AlgoInfo(DQN, (gym.spaces.Discrete,)),
    "sac": AlgoInfo(SAC, (gym.spaces.Box,)),
}

# Features extractors for the policy's encoder. The vision core will extend this registry.
ENCODERS: dict[str, type] = {"mlp": FlattenExtractor, "nature_cnn": NatureCNN}

# Keys rltransfer sets itself, or that are not SB3 constructor arguments.
_MANAGED = {"policy", "env", "seed", "device", "verbose", "tensorboard_log", "_init_setup_model"}
RLTRANSFER_KEYS = {"n_envs", "normalize"}
_SCHEDULES = {"learning_rate", "clip_range", "clip_range_vf"}
_ACTIVATIONS = {
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
    "elu": torch.nn.ELU,
    "leaky_relu": torch.nn.LeakyReLU,
    "gelu": torch.nn.GELU,
    "silu": torch.nn.SiLU,
}


def algo_info(name: str, path: str = "algo") -> AlgoInfo:
    if name not in ALGOS:
        raise FieldError(
            path,
            f"unknown algorithm '{name}'{did_you_mean(name, ALGOS)}; available: {', '.join(ALGOS)}",
        )
    return ALGOS[name]


def sb3_arguments(algo: str) -> list[str]:
    params = inspect.signature(ALGOS[algo].cls.__init__).parameters
    return [p for p in params if p != "self" and p not in _MANAGED]


def check_hyperparams(algo: str, hyperparams: dict[str, Any], path: str = "hyperparams") -> None:
    """Raise ``FieldError`` for a key SB3's ``algo`` does not take or a malformed value."""
    known = sb3_arguments(algo) + sorted(RLTRANSFER_KEYS)
    for key, value in hyperparams.items():
        p = join(path, key)
        if key not in known:
            raise FieldError(p, f"not a hyperparameter of {algo}{did_you_mean(key, known)}")
        if key in _SCHEDULES and isinstance(value, str):
            _schedule(value, p)
        if key == "n_envs" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise FieldError(p, f"must be an integer >= 1, got {value!r}")
        if key == "normalize" and not isinstance(value, bool | dict):
            raise FieldError(
                p, f"must be true, false or a mapping of VecNormalize options, got {value!r}"
            )
        if key == "policy_kwargs":
            if not isinstance(value, dict):
                raise FieldError(p, f"must be a mapping, got {value!r}")
            act = value.get("activation_fn")
            if act is not None and act not in _ACTIVATIONS:
                raise FieldError(
                    join(p, "activation_fn"),
                    f"unknown activation '{act}'"
                    f"{did_you_mean(act, _ACTIVATIONS)}; available: {', '.join(_ACTIVATIONS)}",
                )


def _schedule(value: str, path: str) -> LinearSchedule:
    if value.startswith("lin_"):
        try:
            return LinearSchedule(float(value[4:]), 0.0, 1.0)
        except ValueError:
            pass
    raise FieldError(path, f"schedule must be a number or 'lin_<number>', got {value!r}")


def sb3_kwargs(
    algo: str, hyperparams: dict[str, Any], encoder: str, net_arch: Any | None
) -> dict[str, Any]:
    """Turn checked study hyperparameters into SB3 constructor kwargs (without env/seed/device)."""
    kwargs = {k: v for k, v in hyperparams.items() if k not in RLTRANSFER_KEYS}
    for key in _SCHEDULES & kwargs.keys():
        if isinstance(kwargs[key], str):
            kwargs[key] = _schedule(kwargs[key], key)
    policy_kwargs = dict(kwargs.pop("policy_kwargs", None) or {})
    if "activation_fn" in policy_kwargs:
        policy_kwargs["activation_fn"] = _ACTIVATIONS[policy_kwargs["activation_fn"]]
    if net_arch is not None:
        policy_kwargs["net_arch"] = net_arch
    policy_kwargs["features_extractor_class"] = ENCODERS[encoder]
    kwargs["policy_kwargs"] = policy_kwargs
    return kwargs


def resolve_device(device: str, encoder: str) -> str:
    """``auto`` → CUDA when present, except MLP policies, which SB3 runs faster on the CPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() and encoder != "mlp" else "cpu"
    return device


def build_model(
    algo: str,
    env: Any,
    *,
    hyperparams: dict[str, Any],
    encoder: str,
    net_arch: Any | None,
    seed: int,
    device: str,
) -> BaseAlgorithm:
    """A fresh SB3 model for ``env`` (a VecEnv) with the study's architecture and seed."""
    policy = (
        "MultiInputPolicy"
        if isinstance(env.observation_space, gym.spaces.Dict)
        else ("CnnPolicy" if encoder != "mlp" else "MlpPolicy")
    )
    kwargs = sb3_kwargs(algo, hyperparams, encoder, net_arch)
    return ALGOS[algo].cls(policy, env, seed=seed, device=device, verbose=0, **kwargs)
