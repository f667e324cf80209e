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
from stable_baselines3.common.torch_layers import FlattenExtractor
from stable_baselines3.common.utils import LinearSchedule

from rltransfer.arguments import (
    AT_MOST,
    NORMALIZE_KWARGS,
    POLICY_KWARGS,
    check_net_arch,
    check_table,
    hyperparam_table,
    schedule_start,
)
from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import PolicySpec
from rltransfer.errors import did_you_mean
from rltransfer.multitask import MultiTaskPolicy, is_task_space
from rltransfer.vision.cache import find_feature_env
from rltransfer.vision.groups import GROUPED
from rltransfer.vision.plan import VisionSetup, resolve_setup
from rltransfer.vision.registry import get_entry
from rltransfer.vision.sb3 import VisionExtractor, finish_model


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

# Algorithms whose policies take ``share_features_extractor`` (and their default for it).
SHARES_FEATURES = {"ppo": True, "a2c": True, "sac": False}

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


def policy_arguments(algo: str) -> list[str]:
    """The ``policy_kwargs`` that ``algo``'s policy class takes from a study (rltransfer sets the
    features extractor from ``policy``; the algorithm passes ``use_sde`` itself)."""
    cls = ALGOS[algo].cls.policy_aliases["MlpPolicy"]
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p not in _POLICY_MANAGED]


_POLICY_MANAGED = {
    "self",
    "observation_space",
    "action_space",
    "lr_schedule",
    "use_sde",
    "features_extractor_class",
    "features_extractor_kwargs",
}


def _normalize_arguments() -> list[str]:
    from stable_baselines3.common.vec_env import VecNormalize

    return [
        p for p in inspect.signature(VecNormalize.__init__).parameters if p not in ("self", "venv")
    ]


def _check_keys(values: dict[str, Any], known: list[str], what: str, path: str) -> None:
    for key in values:
        if key not in known:
            raise FieldError(
                join(path, str(key)),
                f"not an option of {what}{did_you_mean(str(key), known)}; "
                f"options: {', '.join(known)}",
            )


def check_hyperparams(algo: str, hyperparams: dict[str, Any], path: str = "hyperparams") -> None:
    """Raise ``FieldError`` for a key SB3's ``algo`` does not take or a value out of its type
    and range (``rltransfer.arguments``); integral floats become ints in place."""
    known = sb3_arguments(algo) + sorted(RLTRANSFER_KEYS)
    for key in hyperparams:
        if key not in known:
            raise FieldError(
                join(path, key), f"not a hyperparameter of {algo}{did_you_mean(key, known)}"
            )
    check_table(hyperparam_table(algo), hyperparams, path)
    _check_at_most(algo, hyperparams, path)
    normalize = hyperparams.get("normalize")
    p = join(path, "normalize")
    if normalize is not None and not isinstance(normalize, bool | dict):
        raise FieldError(
            p, f"must be true, false or a mapping of VecNormalize options, got {normalize!r}"
        )
    if isinstance(normalize, dict):
        _check_keys(normalize, _normalize_arguments(), "VecNormalize", p)
        check_table(NORMALIZE_KWARGS, normalize, p)
    if "policy_kwargs" in hyperparams:
        _check_policy_kwargs(algo, hyperparams["policy_kwargs"], join(path, "policy_kwargs"))


def _check_at_most(algo: str, hyperparams: dict[str, Any], path: str) -> None:
    """``AT_MOST`` pairs, with SB3's defaults for the values the study leaves out."""
    params = inspect.signature(ALGOS[algo].cls.__init__).parameters
    for small, large in AT_MOST:
        if small not in params or large not in params:
            continue
        a = hyperparams.get(small, params[small].default)
        b = hyperparams.get(large, params[large].default)
        if a > b:
            raise FieldError(join(path, small), f"must be at most {large} ({b}), got {a}")


