"""The machinery every parameter-transfer method shares.

A parameter method (``finetune``, ``freeze``, ``layerwise``, ``shrink_perturb``, ``adapt``)
takes the fresh target model, remembers its fresh initialisation, loads the source tensors whose
name and shape match (optionally combined with the fresh ones), then applies a per-group plan
(``freeze`` / ``finetune`` with an LR multiplier / ``reinit`` back to the fresh initialisation,
``unfreeze_at`` for progressive unfreezing), the normalisation mode and the LR and exploration
options, and reports exactly what it did for ``meta.json``.

A re-initialised tensor gets the value the scratch baseline of the same seed starts from (the
target model is built with the run's seed before anything is loaded).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from rltransfer.agents import scaled_schedule
from rltransfer.checkpoints import CheckpointInfo
from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import GroupSpec, PolicySpec
from rltransfer.methods.base import BuildPlan, SourceArtifact, TransferContext, TransferMethod
from rltransfer.methods.layers import (
    LR_ATTR,
    LayerGroup,
    freeze,
    group_names_help,
    group_parameters,
    install_unfreeze_schedule,
    is_target,
    policy_groups,
    regroup_optimizers,
    select,
    set_lr_multiplier,
    state_keys,
    sync_target_networks,
    unfreeze,
)
from rltransfer.methods.normalization import transfer_feature_stats, transfer_obs_stats
from rltransfer.methods.options import ParameterOptions
from rltransfer.transfer_record import (
    GroupState,
    Normalization,
    ParameterCounts,
    Skip,
    TransferRecord,
)
from rltransfer.vision.cache import find_feature_env
from rltransfer.vision.registry import check_space, get_entry


def load_matching(model: Any, source_state: dict[str, Any]) -> tuple[list[str], dict[str, Skip]]:
    """Copy tensors of ``source_state`` into ``model.policy`` where name and shape match.

    Returns the loaded names and ``{name: why}`` for the source tensors that were skipped.
    """
    target = model.policy.state_dict()
    loaded: list[str] = []
    skipped: dict[str, Skip] = {}
    for name, tensor in source_state.items():
        if name not in target:
            skipped[name] = Skip("absent", "not in the target model")
        elif tuple(target[name].shape) != tuple(tensor.shape):
            skipped[name] = Skip(
                "shape", f"shape {tuple(tensor.shape)} != target {tuple(target[name].shape)}"
            )
        else:
            target[name] = tensor
            loaded.append(name)
    model.policy.load_state_dict(target)
    return loaded, skipped


def check_spaces_match(
    kind: str, source: CheckpointInfo, target: CheckpointInfo, path: str, why: str
) -> None:
    """Raise ``FieldError`` at ``path`` unless source and target have the same observation and
    action spaces; ``why`` ends the message."""
    for what in ("observation_space", "action_space"):
        s, t = getattr(source, what), getattr(target, what)
        if s != t:
            raise FieldError(
                path,
                f"{kind} needs the same {what.replace('_', ' ')} in source and target; "
                f"source has {s}, target has {t} ({why})",
            )


def check_exploration(options: ParameterOptions, target: CheckpointInfo, path: str) -> None:
    if options.exploration == "continue" and target.algo != "dqn":
        raise FieldError(
            join(path, "exploration"),
            f"'continue' applies to DQN's ε-greedy exploration; the study uses {target.algo}",
        )


def check_selectors_exist(selectors: list[str], groups: list[str], path: str) -> None:
    available = {g: None for g in groups}
    for s in selectors:
        try:
            select(available, s)  # type: ignore[arg-type]
        except KeyError:
            raise FieldError(
                join(path, s),
                f"the target policy has no layer group '{s}'; it has: "
                f"{group_names_help(available)}",  # type: ignore[arg-type]
            ) from None


def check_nothing_trains(plan: dict[str, GroupSpec], groups: list[str], path: str) -> None:
    """Raise ``FieldError`` at ``path`` when ``plan`` freezes every one of the target's
    ``groups`` for the whole run: nothing would learn."""
    if groups and all(g in plan and plan[g].mode == "freeze" and plan[g].unfreeze_at is None
                      for g in groups):  # fmt: skip
        raise FieldError(
            path,
            f"every layer group of the target stays frozen ({', '.join(groups)}): nothing would "
            "train; let at least one group train (e.g. output: reinit) or unfreeze one later",
        )


def configure_schedules(options: ParameterOptions, plan: BuildPlan, source: SourceArtifact) -> None:
    """Apply the ``lr``, ``lr_mult`` and ``exploration`` options to the target's
    hyperparameters."""
    hp = plan.hyperparams
    if options.lr is not None:
        hp["learning_rate"] = options.lr
    if options.lr_mult != 1.0:
        hp["learning_rate"] = scaled_schedule(hp.get("learning_rate"), options.lr_mult, plan.algo)
    if options.exploration == "continue":
        eps = source.info.exploration_rate
        if eps is None:
            raise ValueError(f"the source checkpoint {source.model_path} records no ε")
        hp["exploration_initial_eps"] = eps


def resolve_plan(
    groups: list[str],
    specs: dict[str, GroupSpec],
    default: GroupSpec | None = None,
    missing_ok: bool = False,
) -> dict[str, GroupSpec]:
    """The groups a method plans: ``default`` for every group (when given), then ``all``, then
    families, then named groups. Groups left out keep the study's ``policy.groups`` settings.

    ``missing_ok``: ignore selectors that match no group (encoder groups are absent from the
    policy when the frozen encoder is cached in the env); otherwise raise ``KeyError``."""
    fake = {g: None for g in groups}
    out = {g: default for g in groups} if default is not None else {}

    def rank(selector: str) -> int:
        return 0 if selector == "all" else 2 if selector in fake else 1

    for selector in sorted(specs, key=rank):
        try:
            chosen = select(fake, selector)  # type: ignore[arg-type]
        except KeyError:
            if missing_ok:
                continue
            raise
        for g in chosen:
            out[g] = specs[selector]
    return out


def keep_study_plan(groups: list[str]) -> dict[str, GroupSpec]:
    """Plan no group: every group trains as the study's ``policy.groups`` say (``finetune``)."""
    return {}


