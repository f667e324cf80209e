"""Evaluation on a fixed grid of timesteps, on a separate, seeded evaluation env.

Every run of a study evaluates at t = 0 and every ``eval.every`` env steps. The evaluation env is
reseeded with the same seed at every point, so all methods of seed k face the same episodes.

- ``evaluator``: ``Evaluator``, the episodes of one evaluation point;
- ``lockstep``: its loop: every copy steps together, one batched policy forward per step;
- ``source``: ``SourceEvaluator`` (forgetting) and ``zero_shot_return``;
- ``grid``: ``eval_grid``, ``GridClock`` and its SB3 callback;
- ``reference``: SB3's ``evaluate_policy`` over a ``DummyVecEnv``, the path the lock-step
  evaluator replaces, kept as the reference its tests and benchmark compare with.
"""

from __future__ import annotations

from .evaluator import MAX_EVAL_ENVS, Evaluator
from .grid import EvalGridCallback, GridClock, eval_grid
from .source import SourceEvaluator, zero_shot_return

__all__ = [
    "MAX_EVAL_ENVS",
    "EvalGridCallback",
    "Evaluator",
    "GridClock",
    "SourceEvaluator",
    "eval_grid",
    "zero_shot_return",
]
