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
from pathlib import Path
from typing import Any

import gymnasium as gym
import stable_baselines3
import torch
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from rltransfer.agents import AgentRecipe, build_agent, resolve_device
from rltransfer.alarm import NegativeTransferAlarm
from rltransfer.config.spec import WandbSpec
from rltransfer.environments import make_env
from rltransfer.evaluation import (
    EvalGridCallback,
    Evaluator,
    GridClock,
    SourceEvaluator,
    eval_grid,
    zero_shot_return,
)
from rltransfer.io import atomic_write_json, atomic_write_text
from rltransfer.layout import (
    META_FILE,
    MODEL_FILE,
    NORMALIZE_FILE,
    STATUS_COMPLETE,
    STATUS_FAILED,
    STATUS_RUNNING,
    TRACEBACK_FILE,
    RunSpec,
    finished_run_id,
)
from rltransfer.methods import BuildPlan, SourceArtifact, TransferContext, method_class
from rltransfer.multitask import make_task_vec_env
from rltransfer.multitask.evaluation import MultiTaskEvaluator
from rltransfer.recorder import CurveRecorder
from rltransfer.stopwatch import Stopwatch
from rltransfer.tracking import open_run_tracker, run_tags, wandb_run_id
from rltransfer.tracking.sb3_logger import attach_sb3_logger, close_sb3_logger
from rltransfer.transfer_record import TransferRecord, as_record
from rltransfer.vision.cache import find_feature_env
from rltransfer.vision.plan import prepare_env, resolve_setup


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
    atomic_write_json(out / META_FILE, {"run_id": run_id, "status": STATUS_RUNNING})


def _source_model_path(spec: RunSpec) -> str | None:
    if spec.source_checkpoint is not None:
        return spec.source_checkpoint
    return str(Path(spec.source_dir) / MODEL_FILE) if spec.source_dir else None


def _make_train_env(spec: RunSpec, method: Any, source: Any) -> tuple[VecEnv, AgentRecipe]:
    """The run's training env and the recipe of its agent: the ``BuildPlan`` after ``method``
    changed it, resolved with the run's vision setup (``rltransfer.vision.VisionSetup``, None
    for non-image, non-Box observations), seed and device."""

    n_envs = int(spec.hyperparams.get("n_envs", 1))
    if spec.envs:  # multi-task source: n_envs copies of each task, observations {"obs", "task"}
        return _make_multitask_env(spec, n_envs)
    venv: VecEnv = DummyVecEnv([lambda: Monitor(make_env(spec.env)) for _ in range(n_envs)])
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
    setup = None
    if isinstance(venv.observation_space, gym.spaces.Box):
        venv, setup = prepare_env(
            venv,
            plan.policy,
            device=device,
            seed=spec.seed,
            source=_source_model_path(spec),
            extra=plan.extractor,
        )
    return _normalized(venv, plan.hyperparams), _recipe(spec, plan, setup, device)


def _make_multitask_env(spec: RunSpec, n_envs: int) -> tuple[VecEnv, AgentRecipe]:
    """A multi-task source's training env (``rltransfer.multitask.make_task_vec_env``) and its
    agent's recipe, whose vision setup has no feature cache (the encoder runs in the policy);
    VecNormalize on ``obs`` only."""

    venv = make_task_vec_env(spec.envs, n_envs)
    plan = BuildPlan(
        spec.algo, spec.policy, dict(spec.hyperparams), venv.observation_space, venv.action_space
    )
    setup = resolve_setup(plan.policy, venv.observation_space["obs"])
    setup.cached = False
    setup.report["cached"] = False
    device = resolve_device(spec.device, plan.policy.encoder)
    venv = _normalized(venv, plan.hyperparams, norm_obs_keys=["obs"])
    return venv, _recipe(spec, plan, setup, device)


