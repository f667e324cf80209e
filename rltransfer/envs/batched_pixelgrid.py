"""Batched stepping of PixelGrid copies.

PixelGrid's step is already a table lookup and one frame copy; what is saved is the wrapper
chain and the VecEnv's copies. The copies' own ``step`` runs (unwrapped), so every draw comes
from that copy's ``np_random`` and look generator in the same order as before (slip, noise
frames, distractor moves), and the observations are stacked into one batch.
"""

from __future__ import annotations

import numpy as np

from .batched_core import BatchedDynamics, StepResult, register_batched
from .pixelgrid import PixelGridEnv


@register_batched(PixelGridEnv)
class PixelGridDynamics(BatchedDynamics):
    """Observations (n, size, size, 3) uint8, (n, 4) float32, or a dict of both."""

    def load(self, i: int) -> None:
        """The copy keeps its own state; nothing to read."""

    def independent_episodes(self) -> bool:
        """Without slip ``step`` draws only from the look generator, which ``reset`` reseeds
        from ``np_random``."""
        return all(e.slip == 0 for e in self.envs)

    def step(self, actions: np.ndarray) -> StepResult:
        flat = np.asarray(actions).reshape(-1)
        results = [e.step(a) for e, a in zip(self.envs, flat, strict=True)]
        rewards = np.array([r[1] for r in results], dtype=np.float64)
        terminated = np.array([r[2] for r in results], dtype=bool)
        first = results[0][0]
        if isinstance(first, dict):
            obs = {k: np.stack([r[0][k] for r in results]) for k in first}
        else:
            obs = np.stack([r[0] for r in results])
        return obs, rewards, terminated
