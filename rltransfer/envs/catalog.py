"""The catalogue of environment families: one ``Family`` entry per Gymnasium id.

Adding a family means writing its environment class and appending one ``Family`` to
``FAMILIES``; registration and ``list_families()`` follow from that entry. Families that need an
optional dependency (``extra``) are registered all the same; their module imports the dependency
only when an environment is made, and says which ``pip install`` is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium

from .atari import ATARI_PARAMS
from .base import Knob, Param, axes, defaults
from .classic import ACROBOT_PARAMS, CARTPOLE_PARAMS, MOUNTAINCAR_PARAMS, PENDULUM_PARAMS
from .minigrid_family import MINIGRID_PARAMS
from .pixelgrid_parts import PIXELGRID_PARAMS


@dataclass(frozen=True)
class Family:
    """One environment family.

    Attributes:
        id: the Gymnasium id, ``"rltransfer/<Name>-v<N>"``.
        entry_point: ``"module:Class"`` for ``gymnasium.register``.
        params: the family's parameters (the class's ``PARAMS``).
        observation: the default observation space: ``"vector(4)"``, ``"pixels(64x64x3)"`` (HWC).
        action: the action space, e.g. ``"discrete(2)"`` or ``"box(1)"``.
        description: one line.
        max_episode_steps: the time limit ``gymnasium.make`` applies (``None``: the env's own).
        reward_threshold: the return at which the task counts as solved, or ``None``.
        extra: the optional dependency group it needs (``pip install "rltransfer[<extra>]"``).
    """

    id: str
    entry_point: str
    params: Mapping[str, Param | Knob]
    observation: str
    action: str
    description: str
    max_episode_steps: int | None
    reward_threshold: float | None = None
    extra: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-serialisable summary that ``list_families()`` publishes; ``knobs``
        groups the parameters by axis of change, ``{axis: {name: description}}``."""
        return {
            "id": self.id,
            "params": defaults(self.params),
            "observation": self.observation,
            "action": self.action,
            "description": self.description,
            "max_episode_steps": self.max_episode_steps,
            "reward_threshold": self.reward_threshold,
            "knobs": {
                axis: {name: _describe(self.params[name]) for name in names}
                for axis, names in axes(self.params).items()
            },
            "extra": self.extra,
        }


def _describe(spec: Param | Knob) -> str:
    if isinstance(spec, Knob):
        return spec.note
    unit = f"[{spec.unit}]" if spec.unit else ""
    rule = "> 0" if spec.positive else ""
    return "; ".join(part for part in (unit, rule, spec.note) if part)


_CLASSIC = "rltransfer.envs.classic"

FAMILIES: tuple[Family, ...] = (
    Family(
        id="rltransfer/CartPole-v0",
        entry_point=f"{_CLASSIC}:CartPoleFamilyEnv",
        params=CARTPOLE_PARAMS,
        observation="vector(4)",
        action="discrete(2)",
        description="Balance a pole on a cart pushed left or right.",
        max_episode_steps=500,
        reward_threshold=475.0,
    ),
    Family(
        id="rltransfer/Acrobot-v0",
        entry_point=f"{_CLASSIC}:AcrobotFamilyEnv",
        params=ACROBOT_PARAMS,
        observation="vector(6)",
        action="discrete(3)",
        description="Swing a two-link arm, torqued at its middle joint, above a height.",
        max_episode_steps=500,
        reward_threshold=-100.0,
    ),
    Family(
        id="rltransfer/MountainCar-v0",
        entry_point=f"{_CLASSIC}:MountainCarFamilyEnv",
        params=MOUNTAINCAR_PARAMS,
        observation="vector(2)",
        action="discrete(3)",
        description="Drive an underpowered car up a hill by rocking it back and forth.",
        max_episode_steps=200,
        reward_threshold=-110.0,
    ),
    Family(
        id="rltransfer/Pendulum-v0",
        entry_point=f"{_CLASSIC}:PendulumFamilyEnv",
        params=PENDULUM_PARAMS,
        observation="vector(3)",
        action="box(1)",
        description="Swing a pendulum up and hold it upright with a bounded torque.",
        max_episode_steps=200,
        reward_threshold=None,
    ),
    Family(
        id="rltransfer/PixelGrid-v0",
        entry_point="rltransfer.envs.pixelgrid:PixelGridEnv",
        params=PIXELGRID_PARAMS,
        observation="pixels(64x64x3)",
        action="discrete(4)",
        description="Walk to a goal cell in a numpy-rendered grid world; every axis is a knob.",
        max_episode_steps=100,
        reward_threshold=0.9,
    ),
    Family(
        id="rltransfer/MiniGrid-v0",
        entry_point="rltransfer.envs.minigrid_family:MiniGridFamilyEnv",
        params=MINIGRID_PARAMS,
        observation="pixels(56x56x3)",
        action="discrete(7)",
        description="A MiniGrid task seen as RGB pixels of the agent's view; colours permutable.",
        max_episode_steps=None,
        reward_threshold=None,
        extra="minigrid",
    ),
    Family(
        id="rltransfer/Atari-v0",
        entry_point="rltransfer.envs.atari:AtariFamilyEnv",
        params=ATARI_PARAMS,
        observation="pixels(84x84x4)",
        action="discrete(4)",
        description="An Atari 2600 game (ale-py) in a chosen mode and difficulty, 84x84 gray x4.",
        max_episode_steps=None,
        reward_threshold=None,
        extra="atari",
    ),
)


def list_families() -> list[dict[str, Any]]:
    """Return every family as ``{"id", "params", "observation", "action", "description",
    "max_episode_steps", "reward_threshold", "knobs", "extra"}``, JSON-serialisable, in catalogue
    order."""
    return [family.to_dict() for family in FAMILIES]


def get_family(env_id: str) -> Family:
    """Return the catalogue entry for ``env_id``.

    Raises:
        KeyError: if ``env_id`` is not a family of the catalogue.
    """
    for family in FAMILIES:
        if family.id == env_id:
            return family
    known = ", ".join(family.id for family in FAMILIES)
    raise KeyError(f"unknown environment family {env_id!r}; known: {known}")


def register_families() -> None:
    """Register every family with Gymnasium; ids already in the registry are left alone."""
    for family in FAMILIES:
        if family.id in gymnasium.registry:
            continue
        gymnasium.register(
            id=family.id,
            entry_point=family.entry_point,
            max_episode_steps=family.max_episode_steps,
            reward_threshold=family.reward_threshold,
        )