def encoder_group_names(policy: PolicySpec, observation_space: Any) -> list[str]:
    """``encoder.<g>`` for every layer group of the policy's encoder on this space."""
    entry = get_entry(policy.encoder)
    encoder = entry.build(check_space(entry, observation_space), **policy.encoder_kwargs)
    return [f"encoder.{g}" for g in encoder.groups]


def cache_frozen_encoder(
    plan: BuildPlan, plan_for: Callable[[list[str]], dict[str, GroupSpec]]
) -> None:
    """When ``plan_for`` freezes every encoder group for good, encode observations once with the
    source's encoder in the env (the frozen-feature cache) instead of inside the policy. (The
    method's ``cache: false`` option skips this call.)"""
    import gymnasium as gym

    if plan.extractor:  # an input adapter trains in front of the encoder
        return
    if not isinstance(plan.observation_space, gym.spaces.Box):
        return
    names = encoder_group_names(plan.policy, plan.observation_space)
    specs = plan_for(names)
    if names and all(s.mode == "freeze" and s.unfreeze_at is None for s in specs.values()):
        plan.policy = dataclasses.replace(
            plan.policy, weights="source", groups={"all": GroupSpec("freeze")}, cache=None
        )


def progressive_schedule(plan: dict[str, GroupSpec], every: int) -> dict[str, GroupSpec]:
    """Frozen groups without ``unfreeze_at`` unfreeze one at a time from the output side,
    every ``every`` env steps (ULMFiT-style gradual unfreezing)."""
    out = dict(plan)
    frozen = [g for g, s in plan.items() if s.mode == "freeze" and s.unfreeze_at is None]
    for k, g in enumerate(reversed(frozen), start=1):
        out[g] = GroupSpec("freeze", plan[g].lr, k * every)
    return out


def _count(policy: torch.nn.Module, keys: set[str] | None = None) -> int:
    """Scalars in the online parameters of ``policy`` (those named in ``keys``, or all)."""
    return int(
        sum(
            p.numel()
            for n, p in policy.named_parameters()
            if not is_target(n) and (keys is None or n in keys)
        )
    )


