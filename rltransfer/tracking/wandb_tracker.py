"""Weights & Biases logging for studies.

One W&B run per training run (grouped by study; ``job_type`` source or target; the resolved study
as config; the eval curve logged against ``timesteps``), and one summary run per study with the
metrics table, the verdicts and the plot. Offline mode writes under ``runs/<study>/wandb`` and needs
no account; ``wandb sync runs/<study>/wandb/offline-run-*`` uploads later.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rltransfer.config.spec import WandbSpec

NEGATIVE_TAG = "negative-transfer"


def _settings() -> Any:
    import wandb

    return wandb.Settings(console="off", silent=True, x_disable_stats=True)


def _init(spec: WandbSpec, root: Path, **kwargs: Any) -> Any:
    import wandb

    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")
    return wandb.init(
        project=spec.project,
        entity=spec.entity,
        mode=spec.mode,
        dir=str(root),
        settings=_settings(),
        **kwargs,
    )


class RunTracker:
    """Logs one training run's evaluation curve; does nothing when W&B is disabled."""

    def __init__(self, run: Any | None):
        self.run = run

    def log_eval(self, timesteps: int, mean: float, std: float, episodes: int) -> None:
        if self.run is not None:
            self.run.log(
                {
                    "timesteps": timesteps,
                    "eval/return_mean": mean,
                    "eval/return_std": std,
                    "eval/episodes": episodes,
                }
            )

    def finish(self, summary: dict[str, Any] | None = None, exit_code: int = 0) -> None:
        if self.run is not None:
            for k, v in (summary or {}).items():
                self.run.summary[k] = v
            self.run.finish(exit_code=exit_code)
            self.run = None


def open_run_tracker(
    spec: WandbSpec,
    root: Path,
    *,
    run_id: str,
    name: str,
    group: str,
    job_type: str,
    config: dict[str, Any],
    tags: list[str],
) -> RunTracker:
    if spec.mode == "disabled":
        return RunTracker(None)
    run = _init(
        spec,
        root,
        id=run_id,
        name=name,
        group=group,
        job_type=job_type,
        config=config,
        tags=tags,
        reinit="finish_previous",
    )
    run.define_metric("timesteps")
    run.define_metric("eval/*", step_metric="timesteps")
    return RunTracker(run)


def run_tags(role: str, label: str) -> list[str]:
    """The tags a training run starts with."""
    return [role, label]


def tag_runs(spec: WandbSpec, root: Path, run_tags: dict[str, list[str]], tag: str) -> None:
    """Add ``tag`` to finished runs by resuming them; ``run_tags`` maps run id → its tags.

    An offline resumption cannot read the run's tags back, so they are passed in and set whole.
    """
    if spec.mode == "disabled":
        return
    for run_id, tags in run_tags.items():
        run = _init(spec, root, id=run_id, resume="allow", reinit="finish_previous")
        run.tags = tuple(dict.fromkeys([*tags, tag]))
        run.finish()


def log_study_summary(
    spec: WandbSpec,
    root: Path,
    *,
    study: str,
    summary: dict[str, Any],
    config: dict[str, Any],
    plot: Path | None,
    report: Path | None,
) -> str | None:
    """One summary run: the metrics table, the verdicts and the plot. Returns its id."""
    if spec.mode == "disabled":
        return None
    import wandb

    negative = [m for m, r in summary["methods"].items() if r["verdict"] == "negative"]
    run = _init(
        spec,
        root,
        name=f"{study}__summary",
        group=study,
        job_type="summary",
        config=config,
        tags=[NEGATIVE_TAG] if negative else [],
        reinit="finish_previous",
    )
    columns = ["method", "verdict", "seeds", "metric", "mean", "ci_low", "ci_high"]
    table = wandb.Table(columns=columns)
    for method, result in summary["methods"].items():
        for metric, value in result["metrics"].items():
            ci = value.get("ci") or [None, None]
            table.add_data(
                method, result["verdict"], result["seeds"], metric, value.get("mean"), ci[0], ci[1]
            )
        run.summary[f"verdict/{method}"] = result["verdict"]
    log: dict[str, Any] = {"metrics": table}
    if plot is not None and plot.is_file():
        log["curves"] = wandb.Image(str(plot))
    run.log(log)
    if report is not None and report.is_file():
        run.summary["report"] = report.read_text()
    run.finish()
    return run.id
