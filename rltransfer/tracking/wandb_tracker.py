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

    def log_eval(
        self,
        timesteps: int,
        mean: float,
        std: float,
        episodes: int,
        source: tuple[float, float, int] | None = None,
        extra: dict[str, float] | None = None,
    ) -> None:
        """One grid point: the target return and, with ``eval.on_source``, the source return
        ``(mean, std, episodes)`` as ``eval_source/*`` (nan when not evaluable there).
        ``extra`` curve columns ``task<k>_<name>`` are logged as ``eval/task<k>/<name>``."""
        if self.run is not None:
            row = {
                "timesteps": timesteps,
                "eval/return_mean": mean,
                "eval/return_std": std,
                "eval/episodes": episodes,
            }
            if source is not None:
                row["eval_source/return_mean"] = source[0]
                row["eval_source/return_std"] = source[1]
                row["eval_source/episodes"] = source[2]
            for key, value in (extra or {}).items():
                row["eval/" + key.replace("_", "/", 1)] = value
            self.run.log(row)

    def log_method(self, timesteps: int, metrics: dict[str, float]) -> None:
        """A transfer method's own quantities (a reuse probability, a distillation loss, …),
        logged as ``transfer/<name>`` against ``timesteps``."""
        if self.run is not None:
            self.run.log(
                {"timesteps": timesteps, **{f"transfer/{k}": v for k, v in metrics.items()}}
            )

    def alert(self, title: str, text: str) -> None:
        """A W&B alert (e-mail or Slack when online; recorded in the run when offline)."""
        if self.run is not None:
            import wandb

            self.run.alert(title=title, text=text, level=wandb.AlertLevel.WARN)

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
    run.define_metric("eval_source/*", step_metric="timesteps")
    run.define_metric("transfer/*", step_metric="timesteps")
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


ACCOUNTINGS = {"target-only": "metrics", "total-cost": "metrics_total_cost"}


def metrics_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """One row per (method, accounting, metric): the report's table, flattened for W&B."""
    rows = []
    for method, result in summary["methods"].items():
        for accounting, key in ACCOUNTINGS.items():
            for metric, value in (result.get(key) or {}).items():
                if not isinstance(value, dict):
                    continue
                ci = value.get("ci") or [None, None]
                rows.append(
                    [
                        method,
                        result["verdict"],
                        result["seeds"],
                        accounting,
                        metric,
                        value.get("mean"),
                        ci[0],
                        ci[1],
                    ]
                )
    return rows


def log_study_summary(
    spec: WandbSpec,
    root: Path,
    *,
    study: str,
    summary: dict[str, Any],
    config: dict[str, Any],
    images: dict[str, Path],
    report: Path | None,
) -> str | None:
    """One summary run: the metrics table (both accountings), the verdicts, the report and its
    images (``{"curves": path, "forest": path}``). Returns its id."""
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
    columns = ["method", "verdict", "seeds", "accounting", "metric", "mean", "ci_low", "ci_high"]
    log: dict[str, Any] = {"metrics": wandb.Table(columns=columns, data=metrics_rows(summary))}
    for method, result in summary["methods"].items():
        run.summary[f"verdict/{method}"] = result["verdict"]
    for name, path in images.items():
        if path.is_file():
            log[name] = wandb.Image(str(path))
    run.log(log)
    if report is not None and report.is_file():
        run.summary["report"] = report.read_text()
    run.finish()
    return run.id
