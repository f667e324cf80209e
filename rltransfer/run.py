"""One training run, on the source or on the target, from a fresh process-safe ``RunSpec``.

A run builds its envs and a fresh agent, lets its transfer method change the agent, learns with
evaluation on the shared grid, and writes its artifacts atomically. ``meta.json`` is written
last: a run folder whose ``meta.json`` says ``complete`` is done; anything else is redone.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rltransfer.config.spec import EnvSpec, EvalSpec, MethodSpec, PolicySpec, WandbSpec
from rltransfer.io import atomic_write_json, atomic_write_text
from rltransfer.run_meta import STATUS_COMPLETE, STATUS_FAILED, STATUS_RUNNING, read_meta

MODEL_FILE = "model.zip"
NORMALIZE_FILE = "normalize.json"


@dataclass
class RunSpec:
    """Everything one run needs; plain data, so it can cross to another process or machine."""

    run_id: str
    """Content hash of what determines the result; a changed spec gives a new id."""
    role: str
    """``source`` or ``target``."""
    label: str
    """The method's label (``scratch``, ``finetune``, …) or ``source``."""
    seed: int
    env: EnvSpec
    timesteps: int
    algo: str
    hyperparams: dict[str, Any]
    policy: PolicySpec
    eval: EvalSpec
    eval_seed: int
    device: str
    out_dir: str
    study: str
    method: MethodSpec | None = None
    source_dir: str | None = None
    source_checkpoint: str | None = None
    wandb: WandbSpec = field(default_factory=WandbSpec)
    """The study's resolved W&B settings (``rltransfer.tracking.resolve_wandb``)."""
    wandb_dir: str = ""
    """W&B writes under ``<wandb_dir>/wandb``."""
    wandb_scope: str = ""
    """The study's W&B scope (``rltransfer.tracking.wandb_scope``): the W&B id is
    ``<scope>-<run_id>``, unique per study and stable across re-runs."""
    config: dict[str, Any] = field(default_factory=dict)
    torch_threads: int | None = 1
    baseline_dir: str | None = None
    """The scratch run of the same seed, watched by the negative-transfer alarm."""
    threshold: float | None = None
    stop_on_negative: bool = False
    source_env: EnvSpec | None = None
    """Target runs with ``eval.on_source``: also evaluated on this env (forgetting)."""
    source_policy: PolicySpec | None = None
    """The source agent's architecture when it differs from ``policy`` (teachers use it)."""
    envs: list[EnvSpec] | None = None
    """A multi-task source run: its K tasks (``env`` is then task 0), ``rltransfer.multitask``."""
    heads: str | None = None
    """A multi-task source run's output layers: ``multi`` | ``conditioned``."""
    replica: str | None = None
    """A replicated source run: which replica (``seed_3``); None for a single shared source."""
    zero_shot_env: EnvSpec | None = None
    """Source runs: the target task, where the trained agent is evaluated once after training
    (its zero-shot return on the target, ``meta.json``'s ``zero_shot``)."""
    zero_shot_seed: int | None = None
    """The evaluation seed of that zero-shot evaluation: the first pair's that uses the source,
    so it faces the same episodes as that pair's target runs at t = 0."""


def run_label(spec: RunSpec) -> str:
    """``finetune/seed_0``, ``source``, ``source/seed_3`` or ``source of <method>``: how the
    run is named to users."""
    if spec.role == "source":
        name = "source" if spec.label == "source" else f"source of {spec.label}"
        return f"{name}/{spec.replica}" if spec.replica else name
    return f"{spec.label}/seed_{spec.seed}"


def finished_run_id(out_dir: Path) -> str | None:
    """The id of the complete run in ``out_dir`` (from its ``meta.json``), or None."""
    m = read_meta(out_dir)
    if m is None or m.get("status") != STATUS_COMPLETE or "run_id" not in m:
        return None
    return str(m["run_id"])


def is_complete(out_dir: Path, run_id: str) -> bool:
    """True when ``out_dir`` holds a finished run of exactly this spec."""
    return finished_run_id(out_dir) == run_id


