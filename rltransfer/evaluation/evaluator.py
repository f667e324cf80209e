"""``Evaluator``: the episodes of one evaluation point, on a seeded evaluation env."""

from __future__ import annotations

import copy
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from rltransfer.config.spec import EnvSpec, EvalSpec
from rltransfer.environments import innermost, make_env
from rltransfer.envs import batched
from rltransfer.vision.cache import find_feature_env, wrap_like

from .lockstep import actor, run_episodes, run_side_by_side, schedule

MAX_EVAL_ENVS = 8


def build_eval_env(
    make: Callable[[], gym.Env], n: int, train_env: VecEnv | None, fast: bool = True
) -> VecEnv:
    """``n`` copies of ``make()`` as one VecEnv: batched (``rltransfer.envs.batched``) when
    ``fast`` and the family allows it, else a ``DummyVecEnv``; then the frozen-feature encoder
    of ``train_env`` and a frozen VecNormalize like it, if it has them."""
    fns = [make for _ in range(n)]
    venv: VecEnv = batched.vec_env(fns) if fast else DummyVecEnv(fns)
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
    return venv


def sync_normalization(venv: VecEnv, model: BaseAlgorithm) -> None:
    """Give ``venv``'s VecNormalize the current statistics of ``model``'s training env."""
    train_env = model.get_env()
    if isinstance(venv, VecNormalize) and isinstance(train_env, VecNormalize):
        venv.obs_rms = copy.deepcopy(train_env.obs_rms)  # a dict of them for Dict obs


def plays_side_by_side(venv: VecEnv) -> bool:
    """Whether ``venv`` can play a point's later episodes beside the first ones and give the
    same episodes: batched copies whose episodes are independent of each other
    (``BatchedDynamics.independent_episodes``), and no frozen-feature encoder that encodes
    frames in batches (with a store, each frame is encoded alone, so a batch of another size
    gives the same features)."""
    base = innermost(venv)
    if not isinstance(base, batched.BatchedVecEnv) or not base.dynamics.independent_episodes():
        return False
    cache = find_feature_env(venv)
    return cache is None or cache.store.capacity > 0


class Evaluator:
    """Runs ``episodes`` evaluation episodes, vectorised over up to 8 env copies (SB3's
    schedule), or over one copy per episode when every episode can be played at once."""

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
        self.n_envs = min(spec.episodes, MAX_EVAL_ENVS)
        self.make = make or (lambda: Monitor(make_env(env_spec)))
        self.train_env = train_env
        self.spec = spec
        self.seed = seed
        self.rows: list[tuple[int, int]] | None = None
        """Side by side: the ``(copy, k)`` episode of SB3's schedule each env copy plays."""
        self.env = build_eval_env(self.make, self.n_envs, train_env)
        if spec.deterministic and spec.episodes > self.n_envs and plays_side_by_side(self.env):
            self.env.close()  # the family allows it: one copy per episode instead
            self.env = build_eval_env(self.make, spec.episodes, train_env)
            self.rows = schedule(spec.episodes, self.n_envs)

    def returns(self, model: BaseAlgorithm) -> np.ndarray:
        """The undiscounted returns, shape (episodes,), of ``model`` now: copy i of the
        evaluation env starts from seed + i (``rltransfer.evaluation.lockstep``). Side by side,
        the copy playing copy i's episode k starts from seed + i and k more resets, and all
        the episodes of the point step together (the same episodes)."""
        sync_normalization(self.env, model)
        act = actor(model, self.spec.deterministic)
        if self.rows is None:
            self.env.seed(self.seed)
            return run_episodes(self.env, act, self.spec.episodes)
        seeds = [self.seed + i for i, _ in self.rows]
        innermost(self.env).seed_rows(seeds, [k for _, k in self.rows])
        return run_side_by_side(self.env, act, self.rows)

    def __call__(self, model: BaseAlgorithm) -> tuple[float, float, int]:
        """Return (mean return, std of returns, episodes) of ``model`` now."""
        r = self.returns(model)
        return float(r.mean()), float(r.std()), len(r)

    def close(self) -> None:
        self.env.close()
