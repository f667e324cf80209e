"""Plan, execute and resume a study, then analyse it and write the report.

The plan is one target run per (method, seed) and the source runs they transfer from: one per
seed pair by default (``source.replicas``, ``rltransfer.config.replicas``), none for a
checkpoint. Each run has a content-hash id; a run folder holding a complete run with that id
is skipped, so an interrupted study resumes where it stopped and never loses a finished run.
Scratch runs need no source, so they start alongside the source runs; a target starts when its
own source has finished. With sequential seeding the runs are trained one look at a time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rltransfer.analysis.curves import Curve
from rltransfer.config.replicas import Replica, pair_replicas
from rltransfer.config.spec import BASELINE, EnvSpec, PolicySpec, SourceSpec, StudySpec
from rltransfer.errors import RunFailedError, UserError
from rltransfer.executors import Executor, make_executor
from rltransfer.folder_guard import PlannedRun, check_study_folder, remove_runs
from rltransfer.io import atomic_write_text, file_sha256
from rltransfer.layout import (
    RunSpec,
    is_complete,
    run_label,
    source_dir,
    source_folder,
    study_file,
    target_dir,
)
from rltransfer.methods import method_class
from rltransfer.paths import output_dir
from rltransfer.progress import StudyProgress
from rltransfer.reanalysis import AnalysisOptions, analyse_study_dir, decided_methods
from rltransfer.scheduling import Outcome, execute_runs
from rltransfer.seeds import eval_seed
from rltransfer.tracking import (
    NEGATIVE_TAG,
    SUMMARY_ID,
    log_study_summary,
    preflight,
    run_tags,
    tag_runs,
    wandb_run_id,
    wandb_scope,
)
from rltransfer.validation import load_study


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


def _policy_identity(policy: PolicySpec) -> dict[str, Any]:
    """The architecture in a run id. ``cache_memory_mb`` is left out: the feature store's
    budget changes how often a frame is encoded, never its features, so no result."""
    return {k: v for k, v in vars(policy).items() if k != "cache_memory_mb"}


def _eval_identity(spec: StudySpec) -> dict[str, Any]:
    """The evaluation settings in a run id. ``on_source`` is left out: it changes only target
    runs, through their own ``source_eval`` key, so turning it off keeps every older run id."""
    return {k: v for k, v in vars(spec.eval).items() if k != "on_source"}


@dataclass
class Plan:
    sources: list[RunSpec]
    """The source runs the targets need: the study's replicas and methods' own (none for
    checkpoints)."""
    targets: list[RunSpec]

    @property
    def runs(self) -> list[RunSpec]:
        return self.sources + self.targets


@dataclass(frozen=True)
class _Source:
    """One replica of a source: its run (None for a checkpoint) and its identity in target ids."""

    run: RunSpec | None
    identity: dict[str, Any]
    checkpoint: str | None


def plan_study(
    spec: StudySpec, root: Path, seeds: list[int] | None = None, methods: list[str] | None = None
) -> Plan:
    """The runs of ``spec`` with their ids and folders under ``root`` (``runs/<study>``).

    ``seeds``/``methods`` restrict the plan (sequential seeding plans one look at a time); the
    replica each pair transfers from is always that of the full seed list
    (``rltransfer.config.replicas``), so a run's id does not depend on when it was planned."""
    config = spec.to_dict()
    common = {
        "algo": spec.algo,
        "hyperparams": spec.hyperparams,
        "policy": _policy_identity(spec.policy),
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
    wanted = set(spec.seeds if seeds is None else seeds)
    chosen = [m for m in spec.methods if methods is None or m.name in methods]
    # Forgetting: every target run (scratch too) is also evaluated on the source env. The key is
    # only added when on, so studies without it keep their run ids.
    source_env = spec.source.env if spec.eval.on_source else None
    source_eval = {"source_eval": _env_dict(source_env)} if source_env is not None else {}
    made: dict[str, _Source] = {}  # replica key -> its run, made once however many pairs use it
    targets = []
    for m in chosen:
        needs_source = method_class(m.method, "method").needs_source
        src_spec, label = (m.source, m.name) if m.source is not None else (spec.source, "source")
        folder = source_folder(None if m.source is None else m.name)
        by_seed = pair_replicas(src_spec, folder, spec.seeds)
        # Stopping on the alarm changes the result, so it is part of a transfer run's identity.
        stops = spec.stop_on_negative and m.method != BASELINE
        for seed in (s for s in spec.seeds if s in wanted):
            src = None
            if needs_source:
                rep = by_seed[seed]
                if rep.key not in made:
                    made[rep.key] = _source_run(src_spec, rep, label, root, common, shared, spec)
                src = made[rep.key]
            run_id = _hash(
                {
                    "role": "target",
                    **common,
                    "env": _env_dict(spec.target.env),
                    "timesteps": spec.target.timesteps,
                    "seed": seed,
                    "method": {"method": m.method, "options": m.options},
                    "source": src.identity if src else None,
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
                    eval_seed=eval_seed(seed),
                    out_dir=str(target_dir(root, m.name, seed)),
                    method=m,
                    source_dir=src.run.out_dir if src and src.run else None,
                    source_checkpoint=src.checkpoint if src else None,
                    source_policy=src_spec.policy if needs_source else None,
                    baseline_dir=None
                    if m.method == BASELINE
                    else str(target_dir(root, BASELINE, seed)),
                    threshold=spec.threshold,
                    stop_on_negative=stops,
                    source_env=source_env,
                    **shared,
                )
            )
    sources = [s.run for s in made.values() if s.run is not None]
    return Plan(sources, targets)


def _source_run(
    s: SourceSpec,
    rep: Replica,
    label: str,
    root: Path,
    common: dict[str, Any],
    shared: dict[str, Any],
    spec: StudySpec,
) -> _Source:
    """Replica ``rep`` of source ``s``: the run that trains it (None for a checkpoint) and its
    identity in the ids of the target runs that use it. ``label``: ``source`` for the study's
    source, the method's name for a method's own."""
    if rep.checkpoint is not None:
        identity: dict[str, Any] = {"checkpoint_sha256": file_sha256(rep.checkpoint)}
        if s.policy is not None:  # the teacher's architecture
            identity["policy"] = _policy_identity(s.policy)
        return _Source(None, identity, rep.checkpoint)
    assert rep.seed is not None
    own = {"policy": _policy_identity(s.policy)} if s.policy is not None else {}
    # A multi-task source is identified by all its tasks and its heads; a single-env source
    # keeps exactly its old identity (and run id).
    tasks: dict[str, Any] = (
        {"envs": [_env_dict(e) for e in s.envs], "heads": s.heads}
        if s.envs
        else {"env": _env_dict(s.env)}
    )
    run_id = _hash(
        {"role": "source", **common, **own, **tasks, "timesteps": s.timesteps, "seed": rep.seed}
    )
    run = RunSpec(
        run_id=run_id,
        role="source",
        label=label,
        seed=rep.seed,
        env=s.env if s.env is not None else s.envs[0],
        envs=s.envs,
        heads=s.heads,
        timesteps=s.timesteps,
        eval_seed=eval_seed(rep.seed),
        out_dir=str(source_dir(root, rep.key)),
        replica=rep.name,
        zero_shot_env=None if s.envs else spec.target.env,
        zero_shot_seed=eval_seed(spec.seeds[rep.index]),  # replica j's first pair: j
        **{**shared, "policy": s.policy or shared["policy"]},
    )
    return _Source(run, {"source_run": run_id}, None)


def _run_looks(
    spec: StudySpec,
    root: Path,
    executor: Executor,
    progress: StudyProgress,
    options: AnalysisOptions,
) -> Outcome:
    """Train the study: all its runs at once, or, with sequential seeding, one look at a time.

    At each look the runs of the still-open methods (and scratch) for the look's seeds are
    trained, then every method's looks are replayed from the curves (the same code as the
    report, ``rltransfer.analysis.looks``); a method that decided trains no more seeds."""
    looks = spec.sequential.looks if spec.sequential else (len(spec.seeds),)
    open_methods = [m.name for m in spec.methods]
    handled: set[str] = set()
    total = Outcome()
    for k, n in enumerate(looks):
        stage = plan_study(spec, root, seeds=spec.seeds[:n], methods=open_methods)
        runs = [r for r in stage.runs if r.run_id not in handled]
        handled |= {r.run_id for r in runs}
        if k:
            progress.grow(len(runs))
            progress.log(
                f"look {k + 1} of {len(looks)}: {n} seed pairs for "
                f"{', '.join(m for m in open_methods if m != BASELINE)}"
            )
        todo = [r for r in runs if not is_complete(Path(r.out_dir), r.run_id)]
        got = execute_runs(runs, todo, executor, progress, total.broken_sources)
        total.failed += got.failed
        total.skipped += got.skipped
        total.broken_sources = got.broken_sources
        if k == len(looks) - 1:
            break
        decided = decided_methods(root, options, [m for m in open_methods if m != BASELINE])
        for name, look in decided.items():
            progress.log(f"{name}: {look['decision']} at look {k + 1} ({look['seeds']} seed pairs)")
        open_methods = [m for m in open_methods if m not in decided]
        if open_methods == [BASELINE] or not open_methods:
            break
    return total


def _track_summary(
    spec: StudySpec, root: Path, plan: Plan, summary: dict[str, Any], paths: dict[str, Path]
) -> None:
    wb = spec.tracking.wandb
    wandb_root = Path(wb.dir or root)
    negative = {m for m, r in summary["methods"].items() if r["verdict"] == "negative"}
    tagged = {
        wandb_run_id(r.wandb_scope, r.run_id): run_tags(r.role, r.label)
        for r in plan.targets
        if r.label in negative and is_complete(Path(r.out_dir), r.run_id)  # trained at a look
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
    plan = plan_study(spec, root)  # every run the study may train (all looks)
    config = spec.to_dict()
    planned = [PlannedRun(Path(r.out_dir), r.run_id, run_label(r)) for r in plan.runs]
    replaced = check_study_folder(root, planned, config, overwrite)
    todo = [r for r in plan.runs if not is_complete(Path(r.out_dir), r.run_id)]
    first = spec.sequential.looks[0] if spec.sequential else len(spec.seeds)
    options = AnalysisOptions.from_spec(spec)
    n_first = len(plan_study(spec, root, seeds=spec.seeds[:first]).runs)
    with StudyProgress(n_first, enabled=not quiet) as progress:
        # The executor first: a cluster that cannot take the runs stops the study (exit 2)
        # before anything in the folder changes.
        executor = make_executor(spec.executor, progress.update, todo)
        remove_runs(replaced)
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(study_file(root), yaml.safe_dump(config, sort_keys=False))
        if spec.sequential:
            progress.log(
                f"study '{spec.name}': {n_first} runs for the first look ({first} seed pairs), "
                f"up to {len(plan.runs)} by the last → {root}"
            )
        else:
            progress.log(f"study '{spec.name}': {len(plan.runs)} runs → {root}")
        try:
            outcome = _run_looks(spec, root, executor, progress, options)
        except BaseException:
            executor.shutdown(cancel=True)
            raise
        executor.shutdown()
    failed, skipped = outcome.failed, outcome.skipped
    try:
        summary, curves, paths = analyse_study_dir(root, options, extra={"failed_runs": failed})
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
