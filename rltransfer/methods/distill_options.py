"""The options of ``distill`` (``rltransfer.methods.distill``), with their range checks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from rltransfer.config.parse import FieldError, join
from rltransfer.methods.teacher_options import TeacherOptions

DEFAULT_MEMORY_MB = 2048.0
"""The dataset's default bound: 2 GiB of states (e.g. ~170k 64×64×3 uint8 frames with their
labels), so that a long pixel distillation stays under 4 GB of process memory."""


@dataclass
class HeldoutOptions:
    """How the agreement and the return are measured. ``steps``: env steps of teacher rollouts
    (the teacher acting as ``actions`` says) whose states are the held-out set (0: no
    agreement); ``episodes``: student episodes for the return before and after distillation and
    at the end (0: none). Not training: not counted in the budget."""

    steps: int = 1000
    episodes: int = 5

    def check(self, path: str) -> None:
        for name in ("steps", "episodes"):
            if getattr(self, name) < 0:
                raise FieldError(join(path, name), f"must be >= 0, got {getattr(self, name)}")


@dataclass
class DistillOptions:
    """``mode``: who acts while the data is collected: ``student`` (DAgger) or ``teacher``.
    ``steps``: env steps of distillation (counted in the budget), or ``fraction`` of the budget;
    default: the whole budget with ``rl: false``, else a quarter of it. ``rl``: train with the
    study's algorithm for the rest of the budget. ``rounds``: collection rounds; after each, the
    student trains ``epochs`` passes over everything collected so far, in minibatches of
    ``batch_size`` states, with Adam at learning rate ``lr``. ``loss``: ``kl`` | ``nll``.
    ``actions``: how the acting policy picks its action: ``sample`` or ``mode``.
    ``beta``/``beta_decay``: (student mode) the probability that the teacher acts in round k is
    ``beta · beta_decay^k``. ``value``: also regress the value head on the teacher's (PPO/A2C).
    ``teacher``: how to rebuild the teacher (its ``policy`` when it differs from the study's, a DQN
    ``temperature``). ``teacher_obs``: ``same`` (the student's observations) or ``state`` (the
    env's ``info["state"]``, for a state teacher and a pixel student).

    ``memory_mb`` (MB, 2^20 bytes) and ``max_states`` bound the aggregated dataset (the smaller
    bound holds; null: none): once more states were visited than it holds, it keeps a uniform
    sample of every state visited so far (a reservoir, ``rltransfer.methods.distill_dataset``);
    below the bound, every state is kept, as without one."""

    mode: Literal["student", "teacher"] = "student"
    steps: int | None = None
    fraction: float | None = None
    rl: bool = True
    rounds: int = 8
    epochs: int = 8
    batch_size: int = 256
    lr: float = 1e-3
    loss: Literal["kl", "nll"] = "kl"
    actions: Literal["sample", "mode"] = "sample"
    beta: float = 1.0
    beta_decay: float = 0.5
    value: bool = False
    teacher: TeacherOptions = field(default_factory=TeacherOptions)
    teacher_obs: Literal["same", "state"] = "same"
    heldout: HeldoutOptions = field(default_factory=HeldoutOptions)
    memory_mb: float | None = DEFAULT_MEMORY_MB
    max_states: int | None = None

    def check(self, path: str) -> None:
        if self.steps is not None and self.fraction is not None:
            raise FieldError(join(path, "fraction"), "give 'steps' or 'fraction', not both")
        if self.steps is not None and self.steps < 1:
            raise FieldError(join(path, "steps"), f"must be >= 1, got {self.steps}")
        if self.fraction is not None and not 0 < self.fraction <= 1:
            raise FieldError(join(path, "fraction"), f"must be in (0, 1], got {self.fraction}")
        for name in ("rounds", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise FieldError(join(path, name), f"must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise FieldError(join(path, "lr"), f"must be > 0, got {self.lr}")
        if self.memory_mb is not None and not 0 < self.memory_mb < math.inf:
            raise FieldError(
                join(path, "memory_mb"), f"must be > 0 (MB; null: no bound), got {self.memory_mb}"
            )
        if self.max_states is not None and self.max_states < 1:
            raise FieldError(join(path, "max_states"), f"must be >= 1, got {self.max_states}")
        for name in ("beta", "beta_decay"):
            if not 0 <= getattr(self, name) <= 1:
                raise FieldError(join(path, name), f"must be in [0, 1], got {getattr(self, name)}")
