"""A tiny numpy pixel environment for tests, benchmarks and probes (not a testbed family).

``GridPixelEnv``: an agent (a red square) moves on a ``grid``×``grid`` board rendered as a
``size``×``size`` RGB image toward a fixed goal (green). Observations are uint8 (H, W, 3), or
(3, H, W) with ``channel_first``. ``info["cell"]`` is the agent's cell index — a label for
supervised probes ("which cell is the agent in"). Use it in a study as
``rltransfer.envs.vision_testing:GridPixelEnv`` (an entry point, as any ``module:Class``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

_MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])


class GridPixelEnv(gym.Env):
    """Discrete(4) moves (up, down, left, right); reward 1 at the goal, −0.01 per step."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        size: int = 32,
        grid: int = 4,
        channel_first: bool = False,
        max_steps: int = 50,
        render_mode: str | None = None,
    ):
        if size < grid or grid < 2:
            raise ValueError(f"need 2 <= grid <= size, got grid={grid}, size={size}")
        self.size, self.grid, self.channel_first = int(size), int(grid), channel_first
        self.max_steps = max_steps
        self.render_mode = render_mode
        shape = (3, size, size) if channel_first else (size, size, 3)
        self.observation_space = gym.spaces.Box(0, 255, shape, np.uint8)
        self.action_space = gym.spaces.Discrete(4)
        self.goal = np.array([grid - 1, grid - 1])
        self.pos = np.zeros(2, dtype=np.int64)
        self.steps = 0

    def _cell(self) -> int:
        return int(self.pos[0] * self.grid + self.pos[1])

    def _obs(self) -> np.ndarray:
        img = np.full((self.size, self.size, 3), 30, dtype=np.uint8)
        c = self.size // self.grid
        for (r, col), color in ((self.goal, (40, 200, 60)), (self.pos, (220, 40, 40))):
            img[r * c : (r + 1) * c, col * c : (col + 1) * c] = color
        return img.transpose(2, 0, 1).copy() if self.channel_first else img

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
        super().reset(seed=seed)
        while True:
            self.pos = self.np_random.integers(0, self.grid, size=2)
            if not np.array_equal(self.pos, self.goal):
                break
        self.steps = 0
        return self._obs(), {"cell": self._cell()}

    def step(self, action: int) -> Any:
        self.pos = np.clip(self.pos + _MOVES[int(action)], 0, self.grid - 1)
        self.steps += 1
        done = bool(np.array_equal(self.pos, self.goal))
        reward = 1.0 if done else -0.01
        truncated = self.steps >= self.max_steps and not done
        return self._obs(), reward, done, truncated, {"cell": self._cell()}

    def render(self) -> np.ndarray:
        img = self._obs()
        return img.transpose(1, 2, 0) if self.channel_first else img
