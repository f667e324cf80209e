"""Environment families of the testbed, registered with Gymnasium on import.

Importing ``rltransfer.envs`` registers (once) the ids ``rltransfer/CartPole-v0``,
``rltransfer/Acrobot-v0``, ``rltransfer/MountainCar-v0`` and ``rltransfer/Pendulum-v0``. Their
physical parameters are keyword arguments of ``gymnasium.make``, e.g.
``gymnasium.make("rltransfer/CartPole-v0", length=1.0)``.
"""

from __future__ import annotations

from .base import EnvParameterError
from .catalog import FAMILIES, Family, get_family, list_families, register_families

__all__ = ["FAMILIES", "EnvParameterError", "Family", "get_family", "list_families"]

register_families()
