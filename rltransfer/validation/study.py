"""Semantic checks of a parsed study: ids exist, budgets are sane, spaces can transfer.

Also resolves defaults: rl-zoo3 hyperparameters under the user's, the threshold from the target
env's ``reward_threshold``, and ``scratch`` always present as the paired baseline.
"""

from __future__ import annotations

import copy
import dataclasses
import re

import torch

from rltransfer.agents import algo_info, check_hyperparams
from rltransfer.arguments import check_net_arch
from rltransfer.checkpoints import CheckpointInfo, SpaceInfo
from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import (
    BASELINE,
    DEVICES,
    WANDB_MODES,
    MethodSpec,
    StudySpec,
    return_problem,
)
from rltransfer.config.zoo_defaults import zoo_defaults
from rltransfer.environments import check_env_spec, make_env
from rltransfer.errors import did_you_mean
from rltransfer.executors import EXECUTORS
from rltransfer.methods import TransferMethod, method_class
from rltransfer.methods.layers import policy_groups
from rltransfer.seeds import MAX_SEED_OFFSET, SEED_LIMIT
from rltransfer.validation.models import check_models
from rltransfer.validation.multitask import check_multitask_source
from rltransfer.validation.policy import check_encoder_name, check_policy
from rltransfer.validation.sources import check_replicas, checkpoint_info
from rltransfer.vision.registry import check_space, get_entry

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_NAME = 100
"""The longest study or method name (each names a folder)."""


def _positive(value: int | None, path: str) -> None:
    if value is not None and value <= 0:
        raise FieldError(path, f"must be > 0, got {value}")


def _check_name(value: str, path: str) -> None:
    if not _NAME.fullmatch(value):
        raise FieldError(
            path, f"{value!r} must use only letters, digits, '.', '_' and '-' (it names a folder)"
        )
    if len(value) > MAX_NAME:
        raise FieldError(
            path, f"must be at most {MAX_NAME} characters (it names a folder), got {len(value)}"
        )


def _check_source_policy(spec: StudySpec) -> None:
    """The source agent's encoder must read the source env's observations (checked after the
    target's policy, so a policy that fits neither is reported for the target first)."""
    env_spec = spec.source.env or (spec.source.envs or [None])[0]  # tasks share their spaces
    if env_spec is None:
        return
    env = make_env(env_spec)
    observation_space = env.observation_space
    env.close()
    own = spec.source.policy
    policy = own or spec.policy
    path = "source.policy" if own is not None else "policy"
    check_encoder_name(policy, join(path, "encoder"))
    if not hasattr(observation_space, "shape") or observation_space.shape is None:
        return
    try:
        check_space(get_entry(policy.encoder), observation_space)
    except ValueError as e:
        hint = (
            ""
            if own is not None
            else (
                "; the source trains with the study's policy unless 'source.policy' gives its own "
                "(e.g. source.policy: {encoder: mlp} for a state source)"
            )
        )
        raise FieldError(join(path, "encoder"), f"on the source env: {e}{hint}") from None


def _env_info(spec: StudySpec, which: str) -> CheckpointInfo:
    env_spec = getattr(spec, which).env
    path = f"{which}.env"
    env = check_env_spec(env_spec, path)
    try:
        obs, act = SpaceInfo.as_policy_sees(env.observation_space), SpaceInfo.of(env.action_space)
        info = algo_info(spec.algo)
        if not isinstance(env.action_space, info.action_spaces):
            kinds = " or ".join(s.__name__ for s in info.action_spaces)
            raise FieldError(
                "algo",
                f"{spec.algo} needs a {kinds} action space; {path} '{env_spec.id}' has {act}",
            )
        if which == "target" and spec.threshold is None:
            threshold = getattr(getattr(env, "spec", None), "reward_threshold", None)
            spec.threshold = float(threshold) if threshold is not None else None
    finally:
        env.close()
    return CheckpointInfo(spec.algo, obs, act, 0)


def _source_info(spec: StudySpec) -> CheckpointInfo:
    """The source agent's algorithm, spaces and (with ``source.policy``) architecture."""
    info = _source_spaces(spec)
    return dataclasses.replace(info, policy=spec.source.policy)


