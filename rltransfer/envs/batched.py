"""A VecEnv that steps its copies with a family's batched dynamics (``batched_core``).

``vec_env(env_fns)`` builds the copies and returns a ``BatchedVecEnv`` when their family has
batched dynamics and their wrappers are only the ones it reproduces (SB3's ``Monitor`` outermost,
``TimeLimit``, and Gymnasium's checkers, which do not change values); otherwise SB3's
``DummyVecEnv`` over the same copies. Either behaves as ``DummyVecEnv`` does: copy ``i`` resets
with ``seed + i`` after ``seed(seed)``, finished copies reset themselves (unseeded, continuing
their own RNG), ``infos`` carry ``TimeLimit.truncated``, ``terminal_observation`` and Monitor's
``episode`` (``r`` = ``round(sum(rewards), 6)``, summed by Python in step order, as Monitor does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit
from stable_baselines3.common import env_util
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from . import batched_classic, batched_pixelgrid  # noqa: F401  (register their dynamics)
from .batched_core import BatchedDynamics, dynamics_for

_TRANSPARENT = (OrderEnforcing, PassiveEnvChecker)


def _chain(env: gym.Env) -> tuple[bool, int | None, gym.Env] | None:
    """``(monitored, max_episode_steps, unwrapped)`` when ``env``'s wrappers are ones this module
    reproduces, else None."""
    monitored, max_steps, e = False, None, env
    if isinstance(e, Monitor):
        plain = e.allow_early_resets and not e.info_keywords and not e.reset_keywords
        if not plain or e.results_writer is not None:
            return None
        monitored, e = True, e.env
    while isinstance(e, gym.Wrapper):
        if type(e) is TimeLimit and max_steps is None:
            max_steps = e._max_episode_steps
        elif type(e) not in _TRANSPARENT:
            return None
        e = e.env
    return monitored, max_steps, e


def vec_env(env_fns: Sequence[Callable[[], gym.Env]]) -> VecEnv:
    """The copies ``env_fns`` as a ``BatchedVecEnv`` when possible, else a ``DummyVecEnv``."""
    envs = [fn() for fn in env_fns]
    chains = [_chain(e) for e in envs]
    if all(c is not None for c in chains) and len({c[:2] for c in chains}) == 1:
        dynamics = dynamics_for([c[2] for c in chains])
        if dynamics is not None:
            monitored, max_steps, _ = chains[0]
            return BatchedVecEnv(envs, dynamics, monitored, max_steps)
    return DummyVecEnv([lambda e=e: e for e in envs])


def _stack(rows: list[Any]) -> Any:
    if isinstance(rows[0], dict):
        return {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    return np.stack(rows)


def _set_row(obs: Any, i: int, row: Any) -> None:
    if isinstance(obs, dict):
        for k in obs:
            obs[k][i] = row[k]
    else:
        obs[i] = row


def _row(obs: Any, i: int) -> Any:
    return {k: v[i].copy() for k, v in obs.items()} if isinstance(obs, dict) else obs[i].copy()


class BatchedVecEnv(VecEnv):
    """``n`` copies stepped together by ``dynamics``; resets run on the copies themselves.

    Observations (n, *obs_shape) (a dict of them for a Dict space), rewards (n,) float32, dones
    (n,) bool. ``envs``: the wrapped copies (for resets and attributes; their state is read by
    ``dynamics`` after each reset and is stale in between).
    """

    def __init__(
        self,
        envs: list[gym.Env],
        dynamics: BatchedDynamics,
        monitored: bool,
        max_episode_steps: int | None,
    ):
        self.envs = envs
        super().__init__(len(envs), envs[0].observation_space, envs[0].action_space)
        self.dynamics = dynamics
        self.monitored = monitored
        self.max_episode_steps = max_episode_steps
        self.metadata = envs[0].metadata
        self.elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self.episode_rewards: list[list[float]] = [[] for _ in envs]
        self.t_start = time.time()
        self.actions: np.ndarray = np.zeros(0)
        self._extra_resets = [0] * self.num_envs

    def seed_rows(self, seeds: Sequence[int], extra_resets: Sequence[int]) -> None:
        """For the next ``reset`` only: copy ``r`` resets with ``seeds[r]``, then
        ``extra_resets[r]`` more times unseeded. When ``dynamics.independent_episodes()``, copy
        ``r`` then starts the episode that a copy seeded with ``seeds[r]`` would start after
        ``extra_resets[r]`` finished episodes (its auto-resets draw the same numbers)."""
        if len(seeds) != self.num_envs or len(extra_resets) != self.num_envs:
            raise ValueError(f"seed_rows needs {self.num_envs} seeds and extra resets")
        self._seeds = list(seeds)
        self._extra_resets = list(extra_resets)

    def _reset_copy(self, i: int, **kwargs: Any) -> Any:
        obs, self.reset_infos[i] = self.envs[i].reset(**kwargs)
        self.dynamics.load(i)
        self.elapsed[i] = 0
        self.episode_rewards[i] = []
        return obs

    def reset(self) -> Any:
        rows = []
        for i in range(self.num_envs):
            options = {"options": self._options[i]} if self._options[i] else {}
            obs = self._reset_copy(i, seed=self._seeds[i], **options)
            for _ in range(self._extra_resets[i]):
                obs = self._reset_copy(i)
            rows.append(obs)
        self._extra_resets = [0] * self.num_envs
        self._reset_seeds()
        self._reset_options()
        return _stack(rows)

    def step_async(self, actions: np.ndarray) -> None:
        self.actions = actions

    def step_wait(self) -> Any:
        obs, rewards, terminated = self.dynamics.step(self.actions)
        self.elapsed += 1
        truncated = (
            self.elapsed >= self.max_episode_steps
            if self.max_episode_steps is not None
            else np.zeros(self.num_envs, dtype=bool)
        )
        dones = terminated | truncated
        flags = (truncated & ~terminated).tolist()
        infos: list[dict[str, Any]] = [{"TimeLimit.truncated": f} for f in flags]
        if self.monitored:
            for ep, r in zip(self.episode_rewards, rewards.tolist(), strict=True):
                ep.append(r)
        for i in np.flatnonzero(dones).tolist():
            info = infos[i]
            if self.monitored:
                ep = self.episode_rewards[i]
                t = round(time.time() - self.t_start, 6)
                info["episode"] = {"r": round(sum(ep), 6), "l": len(ep), "t": t}
            info["terminal_observation"] = _row(obs, i)
            _set_row(obs, i, self._reset_copy(i))
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [self.envs[i].get_wrapper_attr(attr_name) for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        for i in self._get_indices(indices):
            setattr(self.envs[i], attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list:
        envs = [self.envs[i] for i in self._get_indices(indices)]
        return [e.get_wrapper_attr(method_name)(*args, **kwargs) for e in envs]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: Any = None) -> list[bool]:
        envs = [self.envs[i] for i in self._get_indices(indices)]
        return [env_util.is_wrapped(e, wrapper_class) for e in envs]
