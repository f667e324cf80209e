"""Experiment tracking: Weights & Biases (offline by default) and its offline read-back."""

from rltransfer.tracking.preflight import preflight
from rltransfer.tracking.resolve import SUMMARY_ID, resolve_wandb, wandb_run_id, wandb_scope
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
    "SUMMARY_ID",
    "RunTracker",
    "log_study_summary",
    "open_run_tracker",
    "preflight",
    "resolve_wandb",
    "run_tags",
    "tag_runs",
    "wandb_run_id",
    "wandb_scope",
]
