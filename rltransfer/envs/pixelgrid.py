"""PixelGrid: a grid world rendered with numpy, whose every axis of change is a separate knob.

The agent (a square) walks a grid of floor and wall cells to a goal cell. Appearance (palette,
texture, background noise, distractors), task (layout, goal, start), dynamics (slip, action
permutation) and reward (goal reward, step penalty, shaping) are independent keyword arguments
(``pixelgrid_parts.PIXELGRID_PARAMS``), so a source and a target can differ along one axis alone.

Speed: the background (floor, walls, texture, and the noise frames) is rendered once, at
construction. A step is a table lookup for the move, one copy of a background frame into the new
observation, and a few slice assignments (goal, distractors, agent). The observation is the only
allocation per step; it is a new array every step because callers keep observations.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import pixelgrid_parts as parts
from .base import EnvParameterError, ParametrisedEnv, declare_params, resolve_params


@declare_params
class PixelGridEnv(ParametrisedEnv, gym.Env):
    """Reach the goal cell of a grid world, seen as pixels, as a state vector, or both.

    Observation (``obs_mode``):

    - ``"pixels"``: ``Box(0, 255, (size, size, 3), uint8)``, HWC RGB. Cell ``[r, c]`` covers pixel
      rows ``[ceil(r * size / rows), ceil((r + 1) * size / rows))`` (likewise columns). The agent
      and the goal fill their cell; a distractor fills the middle half of its cell.
    - ``"state"``: ``Box(0, 1, (4,), float32)`` = agent row, agent column, goal row, goal column,
      each divided by (rows - 1) or (cols - 1). Distractors and colours are not in the state.
    - ``"both"``: ``Dict(pixels=..., state=...)``, e.g. to distil a state teacher into a pixel
      student.

    Action: ``Discrete(4)``; action ``i`` moves in direction ``action_perm[i]`` (0 up, 1 down,
    2 left, 3 right). With probability ``slip`` a uniformly random direction is taken instead.
    Moves into a wall (or off the map) leave the agent in place.
    Reward: ``goal_reward`` on reaching the goal (the episode terminates), else ``-step_penalty``;
    plus ``shaping * (d(s) - d(s'))`` where ``d`` is the shortest-path distance to the goal in
    steps (potential-based shaping with gamma = 1). Registered with a 100-step time limit.
    Starts: ``start`` and ``goal`` may be fixed cells or drawn per episode ('random'); a random
    start is never the goal. Distractors start on random floor cells and each step move up, down,
    left, right or stay, uniformly.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    PARAMS = parts.PIXELGRID_PARAMS

    def __init__(self, render_mode: str | None = None, **params: Any) -> None:
        values = resolve_params(type(self).__name__, self.PARAMS, params)
        self._set_params(values)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        walls = parts.build_map(self.layout, self.grid)
        if not isinstance(self.layout, str) and "grid" in params:
            raise EnvParameterError("grid", "must not be set with a map layout (the map sets it)")
        rows, cols = self.rows, self.cols = walls.shape
        if self.size < max(rows, cols):
            raise EnvParameterError("size", f"must be >= {max(rows, cols)} (one pixel per cell)")
        self._floor = [int(i) for i in np.flatnonzero(~walls.ravel())]
        if len(self._floor) < 2:
            raise EnvParameterError("layout", "needs at least two floor cells")
        goal = parts.resolve_cell("goal", self.goal, walls)
        start = parts.resolve_cell("start", self.start, walls)
        self._goal_cell = None if goal is None else goal[0] * cols + goal[1]
        self._start_cell = None if start is None else start[0] * cols + start[1]
        if self._start_cell is not None and self._start_cell == self._goal_cell:
            raise EnvParameterError("start", f"must differ from the goal {list(goal)}")
        reach = parts.distances(walls, self._floor[0])
        if any(reach[i] < 0 for i in self._floor):
            raise EnvParameterError("layout", "has floor cells that cannot reach each other")

        self._walls = walls
        raw = parts.move_table(walls)
        self._raw_moves = raw.tolist()  # cell -> [up, down, left, right, stay]; for distractors
        self._moves = raw[:, list(self.action_perm)].tolist()  # action -> next cell, as lists
        self._dist_cache: dict[int, list[int]] = {}
        self._rc = [(i // cols / max(rows - 1, 1), i % cols / max(cols - 1, 1)) for i in range(
            rows * cols)]  # fmt: skip

        self.action_space = spaces.Discrete(4)
        pixel_space = spaces.Box(0, 255, (self.size, self.size, 3), np.uint8)
        state_space = spaces.Box(0.0, 1.0, (4,), np.float32)
        self.observation_space = {
            "pixels": pixel_space,
            "state": state_space,
            "both": spaces.Dict({"pixels": pixel_space, "state": state_space}),
        }[self.obs_mode]

        palette = parts.colours(self.palette)
        self._goal_rgb, self._agent_rgb = palette["goal"], palette["agent"]
        self._distractor_rgb = palette["distractor"]
        self._bank = parts.static_frames(
            walls, self.size, palette, self.texture, self.noise, self.appearance_seed
        )
        ys, xs = parts.cell_bounds(rows, self.size), parts.cell_bounds(cols, self.size)
        self._cells = [
            (slice(ys[r], ys[r + 1]), slice(xs[c], xs[c + 1]))
            for r in range(rows)
            for c in range(cols)
        ]
        self._inner = [_middle_half(ys[r], ys[r + 1], xs[c], xs[c + 1])
                       for r in range(rows) for c in range(cols)]  # fmt: skip
        self._agent = self._goal = self._floor[0]
        self._distractor_cells: list[int] = []
        self._frame_index = 0
        self._look_rng = np.random.default_rng(0)  # appearance draws; reseeded at every reset
        self._look_block: list[list[int]] = []  # pre-drawn [frame, move_1, ..., move_n] rows

    # -- episode ---------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Draw the goal and start (when 'random') and the distractors; return the first obs.

        Appearance draws (noise frames, distractors) come from a second generator seeded from
        ``np_random`` once per reset, so the appearance knobs never change the task's and the
        dynamics' random draws: same seed and actions, same states and rewards.
        """
        super().reset(seed=seed)
        rng = self.np_random
        self._look_rng = np.random.default_rng(int(rng.integers(2**63)))
        floor = self._floor
        if self._goal_cell is not None:
            self._goal = self._goal_cell
        else:
            choices = [c for c in floor if c != self._start_cell]
            self._goal = choices[int(rng.integers(len(choices)))]
        if self._start_cell is not None:
            self._agent = self._start_cell
        else:
            choices = [c for c in floor if c != self._goal]
            self._agent = choices[int(rng.integers(len(choices)))]
        self._look_block = []
        if self.distractors:
            picks = self._look_rng.integers(len(floor), size=self.distractors).tolist()
            self._distractor_cells = [floor[i] for i in picks]
        self._new_look()
        if self.shaping and self._goal not in self._dist_cache:
            self._dist_cache[self._goal] = parts.distances(self._walls, self._goal)
        return self._observe(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Move (with slip), move the distractors, and return ``(obs, reward, terminated, False,
        {})``; truncation comes from the registered time limit."""
        a = int(action)
        if not 0 <= a < 4:
            raise ValueError(f"action must be in 0..3, got {action!r}")
        rng = self.np_random
        if self.slip and rng.random() < self.slip:
            a = int(rng.integers(4))
        before = self._agent
        after = self._agent = self._moves[before][a]
        reached = after == self._goal
        reward = self.goal_reward if reached else -self.step_penalty
        if self.shaping:
            dist = self._dist_cache[self._goal]
            reward += self.shaping * (dist[before] - dist[after])
        self._new_look()
        return self._observe(), float(reward), reached, False, {}

    # -- observations ----------------------------------------------------------------------------

    def _new_look(self) -> None:
        """Draw the background-noise frame and move the distractors (up, down, left, right or
        stay), from random rows drawn 256 steps at a time (one generator call, not one per step)."""
        if len(self._bank) == 1 and not self.distractors:
            return
        if not self._look_block:
            frames = self._look_rng.integers(len(self._bank), size=(256, 1))
            moves = self._look_rng.integers(5, size=(256, self.distractors))
            self._look_block = np.concatenate([frames, moves], axis=1).tolist()
        row = self._look_block.pop()
        self._frame_index = row[0]
        if self.distractors:
            raw = self._raw_moves
            cells = zip(self._distractor_cells, row[1:], strict=True)
            self._distractor_cells = [raw[c][m] for c, m in cells]

    def _pixels(self) -> np.ndarray:
        """The current image, ``(size, size, 3)`` uint8, as a new array."""
        frame = self._bank[self._frame_index].copy()
        frame[self._cells[self._goal]] = self._goal_rgb
        if self.distractors:
            colour, inner = self._distractor_rgb, self._inner
            for cell in self._distractor_cells:
                frame[inner[cell]] = colour
        frame[self._cells[self._agent]] = self._agent_rgb
        return frame

    def _state(self) -> np.ndarray:
        return np.array((*self._rc[self._agent], *self._rc[self._goal]), dtype=np.float32)

    def _observe(self) -> Any:
        mode = self.obs_mode
        if mode == "pixels":
            return self._pixels()
        if mode == "state":
            return self._state()
        return {"pixels": self._pixels(), "state": self._state()}

    def render(self) -> np.ndarray | None:
        """The current image ``(size, size, 3)`` uint8 when ``render_mode='rgb_array'``."""
        return self._pixels() if self.render_mode == "rgb_array" else None

    @property
    def agent_cell(self) -> tuple[int, int]:
        """The agent's ``(row, col)``."""
        return divmod(self._agent, self.cols)

    @property
    def goal_cell(self) -> tuple[int, int]:
        """The goal's ``(row, col)`` in this episode."""
        return divmod(self._goal, self.cols)


def _middle_half(y0: int, y1: int, x0: int, x1: int) -> tuple[slice, slice]:
    """The middle half of the pixel box ``[y0, y1) x [x0, x1)`` (at least one pixel)."""
    h, w = y1 - y0, x1 - x0
    dy, dx = h // 4, w // 4
    return slice(y0 + dy, max(y1 - dy, y0 + dy + 1)), slice(x0 + dx, max(x1 - dx, x0 + dx + 1))
