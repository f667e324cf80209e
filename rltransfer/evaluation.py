"""Evaluation on a fixed grid of timesteps, on a separate, seeded evaluation env.

Every run of a study evaluates at t = 0 and every ``eval.every`` env steps. The evaluation env is
reseeded with the same seed at every point, so all methods of seed k face the same episodes.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from rltransfer.checkpoints import SpaceInfo
from rltransfer.config.spec import EnvSpec, EvalSpec
from rltransfer.environments import innermost, make_env
from rltransfer.vision.cache import wrap_like

MAX_EVAL_ENVS = 8


def eval_grid(timesteps: int, every: int) -> list[int]:
    """``[0, every, 2·every, …, timesteps]``; the budget is always the last point."""
    grid = list(range(0, timesteps, every))
    return [*grid, timesteps]


class Evaluator:
    """Runs ``episodes`` evaluation episodes, vectorised over up to 8 env copies."""

    def __init__(
        self,
        env_spec: EnvSpec,
        spec: EvalSpec,
        seed: int,
        train_env: VecEnv | None = None,
        make: Callable[[], gym.Env] | None = None,
    ):
        """``train_env``: when it is a VecNormalize, observations are normalised the same way
        (the same keys of a Dict observation), with its current statistics (frozen during
        evaluation); rewards are never normalised. When it encodes observations into features
        (the frozen-feature cache), so does the evaluation env, with the same encoder.
        ``make``: builds one evaluation env copy (default: ``env_spec``'s env in a Monitor)."""
        n = min(spec.episodes, MAX_EVAL_ENVS)
        make = make or (lambda: Monitor(make_env(env_spec)))
        venv: VecEnv = DummyVecEnv([make for _ in range(n)])
        venv = wrap_like(venv, train_env)  # the same frozen-feature encoder as training
        if isinstance(train_env, VecNormalize):
            venv = VecNormalize(
                venv,
                training=False,
                norm_obs=train_env.norm_obs,
                norm_reward=False,
                norm_obs_keys=train_env.norm_obs_keys,
                clip_obs=train_env.clip_obs,
                epsilon=train_env.epsilon,
            )
        self.env = venv
        self.spec = spec
        self.seed = seed

    def returns(self, model: BaseAlgorithm) -> np.ndarray:
        """The undiscounted returns, shape (episodes,), of ``model`` now."""
        train_env = model.get_env()
        if isinstance(self.env, VecNormalize) and isinstance(train_env, VecNormalize):
            self.env.obs_rms = copy.deepcopy(train_env.obs_rms)  # a dict of them for Dict obs
        self.env.seed(self.seed)
        returns, _ = evaluate_policy(
            model,
            self.env,
            n_eval_episodes=self.spec.episodes,
            deterministic=self.spec.deterministic,
            return_episode_rewards=True,
            warn=False,
        )
        return np.asarray(returns, dtype=np.float64)

    def __call__(self, model: BaseAlgorithm) -> tuple[float, float, int]:
        """Return (mean return, std of returns, episodes) of ``model`` now."""
        r = self.returns(model)
        return float(r.mean()), float(r.std()), len(r)

    def close(self) -> None:
        self.env.close()


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


class GridClock:
    """Evaluates at each interior grid point as the env-step count crosses it, and reports
    progress. Shared by SB3's ``learn`` (through ``EvalGridCallback``) and a method's own
    training phase before it (``TransferMethod.before_learning``).

    The first (t = 0) and last (t = budget) points are evaluated outside ``learn`` so that
    the last one sees the final update.
    """

    def __init__(
        self,
        grid: list[int],
        evaluate: Callable[[int], bool],
        progress: Callable[[int], None] | None = None,
    ):
        """``evaluate(t)`` records grid point ``t`` and returns False to stop training."""
        self.interior = grid[1:-1]
        self.evaluate = evaluate
        self.progress = progress
        self._next = 0

    def advance(self, t: int) -> bool:
        """The run has taken ``t`` env steps; return False when training should stop."""
        while self._next < len(self.interior) and t >= self.interior[self._next]:
            keep_going = self.evaluate(self.interior[self._next])
            self._next += 1
            if not keep_going:
                return False
        if self.progress is not None:
            self.progress(t)
        return True


class EvalGridCallback(BaseCallback):
    """``GridClock`` as an SB3 callback."""

    def __init__(self, clock: GridClock):
        super().__init__()
        self.clock = clock

    def _on_step(self) -> bool:
        return self.clock.advance(self.num_timesteps)
