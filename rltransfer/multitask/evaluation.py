"""Per-task evaluation of a multi-task source, and its per-task results for the report.

Every task is evaluated on its own seeded evaluation env (the same seed for each task, reset at
every grid point) with ``eval.episodes`` episodes. The run's curve keeps the contract columns,
with ``return_mean`` = the mean over tasks of each task's mean return, ``return_std`` = the std
of all episodes' returns pooled over tasks and ``episodes`` = episodes over all tasks; the
columns ``task<k>_return_mean,task<k>_return_std`` follow.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from rltransfer.analysis.source_tasks import task_columns
from rltransfer.config.spec import EnvSpec, EvalSpec
from rltransfer.evaluation import Evaluator
from rltransfer.multitask.env import make_task_env


class MultiTaskEvaluator:
    """Called like ``rltransfer.evaluation.Evaluator``: returns (mean over tasks of the mean
    return, pooled std, episodes over all tasks); ``columns()`` gives the last per-task values
    ``{task<k>_return_mean, task<k>_return_std}``."""

    def __init__(self, envs: list[EnvSpec], spec: EvalSpec, seed: int, train_env: Any = None):
        k = len(envs)
        self.tasks = [
            Evaluator(e, spec, seed, train_env, make=partial(make_task_env, e, i, k))
            for i, e in enumerate(envs)
        ]
        self.last: dict[str, float] = {}

    def __call__(self, model: Any) -> tuple[float, float, int]:
        per_task = [t.returns(model) for t in self.tasks]
        self.last = {}
        for k, r in enumerate(per_task):
            mean_col, std_col = task_columns(k)
            self.last[mean_col], self.last[std_col] = float(r.mean()), float(r.std())
        pooled = np.concatenate(per_task)
        means = [float(r.mean()) for r in per_task]
        return float(np.mean(means)), float(pooled.std()), len(pooled)

    def columns(self) -> dict[str, float]:
        return dict(self.last)

    def close(self) -> None:
        for t in self.tasks:
            t.close()
