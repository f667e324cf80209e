"""Plan, execute and resume a study, then analyse it and write the report.

The plan is one source run (unless the source is a checkpoint) and one target run per
(method, seed). Each run has a content-hash id; a run folder holding a complete run with that id
is skipped, so an interrupted study resumes where it stopped and never loses a finished run.
Scratch runs need no source, so they start alongside the source run.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rltransfer.analysis.curves import Curve
from rltransfer.config.load import load_study
from rltransfer.config.spec import EnvSpec, SourceSpec, StudySpec
from rltransfer.config.validate import BASELINE
from rltransfer.errors import RunFailedError, UserError
from rltransfer.executors import Executor, make_executor
from rltransfer.folder_guard import PlannedRun, check_study_folder, remove_runs
from rltransfer.io import atomic_write_text, file_sha256
from rltransfer.methods import method_class
from rltransfer.paths import output_dir
from rltransfer.progress import StudyProgress
from rltransfer.reanalysis import AnalysisOptions, analyse_study_dir
from rltransfer.run import RunSpec, is_complete, run_label
from rltransfer.tracking import preflight, wandb_scope

EVAL_SEED_OFFSET = 10_000
"""Evaluation env seed = run seed + this offset, the same for every method of a seed."""


@dataclass
class StudyResult:
    """What ``run_study`` returns."""

    spec: StudySpec
    out_dir: Path
    summary: dict[str, Any]
    curves: dict[str, dict[int, Curve]]
    paths: dict[str, Path]
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _hash(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _env_dict(env: EnvSpec) -> dict[str, Any]:
    return {"id": env.id, "kwargs": env.kwargs, "wrappers": [vars(w) for w in env.wrappers]}


def _eval_identity(spec: StudySpec) -> dict[str, Any]:
    """The evaluation settings in a run id. ``on_source`` is left out: it changes only target
    runs, through their own ``source_eval`` key, so turning it off keeps every older run id."""
    return {k: v for k, v in vars(spec.eval).items() if k != "on_source"}


@dataclass
class Plan:
    source: RunSpec | None
    """The study's source run (None for a checkpoint source)."""
    targets: list[RunSpec]
    method_sources: list[RunSpec] = field(default_factory=list)
    """Source runs of methods that name their own ``source``."""

    @property
    def sources(self) -> list[RunSpec]:
        return ([self.source] if self.source else []) + self.method_sources

    @property
    def runs(self) -> list[RunSpec]:
        return self.sources + self.targets


def plan_study(spec: StudySpec, root: Path) -> Plan:
    """The runs of ``spec`` with their ids and folders under ``root`` (``runs/<study>``)."""
    config = spec.to_dict()
    common = {
        "algo": spec.algo,
        "hyperparams": spec.hyperparams,
        "policy": vars(spec.policy),
        "eval": _eval_identity(spec),
    }
    shared = dict(
        algo=spec.algo,
        hyperparams=spec.hyperparams,
        policy=spec.policy,
        eval=spec.eval,
        device=spec.device,
        study=spec.name,
        wandb=spec.tracking.wandb,
        wandb_dir=spec.tracking.wandb.dir or str(root),
        wandb_scope=wandb_scope(spec.name, root),
        config=config,
    )
    source, source_identity = _source_run(spec.source, "source", root / "source", common, shared)
    method_sources: dict[str, tuple[RunSpec | None, dict[str, Any]]] = {
        m.name: _source_run(m.source, m.name, root / "sources" / m.name, common, shared)
        for m in spec.methods
        if m.source is not None
    }
    targets = []

    def baseline_dir(seed: int) -> str:
        return str(root / "target" / BASELINE / f"seed_{seed}")

    # Forgetting: every target run (scratch too) is also evaluated on the source env. The key is
    # only added when on, so studies without it keep their run ids.
    source_env = spec.source.env if spec.eval.on_source else None
    source_eval = {"source_eval": _env_dict(source_env)} if source_env is not None else {}

    for m in spec.methods:
        needs_source = method_class(m.method, "method").needs_source
        src_spec = m.source or spec.source
        src_run, src_identity = method_sources.get(m.name, (source, source_identity))
        # Stopping on the alarm changes the result, so it is part of a transfer run's identity.
        stops = spec.stop_on_negative and m.method != BASELINE
        for seed in spec.seeds:
            run_id = _hash(
                {
                    "role": "target",
                    **common,
                    "env": _env_dict(spec.target.env),
                    "timesteps": spec.target.timesteps,
                    "seed": seed,
                    "method": {"method": m.method, "options": m.options},
                    "source": src_identity if needs_source else None,
                    "stop_on_negative": {"threshold": spec.threshold} if stops else None,
                    **source_eval,
                }
            )
            targets.append(
                RunSpec(
                    run_id=run_id,
                    role="target",
                    label=m.name,
                    seed=seed,
                    env=spec.target.env,
                    timesteps=spec.target.timesteps,
                    eval_seed=seed + EVAL_SEED_OFFSET,
                    out_dir=str(root / "target" / m.name / f"seed_{seed}"),
                    method=m,
                    source_dir=src_run.out_dir if (needs_source and src_run) else None,
                    source_checkpoint=src_spec.checkpoint if needs_source else None,
                    source_policy=src_spec.policy if needs_source else None,
                    baseline_dir=None if m.method == BASELINE else baseline_dir(seed),
                    threshold=spec.threshold,
                    stop_on_negative=stops,
                    source_env=source_env,
                    **shared,
                )
            )
    own_runs = [r for r, _ in method_sources.values() if r is not None]
    return Plan(source, targets, own_runs)


