"""The catalogue of environment families: one ``Family`` entry per Gymnasium id.

Adding a family (e.g. a pixel one) means writing its environment class and appending one
``Family`` to ``FAMILIES``; registration and ``list_families()`` follow from that entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium

from .base import Param, defaults
from .classic import ACROBOT_PARAMS, CARTPOLE_PARAMS, MOUNTAINCAR_PARAMS, PENDULUM_PARAMS


@dataclass(frozen=True)
class Family:
    """One environment family.

    Attributes:
        id: the Gymnasium id, ``"rltransfer/<Name>-v<N>"``.
        entry_point: ``"module:Class"`` for ``gymnasium.register``.
        params: the family's physical parameters (the class's ``PARAMS``).
        observation: the observation space, e.g. ``"vector(4)"``.
        action: the action space, e.g. ``"discrete(2)"`` or ``"box(1)"``.
        description: one line.
        max_episode_steps: the time limit ``gymnasium.make`` applies.
        reward_threshold: the return at which the task counts as solved, or ``None``.
    """

    id: str
    entry_point: str
    params: Mapping[str, Param]
    observation: str
    action: str
    description: str
    max_episode_steps: int
    reward_threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-serialisable summary that ``list_families()`` publishes."""
        return {
            "id": self.id,
            "params": defaults(self.params),
            "observation": self.observation,
            "action": self.action,
            "description": self.description,
            "max_episode_steps": self.max_episode_steps,
            "reward_threshold": self.reward_threshold,
        }


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
)


def list_families() -> list[dict[str, Any]]:
    """Return every family as ``{"id", "params", "observation", "action", "description",
    "max_episode_steps", "reward_threshold"}``, JSON-serialisable, in catalogue order."""
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