def prepare_run_folder(out: Path, run_id: str) -> None:
    """Empty ``out`` for a new attempt and mark it ``running``, so neither a resume nor the
    analysis takes a half-written curve for a result. Refuses a folder that holds a finished run
    of another spec (``rltransfer.folder_guard`` stops a study before it gets here)."""
    old = finished_run_id(out)
    if old is not None and old != run_id:
        raise FileExistsError(f"{out} holds the finished run {old}; not overwriting it")
    if out.is_dir():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    atomic_write_json(out / "meta.json", {"run_id": run_id, "status": STATUS_RUNNING})


def _source_model_path(spec: RunSpec) -> str | None:
    if spec.source_checkpoint is not None:
        return spec.source_checkpoint
    return str(Path(spec.source_dir) / MODEL_FILE) if spec.source_dir else None


def _make_train_env(spec: RunSpec, method: Any, source: Any) -> tuple[Any, Any]:
    """The run's training env and its ``BuildPlan`` (which ``method`` may have changed)."""
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from rltransfer.agents import resolve_device
    from rltransfer.environments import make_env
    from rltransfer.methods import BuildPlan
    from rltransfer.vision.plan import prepare_env

    n_envs = int(spec.hyperparams.get("n_envs", 1))
    if spec.envs:  # multi-task source: n_envs copies of each task, observations {"obs", "task"}
        return _make_multitask_env(spec, n_envs)
    venv = DummyVecEnv([lambda: Monitor(make_env(spec.env)) for _ in range(n_envs)])
    plan = BuildPlan(
        spec.algo,
        spec.policy,
        dict(spec.hyperparams),
        venv.observation_space,
        venv.action_space,
    )
    if method is not None:
        method.configure(plan, source)
    # The run's vision setup: weights (the source agent's encoder for ``weights: source`` in a
    # transfer run), and the frozen-feature cache, which turns observations into features here.
    device = resolve_device(spec.device, plan.policy.encoder)
    if isinstance(venv.observation_space, gym.spaces.Box):
        venv = prepare_env(
            venv,
            plan.policy,
            device=device,
            seed=spec.seed,
            source=_source_model_path(spec),
            extra=plan.extractor,
        )
    setup = getattr(venv, "vision_setup", None)
    normalize = plan.hyperparams.get("normalize", False)
    if normalize:
        kwargs = dict(normalize) if isinstance(normalize, dict) else {}
        kwargs.setdefault("gamma", plan.hyperparams.get("gamma", 0.99))
        venv = VecNormalize(venv, **kwargs)
    venv.vision_setup = setup
    return venv, plan


def _make_multitask_env(spec: RunSpec, n_envs: int) -> tuple[Any, Any]:
    """A multi-task source's training env (``rltransfer.multitask.make_task_vec_env``) with its
    vision setup (never a feature cache: the encoder runs in the policy) and VecNormalize on
    ``obs`` only."""
    from stable_baselines3.common.vec_env import VecNormalize

    from rltransfer.methods import BuildPlan
    from rltransfer.multitask import make_task_vec_env
    from rltransfer.vision.plan import resolve_setup

    venv = make_task_vec_env(spec.envs, n_envs)
    plan = BuildPlan(
        spec.algo, spec.policy, dict(spec.hyperparams), venv.observation_space, venv.action_space
    )
    setup = resolve_setup(plan.policy, venv.observation_space["obs"])
    setup.cached = False
    setup.report["cached"] = False
    normalize = plan.hyperparams.get("normalize", False)
    if normalize:
        kwargs = dict(normalize) if isinstance(normalize, dict) else {}
        kwargs.setdefault("gamma", plan.hyperparams.get("gamma", 0.99))
        kwargs.setdefault("norm_obs_keys", ["obs"])
        venv = VecNormalize(venv, **kwargs)
    venv.vision_setup = setup
    return venv, plan


def _source_artifact(spec: RunSpec) -> Any:
    from rltransfer.methods import SourceArtifact

    if spec.source_checkpoint is not None:
        return SourceArtifact(Path(spec.source_checkpoint), policy=spec.source_policy)
    if spec.source_dir is None:
        return None
    d = Path(spec.source_dir)
    return SourceArtifact(d / MODEL_FILE, d / NORMALIZE_FILE, policy=spec.source_policy)