def _source_run(
    s: SourceSpec, label: str, out: Path, common: dict[str, Any], shared: dict[str, Any]
) -> tuple[RunSpec | None, dict[str, Any]]:
    """The run that trains source ``s`` (None for a checkpoint) and the source's identity in
    the ids of the target runs that use it. ``label``: ``source`` for the study's source, the
    method's name for a method's own."""
    if s.checkpoint is not None:
        identity: dict[str, Any] = {"checkpoint_sha256": file_sha256(s.checkpoint)}
        if s.policy is not None:  # the teacher's architecture
            identity["policy"] = vars(s.policy)
        return None, identity
    own = {"policy": vars(s.policy)} if s.policy is not None else {}
    # A multi-task source is identified by all its tasks and its heads; a single-env source
    # keeps exactly its old identity (and run id).
    tasks: dict[str, Any] = (
        {"envs": [_env_dict(e) for e in s.envs], "heads": s.heads}
        if s.envs
        else {"env": _env_dict(s.env)}
    )
    run_id = _hash(
        {"role": "source", **common, **own, **tasks, "timesteps": s.timesteps, "seed": s.seed}
    )
    run = RunSpec(
        run_id=run_id,
        role="source",
        label=label,
        seed=s.seed,
        env=s.env if s.env is not None else s.envs[0],
        envs=s.envs,
        heads=s.heads,
        timesteps=s.timesteps,
        eval_seed=s.seed + EVAL_SEED_OFFSET,
        out_dir=str(out),
        **{**shared, "policy": s.policy or shared["policy"]},
    )
    return run, {"source_run": run_id}


def _execute(
    plan: Plan, todo: list[RunSpec], executor: Executor, progress: StudyProgress
) -> tuple[list[str], list[str]]:
    """Run ``todo`` (the runs not done yet) on ``executor``, each after its source; returns
    (failed run labels, skipped run labels)."""
    skipped = [run_label(r) for r in plan.runs if r not in todo]
    for r in plan.runs:
        if r not in todo:
            progress.finished(r.run_id, run_label(r), "already complete, skipped")
    pending = {r.out_dir for r in plan.sources if r in todo}  # targets wait for their source
    waiting = [r for r in todo if r.role == "target" and r.source_dir in pending]
    ready = [r for r in todo if r not in waiting]
    running: dict[Future, RunSpec] = {}
    failed: list[str] = []
    try:
        while ready or running or waiting:
            for r in ready:
                progress.started(r.run_id, run_label(r), r.timesteps)
                running[executor.submit(r)] = r
            ready = []
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                r = running.pop(fut)
                error = fut.exception()
                if error is None:
                    meta = fut.result()
                    progress.finished(r.run_id, run_label(r), f"done in {meta['wall_time_s']:.0f}s")
                else:
                    failed.append(run_label(r))
                    progress.finished(
                        r.run_id,
                        run_label(r),
                        f"FAILED ({type(error).__name__}: "
                        f"{error}); traceback in {r.out_dir}/traceback.txt",
                    )
                if r.role == "source":
                    mine = [w for w in waiting if w.source_dir == r.out_dir]
                    waiting = [w for w in waiting if w not in mine]
                    if error is None:
                        ready += mine
                    else:
                        failed += [run_label(w) + f" ({run_label(r)} failed)" for w in mine]
    except BaseException:
        executor.shutdown(cancel=True)
        raise
    executor.shutdown()
    return failed, skipped


