"""Build each distinct model configuration of a study once, without training.

What the argument tables (``rltransfer.arguments``) do not cover, SB3 checks when it builds a
model (``n_steps * n_envs > 1``, a ``policy_kwargs`` value of the wrong type, ...). Validation
builds the target's model, the source's and every method's own source's, each on a VecEnv that
has only the spaces and the number of env copies of the run's (nothing is stepped), and turns a
failure into a ``FieldError`` naming the most specific field it can.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rltransfer.agents import build_model
from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import EnvSpec, PolicySpec, SourceSpec, StudySpec
from rltransfer.environments import make_env
from rltransfer.multitask.env import is_task_space, task_space


class SpacesVecEnv(VecEnv):
    """A VecEnv of ``num_envs`` copies with these spaces and nothing behind them: enough for
    SB3 to build a model, not to step."""

    def __init__(self, num_envs: int, observation_space: gym.Space, action_space: gym.Space):
        super().__init__(num_envs, observation_space, action_space)

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        if attr_name == "render_mode":
            return [None] * self.num_envs
        raise AttributeError(attr_name)

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * self.num_envs

    def _not_stepped(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a validation VecEnv has no environments to step")

    reset = step_async = step_wait = set_attr = env_method = _not_stepped

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class ModelConfig:
    """What a model is built from; ``where`` names it in messages (``the target``)."""

    where: str
    policy_path: str
    policy: PolicySpec
    observation_space: gym.Space
    action_space: gym.Space
    num_envs: int
    heads: str | None = None

    def key(self) -> tuple[str, ...]:
        spaces = (repr(self.observation_space), repr(self.action_space))
        return (*spaces, str(self.num_envs), repr(self.policy), str(self.heads))


def _spaces(env_spec: EnvSpec) -> tuple[gym.Space, gym.Space]:
    env = make_env(env_spec)
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def _source_config(spec: StudySpec, s: SourceSpec, where: str, path: str) -> ModelConfig | None:
    """A trained source's model (none for a checkpoint: it is loaded, not built)."""
    n_envs = int(spec.hyperparams.get("n_envs", 1))
    policy, policy_path = (
        (s.policy, join(path, "policy")) if s.policy is not None else (spec.policy, "policy")
    )
    if s.envs:
        obs, act = _spaces(s.envs[0])  # the tasks share their spaces (checked before)
        obs = task_space(obs, len(s.envs))
        return ModelConfig(where, policy_path, policy, obs, act, n_envs * len(s.envs), s.heads)
    if s.env is None:
        return None
    return ModelConfig(where, policy_path, policy, *_spaces(s.env), n_envs)


def study_configs(spec: StudySpec) -> list[ModelConfig]:
    """The target's model first, then the source's and each method's own source's."""
    n_envs = int(spec.hyperparams.get("n_envs", 1))
    target = ModelConfig("the target", "policy", spec.policy, *_spaces(spec.target.env), n_envs)
    configs = [target, _source_config(spec, spec.source, "the source", "source")]
    for i, m in enumerate(spec.methods):
        if m.source is not None:
            path = join(join("methods", i), "source")
            configs.append(_source_config(spec, m.source, f"the source of method '{m.name}'", path))
    return [c for c in configs if c is not None]


def _normalized(venv: VecEnv, hyperparams: dict[str, Any], multitask: bool) -> VecEnv:
    """The VecNormalize a run puts over its env (``rltransfer.run``), with the same defaults."""
    normalize = hyperparams.get("normalize", False)
    if not normalize:
        return venv
    kwargs = dict(normalize) if isinstance(normalize, dict) else {}
    kwargs.setdefault("gamma", hyperparams.get("gamma", 0.99))
    if multitask:
        kwargs.setdefault("norm_obs_keys", ["obs"])
    try:
        return VecNormalize(venv, **kwargs)
    except Exception as e:  # noqa: BLE001 - any failure is the user's normalize options
        raise FieldError("hyperparams.normalize", f"VecNormalize: {_describe(e)}") from None


def _describe(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _paths(values: Any, path: str) -> list[str]:
    """The dotted paths of every key in nested mappings."""
    if not isinstance(values, dict):
        return []
    out = []
    for key, value in values.items():
        out += [join(path, str(key)), *_paths(value, join(path, str(key)))]
    return out


_UNEXPECTED = re.compile(r"unexpected keyword argument '([^']+)'")


def _field(e: BaseException, hyperparams: dict[str, Any], config: ModelConfig) -> str:
    """The most specific field an error names: the option an ``unexpected keyword argument``
    is, else the hyperparameter the message names first, else ``net_arch``, else all."""
    text = str(e)
    unexpected = _UNEXPECTED.search(text)
    if unexpected:
        candidates = _paths(hyperparams, "hyperparams")
        encoder = join(config.policy_path, "encoder_kwargs")
        candidates += _paths(config.policy.encoder_kwargs, encoder)
        for path in candidates:
            if path.rsplit(".", 1)[-1] == unexpected.group(1):
                return path
    found = [
        (m.start(), key)
        for key in hyperparams
        if (m := re.search(rf"(?<![\w.]){re.escape(key)}(?!\w)", text)) is not None
    ]
    if found:
        return join("hyperparams", min(found)[1])
    if "net_arch" in text:
        return join(config.policy_path, "net_arch")
    return "hyperparams"


def build_config(spec: StudySpec, config: ModelConfig) -> Any:
    """The SB3 model of ``config`` (on CPU, seed 0); a failure is a ``FieldError``."""
    multitask = is_task_space(config.observation_space)
    venv = SpacesVecEnv(config.num_envs, config.observation_space, config.action_space)
    venv = _normalized(venv, spec.hyperparams, multitask)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            model = build_model(
                spec.algo, venv, hyperparams=spec.hyperparams, policy=config.policy, seed=0,
                device="cpu", heads=config.heads,
            )  # fmt: skip
        for w in caught:  # SB3's notes on mini-batches are noise here; its memory check is not
            if "memory" in str(w.message):
                warnings.warn(f"{config.where}: {w.message}", UserWarning, stacklevel=2)
        return model
    except FieldError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever SB3 raises, it is the study's settings
        raise FieldError(
            _field(e, spec.hyperparams, config),
            f"{spec.algo} cannot build the model of {config.where} with these settings: "
            f"{_describe(e)}",
        ) from None


def check_models(spec: StudySpec) -> Any:
    """Build every distinct configuration of ``spec`` once; return the target's model (the
    scratch baseline's configuration), e.g. for its layer groups."""
    built: dict[tuple[str, ...], Any] = {}
    for config in study_configs(spec):  # the target's first
        if config.key() not in built:
            built[config.key()] = build_config(spec, config)
    return next(iter(built.values()))
