"""Environment families of the testbed, registered with Gymnasium on import.

Importing ``rltransfer.envs`` registers (once) every family of ``catalog.FAMILIES``:

- ``rltransfer/CartPole-v0``, ``Acrobot-v0``, ``MountainCar-v0``, ``Pendulum-v0``: Gymnasium's
  classic control with the physical constants as keyword arguments
  (``gymnasium.make("rltransfer/CartPole-v0", length=1.0)``);
- ``rltransfer/PixelGrid-v0``: a numpy-rendered grid world whose appearance, task, dynamics and
  reward are separate knobs;
- ``rltransfer/MiniGrid-v0`` and ``rltransfer/Atari-v0``: MiniGrid and ale-py as pixels (optional
  extras ``minigrid`` and ``atari``; imported only when such an environment is made).

``rltransfer.envs.wrappers`` turns any environment's rendering into pixel observations.
"""

from __future__ import annotations

from .base import EnvParameterError
from .catalog import FAMILIES, Family, get_family, list_families, register_families

__all__ = ["FAMILIES", "EnvParameterError", "Family", "get_family", "list_families"]

register_families()
