"""Shared-trunk transfer: the trunk of a (multi-task) source, fresh task head on the target.

A multi-task source (``source.envs``, ``rltransfer.multitask``) shares its encoder and MLP
hidden layers across tasks, under the state-dict names of a single-task policy, and keeps one
output layer per task (``action_net.heads.<k>``, ``value_net.heads.<k>``). ``multitask`` loads
exactly that shared trunk into the single-task target: every source tensor except the output
layers (``action_net.*``, ``value_net.*``, ``log_std``, and whatever the target's ``output``
layer group owns). The target's output layers keep their fresh initialisation, the one the
scratch baseline of the same seed starts from. A single-task source works too (its head is
left behind).

Options: ``trunk: finetune | freeze`` (the encoder and hidden groups), then ``groups`` as in
``layerwise`` for anything finer (default ``{output: reinit}``).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from rltransfer.checkpoints import CheckpointInfo
from rltransfer.config.parse import FieldError
from rltransfer.config.spec import GroupSpec
from rltransfer.methods.base import SourceArtifact, TransferContext
from rltransfer.methods.layers import policy_groups
from rltransfer.methods.parameters import (
    ParameterMethod,
    check_exploration,
    check_selectors_exist,
    resolve_plan,
)
from rltransfer.transfer_record import TransferRecord

HEAD_PREFIXES = ("action_net", "value_net", "log_std")
"""Output tensors of an actor-critic policy (task-specific in a multi-task source)."""


def is_head(name: str, output_prefixes: list[str]) -> bool:
    """Whether state-dict entry ``name`` is an output layer (never loaded by ``multitask``)."""
    prefixes = [*HEAD_PREFIXES, *output_prefixes]
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def source_tasks(source: SourceArtifact) -> Any:
    """The source tasks the trunk came from (their env specs), when the source run's
    ``meta.json`` lists them (``tasks``, written by a multi-task source run)."""
    meta_path = source.model_path.parent / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return meta.get("tasks") if isinstance(meta, dict) else None


class Multitask(ParameterMethod):
    """Loads the source's trunk, never its heads (``MultitaskOptions``)."""

    def check_compatible(self, source: CheckpointInfo, target: CheckpointInfo, path: str) -> None:
        """Observations equal, or a multi-task Dict source (its ``obs`` part
        is checked by shape when the trunk loads). The action spaces may differ: the heads
        are fresh."""
        check_exploration(self.options, target, path)
        s, t = source.observation_space, target.observation_space
        if s.kind != "Dict" and s != t:
            raise FieldError(
                path,
                f"multitask needs the same observation space in source and target; the source "
                f"has {s}, the target {t} (the 'adapt' method transfers across spaces)",
            )

    def check_groups(self, groups: list[str], path: str) -> None:
        check_selectors_exist(list(self.options.groups), groups, f"{path}.groups")

    def group_plan(self, groups: list[str]) -> dict[str, GroupSpec]:
        specs = {"output": GroupSpec("reinit"), **self.options.groups}
        return resolve_plan(groups, specs, GroupSpec(self.options.trunk), missing_ok=True)

    def apply(self, ctx: TransferContext) -> TransferRecord:
        policy = ctx.model.policy
        groups = policy_groups(policy)
        output = groups["output"].prefixes if "output" in groups else []
        all_source = ctx.source.policy_state()
        source = ctx.source.without(k for k in all_source if is_head(k, output))
        target = policy.state_dict()
        trunk = source.policy_state()
        bad = {
            k: (tuple(v.shape), tuple(target[k].shape))
            for k, v in trunk.items()
            if k in target and target[k].shape != v.shape
        }
        if bad:
            detail = "; ".join(f"{k}: source {s}, target {t}" for k, (s, t) in bad.items())
            raise RuntimeError(
                f"the source's shared trunk does not fit the target (another observation or "
                f"hidden size?): {detail}"
            )
        return self.transfer(dataclasses.replace(ctx, source=source)).with_details(
            left_out=sorted(k for k in all_source if k not in trunk),
            trunk=self.options.trunk,
            source_tasks=source_tasks(ctx.source),
        )