def _normalized(venv: VecEnv, hyperparams: dict[str, Any], **defaults: Any) -> VecEnv:
    """``venv`` in VecNormalize when the hyperparameters ask (rl-zoo3's ``normalize``: true or
    its kwargs; ``gamma`` defaults to the algorithm's)."""
    normalize = hyperparams.get("normalize", False)
    if not normalize:
        return venv
    kwargs = {**defaults, **(dict(normalize) if isinstance(normalize, dict) else {})}
    kwargs.setdefault("gamma", hyperparams.get("gamma", 0.99))
    return VecNormalize(venv, **kwargs)


def _recipe(spec: RunSpec, plan: BuildPlan, setup: Any, device: str) -> AgentRecipe:
    policy = setup.policy if setup is not None else plan.policy
    return AgentRecipe(
        plan.algo, plan.hyperparams, policy, spec.seed, device, setup=setup, heads=spec.heads
    )


def _source_artifact(spec: RunSpec) -> Any:

    if spec.source_checkpoint is not None:
        return SourceArtifact(Path(spec.source_checkpoint), policy=spec.source_policy)
    if spec.source_dir is None:
        return None
    return SourceArtifact.of_run(Path(spec.source_dir), policy=spec.source_policy)


def _save_model(model: Any, out: Path) -> None:
    tmp = out / f".{MODEL_FILE}.tmp.zip"
    model.save(tmp)
    os.replace(tmp, out / MODEL_FILE)
    env = model.get_env()
    if hasattr(env, "obs_rms"):
        rms = env.obs_rms
        if isinstance(rms, dict):  # a multi-task source: the statistics of ``obs``
            rms = rms["obs"]
        # with the settings they were applied with, so a teacher normalises as training did
        atomic_write_json(
            out / NORMALIZE_FILE,
            {
                "mean": rms.mean.tolist(),
                "var": rms.var.tolist(),
                "count": float(rms.count),
                "clip_obs": float(env.clip_obs),
                "epsilon": float(env.epsilon),
            },
        )


def _versions() -> dict[str, str]:

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "gymnasium": gym.__version__,
    }


def execute_run(
    spec: RunSpec, progress: Callable[[str, int], None] | None = None
) -> dict[str, Any]:
    """Train and evaluate one run; write ``curve.csv``, the model and ``meta.json`` to its folder.

    Returns the run's meta. A crash is recorded (``traceback.txt`` and a ``failed`` meta) and
    re-raised, so the caller can count it; the other runs are unaffected.
    """
    watch = Stopwatch()
    out = Path(spec.out_dir)
    prepare_run_folder(out, spec.run_id)
    started = time.time()
    try:
        meta = _train(spec, out, progress, watch)
    except BaseException as e:
        atomic_write_text(out / TRACEBACK_FILE, traceback.format_exc())
        atomic_write_json(
            out / META_FILE,
            {"run_id": spec.run_id, "status": STATUS_FAILED, "error": f"{type(e).__name__}: {e}"},
        )
        raise
    # Unix time the run started: with ``wall_time_s``, when each run ran (e.g. concurrency)
    meta["started_at"] = round(started, 3)
    meta["wall_time_s"] = round(time.time() - started, 3)
    meta["timing"] = watch.report()  # the final write of meta.json itself is not in it
    atomic_write_json(out / META_FILE, meta)
    return meta