def _save_model(model: Any, out: Path) -> None:
    tmp = out / f".{MODEL_FILE}.tmp.zip"
    model.save(tmp)
    os.replace(tmp, out / MODEL_FILE)
    env = model.get_env()
    if hasattr(env, "obs_rms"):
        rms = env.obs_rms
        if isinstance(rms, dict):  # a multi-task source: the statistics of ``obs``
            rms = rms["obs"]
        atomic_write_json(
            out / NORMALIZE_FILE,
            {"mean": rms.mean.tolist(), "var": rms.var.tolist(), "count": float(rms.count)},
        )


def _versions() -> dict[str, str]:
    import gymnasium
    import stable_baselines3
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "gymnasium": gymnasium.__version__,
    }


def execute_run(
    spec: RunSpec, progress: Callable[[str, int], None] | None = None
) -> dict[str, Any]:
    """Train and evaluate one run; write ``curve.csv``, the model and ``meta.json`` to its folder.

    Returns the run's meta. A crash is recorded (``traceback.txt`` and a ``failed`` meta) and
    re-raised, so the caller can count it; the other runs are unaffected.
    """
    out = Path(spec.out_dir)
    prepare_run_folder(out, spec.run_id)
    started = time.time()
    try:
        meta = _train(spec, out, progress)
    except BaseException as e:
        atomic_write_text(out / "traceback.txt", traceback.format_exc())
        atomic_write_json(
            out / "meta.json",
            {"run_id": spec.run_id, "status": STATUS_FAILED, "error": f"{type(e).__name__}: {e}"},
        )
        raise
    # Unix time the run started: with ``wall_time_s``, when each run ran (e.g. concurrency)
    meta["started_at"] = round(started, 3)
    meta["wall_time_s"] = round(time.time() - started, 3)
    atomic_write_json(out / "meta.json", meta)
    return meta


