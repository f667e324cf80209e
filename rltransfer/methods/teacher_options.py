"""The options of the teacher methods (``kickstart``, ``reuse``; ``distill`` has its own module)
and of the teacher they rebuild. Light: no torch, no stable-baselines3 (see
``rltransfer.methods.options``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import PolicySpec
from rltransfer.methods.schedules import DecayOptions


@dataclass
class TeacherOptions:
    """How to rebuild the teacher. ``policy``: its architecture when it differs from the study's
    (e.g. a checkpoint trained elsewhere, or a large teacher for a small student), in the
    study's ``policy`` format; ``temperature``: a DQN teacher's softmax temperature over Q."""

    policy: PolicySpec | None = None
    temperature: float = 1.0

    def check(self, path: str) -> None:
        if self.temperature <= 0:
            raise FieldError(join(path, "temperature"), f"must be > 0, got {self.temperature}")


@dataclass
class KickstartOptions(DecayOptions):
    """``weight``: λ, the distillation loss's weight at the start; it decays as
    ``decay``/``until``/``until_steps`` say (``rltransfer.methods.schedules``; t in env steps).
    ``teacher``: how to rebuild the source agent (``policy``; ``temperature``: T of DQN's
    softmax(Q/T), for teacher and student)."""

    weight: float = 1.0
    teacher: TeacherOptions = field(default_factory=TeacherOptions)

    def check(self, path: str) -> None:
        super().check(path)
        if self.weight < 0:
            raise FieldError(join(path, "weight"), f"must be >= 0, got {self.weight}")


@dataclass
class ReuseOptions(DecayOptions):
    """``psi``: the probability, per env step and env copy, that the teacher acts in the
    target's rollouts, at the start; it decays as ``decay``/``until``/``until_steps`` say
    (``rltransfer.methods.schedules``; t in env steps). ``teacher_action``: ``auto`` (the mode
    for a DQN teacher, a sample otherwise), ``sample`` or ``mode``. ``teacher``: how to rebuild
    the source agent (``policy`` for a checkpoint trained with another architecture,
    ``temperature`` of a DQN teacher's softmax over Q)."""

    psi: float = 0.8
    teacher_action: Literal["auto", "sample", "mode"] = "auto"
    teacher: TeacherOptions = field(default_factory=TeacherOptions)

    def check(self, path: str) -> None:
        super().check(path)
        if not 0 <= self.psi <= 1:
            raise FieldError(join(path, "psi"), f"must be a probability in [0, 1], got {self.psi}")