def _source_spaces(spec: StudySpec) -> CheckpointInfo:
    s = spec.source
    if s.envs is not None or s.heads is not None:
        return check_multitask_source(spec)
    if (s.env is None) == (s.checkpoint is None):
        raise FieldError("source", "give either 'env' with 'timesteps' or 'checkpoint: PATH'")
    if s.checkpoint is not None:
        return checkpoint_info(s, len(spec.seeds))
    if s.timesteps is None:
        raise FieldError("source.timesteps", "is required when the source is trained ('env')")
    _positive(s.timesteps, "source.timesteps")
    return _env_info(spec, "source")


def _method_source_info(spec: StudySpec, m: MethodSpec, path: str) -> CheckpointInfo:
    """A method's own ``source``, checked as the study's is; errors name ``methods[i].source``."""
    alone = dataclasses.replace(spec, source=m.source)
    try:
        return _source_info(alone)
    except FieldError as e:
        field_path = e.path.removeprefix("source").lstrip(".")
        raise FieldError(join(path, field_path) if field_path else path, e.message) from None
    finally:
        m.source = alone.source  # resolved values (checkpoint path, timesteps)


def _check_compare(spec: StudySpec) -> None:
    names = list(dict.fromkeys([BASELINE, *(m.name for m in spec.methods)]))
    for i, pair in enumerate(spec.compare):
        path = join("compare", i)
        if len(pair) != 2 or pair[0] == pair[1]:
            raise FieldError(path, f"must name two different methods, got {pair}")
        for k, name in enumerate(pair):
            if name not in names:
                raise FieldError(
                    join(path, k),
                    f"no method named '{name}'{did_you_mean(name, names)}; methods: "
                    f"{', '.join(names)}",
                )


def _check_methods(
    spec: StudySpec, source: CheckpointInfo, target: CheckpointInfo
) -> list[tuple[TransferMethod, str]]:
    """Check each method at its index in the file (the scratch baseline is added when absent at
    the end of validation). Returns the methods that name layer groups, with their paths, for
    ``check_groups`` once the target model is built."""
    if not any(m.method != BASELINE for m in spec.methods):
        raise FieldError(
            "methods",
            "list at least one transfer method besides the scratch "
            "baseline (e.g. [scratch, finetune])",
        )
    seen: dict[str, int] = {}
    grouped: list[tuple[TransferMethod, str]] = []
    for i, m in enumerate(spec.methods):
        path = join("methods", i)
        _check_name(m.name, join(path, "name"))
        if m.name in seen:
            raise FieldError(join(path, "name"), f"'{m.name}' is used twice; give each a name")
        seen[m.name] = i
        cls = method_class(m.method, join(path, "method"))
        if (m.method == BASELINE) != (m.name == BASELINE):
            raise FieldError(
                join(path, "name"), f"'{BASELINE}' names the baseline, and only the baseline"
            )
        method = cls(cls.parse_options(m.options, path))
        _check_unfreezing_in_budget(method.options, path, spec.target.timesteps)
        if m.source is not None and not cls.needs_source:
            raise FieldError(join(path, "source"), f"'{m.method}' uses no source agent")
        if cls.needs_source:
            own = _method_source_info(spec, m, join(path, "source")) if m.source else None
            method.check(own or source, target, path)
        if type(method).check_groups is not TransferMethod.check_groups:
            grouped.append((method, path))  # options live in the method's own mapping
    return grouped


def _check_unfreezing_in_budget(options: object, path: str, budget: int) -> None:
    """A layer group set to unfreeze (``groups.<g>.unfreeze_at``, ``progressive``) must do so
    within the target budget, or it never trains (and perhaps nothing does)."""
    groups = getattr(options, "groups", None)
    for name, g in (groups or {}).items() if isinstance(groups, dict) else ():
        at = getattr(g, "unfreeze_at", None)
        if at is not None and at >= budget:
            raise FieldError(
                join(join(join(path, "groups"), name), "unfreeze_at"),
                f"must be below the target budget ({budget} env steps), got {at}: the group "
                "would never unfreeze",
            )
    every = getattr(options, "progressive", None)
    if isinstance(every, int) and not isinstance(every, bool) and every >= budget:
        raise FieldError(
            join(path, "progressive"),
            f"must be below the target budget ({budget} env steps), got {every}: no group "
            "would unfreeze",
        )