def _train(
    spec: RunSpec,
    out: Path,
    progress: Callable[[str, int], None] | None,
    watch: Stopwatch,
) -> dict[str, Any]:
    """The run itself, timed by ``watch``: ``setup`` (envs, agent, the method's changes),
    ``train``, ``eval``, ``wandb`` and ``io`` (curves, model, statistics)."""
    if spec.torch_threads:
        torch.set_num_threads(spec.torch_threads)
    with watch.section("setup"):
        method = None
        if spec.method is not None:
            cls = method_class(spec.method.method, "method")
            method = cls(cls.parse_options(spec.method.options, "options"))
        source = _source_artifact(spec)
        env, recipe = _make_train_env(spec, method, source)
        model = build_agent(recipe, env)
    transfer = TransferRecord("nothing (source training)")
    with contextlib.ExitStack() as cleanup:  # every close runs, even when one of them fails
        tracker = open_run_tracker(
            spec.wandb or WandbSpec(),
            Path(spec.wandb_dir),
            run_id=wandb_run_id(spec.wandb_scope, spec.run_id),
            name=f"{spec.study}__{spec.label}__seed{spec.seed}",
            group=spec.study,
            job_type=spec.role,
            config={**spec.config, "run": {"method": spec.label, "seed": spec.seed}},
            tags=run_tags(spec.role, spec.label),
            watch=watch,
        )
        outcome: dict[str, Any] = {"summary": None, "exit_code": 1}
        cleanup.callback(lambda: tracker.finish(outcome["summary"], outcome["exit_code"]))
        context = TransferContext(model, env, source, log=tracker.log_method)
        with watch.section("setup"):
            if method is not None:
                transfer = as_record(method.apply(context))
            if spec.envs:
                evaluator: Any = MultiTaskEvaluator(
                    spec.envs, spec.eval, spec.eval_seed, train_env=env
                )
            else:
                evaluator = Evaluator(spec.env, spec.eval, spec.eval_seed, train_env=env)
            cleanup.callback(evaluator.close)
            attach_sb3_logger(model, out, tracker)  # SB3's train/*, rollout/*, time/*
            cleanup.callback(close_sb3_logger, model)  # before the tracker finishes (LIFO)
            alarm = None
            if spec.baseline_dir is not None:
                alarm = NegativeTransferAlarm(Path(spec.baseline_dir), threshold=spec.threshold)
            on_source = None
            if spec.source_env is not None:
                on_source = SourceEvaluator(
                    spec.source_env, spec.eval, spec.eval_seed, train_env=env
                )
                cleanup.callback(on_source.close)
        recorder = CurveRecorder(
            out, evaluator, tracker, alarm, stop_on_alarm=spec.stop_on_negative,
            on_source=on_source, columns=evaluator.columns if spec.envs else None, watch=watch,
        )  # fmt: skip
        recorder.record(model, 0)
        grid = eval_grid(spec.timesteps, spec.eval.every)
        report = (lambda t: progress(spec.run_id, t)) if progress else None
        clock = GridClock(grid, lambda t: recorder.record(model, t), report)
        used = 0
        with watch.section("train"):  # less the evaluations, W&B calls and writes inside
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
            with watch.section("train"):
                transfer = transfer.with_facts(method.after_training(model))
        zero_shot = None
        if spec.zero_shot_env is not None:  # a source run: its agent on the target task
            seed = spec.eval_seed if spec.zero_shot_seed is None else spec.zero_shot_seed
            with watch.section("eval"):
                zero_shot = zero_shot_return(model, spec.zero_shot_env, spec.eval, seed, env)
        outcome["summary"] = {"final_return": recorder.points[-1][1]}
        feature_cache = find_feature_env(env)
        cache_stats = feature_cache.cache_stats() if feature_cache is not None else None
        if cache_stats is not None:  # training and evaluation frames, one store
            outcome["summary"]["feature_cache/hit_rate"] = cache_stats["hit_rate"]
        outcome["exit_code"] = 0
    with watch.section("io"):
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
        "device": recipe.device,
        "transfer": transfer.to_json(),
        "vision": _vision_meta(recipe, cache_stats),
        "source_eval": on_source.describe() if on_source is not None else None,
        **({"zero_shot": zero_shot} if zero_shot is not None else {}),
        "alarms": recorder.alarms,
        "stopped_early": recorder.stopped_early,
        "versions": _versions(),
    }


def _vision_meta(recipe: AgentRecipe, cache_stats: dict[str, Any] | None) -> Any:
    """The run's vision setup report, with the frozen-feature cache's counters when it had
    one (``FeatureVecEnv.cache_stats``)."""
    if recipe.setup is None:
        return None
    report = dict(recipe.setup.report)
    if cache_stats is not None:
        report["feature_cache"] = cache_stats
    return report


def _tasks_meta(spec: RunSpec) -> dict[str, Any]:
    """A multi-task source's tasks (in task-id order) and heads, for ``meta.json``."""
    tasks = [{"id": e.id, "kwargs": e.kwargs} for e in spec.envs or []]
    return {"tasks": tasks, "heads": spec.heads}
