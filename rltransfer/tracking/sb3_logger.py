"""stable-baselines3's own logger output (``train/*``, ``rollout/*``, ``time/*``) for a run.

Every dump goes to the run's ``progress.csv`` (SB3's CSV format, one row per dump) and to its
W&B run against ``timesteps`` (the env steps SB3 passes as the dump's step). Imports SB3: load
it only where a model is trained.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

from stable_baselines3.common.logger import CSVOutputFormat, KVWriter, Logger, filter_excluded_keys

from rltransfer.layout import PROGRESS_FILE
from rltransfer.tracking.wandb_tracker import RunTracker


class WandbWriter(KVWriter):
    """An SB3 ``KVWriter`` that forwards each dump's numeric values to a ``RunTracker``
    (strings, images, figures and values excluded for ``wandb`` are skipped)."""

    def __init__(self, tracker: RunTracker):
        self.tracker = tracker

    def write(
        self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0
    ) -> None:
        values: dict[str, float] = {}
        for key, value in filter_excluded_keys(key_values, key_excluded, "wandb").items():
            if hasattr(value, "item") and getattr(value, "size", 1) == 1:
                value = value.item()  # numpy and torch scalars
            if isinstance(value, bool):
                value = int(value)
            if isinstance(value, numbers.Real):
                values[key] = float(value) if not isinstance(value, int) else value
        if values:
            self.tracker.log_sb3(int(step), values)

    def close(self) -> None:
        """Nothing to release: the tracker is finished by the run."""


def attach_sb3_logger(model: Any, run_dir: Path, tracker: RunTracker) -> Logger:
    """Give ``model`` a logger writing ``run_dir/progress.csv`` and to ``tracker``; returns it
    (close it with ``close_sb3_logger``)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    logger = Logger(
        str(run_dir), [CSVOutputFormat(str(run_dir / PROGRESS_FILE)), WandbWriter(tracker)]
    )
    model.set_logger(logger)
    return logger


def close_sb3_logger(model: Any) -> None:
    """Write what was recorded since the last dump (e.g. the last update's ``train/*``, which
    SB3's on-policy loop records after its final dump) at ``model.num_timesteps``, then close
    ``progress.csv``."""
    logger = model.logger
    try:
        if logger.name_to_value:
            logger.dump(step=int(model.num_timesteps))
    finally:
        logger.close()