def resolve(parsed: StudySpec) -> StudySpec:
    """A new, fully resolved copy of ``parsed`` (defaults filled in: hyperparameters, threshold,
    the scratch baseline, checkpoint paths, …), checked against the real environments,
    algorithms, encoders and methods; ``parsed`` itself is left as it was. Raises
    ``FieldError`` naming the dotted field."""
    spec = copy.deepcopy(parsed)
    _check_and_fill(spec)
    return spec


def _check_and_fill(spec: StudySpec) -> None:
    """Check ``spec`` in place and fill in resolved defaults; raise ``FieldError``."""
    _check_name(spec.name, "name")
    algo_info(spec.algo)
    check_encoder_name(spec.policy)
    _positive(spec.target.timesteps, "target.timesteps")
    _positive(spec.eval.every, "eval.every")
    _positive(spec.eval.episodes, "eval.episodes")
    if spec.eval.every > spec.target.timesteps:
        raise FieldError(
            "eval.every",
            f"{spec.eval.every} is larger than the target budget "
            f"({spec.target.timesteps}): the curve would have no interior point",
        )
    if not spec.seeds:
        raise FieldError("seeds", "must hold at least one seed")
    if len(set(spec.seeds)) != len(spec.seeds) or min(spec.seeds) < 0:
        raise FieldError("seeds", f"must be distinct non-negative integers, got {spec.seeds}")
    if spec.sequential is not None and spec.sequential.max != len(spec.seeds):
        raise FieldError(
            "seeds", "sequential seeding is set with a mapping: seeds: {min, max, step, start}"
        )
    check_replicas(spec.source, "source", len(spec.seeds))
    for i, m in enumerate(spec.methods):
        if m.source is not None:
            check_replicas(m.source, join(join("methods", i), "source"), len(spec.seeds))
    _check_returns(spec)
    lo, hi = spec.score_range.low, spec.score_range.high
    if lo is not None and hi is not None and hi <= lo:
        raise FieldError("score_range.high", f"must be larger than low ({lo}), got {hi}")
    mode = spec.tracking.wandb.mode
    if mode is not None and mode not in WANDB_MODES:  # None: WANDB_MODE or the default
        raise FieldError(
            "tracking.wandb.mode",
            f"must be one of {', '.join(WANDB_MODES)}, got '{mode}'"
            f"{did_you_mean(mode, WANDB_MODES)}",
        )
    _check_executor(spec)
    if spec.device not in DEVICES:
        raise FieldError("device", f"must be one of {', '.join(DEVICES)}, got '{spec.device}'")
    if spec.device == "cuda" and not torch.cuda.is_available():
        raise FieldError("device", "cuda was asked for, but no CUDA device is available here")

    spec.hyperparams = {**zoo_defaults(spec.algo, spec.target.env.id), **spec.hyperparams}
    check_hyperparams(spec.algo, spec.hyperparams)
    _check_seeds(spec)
    _check_net_archs(spec)
    source = _source_info(spec)
    target = _env_info(spec, "target")
    if source.algo != spec.algo and spec.source.checkpoint is not None:
        raise FieldError(
            "source.checkpoint",
            f"the checkpoint is a {source.algo} agent, but the study's algo is {spec.algo}",
        )
    grouped = _check_methods(spec, source, target)
    _check_compare(spec)
    check_policy(spec, target.observation_space)
    _check_source_policy(spec)
    _check_eval_on_source(spec)
    target_model = check_models(spec)  # each distinct model configuration, built once
    if grouped:
        groups = list(policy_groups(target_model.policy))
        for method, path in grouped:
            method.check_groups(groups, path)
    if not any(m.method == BASELINE for m in spec.methods):
        spec.methods.insert(0, MethodSpec(BASELINE, BASELINE))


def _check_net_archs(spec: StudySpec) -> None:
    """Every policy's hidden sizes (the study's, the source's, a method's own source's)."""
    policies = [("policy", spec.policy), ("source.policy", spec.source.policy)]
    policies += [
        (join(join("methods", i), "source.policy"), m.source.policy)
        for i, m in enumerate(spec.methods)
        if m.source is not None
    ]
    for path, policy in policies:
        if policy is not None and policy.net_arch is not None:
            check_net_arch(spec.algo, policy.net_arch, join(path, "net_arch"))


