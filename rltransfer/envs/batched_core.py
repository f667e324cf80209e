"""Batched stepping of env copies: the interface a family implements and its one registry.

A ``BatchedDynamics`` steps ``n`` copies of one family at once, in numpy arrays, and must give
*bit-identical* observations, rewards and terminations to the copies' own ``step``. Resets are
never batched: the copies' real ``reset`` runs (each copy's own ``np_random``, seeded as SB3's
VecEnv seeds it), and ``load(i)`` then reads copy ``i``'s fresh state. A family registers its
dynamics class with ``@register_batched(EnvClass)``; only copies whose unwrapped type is
*exactly* that class use it (a user's subclass may change ``step``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

StepResult = tuple[Any, np.ndarray, np.ndarray]
"""``(obs, rewards, terminated)``: obs ``(n, *obs_shape)`` (a dict of such arrays for a Dict
space), rewards ``(n,)`` float64 (the values the copies' ``step`` would return), terminated
``(n,)`` bool."""


class BatchedDynamics(ABC):
    """Steps the unwrapped copies ``envs`` (all of one family, with equal parameters) at once.

    ``supports(envs)`` says whether this instance's configuration is covered (e.g. not a
    ``human`` render mode); the registry then falls back to per-copy stepping.
    """

    def __init__(self, envs: list[gym.Env]):
        self.envs = envs
        self.n = len(envs)

    @classmethod
    def supports(cls, envs: list[gym.Env]) -> bool:
        """Whether these copies can be stepped by this class (default: yes)."""
        return True

    def independent_episodes(self) -> bool:
        """Whether an episode's start depends only on its copy's resets: ``step`` draws no random
        numbers and ``reset`` reads nothing a step leaves behind. Then a copy's later episodes
        can be played beside its first, on copies reset more times
        (``BatchedVecEnv.seed_rows``). Default: no."""
        return False

    @abstractmethod
    def load(self, i: int) -> None:
        """Copy ``i`` has just been reset (its real ``reset``): read its state."""

    @abstractmethod
    def step(self, actions: np.ndarray) -> StepResult:
        """Step every copy with ``actions`` (n, *action_shape); see ``StepResult``."""


REGISTRY: dict[type, type[BatchedDynamics]] = {}
"""Unwrapped env class → its batched dynamics."""


def register_batched(env_class: type) -> Callable[[type[BatchedDynamics]], type[BatchedDynamics]]:
    """Class decorator: ``cls`` steps copies whose unwrapped type is exactly ``env_class``."""

    def add(cls: type[BatchedDynamics]) -> type[BatchedDynamics]:
        if env_class in REGISTRY:
            raise ValueError(f"{env_class.__name__} already has batched dynamics")
        REGISTRY[env_class] = cls
        return cls

    return add


def dynamics_for(envs: list[gym.Env]) -> BatchedDynamics | None:
    """Batched dynamics for the unwrapped copies ``envs``, or None when their family has none
    or this configuration is not covered."""
    kinds = {type(e) for e in envs}
    cls = REGISTRY.get(kinds.pop()) if len(kinds) == 1 else None
    if cls is None or not cls.supports(envs):
        return None
    return cls(envs)


def same_params(envs: list[gym.Env]) -> bool:
    """Whether every copy has the parameters of the first (``ParametrisedEnv.get_params``)."""
    first = envs[0].get_params()
    return all(e.get_params() == first for e in envs[1:])


def _probe() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([np.linspace(-40.0, 40.0, 4001), rng.uniform(-7.0, 7.0, 4000)])


def elementwise(ufunc: np.ufunc, scalar: Callable[[float], float]) -> Callable[..., np.ndarray]:
    """``ufunc`` on float64 arrays if, on this machine, it gives bit for bit what the scalar
    calls give (numpy's scalar ``ufunc(np.float64)`` and ``scalar``, e.g. ``math.cos``: SIMD
    loops need not); else a per-element loop of numpy scalar calls, exact by construction."""
    x = _probe()
    vector = ufunc(x)
    agrees = np.array_equal(vector, [ufunc(v) for v in x]) and np.array_equal(
        vector, [scalar(float(v)) for v in x]
    )
    if agrees:
        return ufunc
    return lambda a: np.array([ufunc(v) for v in a], dtype=a.dtype)


def square_like_scalar(a: np.ndarray) -> np.ndarray:
    """``v ** 2`` for each numpy scalar ``v`` of ``a``: numpy's scalar power calls libm's
    ``pow``, which differs in the last bit from the array ``a ** 2`` (a plain ``a * a``) for
    about 1 value in 1000; the envs square scalars, so this squares them one by one."""
    return np.array([v**2 for v in a], dtype=a.dtype)


cos = elementwise(np.cos, math.cos)
sin = elementwise(np.sin, math.sin)
