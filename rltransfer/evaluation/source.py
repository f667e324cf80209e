"""Evaluation of a target run on its source task (forgetting) and of a source agent zero-shot
on the target."""

from __future__ import annotations

import random

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from rltransfer.checkpoints import SpaceInfo
from rltransfer.config.spec import EnvSpec, EvalSpec
from rltransfer.environments import innermost, make_env

from .evaluator import Evaluator


def _same_shape(a: gym.Space, b: gym.Space) -> bool:
    """Whether a policy built for space ``b`` can take observations or actions of space ``a``:
    the same kind and shape (Dict: the same keys, each alike); bounds may differ."""
    if isinstance(a, gym.spaces.Dict) and isinstance(b, gym.spaces.Dict):
        return set(a.spaces) == set(b.spaces) and all(_same_shape(a[k], b[k]) for k in a.spaces)
    return SpaceInfo.of(a) == SpaceInfo.of(b)


class SourceEvaluator:
    """Evaluates a target run on the *source* env: the same episodes count, seed and wrappers as
    the target's :class:`Evaluator` (the frozen-feature encoder, VecNormalize statistics).

    When the source env's observation or action space differs from the target's (a cross-space
    method), the policy cannot act there: every call returns ``(nan, nan, 0)`` and ``note`` says
    why. The random state of torch, numpy and ``random`` is restored after each evaluation, so
    the target run trains exactly as it would without it.
    """

    def __init__(self, env_spec: EnvSpec, spec: EvalSpec, seed: int, train_env: VecEnv):
        self.env_spec = env_spec
        self.inner: Evaluator | None = None
        self.note: str | None = None
        probe = make_env(env_spec)
        try:
            target = innermost(train_env)
            for what in ("observation_space", "action_space"):
                s, t = getattr(probe, what), getattr(target, what)
                if not _same_shape(s, t):
                    self.note = (
                        f"not evaluated on the source: its {what.replace('_', ' ')} {s} differs "
                        f"from the target's {t}, so the target policy cannot act there"
                    )
                    return
        finally:
            probe.close()
        self.inner = Evaluator(env_spec, spec, seed, train_env=train_env)

    def __call__(self, model: BaseAlgorithm) -> tuple[float, float, int]:
        """Return (mean return, std of returns, episodes) on the source; nan, nan, 0 if none."""
        if self.inner is None:
            return float("nan"), float("nan"), 0
        py_state, np_state = random.getstate(), np.random.get_state()
        devices = [model.device] if model.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                return self.inner(model)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)

    def describe(self) -> dict[str, object]:
        """For ``meta.json``: the source env and whether it could be evaluated."""
        env = {"id": self.env_spec.id, "kwargs": self.env_spec.kwargs}
        return {"env": env, "evaluated": self.inner is not None, "note": self.note}

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()


def zero_shot_return(
    model: BaseAlgorithm, env_spec: EnvSpec, spec: EvalSpec, seed: int, train_env: VecEnv
) -> dict[str, object]:
    """``model`` evaluated once on another task (a source agent on the target, before any
    target training): ``{"env", "seed", "return_mean", "return_std", "episodes", "note"}``;
    the returns are None, with a note, when that task's spaces differ from ``train_env``'s."""
    evaluator = SourceEvaluator(env_spec, spec, seed, train_env=train_env)
    try:
        mean, std, n = evaluator(model)
    finally:
        evaluator.close()
    return {
        "env": evaluator.describe()["env"],
        "seed": seed,
        "return_mean": mean if n else None,
        "return_std": std if n else None,
        "episodes": n,
        "note": None
        if n
        else "not evaluated on the target: its observation or action space differs from the "
        "source agent's, which cannot act there",
    }
