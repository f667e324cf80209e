"""A multi-task source's per-task results, read back from its run folder (``source/``).

The multi-task evaluator (``rltransfer.multitask.evaluation``) writes the columns named by
``task_columns`` into the source's ``curve.csv``; the report reads them here, from the files
alone (no torch).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from rltransfer.layout import CURVE_FILE, read_meta, source_dir


def task_columns(k: int) -> tuple[str, str]:
    """The curve columns of task ``k``: its mean and std of returns."""
    return f"task{k}_return_mean", f"task{k}_return_std"


def source_tasks(study_dir: str | Path) -> dict[str, Any] | None:
    """The multi-task source's tasks and final per-task returns, from ``source/meta.json`` and
    ``source/curve.csv``; None when the source is not a multi-task run.

    Returns ``{"heads": str, "timesteps": int, "tasks": [{"env": {...}, "final_return": float,
    "final_std": float}, ...]}``."""
    src = source_dir(study_dir)
    meta = read_meta(src)
    if meta is None:
        return None
    try:
        with (src / CURVE_FILE).open() as f:
            rows = list(csv.DictReader(f))
    except (OSError, ValueError, csv.Error):
        return None
    tasks = meta.get("tasks")
    if not tasks or not rows:
        return None
    last = rows[-1]
    out = []
    try:  # a damaged source curve leaves the section out, as a missing one does
        for k, env in enumerate(tasks):
            mean_col, std_col = task_columns(k)
            out.append(
                {
                    "env": env,
                    "final_return": float(last.get(mean_col) or "nan"),
                    "final_std": float(last.get(std_col) or "nan"),
                }
            )
        timesteps = int(last["timesteps"])
    except (KeyError, TypeError, ValueError):
        return None
    return {"heads": meta.get("heads"), "timesteps": timesteps, "tasks": out}
