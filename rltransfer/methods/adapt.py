"""Transfer across observation and action spaces: an input adapter, loading by name and shape,
fresh output layers for a different action space.

* Observations of another size: the target's encoder is built for the SOURCE's observation shape
  and a small ``InputAdapter`` (``rltransfer.vision.adapters``) in front of it maps the target's
  observations there: for vectors a learned linear map that starts passing the shared leading
  coordinates through unchanged (or those named by ``map``), for images a bilinear resize and,
  for another channel count, a learned 1×1 convolution starting as the identity on the shared
  channels. Everything behind the adapter then has the source's shapes and loads.
* Every tensor whose name and shape match loads (``load_matching``); the others keep the
  target's fresh initialisation (the scratch baseline's, same seed) and the record says why, e.g.
  ``re-initialised: output (action space differs)``. When the action space changes kind
  (Discrete ↔ Box), the action layers stay fresh even where their shapes happen to match.
* Everything trains (the adapter too), unless ``freeze_transferred``: then every loaded tensor
  stays frozen and only the adapter and the fresh tensors train.
* VecNormalize statistics of another shape cannot be reused: they are re-estimated on the target
  (``rltransfer.methods.normalization``), whatever ``normalization`` says.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import torch

from rltransfer.checkpoints import CheckpointInfo, SpaceInfo
from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import GroupSpec
from rltransfer.methods.base import BuildPlan, SourceArtifact, TransferContext
from rltransfer.methods.layers import OUTPUT, group_parameters
from rltransfer.methods.layers import policy_groups as layer_groups
from rltransfer.methods.parameters import (
    ParameterMethod,
    check_exploration,
    configure_schedules,
)
from rltransfer.transfer_record import Skip, StatsOutcome, TransferRecord
from rltransfer.vision.adapters import (
    InputAdapter,
    adapt_problem,
    adapted_space,
    adapter_config,
    map_problem,
)
from rltransfer.vision.sb3 import TARGET_NETWORKS, is_target, named_extractors
from rltransfer.vision.stages import INPUT, register_stage

ACTION_TENSORS = ("action_net", "log_std")
"""PPO/A2C tensors that produce actions: kept fresh when the action space changes kind."""
ACTION_DIFFERS = "re-initialised: output (action space differs)"
CRITIC_DIFFERS = "re-initialised: critic input (it reads the action; action space differs)"


@register_stage("adapter", place=INPUT, key="adapter")
def adapter_stage(config: dict[str, Any], space: gym.Space) -> InputAdapter | None:
    """The ``InputAdapter`` of an extractor config with an ``"adapter"`` entry: the encoder
    behind it is built for the adapter's ``out_shape`` (the source's observations)."""
    if config.get("adapter") is None:
        return None
    adapter = InputAdapter(config["adapter"])
    if tuple(space.shape) != adapter.in_shape:
        raise ValueError(
            f"the input adapter maps observations of shape {adapter.in_shape}, the "
            f"policy sees {tuple(space.shape)}"
        )
    adapter.output_space = adapted_space(space, adapter.out_shape)
    return adapter


def _online(name: str) -> str:
    """The online-network name of a target-network tensor (``q_net_target.x`` → ``q_net.x``)."""
    for online, target in TARGET_NETWORKS.items():
        if name == target or name.startswith(target + "."):
            return online + name[len(target) :]
    return name


class Adapt(ParameterMethod):
    """Adapter, loading by name and shape, fresh action layers (``AdaptOptions``)."""

    def check_compatible(self, source: CheckpointInfo, target: CheckpointInfo, path: str) -> None:
        check_exploration(self.options, target, path)
        problem = adapt_problem(source.observation_space, target.observation_space)
        if problem is not None:
            raise FieldError(
                path, f"adapt cannot map the target's observations onto the source's: {problem}"
            )
        if self.options.map is not None:
            problem = map_problem(
                self.options.map, source.observation_space, target.observation_space
            )
            if problem is not None:
                raise FieldError(join(path, "map"), problem)

    def configure(self, plan: BuildPlan, source: SourceArtifact | None) -> None:
        configure_schedules(self.options, plan, source)
        target = SpaceInfo.as_policy_sees(plan.observation_space)
        self._adapter = adapter_config(source.info.observation_space, target, self.options.map)
        if self._adapter is not None:
            plan.extractor["adapter"] = self._adapter
            # the adapter trains inside the policy: no frozen-feature cache in the env
            plan.policy = dataclasses.replace(plan.policy, cache=False)

    def apply(self, ctx: TransferContext) -> TransferRecord:
        policy = ctx.model.policy
        info = ctx.source.info
        target_action = SpaceInfo.of(ctx.model.action_space)
        action_differs = info.action_space != target_action
        fresh_state = policy.state_dict()
        source_state = ctx.source.policy_state()
        drop = set()
        if info.action_space.kind != target_action.kind:
            drop = {k for k in source_state if _online(k).split(".")[0] in ACTION_TENSORS}
        loadable = {
            k
            for k, v in source_state.items()
            if k not in drop and k in fresh_state and fresh_state[k].shape == v.shape
        }
        groups = layer_groups(policy)

        def plan_for(names: list[str]) -> dict[str, GroupSpec]:
            def fully_loaded(g: str) -> bool:
                params = [n for n, _ in group_parameters(policy, groups[g])]
                return bool(params) and all(n in loadable for n in params)

            freeze = self.options.freeze_transferred
            return {
                g: GroupSpec("freeze" if freeze and fully_loaded(g) else "finetune") for g in names
            }

        # a ``map`` that reorders coordinates of the same size: the source's VecNormalize
        # statistics no longer line up with the target's coordinates
        adapters = [ex.adapter for _, ex in named_extractors(policy) if ex.adapter is not None]
        remapped = any(
            not a.image and a.in_shape == a.out_shape and a.map != list(range(a.in_shape[0]))
            for a in adapters
        )
        record = self.transfer(
            TransferContext(ctx.model, ctx.env, ctx.source.without(drop, stats=not remapped)),
            plan_for=plan_for,
        )
        normalization = record.normalization
        if remapped and normalization.vecnormalize.reestimated:
            normalization = dataclasses.replace(
                normalization,
                vecnormalize=StatsOutcome(
                    "reestimated",
                    "re-estimated on the target (the adapter's map reorders the coordinates)",
                ),
            )
        if self.options.freeze_transferred:
            record = self._freeze_loaded(policy, record)

        output = groups.get(OUTPUT)
        skipped = dict(record.skipped or {})
        for k in drop:
            skipped[k] = Skip("action", f"{ACTION_DIFFERS}: {info.action_space} → {target_action}")
        for k, skip in list(skipped.items()):
            if not action_differs or skip.cause != "shape":
                continue
            if output and output.owns(_online(k)):
                skipped[k] = skip.because("action", ACTION_DIFFERS)
            elif _online(k).startswith("critic."):  # SAC/TD3 critics read the action too
                skipped[k] = skip.because("critic", CRITIC_DIFFERS)
        loaded = set(record.loaded or [])
        fresh: dict[str, str] = {}
        unique = [n for n, _ in policy.named_parameters()] + [n for n, _ in policy.named_buffers()]
        for k in unique:  # without the aliases of a shared extractor (pi_/vf_features_extractor)
            if is_target(k) or k in loaded:
                continue
            if ".adapter." in f".{k}":
                fresh[k] = "adapter (new): starts as described in 'adapters'"
            elif k in skipped:
                fresh[k] = skipped[k].text
            elif action_differs and output and output.owns(k):
                fresh[k] = f"{ACTION_DIFFERS}: not in the source"
            else:
                fresh[k] = "not in the source"
        n_fresh = int(sum(p.numel() for n, p in policy.named_parameters() if n in fresh))
        counts = record.parameters
        return dataclasses.replace(
            record,
            skipped=skipped,
            normalization=normalization,
            parameters=dataclasses.replace(counts, more={**counts.more, "fresh": n_fresh}),
            adapters=[
                f"{name}.adapter: {ex.adapter.describe()}"
                for name, ex in named_extractors(policy)
                if ex.adapter is not None
            ],
        ).with_details(
            fresh=fresh,
            adapter=getattr(self, "_adapter", None),
            spaces={
                "observation": {
                    "source": str(info.observation_space),
                    "target": str(SpaceInfo.as_policy_sees(ctx.model.observation_space)),
                },
                "action": {"source": str(info.action_space), "target": str(target_action)},
            },
        )

    def _freeze_loaded(self, policy: torch.nn.Module, record: TransferRecord) -> TransferRecord:
        """Freeze the loaded tensors of groups that also hold fresh ones (e.g. ``value_net`` next
        to a fresh ``action_net``); fully loaded groups were frozen by the group plan."""
        loaded = set(record.loaded or [])
        for n, p in policy.named_parameters():
            if n in loaded and not is_target(n):
                p.requires_grad_(False)
        frozen = [
            n for n, p in policy.named_parameters() if not p.requires_grad and not is_target(n)
        ]
        # ``ParameterMethod.after_training`` checks that these stayed bitwise unchanged
        self.remember_frozen(policy, frozen)
        n_frozen = int(sum(p.numel() for n, p in policy.named_parameters() if n in set(frozen)))
        return dataclasses.replace(
            record,
            frozen=frozen,
            parameters=dataclasses.replace(record.parameters, frozen=n_frozen),
        )