def _check_policy_kwargs(algo: str, value: Any, path: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise FieldError(path, f"must be a mapping, got {value!r}")
    cls = ALGOS[algo].cls.policy_aliases["MlpPolicy"]
    _check_keys(value, policy_arguments(algo), f"{algo}'s policy {cls.__name__}", path)
    check_table(POLICY_KWARGS, value, path)
    act = value.get("activation_fn")
    if act is not None and act not in _ACTIVATIONS:
        raise FieldError(
            join(path, "activation_fn"),
            f"unknown activation '{act}'"
            f"{did_you_mean(str(act), _ACTIVATIONS)}; available: {', '.join(_ACTIVATIONS)}",
        )
    if value.get("net_arch") is not None:
        check_net_arch(algo, value["net_arch"], join(path, "net_arch"))
    for key in ("optimizer_kwargs",):
        if value.get(key) is not None and not isinstance(value[key], dict):
            raise FieldError(join(path, key), f"must be a mapping, got {value[key]!r}")


def _schedule(value: str, path: str) -> LinearSchedule:
    start = schedule_start(value)
    if start is not None:
        return LinearSchedule(start, 0.0, 1.0)
    raise FieldError(path, f"schedule must be a number or 'lin_<number>', got {value!r}")


def scaled_schedule(value: float | str | None, mult: float, algo: str | None = None) -> Any:
    """A learning rate (number, ``lin_<number>`` or None = ``algo``'s default) times ``mult``,
    in the same form."""
    if value is None:
        if algo is None:
            raise ValueError("the algorithm is needed to scale its default learning rate")
        value = inspect.signature(ALGOS[algo].cls.__init__).parameters["learning_rate"].default
    if isinstance(value, str):
        return f"lin_{float(_schedule(value, 'learning_rate')(1.0)) * mult!r}"
    return float(value) * mult


def sb3_kwargs(algo: str, hyperparams: dict[str, Any], net_arch: Any | None) -> dict[str, Any]:
    """Turn checked study hyperparameters into SB3 constructor kwargs (without env/seed/device
    and without the features extractor)."""
    kwargs = {k: v for k, v in hyperparams.items() if k not in RLTRANSFER_KEYS}
    for key in _SCHEDULES & kwargs.keys():
        if isinstance(kwargs[key], str):
            kwargs[key] = _schedule(kwargs[key], key)
    if isinstance(kwargs.get("train_freq"), list):  # YAML's [n, unit]; SB3 wants a tuple
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    policy_kwargs = dict(kwargs.pop("policy_kwargs", None) or {})
    if "activation_fn" in policy_kwargs:
        policy_kwargs["activation_fn"] = _ACTIVATIONS[policy_kwargs["activation_fn"]]
    if net_arch is not None:
        policy_kwargs["net_arch"] = net_arch
    kwargs["policy_kwargs"] = policy_kwargs
    return kwargs


def resolve_device(device: str, encoder: str) -> str:
    """``auto`` → CUDA when present, except MLP policies, which SB3 runs faster on the CPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() and encoder not in ("mlp", "tiny_mlp") else "cpu"
    return device


def _grouped_optimizer(algo: str, kwargs: dict[str, Any]) -> None:
    """Use the optimizer class SB3 would use, in its LR-multiplier form (``vision.groups``)."""
    pk = kwargs["policy_kwargs"]
    base = pk.get("optimizer_class", torch.optim.Adam)
    if algo == "a2c" and "optimizer_class" not in pk and kwargs.get("use_rms_prop", True):
        base = torch.optim.RMSprop  # what A2C sets itself, with its own kwargs
        pk["optimizer_kwargs"] = {"alpha": 0.99, "eps": kwargs.get("rms_prop_eps", 1e-5),
                                  "weight_decay": 0, **pk.get("optimizer_kwargs", {})}  # fmt: skip
    if base not in GROUPED:
        raise ValueError(f"LR multipliers need one of {[c.__name__ for c in GROUPED]}, not {base}")
    pk["optimizer_class"] = GROUPED[base]


MULTITASK_ALGOS = ("ppo", "a2c")
"""Algorithms that train a multi-task source (``source.envs``)."""

LINEAR_HEADS_ON_IMAGES = ("ppo", "a2c", "dqn")
"""Algorithms whose SB3 image policies default to ``net_arch=[]``; rltransfer does the same."""


def _is_image(encoder: str) -> bool:
    try:
        return get_entry(encoder).kind == "image"
    except (KeyError, ValueError):
        return False


@dataclass(frozen=True)
class AgentRecipe:
    """Everything a fresh agent is built from, resolved once per run and passed to
    :func:`build_agent`: the algorithm, its SB3 hyperparameters (with rl-zoo3's ``n_envs`` and
    ``normalize``, which the env build has used), the architecture, the seed and the torch
    device. ``setup``: the run's ``rltransfer.vision.VisionSetup`` when ``prepare_env`` built
    the env (its policy is then the one used); ``heads``: a multi-task source's output layers
    (``multi`` | ``conditioned``)."""

    algo: str
    hyperparams: dict[str, Any]
    policy: PolicySpec
    seed: int
    device: str
    setup: VisionSetup | None = None
    heads: str | None = None


def build_model(
    algo: str,
    env: Any,
    *,
    hyperparams: dict[str, Any],
    encoder: str = "mlp",
    net_arch: Any | None = None,
    seed: int,
    device: str,
    policy: PolicySpec | None = None,
    heads: str | None = None,
    setup: VisionSetup | None = None,
) -> BaseAlgorithm:
    """:func:`build_agent` with the recipe's parts as keywords; the architecture is
    ``setup.policy``, else ``policy``, else ``encoder`` with ``net_arch``."""
    spec = setup.policy if setup is not None else policy or PolicySpec(encoder, net_arch=net_arch)
    recipe = AgentRecipe(algo, hyperparams, spec, seed, device, setup=setup, heads=heads)
    return build_agent(recipe, env)


def build_agent(recipe: AgentRecipe, env: Any) -> BaseAlgorithm:
    """A fresh SB3 model for ``env`` (a VecEnv) from ``recipe``.

    The encoder comes from ``recipe.setup`` (from ``rltransfer.vision.prepare_env``, with the
    env it wrapped); otherwise from ``recipe.policy``, resolved here without a feature cache.
    Every encoder goes through one adapter, ``rltransfer.vision.VisionExtractor``; with a cached
    (frozen) encoder the env already yields features and the policy is an MLP on them.

    A multi-task env (observations ``{"obs", "task"}``, ``rltransfer.multitask``) gets a
    ``MultiTaskPolicy`` (PPO and A2C) with ``recipe.heads`` (default ``multi``) task-specific
    output layers; its encoder reads ``obs["obs"]``, never cached.
    """
    algo, hyperparams, spec, setup = recipe.algo, recipe.hyperparams, recipe.policy, recipe.setup
    heads, seed, device = recipe.heads, recipe.seed, recipe.device
    cached = find_feature_env(env) is not None
    box = isinstance(env.observation_space, gym.spaces.Box)
    multitask = is_task_space(env.observation_space)
    if setup is None and not cached and (box or multitask):
        inner = env.observation_space["obs"] if multitask else env.observation_space
        setup = resolve_setup(spec, inner)
    kwargs = sb3_kwargs(algo, hyperparams, spec.net_arch)
    pk = kwargs["policy_kwargs"]
    if spec.share_features_extractor is not None and algo in SHARES_FEATURES:
        pk["share_features_extractor"] = spec.share_features_extractor
    name: Any = "MlpPolicy"
    if multitask:
        if algo not in MULTITASK_ALGOS:
            raise ValueError(
                f"a multi-task source needs {' or '.join(MULTITASK_ALGOS)}, not {algo}"
            )
        name = MultiTaskPolicy
        pk["heads"] = heads or "multi"
    if cached:
        pk["features_extractor_class"] = FlattenExtractor
    elif setup is None:  # Dict or discrete observations: SB3's own extractors
        name = "MultiInputPolicy" if isinstance(env.observation_space, gym.spaces.Dict) else name
    else:
        pk["features_extractor_class"] = VisionExtractor
        pk["features_extractor_kwargs"] = {"config": setup.config}
        if setup.lr_multipliers:
            _grouped_optimizer(algo, kwargs)
    if "net_arch" not in pk and algo in LINEAR_HEADS_ON_IMAGES and _is_image(spec.encoder):
        pk["net_arch"] = []  # as SB3's CnnPolicy and DQN do on a CNN: linear heads on features
    model = ALGOS[algo].cls(name, env, seed=seed, device=device, verbose=0, **kwargs)
    if setup is not None and not cached:
        setup.report["model"] = finish_model(model, setup.weights)
    return model
