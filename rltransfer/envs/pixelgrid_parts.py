"""PixelGrid's parameters, layouts, palettes and pre-rendered static layers (numpy only).

Coordinates are ``[row, col]`` cells of the map, row 0 at the top, border walls included. A map is
a ``(rows, cols)`` bool array, ``True`` for a wall.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import knobs
from .base import EnvParameterError, Knob, Param

ROLES = ("floor", "wall", "agent", "goal", "distractor")
PALETTES: dict[str, dict[str, tuple[int, int, int]]] = {
    "classic": {"floor": (20, 20, 20), "wall": (120, 120, 120), "agent": (230, 60, 60),
                "goal": (60, 200, 80), "distractor": (60, 120, 230)},
    "light": {"floor": (235, 235, 225), "wall": (70, 70, 90), "agent": (30, 90, 200),
              "goal": (240, 150, 30), "distractor": (150, 150, 150)},
    "swapped": {"floor": (20, 20, 20), "wall": (120, 120, 120), "agent": (60, 200, 80),
                "goal": (230, 60, 60), "distractor": (60, 120, 230)},
    "mono": {"floor": (30, 30, 30), "wall": (110, 110, 110), "agent": (250, 250, 250),
             "goal": (170, 170, 170), "distractor": (80, 80, 80)},
}  # fmt: skip
LAYOUTS = ("open", "wall", "rooms")
TEXTURES = ("none", "checker", "stripes", "noise")
CORNERS = {"top-left": (0, 0), "top-right": (0, 1), "bottom-left": (1, 0), "bottom-right": (1, 1)}
NOISE_FRAMES = 32  # background-noise frames pre-rendered at construction, one drawn per step
TEXTURE_AMPLITUDE = 24  # intensity units added/subtracted by a texture


def _layout(name: str, value: Any) -> str | list[str]:
    if isinstance(value, str) and value in LAYOUTS:
        return value
    rows = list(value) if isinstance(value, list | tuple) else None
    if (
        rows is None
        or len(rows) < 2
        or not all(isinstance(r, str) and r and set(r) <= {"#", "."} for r in rows)
        or len({len(r) for r in rows}) != 1
    ):
        raise EnvParameterError(
            name,
            f"must be one of {', '.join(map(repr, LAYOUTS))} or a map: a list of equal-length "
            f"strings of '#' (wall) and '.' (floor); got {value!r}",
        )
    return rows


def _cell(name: str, value: Any) -> str | list[int]:
    options = [*CORNERS, "random"]
    if isinstance(value, str) and value in options:
        return value
    items = list(value) if isinstance(value, list | tuple) else None
    if items is None or len(items) != 2 or not all(knobs._is_int(v) for v in items):
        raise EnvParameterError(
            name, f"must be {', '.join(map(repr, options))} or [row, col]; got {value!r}"
        )
    return [int(items[0]), int(items[1])]


def _palette(name: str, value: Any) -> str | dict[str, list[int]]:
    if isinstance(value, str) and value in PALETTES:
        return value
    if not isinstance(value, Mapping):
        raise EnvParameterError(
            name, f"must be one of {', '.join(map(repr, PALETTES))} or a mapping "
            f"{{role: [r, g, b]}} with roles {', '.join(ROLES)}; got {value!r}",
        )  # fmt: skip
    out = {}
    for role, colour in value.items():
        if role not in ROLES:
            raise EnvParameterError(f"{name}.{role}", f"unknown role; roles: {', '.join(ROLES)}")
        out[role] = list(knobs.rgb(f"{name}.{role}", colour))
    return out


def _action_perm(name: str, value: Any) -> list[int]:
    return list(knobs.permutation(4)(name, value))


PIXELGRID_PARAMS: Mapping[str, Param | Knob] = {
    "layout": Knob("open", "task", "'open', 'wall' (one gap), 'rooms' (four) or a '#'/'.' map",
                   _layout),
    "grid": Knob(8, "task", "cells per side of a named layout, border walls included",
                 knobs.integer(4, 64)),
    "goal": Knob("bottom-right", "task", "a corner name, 'random' (per episode) or [row, col]",
                 _cell),
    "start": Knob("random", "task", "'random' (per episode), a corner name or [row, col]", _cell),
    "slip": Knob(0.0, "dynamics", "probability that a uniformly random action replaces yours",
                 knobs.real(0.0, 1.0, high_open=True)),
    "action_perm": Knob([0, 1, 2, 3], "dynamics",
                        "action i moves in direction action_perm[i] (0 up, 1 down, 2 left, "
                        "3 right)", _action_perm),
    "goal_reward": Knob(1.0, "reward", "reward on reaching the goal (ends the episode)",
                        knobs.any_real),
    "step_penalty": Knob(0.01, "reward", "subtracted on every other step", knobs.any_real),
    "shaping": Knob(0.0, "reward", "adds shaping * (d(s) - d(s')), d = steps to the goal",
                    knobs.any_real),
    "palette": Knob("classic", "appearance", f"one of {', '.join(PALETTES)} or {{role: [r,g,b]}}",
                    _palette),
    "texture": Knob("none", "appearance", "floor and wall texture: " + ", ".join(TEXTURES),
                    knobs.choice(TEXTURES)),
    "noise": Knob(0.0, "appearance", "per-step background noise amplitude, 1 = +-127 levels",
                  knobs.real(0.0, 1.0)),
    "distractors": Knob(0, "appearance", "randomly walking squares with no effect on the task",
                        knobs.integer(0, 32)),
    "appearance_seed": Knob(0, "appearance", "seeds the noise texture and noise frames",
                            knobs.integer(0)),
    "obs_mode": Knob("pixels", "observation", "'pixels', 'state' or 'both' (a Dict)",
                     knobs.choice(("pixels", "state", "both"))),
    "size": Knob(64, "observation", "image side in pixels (>= the map's rows and cols)",
                 knobs.integer(4, 1024)),
}  # fmt: skip


def build_map(layout: str | list[str], grid: int) -> np.ndarray:
    """The wall map, ``(rows, cols)`` bool. Named layouts are ``grid x grid`` with border walls."""
    if not isinstance(layout, str):
        return np.array([[ch == "#" for ch in row] for row in layout], dtype=bool)
    walls = np.zeros((grid, grid), dtype=bool)
    walls[[0, -1], :] = walls[:, [0, -1]] = True
    mid = grid // 2
    if layout == "wall":
        walls[2:-1, mid] = True  # a wall down the middle; the gap is in the top row
    elif layout == "rooms":
        if grid < 5:
            raise EnvParameterError("grid", f"must be >= 5 for layout 'rooms', got {grid}")
        walls[mid, :] = walls[:, mid] = True
        for lo, hi in ((1, mid - 1), (mid + 1, grid - 2)):  # one doorway per wall segment
            walls[mid, (lo + hi) // 2] = walls[(lo + hi) // 2, mid] = False
    return walls


def resolve_cell(name: str, value: str | list[int], walls: np.ndarray) -> tuple[int, int] | None:
    """The floor cell ``value`` names (``None`` for 'random'); a corner is the floor cell nearest
    that corner of the map (first in row-major order on ties)."""
    rows, cols = walls.shape
    if value == "random":
        return None
    if isinstance(value, str):
        cr, cc = (k * (n - 1) for k, n in zip(CORNERS[value], (rows, cols), strict=True))
        floor = np.argwhere(~walls)
        best = floor[np.argmin(np.abs(floor[:, 0] - cr) + np.abs(floor[:, 1] - cc))]
        return int(best[0]), int(best[1])
    r, c = value
    if not (0 <= r < rows and 0 <= c < cols) or walls[r, c]:
        where = "a wall" if 0 <= r < rows and 0 <= c < cols else "outside the map"
        raise EnvParameterError(name, f"[{r}, {c}] is {where} ({rows} x {cols} cells)")
    return r, c


def distances(walls: np.ndarray, goal: int) -> list[int]:
    """Shortest-path steps from every cell (flat index) to ``goal``; -1 when unreachable."""
    rows, cols = walls.shape
    dist = [-1] * (rows * cols)
    dist[goal] = 0
    queue = deque([goal])
    while queue:
        cell = queue.popleft()
        r, c = divmod(cell, cols)
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            n = nr * cols + nc
            if 0 <= nr < rows and 0 <= nc < cols and not walls[nr, nc] and dist[n] < 0:
                dist[n] = dist[cell] + 1
                queue.append(n)
    return dist


def move_table(walls: np.ndarray) -> np.ndarray:
    """``(rows * cols, 5)`` int: the cell reached from each cell by up, down, left, right, stay;
    a move into a wall or off the map stays put."""
    rows, cols = walls.shape
    r, c = np.divmod(np.arange(rows * cols), cols)
    table = np.empty((rows * cols, 5), dtype=np.int64)
    for k, (dr, dc) in enumerate(((-1, 0), (1, 0), (0, -1), (0, 1), (0, 0))):
        nr, nc = r + dr, c + dc
        inside = (nr >= 0) & (nr < rows) & (nc >= 0) & (nc < cols)
        ok = inside.copy()
        ok[inside] = ~walls[nr[inside], nc[inside]]
        table[:, k] = np.where(ok, nr * cols + nc, r * cols + c)
    return table


def colours(palette: str | dict[str, list[int]]) -> dict[str, np.ndarray]:
    """``{role: uint8 array (3,)}``; a mapping palette overrides 'classic' role by role."""
    table = dict(PALETTES["classic"]) if not isinstance(palette, str) else dict(PALETTES[palette])
    if not isinstance(palette, str):
        table.update({role: tuple(rgb) for role, rgb in palette.items()})
    return {role: np.array(rgb, dtype=np.uint8) for role, rgb in table.items()}


def cell_bounds(n_cells: int, n_pixels: int) -> list[int]:
    """Pixel edges ``[e_0 = 0, ..., e_n = n_pixels]``: cell k covers pixels ``[e_k, e_k+1)``."""
    return [-(-k * n_pixels // n_cells) for k in range(n_cells + 1)]


def static_frames(
    walls: np.ndarray,
    size: int,
    palette: dict[str, np.ndarray],
    texture: str,
    noise: float,
    seed: int,
) -> np.ndarray:
    """The background (floor, walls, texture): ``(frames, size, size, 3)`` uint8, one frame
    without noise, else ``NOISE_FRAMES`` frames with uniform noise of +-``127 * noise`` levels."""
    rows, cols = walls.shape
    ys = np.arange(size) * rows // size  # the cell row of each pixel row
    xs = np.arange(size) * cols // size
    wall_px = walls[ys[:, None], xs[None, :]]
    frame = np.where(wall_px[..., None], palette["wall"], palette["floor"]).astype(np.int16)
    rng = np.random.default_rng(seed)
    if texture == "checker":
        frame += (
            np.where((ys[:, None] + xs[None, :]) % 2 == 0, 1, -1)[..., None] * TEXTURE_AMPLITUDE
        )
    elif texture == "stripes":
        frame += np.where(np.arange(size) % 4 < 2, 1, -1)[:, None, None] * TEXTURE_AMPLITUDE
    elif texture == "noise":
        amp = TEXTURE_AMPLITUDE
        frame += rng.integers(-amp, amp + 1, size=(size, size, 1), dtype=np.int16)
    if noise == 0:
        return np.clip(frame, 0, 255).astype(np.uint8)[None]
    amp = round(127 * noise)
    offsets = rng.integers(-amp, amp + 1, size=(NOISE_FRAMES, size, size, 3), dtype=np.int16)
    return np.clip(frame[None] + offsets, 0, 255).astype(np.uint8)
