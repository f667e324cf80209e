"""Experiment tracking: Weights & Biases (offline by default) and its offline read-back."""

from rltransfer.tracking.wandb_tracker import (
    NEGATIVE_TAG,
    RunTracker,
    log_study_summary,
    open_run_tracker,
    run_tags,
    tag_runs,
)

__all__ = [
    "NEGATIVE_TAG",
    "RunTracker",
    "log_study_summary",
    "open_run_tracker",
    "run_tags",
    "tag_runs",
]
