"""Checks of a multi-task source (``source.envs``, ``source.heads``), called by
``rltransfer.validation.study``; every mistake is a ``FieldError`` naming the field."""

from __future__ import annotations

from rltransfer.agents import MULTITASK_ALGOS, algo_info
from rltransfer.checkpoints import CheckpointInfo, SpaceInfo
from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import StudySpec
from rltransfer.environments import check_env_spec
from rltransfer.errors import did_you_mean
from rltransfer.multitask.policy import HEADS


def check_multitask_source(spec: StudySpec) -> CheckpointInfo:
    """Check ``spec.source`` (with ``envs``) in place, default ``heads`` to ``multi``, and return
    the source agent's algorithm and the spaces every task shares (task 0's)."""
    s = spec.source
    if s.envs is None:
        raise FieldError("source.heads", "only applies to a multi-task source ('source.envs')")
    for key in ("env", "checkpoint"):
        if getattr(s, key) is not None:
            raise FieldError(
                "source.envs",
                f"give either 'envs' (a multi-task source) or '{key}', not both",
            )
    if len(s.envs) < 2:
        raise FieldError(
            "source.envs", f"list at least 2 tasks, got {len(s.envs)}; for one task use 'env'"
        )
    if spec.algo not in MULTITASK_ALGOS:
        raise FieldError(
            "algo",
            f"a multi-task source ('source.envs') trains with {' or '.join(MULTITASK_ALGOS)}, "
            f"not {spec.algo}",
        )
    s.heads = "multi" if s.heads is None else s.heads
    if s.heads not in HEADS:
        raise FieldError(
            "source.heads",
            f"must be one of {', '.join(HEADS)}, got '{s.heads}'{did_you_mean(s.heads, HEADS)}",
        )
    if s.timesteps is None:
        raise FieldError("source.timesteps", "is required when the source is trained ('envs')")
    if s.timesteps <= 0:
        raise FieldError("source.timesteps", f"must be > 0, got {s.timesteps}")
    first = None
    for i, env_spec in enumerate(s.envs):
        path = join("source.envs", i)
        env = check_env_spec(env_spec, path)
        try:
            obs, act = env.observation_space, env.action_space
        finally:
            env.close()
        if not isinstance(act, algo_info(spec.algo).action_spaces):
            raise FieldError(path, f"{spec.algo} cannot act in {SpaceInfo.of(act)}")
        if first is None:
            first = (obs, act)
            continue
        if SpaceInfo.of(obs) != SpaceInfo.of(first[0]) or obs.dtype != first[0].dtype:
            raise FieldError(
                path,
                f"observation space {obs} differs from source.envs[0]'s {first[0]}: every task "
                "of a multi-task source must share its observation space",
            )
        if act != first[1]:
            raise FieldError(
                path,
                f"action space {act} differs from source.envs[0]'s {first[1]}: every task of a "
                "multi-task source must share its action space",
            )
    assert first is not None
    obs_info = SpaceInfo.as_policy_sees(first[0])
    return CheckpointInfo(spec.algo, obs_info, SpaceInfo.of(first[1]), 0)
