"""MiniGrid tasks as RGB pixels, with a colour permutation as the appearance knob.

Needs the optional dependency: ``pip install "rltransfer[minigrid]"``. ``minigrid`` is imported
only when an environment is made, so this module (and the catalogue) import without it.

``rltransfer/MiniGrid-v0`` wraps a MiniGrid id (``task``): the observation is the RGB image of
the agent's 7 x 7-tile egocentric view (``view="agent"``; the same shape on every map, so an
agent can move from DoorKey-5x5 to DoorKey-8x8) or of the whole map (``view="full"``).
``colors`` renames object colours, e.g. ``{yellow: blue, blue: yellow}`` paints the key and the
door blue: the task, the symbolic state and the dynamics are unchanged, only their look changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from . import knobs
from .base import (
    DelegatingEnv,
    EnvParameterError,
    Knob,
    Param,
    ParametrisedEnv,
    declare_params,
    import_extra,
    resolve_params,
)

COLOR_NAMES = ("blue", "green", "grey", "purple", "red", "yellow")  # MiniGrid's six colours


def _colors(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        k in COLOR_NAMES and v in COLOR_NAMES for k, v in value.items()
    ):
        raise EnvParameterError(
            name, f"must map MiniGrid colours to colours ({', '.join(COLOR_NAMES)}), got {value!r}"
        )
    mapping = {c: value.get(c, c) for c in COLOR_NAMES}
    if len(set(mapping.values())) != len(COLOR_NAMES):
        raise EnvParameterError(
            name, f"must be a permutation (no two colours alike), got {value!r}"
        )
    return dict(value)


def _task(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("MiniGrid-"):
        raise EnvParameterError(name, f"must be a MiniGrid id such as 'MiniGrid-DoorKey-8x8-v0', "
                                      f"got {value!r}")  # fmt: skip
    return value


MINIGRID_PARAMS: Mapping[str, Param | Knob] = {
    "task": Knob("MiniGrid-DoorKey-5x5-v0", "task", "a MiniGrid id (e.g. MiniGrid-DoorKey-8x8-v0)",
                 _task),
    "colors": Knob({}, "appearance", "colour renaming {old: new}, a permutation of "
                   + ", ".join(COLOR_NAMES), _colors),
    "view": Knob("agent", "observation", "'agent' (7x7-tile egocentric view) or 'full' (the map)",
                 knobs.choice(("agent", "full"))),
    "tile_size": Knob(8, "observation", "pixels per tile", knobs.integer(1, 64)),
}  # fmt: skip


def import_minigrid() -> Any:
    """Import ``minigrid`` (registering its ids) or explain how to install it."""
    return import_extra("minigrid", "minigrid", "rltransfer/MiniGrid-v0", "minigrid")


class _Recolour(gym.Wrapper):
    """Renames the colours of the grid's objects after every reset (MiniGrid builds its objects
    at reset; a step never creates new ones in the built-in tasks)."""

    def __init__(self, env: gym.Env, mapping: dict[str, str]) -> None:
        super().__init__(env)
        self._mapping = mapping

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        _, info = self.env.reset(**kwargs)
        base = self.env.unwrapped
        for obj in base.grid.grid:
            if obj is not None:
                obj.color = self._mapping.get(obj.color, obj.color)
        return base.gen_obs(), info


@declare_params
class MiniGridFamilyEnv(ParametrisedEnv, DelegatingEnv):
    """A MiniGrid task observed as RGB pixels.

    Observation: ``Box(0, 255, (7 * tile_size, 7 * tile_size, 3), uint8)`` HWC for
    ``view="agent"`` (56 x 56 at the default 8 pixels per tile); ``(height * tile_size,
    width * tile_size, 3)`` of the whole map for ``view="full"``. The mission text is dropped.
    Action: ``Discrete(7)`` (left, right, forward, pickup, drop, toggle, done).
    Reward: MiniGrid's, ``1 - 0.9 * steps / max_steps`` on success, else 0; MiniGrid truncates
    at its own ``max_steps``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    PARAMS = MINIGRID_PARAMS

    def __init__(self, render_mode: str | None = None, **params: Any) -> None:
        values = resolve_params(type(self).__name__, self.PARAMS, params)
        self._set_params(values)
        minigrid = import_minigrid()
        from minigrid.wrappers import ImgObsWrapper, RGBImgObsWrapper, RGBImgPartialObsWrapper

        if self.task not in gym.registry:
            known = sorted(k for k in gym.registry if k.startswith("MiniGrid-"))
            raise EnvParameterError(
                "task", f"unknown MiniGrid id {self.task!r} (minigrid {minigrid.__version__} "
                f"has {', '.join(known[:8])}, ...)",
            )  # fmt: skip
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        base = gym.make(self.task, disable_env_checker=True).unwrapped
        mapping = {k: v for k, v in self.colors.items() if k != v}
        env: gym.Env = _Recolour(base, mapping) if mapping else base
        rgb = RGBImgPartialObsWrapper if self.view == "agent" else RGBImgObsWrapper
        self._env = ImgObsWrapper(rgb(env, tile_size=self.tile_size))
        self.observation_space = self._env.observation_space
        self.action_space = self._env.action_space

    def render(self) -> np.ndarray | None:
        """The whole map, highlighted view included, ``(H, W, 3)`` uint8 for ``rgb_array``."""
        if self.render_mode != "rgb_array":
            return None
        return self._env.unwrapped.get_frame(highlight=True, tile_size=self.tile_size)