def _track_summary(
    spec: StudySpec, root: Path, plan: Plan, summary: dict[str, Any], paths: dict[str, Path]
) -> None:
    from rltransfer.tracking import (
        NEGATIVE_TAG,
        SUMMARY_ID,
        log_study_summary,
        run_tags,
        tag_runs,
        wandb_run_id,
    )

    wb = spec.tracking.wandb
    wandb_root = Path(wb.dir or root)
    negative = {m for m, r in summary["methods"].items() if r["verdict"] == "negative"}
    tagged = {
        wandb_run_id(r.wandb_scope, r.run_id): run_tags(r.role, r.label)
        for r in plan.targets
        if r.label in negative
    }
    tag_runs(wb, wandb_root, tagged, NEGATIVE_TAG)
    log_study_summary(
        wb,
        wandb_root,
        run_id=wandb_run_id(wandb_scope(spec.name, root), SUMMARY_ID),
        study=spec.name,
        summary=summary,
        config=spec.to_dict(),
        images={k: paths[k] for k in ("curves", "forest", "curves_source") if k in paths},
        report=paths.get("report"),
    )


def run_study(
    path_or_spec: Any = None,
    *,
    out: str | Path = "runs",
    quiet: bool = False,
    overwrite: bool = False,
    **overrides: Any,
) -> StudyResult:
    """Load, run (resuming) and analyse a study. See ``rltransfer.run_study``.

    A folder holding finished runs of another spec stops the study (``UserError``) unless
    ``overwrite``, which replaces those runs (``rltransfer.folder_guard``)."""
    spec = load_study(path_or_spec, **overrides)
    root = output_dir(Path(out) / spec.name, "--out")  # no file in the way
    # W&B settings resolved and checked once, before training (may fall back to offline); the
    # runs' W&B mode and folder come from them, so the plan follows
    spec.tracking.wandb = preflight(spec.tracking.wandb, root)
    plan = plan_study(spec, root)
    config = spec.to_dict()
    planned = [PlannedRun(Path(r.out_dir), r.run_id, run_label(r)) for r in plan.runs]
    replaced = check_study_folder(root, planned, config, overwrite)
    todo = [r for r in plan.runs if not is_complete(Path(r.out_dir), r.run_id)]
    with StudyProgress(len(plan.runs), enabled=not quiet) as progress:
        # The executor first: a cluster that cannot take the runs stops the study (exit 2)
        # before anything in the folder changes.
        executor = make_executor(spec.executor, progress.update, todo)
        remove_runs(replaced)
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / "study.yaml", yaml.safe_dump(config, sort_keys=False))
        progress.log(f"study '{spec.name}': {len(plan.runs)} runs → {root}")
        failed, skipped = _execute(plan, todo, executor, progress)
    try:
        summary, curves, paths = analyse_study_dir(
            root, AnalysisOptions.from_spec(spec), extra={"failed_runs": failed}
        )
    except UserError as e:
        if not failed:
            raise
        # Too few runs finished to compare anything: the failure is the news, not the analysis.
        progress.log(f"no analysis: {e}")
        raise RunFailedError(StudyResult(spec, root, {}, {}, {}, failed, skipped)) from None
    _track_summary(spec, root, plan, summary, paths)
    result = StudyResult(spec, root, summary, curves, paths, failed, skipped)
    if failed:
        raise RunFailedError(result)
    return result
