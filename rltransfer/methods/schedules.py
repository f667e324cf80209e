"""Coefficient schedules over env steps, and a compact timeline of what a method did.

A policy-transfer method weighs its teacher by a coefficient that starts at a value (``reuse``'s
ψ, ``kickstart``'s λ, …) and decays to 0. Time ``t`` is the target run's env steps, summed over
env copies (SB3's ``num_timesteps``), counted from the start of target training. The horizon H
(the env step from which the coefficient is 0) is a fraction of the run's env-step budget
(``until``, default 0.5) or absolute env steps (``until_steps``):

* ``constant``: the start value throughout (no horizon);
* ``linear``: ``start · (1 − t/H)``, then 0;
* ``exponential``: ``start · 0.01^(t/H)`` (1 % of the start at H), then 0;
* ``step``: the start value before H, then 0.

Every method that decays a coefficient takes the same three options by inheriting
``DecayOptions``; ``DecayOptions.schedule(start, budget)`` resolves them for one run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from rltransfer.config.parse import FieldError, join

Decay = Literal["constant", "linear", "exponential", "step"]
DEFAULT_UNTIL = 0.5
"""The horizon when neither ``until`` nor ``until_steps`` is given: half the budget."""
EXPONENTIAL_END = 0.01
"""An exponential schedule's value at its horizon, relative to the start."""


@dataclass(frozen=True)
class Schedule:
    """A resolved schedule: ``start`` decays (``decay``) to 0 at ``horizon`` env steps
    (None for ``constant``). ``schedule(t)`` is the coefficient at env step ``t``."""

    start: float
    decay: Decay
    horizon: int | None = None

    def __post_init__(self) -> None:
        if self.decay != "constant" and (self.horizon is None or self.horizon <= 0):
            raise ValueError(f"a {self.decay} schedule needs a horizon > 0, got {self.horizon}")

    def __call__(self, t: int) -> float:
        if self.decay == "constant":
            return self.start
        assert self.horizon is not None
        if t >= self.horizon:
            return 0.0
        x = max(t, 0) / self.horizon
        if self.decay == "linear":
            return self.start * (1.0 - x)
        if self.decay == "exponential":
            return self.start * EXPONENTIAL_END**x
        return self.start  # step

    def done(self, t: int) -> bool:
        """True from the horizon on (the coefficient stays 0); never for ``constant``."""
        return self.horizon is not None and t >= self.horizon

    def describe(self) -> dict[str, Any]:
        formula = {
            "constant": "start",
            "linear": "start·(1 − t/H), 0 from H",
            "exponential": f"start·{EXPONENTIAL_END:g}^(t/H), 0 from H",
            "step": "start before H, 0 from H",
        }[self.decay]
        return {
            "start": self.start,
            "decay": self.decay,
            "until_steps": self.horizon,
            "formula": formula,
            "units": "t: env steps of the target run (all env copies)",
        }


@dataclass
class DecayOptions:
    """How a coefficient decays: ``decay``: ``constant`` | ``linear`` | ``exponential`` |
    ``step``; its horizon, where it reaches 0: ``until`` (a fraction of the run's env-step
    budget in (0, 1]; default 0.5) or ``until_steps`` (env steps, all env copies)."""

    decay: Decay = "linear"
    until: float | None = None
    until_steps: int | None = None

    def check(self, path: str) -> None:
        if self.until is not None and not 0 < self.until <= 1:
            raise FieldError(
                join(path, "until"),
                f"must be a fraction of the budget in (0, 1], got {self.until} "
                "(use until_steps for env steps)",
            )
        if self.until_steps is not None and self.until_steps <= 0:
            raise FieldError(join(path, "until_steps"), f"must be > 0, got {self.until_steps}")
        if self.until is not None and self.until_steps is not None:
            raise FieldError(
                join(path, "until_steps"),
                "give either until (a fraction of the budget) or until_steps, not both",
            )
        if self.decay == "constant" and (self.until is not None or self.until_steps is not None):
            name = "until" if self.until is not None else "until_steps"
            raise FieldError(
                join(path, name),
                "a constant schedule has no horizon; remove it or use decay: linear, "
                "exponential or step",
            )

    def schedule(self, start: float, budget: int) -> Schedule:
        """The schedule of one run with ``budget`` env steps."""
        if self.decay == "constant":
            return Schedule(start, "constant")
        if self.until_steps is not None:
            horizon = self.until_steps
        else:
            until = self.until if self.until is not None else DEFAULT_UNTIL
            horizon = max(1, round(until * budget))
        return Schedule(start, self.decay, int(horizon))


MAX_POINTS = 50
"""A timeline keeps at most about this many points per run."""


def window_for(budget: int, points: int = MAX_POINTS) -> int:
    """The timeline window, in env steps, that gives about ``points`` points over ``budget``."""
    return max(1, math.ceil(budget / points))


@dataclass
class Timeline:
    """Per-window means of a method's quantities, for ``meta.json`` and W&B.

    ``add(t, weight, **values)`` accumulates weighted values (e.g. per env step, or per
    minibatch) at env step ``t``. Windows are ``every`` env steps long, (k·every, (k+1)·every];
    the first ``add`` past the current window closes it: its means become one point
    ``[t, *means]``, ``t`` being the last env step added to it, and are logged with
    ``log(t, {names[k]: mean})`` (e.g. ``TransferContext.log`` → W&B ``transfer/<name>``).
    ``flush()`` closes the last window."""

    columns: tuple[str, ...]
    every: int
    log: Callable[[int, dict[str, float]], None]
    names: dict[str, str] = field(default_factory=dict)
    """Column → logged metric name (default: the column)."""
    points: list[list[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sums = dict.fromkeys(self.columns, 0.0)
        self._weight = 0.0
        self._last = 0
        self._end = self.every

    def add(self, t: int, weight: float = 1.0, **values: float) -> None:
        if t > self._end:
            self.flush()
            self._end = -(-t // self.every) * self.every  # the end of t's window
        for k, v in values.items():
            self._sums[k] += weight * float(v)
        self._weight += weight
        self._last = int(t)

    def flush(self) -> None:
        """Close the current window (no point when it is empty)."""
        if self._weight > 0:
            means = {k: s / self._weight for k, s in self._sums.items()}
            self.points.append([self._last, *(round(means[k], 6) for k in self.columns)])
            self.log(self._last, {self.names.get(k, k): means[k] for k in self.columns})
        self._sums = dict.fromkeys(self.columns, 0.0)
        self._weight = 0.0

    def record(self) -> dict[str, Any]:
        """The compact form for ``meta.json``: columns, window, points."""
        return {
            "columns": ["t", *self.columns],
            "every": self.every,
            "points": self.points,
        }

    def column(self, name: str) -> list[float]:
        i = self.columns.index(name) + 1
        return [p[i] for p in self.points]