def _check_seeds(spec: StudySpec) -> None:
    """Seeds, with what the code adds to them (``MAX_SEED_OFFSET``, the env copies' indices),
    stay below numpy's limit; ``source.seed`` (and a method's own) too."""
    copies = int(spec.hyperparams.get("n_envs", 1)) * max(1, len(spec.source.envs or []))
    top = SEED_LIMIT - MAX_SEED_OFFSET - copies
    sources = [("source.seed", spec.source)] + [
        (join(join("methods", i), "source.seed"), m.source)
        for i, m in enumerate(spec.methods)
        if m.source is not None
    ]
    # a replicated source trains with seed + the pair's seed id: both ends must be valid
    tops = [
        (p, s.seed + max(spec.seeds)) for p, s in sources if s.replica_count(len(spec.seeds)) > 1
    ]
    for path, seed in [("seeds", max(spec.seeds)), *((p, s.seed) for p, s in sources), *tops]:
        if not 0 <= seed < top:
            raise FieldError(
                path,
                f"must be in [0, {top}) (numpy's seeds are below 2**32, less the offsets "
                f"rltransfer adds for evaluation and env copies), got {seed}",
            )


def _check_returns(spec: StudySpec) -> None:
    """``threshold`` and ``score_range`` are returns: bounded by ``MAX_RETURN``."""
    values = [("threshold", spec.threshold), ("score_range.low", spec.score_range.low)]
    values.append(("score_range.high", spec.score_range.high))
    for path, value in values:
        problem = return_problem(value) if value is not None else None
        if problem:
            raise FieldError(path, problem)


def _check_eval_on_source(spec: StudySpec) -> None:
    """``eval.on_source`` evaluates on ``source.env``, which a checkpoint-only source lacks."""
    if spec.eval.on_source and spec.source.envs is not None:
        raise FieldError(
            "eval.on_source",
            "is not supported with a multi-task source ('source.envs'): it evaluates on one "
            "source env",
        )
    if spec.eval.on_source and spec.source.env is None:
        raise FieldError(
            "eval.on_source",
            "needs 'source.env' to evaluate on, but the source is a checkpoint, which names no "
            "environment; remove 'eval.on_source' or train the source from 'env' and "
            "'timesteps'",
        )


def _check_executor(spec: StudySpec) -> None:
    if spec.executor.kind not in EXECUTORS:
        raise FieldError(
            "executor.kind",
            f"unknown executor '{spec.executor.kind}'"
            f"{did_you_mean(spec.executor.kind, EXECUTORS)}; available: "
            f"{', '.join(EXECUTORS)}",
        )
    ex = spec.executor
    _positive(ex.workers, "executor.workers")
    if ex.kind == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise FieldError("executor.kind", "ray is not installed: pip install 'rltransfer[ray]'")
        if ex.cpus_per_run <= 0:
            raise FieldError("executor.cpus_per_run", f"must be > 0, got {ex.cpus_per_run}")
        if ex.gpus_per_run < 0:
            raise FieldError("executor.gpus_per_run", f"must be >= 0, got {ex.gpus_per_run}")
        for key in ("cpus_per_run", "gpus_per_run"):  # Ray's rule for resource requests
            n = getattr(ex, key)
            if n > 1 and n != int(n):
                raise FieldError(f"executor.{key}", f"above 1 must be a whole number, got {n}")
        from rltransfer.executors.ray_cluster import join_address

        local = join_address(ex.address) is None
        if ex.gpus_per_run > 0 and local and not torch.cuda.is_available():
            raise FieldError(
                "executor.gpus_per_run",
                f"asks for {ex.gpus_per_run:g} GPU per run, but the local Ray would have none: "
                "no CUDA device here. Set it to 0, or join a cluster with GPUs "
                "(executor.address, --ray-address or RAY_ADDRESS)",
            )
    else:
        for key in ("address",):
            if getattr(ex, key) is not None:
                raise FieldError(
                    f"executor.{key}", f"only the ray executor takes it, not '{ex.kind}'"
                )
