"""Atari 2600 games through ale-py, with game modes and difficulties as transfer targets.

Needs the optional dependency: ``pip install "rltransfer[atari]"`` (ale-py ships the ROMs).
``ale_py`` is imported only when an environment is made.

Machado et al. (2018, "Revisiting the Arcade Learning Environment") propose the games' *modes*
(variants of the task: e.g. Breakout's modes change the paddle or the ball) and *difficulties*
(the console's difficulty switches: e.g. a smaller paddle) as source/target pairs, with sticky
actions (``repeat_action_probability = 0.25``) for stochasticity. ``rltransfer/Atari-v0`` makes
``ALE/<game>-v5`` with those kwargs and the usual preprocessing, in numpy: grayscale, area-resized
to ``size x size``, the last ``frame_stack`` frames stacked on the channel axis.
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
from .wrappers import ResizePixels, StackFrames


def _game(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.isidentifier():
        raise EnvParameterError(name, f"must be an ALE game name such as 'Breakout', got {value!r}")
    return value


def _optional_int(name: str, value: Any) -> int | None:
    return None if value is None else knobs.integer(0)(name, value)


ATARI_PARAMS: Mapping[str, Param | Knob] = {
    "game": Knob("Breakout", "task", "the ALE game, as in ALE/<game>-v5", _game),
    "mode": Knob(None, "task", "game mode (null: the game's default); see the game's manual",
                 _optional_int),
    "difficulty": Knob(None, "dynamics", "difficulty switch (null: the game's default)",
                       _optional_int),
    "repeat_action_probability": Knob(0.25, "dynamics", "sticky actions (Machado et al. 2018)",
                                      knobs.real(0.0, 1.0)),
    "frameskip": Knob(4, "dynamics", "emulator frames per step (the action repeats)",
                      knobs.integer(1, 16)),
    "size": Knob(84, "observation", "square image side in pixels", knobs.integer(8, 256)),
    "frame_stack": Knob(4, "observation", "frames stacked on the channel axis",
                        knobs.integer(1, 16)),
}  # fmt: skip


def import_ale() -> Any:
    """Import ``ale_py`` (registering the ``ALE/...`` ids) or explain how to install it."""
    ale_py = import_extra("ale_py", "ale-py", "rltransfer/Atari-v0", "atari")
    gym.register_envs(ale_py)
    return ale_py


@declare_params
class AtariFamilyEnv(ParametrisedEnv, DelegatingEnv):
    """An Atari game in a chosen mode and difficulty, preprocessed for a CNN.

    Observation: ``Box(0, 255, (size, size, frame_stack), uint8)``: grayscale frames, HWC, oldest
    first. Action: the game's minimal action set, ``Discrete(n)``. Reward: the game score change.
    An invalid mode or difficulty raises ``EnvParameterError`` listing the valid ones.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}
    PARAMS = ATARI_PARAMS

    def __init__(self, render_mode: str | None = None, **params: Any) -> None:
        values = resolve_params(type(self).__name__, self.PARAMS, params)
        self._set_params(values)
        import_ale()
        env_id = f"ALE/{self.game}-v5"
        if env_id not in gym.registry:
            games = sorted(k[4:-3] for k in gym.registry if k.startswith("ALE/") and "-v5" in k)
            raise EnvParameterError("game", f"unknown ALE game {self.game!r}; known: "
                                            f"{', '.join(games)}")  # fmt: skip
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        kwargs = dict(
            obs_type="grayscale",
            frameskip=self.frameskip,
            repeat_action_probability=self.repeat_action_probability,
            render_mode=render_mode,
            disable_env_checker=True,
        )
        try:
            base = gym.make(env_id, mode=self.mode, difficulty=self.difficulty, **kwargs)
        except RuntimeError as e:  # ALE: "Invalid game mode requested" / "... difficulty ..."
            ale = gym.make(env_id, **kwargs).unwrapped.ale
            which = "mode" if "mode" in str(e) else "difficulty"
            valid = ale.getAvailableModes() if which == "mode" else ale.getAvailableDifficulties()
            raise EnvParameterError(
                which, f"{self.game} has {which}s {list(map(int, valid))}, "
                f"got {getattr(self, which)!r}",
            ) from None  # fmt: skip
        self._env = StackFrames(ResizePixels(base, self.size, self.size), self.frame_stack)
        self.observation_space = self._env.observation_space
        self.action_space = self._env.action_space

    def render(self) -> np.ndarray | None:
        """The emulator's RGB screen ``(210, 160, 3)`` uint8 for ``rgb_array``."""
        return self._env.render() if self.render_mode == "rgb_array" else None
