"""Weights & Biases logging for studies.

One W&B run per training run (grouped by study; ``job_type`` source or target; the resolved study
as config; the eval curve logged against ``timesteps``), and one summary run per study with the
metrics table, the verdicts and the plot. Offline mode writes under ``runs/<study>/wandb`` and needs
no account; ``wandb sync runs/<study>/wandb/offline-run-*`` uploads later.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from rltransfer.config.spec import WandbSpec
from rltransfer.stopwatch import Stopwatch
from rltransfer.tracking.resolve import resolve_wandb, sync_command

NEGATIVE_TAG = "negative-transfer"
STEP_METRICS = ("eval", "eval_source", "transfer", "train", "rollout", "time")
"""Metric prefixes logged against ``timesteps`` (env steps): the curve, the forgetting curve,
a method's own quantities, and stable-baselines3's logger (``train/*``, ``rollout/*``,
``time/*``)."""


def _disabled(spec: WandbSpec) -> bool:
    return resolve_wandb(spec).mode == "disabled"


_online_failed: dict[str, str] = {}
"""W&B folder → why an online init failed there: later runs of that study, in this process,
log offline at once. Keyed by folder, so another study in the same process tries online again."""
"""Set when an online ``wandb.init`` failed in this process (the error's type)."""

INIT_TIMEOUT_S = 30.0
"""How long one ``wandb.init`` may wait for the server, in seconds (``WANDB_INIT_TIMEOUT``
overrides it); after that an online run logs offline instead."""
FINISH_TIMEOUT_S = 120.0
"""How long ``finish()`` of an online run may wait for its last uploads, in seconds
(``WANDB_FINISH_TIMEOUT`` overrides it); what is left stays on disk for ``wandb sync``."""


def _seconds(var: str, default: float) -> float:
    try:
        return float(os.environ.get(var) or default)
    except ValueError:  # a malformed variable must not cost the run
        return default


def _settings() -> Any:
    import wandb

    return wandb.Settings(
        console="off",
        silent=True,
        x_disable_stats=True,
        init_timeout=_seconds("WANDB_INIT_TIMEOUT", INIT_TIMEOUT_S),
        finish_timeout=_seconds("WANDB_FINISH_TIMEOUT", FINISH_TIMEOUT_S),
    )


def _init(spec: WandbSpec, root: Path, **kwargs: Any) -> Any:
    """``wandb.init`` with every setting explicit (``resolve_wandb``), writing under
    ``root/wandb``. Online, a failed init (server unreachable, key rejected) is retried offline
    with the same id, so W&B never costs a run; later runs in the same process then log offline
    at once rather than wait again."""
    import wandb

    spec = resolve_wandb(spec)
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")
    args = dict(project=spec.project, entity=spec.entity, dir=str(root), **kwargs)
    failed_before = _online_failed.get(str(root))
    if spec.mode == "online" and failed_before:
        print(
            f"warning: W&B run {kwargs.get('name') or kwargs.get('id')}: logging offline, as W&B "
            f"failed earlier in this process ({failed_before}). Upload later with: "
            f"{sync_command(root)}",
            file=sys.stderr,
            flush=True,
        )
    elif spec.mode == "online":
        try:
            return wandb.init(mode="online", settings=_settings(), **args)
        except Exception as e:
            _online_failed[str(root)] = type(e).__name__
            print(
                f"warning: W&B run {kwargs.get('name') or kwargs.get('id')}: online init failed "
                f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); logging "
                f"offline instead. Upload later with: {sync_command(root)}",
                file=sys.stderr,
                flush=True,
            )
            wandb.teardown()  # the failed attempt still holds the id in W&B's service
    return wandb.init(mode="offline", settings=_settings(), **args)


F = TypeVar("F", bound=Callable[..., Any])


def _timed(method: F) -> F:
    """A ``RunTracker`` method whose calls its stopwatch counts as ``wandb``."""

    @wraps(method)
    def timed(self: RunTracker, *args: Any, **kwargs: Any) -> Any:
        with self.watch.section("wandb"):
            return method(self, *args, **kwargs)

    return timed  # type: ignore[return-value]


class RunTracker:
    """Logs one training run's evaluation curve; does nothing when W&B is disabled. ``watch``
    counts the time of its calls as ``wandb``."""

    def __init__(self, run: Any | None, watch: Stopwatch | None = None):
        self.run = run
        self.watch = watch or Stopwatch()

    @_timed
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

    @_timed
    def log_method(self, timesteps: int, metrics: dict[str, float]) -> None:
        """A transfer method's own quantities (a reuse probability, a distillation loss, …),
        logged as ``transfer/<name>`` against ``timesteps``."""
        if self.run is not None:
            self.run.log(
                {"timesteps": timesteps, **{f"transfer/{k}": v for k, v in metrics.items()}}
            )

    @_timed
    def log_sb3(self, timesteps: int, values: dict[str, float]) -> None:
        """One dump of stable-baselines3's logger (``train/*``, ``rollout/*``, ``time/*``)
        against ``timesteps``."""
        if self.run is not None:
            self.run.log({"timesteps": timesteps, **values})

    @_timed
    def alert(self, title: str, text: str) -> None:
        """A W&B alert (e-mail or Slack when online; recorded in the run when offline)."""
        if self.run is not None:
            import wandb

            self.run.alert(title=title, text=text, level=wandb.AlertLevel.WARN)

    @_timed
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
    watch: Stopwatch | None = None,
) -> RunTracker:
    """The tracker of one run; ``watch`` times ``wandb.init`` and every later call."""
    watch = watch or Stopwatch()
    if _disabled(spec):
        return RunTracker(None, watch)
    with watch.section("wandb"):
        run = _init(
            spec,
            root,
            id=run_id,
            name=name,
            group=group,
            job_type=job_type,
            config=config,
            tags=tags,
            resume="allow",
            reinit="finish_previous",
        )
        run.define_metric("timesteps")
        for prefix in STEP_METRICS:
            run.define_metric(f"{prefix}/*", step_metric="timesteps")
    return RunTracker(run, watch)


def run_tags(role: str, label: str) -> list[str]:
    """The tags a training run starts with."""
    return [role, label]


def tag_runs(spec: WandbSpec, root: Path, run_tags: dict[str, list[str]], tag: str) -> None:
    """Add ``tag`` to finished runs by resuming them; ``run_tags`` maps W&B id (as given to
    ``open_run_tracker``) → its tags.

    An offline resumption cannot read the run's tags back, so they are passed in and set whole.
    """
    if _disabled(spec):
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
    run_id: str | None = None,
) -> str | None:
    """One summary run: the metrics table (both accountings), the verdicts, the report and its
    images (``{"curves": path, "forest": path}``). ``run_id``: its W&B id (``wandb_run_id(scope,
    SUMMARY_ID)``), so that a re-run resumes it; None lets W&B draw one. Returns its id."""
    if _disabled(spec):
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
        id=run_id,
        resume="allow" if run_id else None,
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