def transfer_parameters(
    ctx: TransferContext,
    options: ParameterOptions,
    plan_for: Callable[[list[str]], dict[str, GroupSpec]],
    combine: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> TransferRecord:
    """Load the source into ``ctx.model``, apply the group plan and the normalisation mode.

    ``plan_for(groups)`` returns the ``GroupSpec`` of every group name. ``combine(source,
    fresh)`` (floating-point parameters only) replaces plain copying, e.g. shrink-and-perturb.
    Returns the run's transfer record (``meta.json`` → ``transfer``).
    """
    model, policy = ctx.model, ctx.model.policy
    fresh = {k: v.detach().clone() for k, v in policy.state_dict().items()}
    source = ctx.source.policy_state()
    if combine is not None:
        params = {n for n, _ in policy.named_parameters()}
        source = {
            k: combine(v, fresh[k])
            if k in params and k in fresh and fresh[k].shape == v.shape and v.is_floating_point()
            else v
            for k, v in source.items()
        }
    loaded, skipped = load_matching(model, source)
    cached = find_feature_env(ctx.env) is not None
    if cached:
        for k in [k for k in skipped if "features_extractor" in k]:
            skipped[k] = Skip(
                "cache", "encoded by the frozen-feature cache with the source's weights (frozen)"
            )
    if not loaded and not cached:
        raise RuntimeError("the source and target models share no tensor of the same name/shape")

    groups = policy_groups(policy)
    plan = plan_for(list(groups))
    state = policy.state_dict()
    reinit: list[str] = []
    for name, spec in plan.items():
        if spec.mode == "reinit":
            keys = state_keys(state, groups[name])
            with torch.no_grad():
                for k in keys:
                    state[k].copy_(fresh[k])
            reinit += keys
        if spec.mode == "freeze":
            freeze(policy, groups[name])
        else:  # an explicit plan overrides a freeze in the study's policy.groups
            unfreeze(policy, groups[name])
        set_lr_multiplier(policy, groups[name], spec.lr)
    if any(getattr(p, LR_ATTR, 1.0) != 1.0 for p in policy.parameters()):
        regroup_optimizers(policy)
    at = {g: int(s.unfreeze_at) for g, s in plan.items() if s.unfreeze_at is not None}
    install_unfreeze_schedule(model, list(groups.values()), at)
    features = transfer_feature_stats(
        policy, set(loaded), fresh, options.normalization, options.blend_count
    )
    obs = transfer_obs_stats(
        ctx.env, ctx.source.obs_stats(), options.normalization, options.blend_count
    )
    sync_target_networks(policy)

    frozen = [n for n, p in policy.named_parameters() if not p.requires_grad and not is_target(n)]
    return TransferRecord(
        "parameters",
        loaded=loaded,
        skipped=skipped,
        groups={g: _group_state(policy, lg, set(reinit), at.get(g)) for g, lg in groups.items()},
        frozen=frozen + (["encoder (frozen-feature cache)"] if cached else []),
        reinitialised=reinit,
        parameters=ParameterCounts(
            total=_count(policy),
            loaded=_count(policy, set(loaded) - set(reinit)),
            frozen=_count(policy, set(frozen)),
            reinitialised=_count(policy, set(reinit)),
        ),
        reset=["optimizer state", "learning-rate and exploration schedules (from the study)"],
        normalization=Normalization(options.normalization, vecnormalize=obs, encoder=features),
        details={
            "lr": {"lr": options.lr, "lr_mult": options.lr_mult},
            "exploration": options.exploration if model.__class__.__name__ == "DQN" else None,
        },
    )


def _group_state(
    policy: torch.nn.Module, group: LayerGroup, reinit: set[str], unfreeze_at: int | None
) -> GroupState:
    """A group's actual state after the transfer: mode, LR multiplier, unfreezing step."""
    params = [p for _, p in group_parameters(policy, group)]
    frozen = bool(params) and not any(p.requires_grad for p in params)
    fresh = any(k in reinit for k in group.prefixes) or any(
        n in reinit for n, _ in group_parameters(policy, group)
    )
    mode = "freeze" if frozen else "reinit" if fresh else "finetune"
    lr = float(getattr(params[0], LR_ATTR, 1.0)) if params else 1.0
    return GroupState(mode, lr, unfreeze_at)


class ParameterMethod(TransferMethod):
    """Base of the methods that move parameters between agents with the same spaces."""

    transfers = "parameters"
    Options = ParameterOptions

    def group_plan(self, groups: list[str]) -> dict[str, GroupSpec]:
        """The layer groups this method plans (``resolve_plan``); groups left out keep the
        study's ``policy.groups``. Default: none."""
        return keep_study_plan(groups)

    def transfer(
        self, ctx: TransferContext, combine: Any = None, plan_for: Any = None
    ) -> TransferRecord:
        """``transfer_parameters`` with ``plan_for`` (default ``group_plan``), remembering the
        frozen tensors to verify after training."""
        record = transfer_parameters(ctx, self.options, plan_for or self.group_plan, combine)
        self.remember_frozen(ctx.model.policy, record.frozen or [])
        return record

    def remember_frozen(self, policy: torch.nn.Module, names: list[str]) -> None:
        """The values of the frozen tensors ``names``, which ``after_training`` checks."""
        frozen = set(names)
        self._frozen = {n: p.detach().clone() for n, p in policy.named_parameters() if n in frozen}

    def after_training(self, model: Any) -> dict[str, Any]:
        """When frozen groups unfroze (env steps), and a check that the tensors frozen for the
        whole run are bitwise unchanged."""
        unfrozen = dict(getattr(model, "unfrozen_at", {}))
        params = dict(model.policy.named_parameters())
        still = {
            n: t for n, t in getattr(self, "_frozen", {}).items() if not params[n].requires_grad
        }
        changed = [
            n for n, t in still.items() if not torch.equal(params[n].detach().cpu(), t.cpu())
        ]
        if changed:
            raise RuntimeError(f"frozen tensors changed during training: {', '.join(changed)}")
        return {"unfrozen_at": unfrozen, "frozen_unchanged": len(still)}

    def check_compatible(self, source: CheckpointInfo, target: CheckpointInfo, path: str) -> None:
        why = "the 'adapt' method transfers across spaces"
        check_spaces_match(self.kind, source, target, path, why)
        check_exploration(self.options, target, path)

    def configure(self, plan: BuildPlan, source: SourceArtifact | None) -> None:
        configure_schedules(self.options, plan, source)
        if getattr(self.options, "cache", False):  # the option of freeze and layerwise
            cache_frozen_encoder(plan, self.group_plan)

    def apply(self, ctx: TransferContext) -> TransferRecord:
        return self.transfer(ctx)