def _train(spec: RunSpec, out: Path, progress: Callable[[str, int], None] | None) -> dict[str, Any]:
    import torch

    from rltransfer.agents import build_model, resolve_device
    from rltransfer.alarm import NegativeTransferAlarm
    from rltransfer.evaluation import (
        EvalGridCallback,
        Evaluator,
        GridClock,
        SourceEvaluator,
        eval_grid,
        zero_shot_return,
    )
    from rltransfer.methods import TransferContext, method_class
    from rltransfer.recorder import CurveRecorder
    from rltransfer.tracking import open_run_tracker, run_tags, wandb_run_id
    from rltransfer.tracking.sb3_logger import attach_sb3_logger, close_sb3_logger

    if spec.torch_threads:
        torch.set_num_threads(spec.torch_threads)
    device = resolve_device(spec.device, spec.policy.encoder)
    method = None
    if spec.method is not None:
        cls = method_class(spec.method.method, "method")
        method = cls(cls.parse_options(spec.method.options, "options"))
    source = _source_artifact(spec)
    env, plan = _make_train_env(spec, method, source)
    model = build_model(
        spec.algo,
        env,
        hyperparams=plan.hyperparams,
        encoder=plan.policy.encoder,
        net_arch=plan.policy.net_arch,
        seed=spec.seed,
        device=device,
        heads=spec.heads,
    )
    transfer: dict[str, Any] = {"transferred": "nothing (source training)"}
    context = TransferContext(model, env, source)
    if method is not None:
        transfer = method.apply(context)
    if spec.envs:
        from rltransfer.multitask.evaluation import MultiTaskEvaluator

        evaluator: Any = MultiTaskEvaluator(spec.envs, spec.eval, spec.eval_seed, train_env=env)
    else:
        evaluator = Evaluator(spec.env, spec.eval, spec.eval_seed, train_env=env)
    with contextlib.ExitStack() as cleanup:  # every close runs, even when one of them fails
        cleanup.callback(evaluator.close)
        tracker = open_run_tracker(
            spec.wandb,
            Path(spec.wandb_dir),
            run_id=wandb_run_id(spec.wandb_scope, spec.run_id),
            name=f"{spec.study}__{spec.label}__seed{spec.seed}",
            group=spec.study,
            job_type=spec.role,
            config={**spec.config, "run": {"method": spec.label, "seed": spec.seed}},
            tags=run_tags(spec.role, spec.label),
        )
        outcome: dict[str, Any] = {"summary": None, "exit_code": 1}
        cleanup.callback(lambda: tracker.finish(outcome["summary"], outcome["exit_code"]))
        context.log = tracker.log_method
        attach_sb3_logger(model, out, tracker)  # SB3's train/*, rollout/*, time/*: progress.csv
        cleanup.callback(close_sb3_logger, model)  # before the tracker finishes (LIFO)
        alarm = None
        if spec.baseline_dir is not None:
            alarm = NegativeTransferAlarm(Path(spec.baseline_dir), threshold=spec.threshold)
        on_source = None
        if spec.source_env is not None:
            on_source = SourceEvaluator(spec.source_env, spec.eval, spec.eval_seed, train_env=env)
            cleanup.callback(on_source.close)
        recorder = CurveRecorder(
            out, evaluator, tracker, alarm, stop_on_alarm=spec.stop_on_negative,
            on_source=on_source, columns=evaluator.columns if spec.envs else None,
        )  # fmt: skip
        recorder.record(model, 0)
        grid = eval_grid(spec.timesteps, spec.eval.every)
        report = (lambda t: progress(spec.run_id, t)) if progress else None
        clock = GridClock(grid, lambda t: recorder.record(model, t), report)
        used = 0
        if method is not None:  # e.g. distillation: its env steps count toward the budget
            used = method.before_learning(context, spec.timesteps, clock.advance)
            model.num_timesteps = used
        callbacks = [EvalGridCallback(clock), *(method.callbacks() if method else [])]
        if used < spec.timesteps and not recorder.stopped_early:
            model.learn(
                total_timesteps=spec.timesteps - used,
                callback=callbacks,
                reset_num_timesteps=used == 0,
                progress_bar=False,
            )
        if not recorder.stopped_early:
            recorder.record(model, spec.timesteps)
        if method is not None:  # while the tracker is open: a method may log its last points
            transfer.update(method.after_training(model))
        zero_shot = None
        if spec.zero_shot_env is not None:  # a source run: its agent on the target task
            seed = spec.eval_seed if spec.zero_shot_seed is None else spec.zero_shot_seed
            zero_shot = zero_shot_return(model, spec.zero_shot_env, spec.eval, seed, env)
        outcome["summary"] = {"final_return": recorder.points[-1][1]}
        outcome["exit_code"] = 0
    recorder.finish()
    _save_model(model, out)
    env.close()
    return {
        "run_id": spec.run_id,
        "status": STATUS_COMPLETE,
        "role": spec.role,
        "method": spec.label,
        "kind": spec.method.method if spec.method else None,
        "options": method.describe_options() if method else {},
        "seed": spec.seed,
        "eval_seed": spec.eval_seed,
        "env": {"id": spec.env.id, "kwargs": spec.env.kwargs},
        **(_tasks_meta(spec) if spec.envs else {}),
        "algo": spec.algo,
        "timesteps": spec.timesteps,
        "env_steps_trained": int(model.num_timesteps),
        "device": device,
        "transfer": transfer,
        "vision": getattr(getattr(env, "vision_setup", None), "report", None),
        "source_eval": on_source.describe() if on_source is not None else None,
        **({"zero_shot": zero_shot} if zero_shot is not None else {}),
        "alarms": recorder.alarms,
        "stopped_early": recorder.stopped_early,
        "versions": _versions(),
    }


def _tasks_meta(spec: RunSpec) -> dict[str, Any]:
    """A multi-task source's tasks (in task-id order) and heads, for ``meta.json``."""
    tasks = [{"id": e.id, "kwargs": e.kwargs} for e in spec.envs or []]
    return {"tasks": tasks, "heads": spec.heads}
