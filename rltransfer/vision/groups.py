"""Per-group training policy: freeze, fine-tune with an LR multiplier, reinitialise, unfreeze
progressively.

* Frozen parameters have ``requires_grad=False``; BatchNorm layers of frozen groups stay in eval
  mode (their running statistics do not move).
* LR multipliers are tagged on the parameters and turned into optimizer parameter groups by the
  ``Grouped*`` optimizer classes, which scale each group's LR around every ``step()``; SB3 keeps
  setting one base LR (its schedule), so its schedules keep working.
* Progressive unfreezing: ``install_unfreeze_schedule`` adds an optimizer step pre-hook that
  unfreezes group g once the model has taken ``unfreeze_at`` env steps; the encoder's groups
  (``install_encoder_schedule``) and a whole policy's (``rltransfer.methods.layers``) use it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from rltransfer.vision.encoder import Encoder, reinit_module

LR_ATTR = "_rltransfer_lr_mult"
ALL = "all"


def resolve_groups(encoder: Encoder, groups: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every group of ``encoder`` → ``{mode, lr, unfreeze_at}``; ``all`` sets the default.

    ``groups`` values are ``GroupSpec``-like mappings or objects. Unknown names raise
    ``ValueError``.
    """
    unknown = [g for g in groups if g != ALL and g not in encoder.groups]
    if unknown:
        raise ValueError(
            f"unknown layer group '{unknown[0]}' of {encoder.name} "
            f"(groups: {', '.join(encoder.groups) or 'none'})"
        )

    def plain(spec: Any) -> dict[str, Any]:
        d = spec if isinstance(spec, dict) else vars(spec)
        return {
            "mode": d.get("mode", "finetune"),
            "lr": float(d.get("lr", 1.0)),
            "unfreeze_at": d.get("unfreeze_at"),
        }

    default = plain(groups.get(ALL, {}))
    return {g: plain(groups[g]) if g in groups else dict(default) for g in encoder.groups}


def apply_groups(encoder: Encoder, plan: dict[str, dict[str, Any]]) -> None:
    """Freeze and tag ``encoder``'s parameters as ``plan`` says (before the optimizer exists)."""
    encoder.group_plan = plan
    encoder.frozen = set()
    for g, spec in plan.items():
        frozen = spec["mode"] == "freeze"
        for p in encoder.group_parameters(g):
            p.requires_grad_(not frozen)
            setattr(p, LR_ATTR, spec["lr"])
        if frozen:
            encoder.frozen.add(g)
    keep_frozen_bn_eval(encoder)


def reinit_groups(encoder: Encoder) -> list[str]:
    """Fresh initialisation of the ``reinit`` groups (after weights were loaded)."""
    done = []
    for g, spec in getattr(encoder, "group_plan", {}).items():
        if spec["mode"] == "reinit":
            for m in encoder.group_modules(g):
                reinit_module(m)
            done.append(g)
    return done


def keep_frozen_bn_eval(encoder: Encoder) -> None:
    """Put the BatchNorm layers of frozen groups in eval mode (call after every ``train()``)."""
    for g in getattr(encoder, "frozen", ()):
        for m in encoder.group_modules(g):
            for bn in m.modules():
                if isinstance(bn, _BatchNorm):
                    bn.eval()


def unfreeze(encoder: Encoder, group: str) -> None:
    for p in encoder.group_parameters(group):
        p.requires_grad_(True)
    encoder.frozen.discard(group)
    for m in encoder.group_modules(group):
        m.train(encoder.training)


def all_frozen(plan: dict[str, dict[str, Any]]) -> bool:
    """True when every group is frozen for good (and there is at least one group)."""
    return bool(plan) and all(
        s["mode"] == "freeze" and s["unfreeze_at"] is None for s in plan.values()
    )


class _Grouped:
    """Mixin: split plain parameters into groups by their LR tag; scale LRs around ``step``."""

    def __init__(self, params: Any, lr: float = 1e-3, **kwargs: Any):
        params = list(params)
        if params and not isinstance(params[0], dict):
            by_mult: dict[float, list[nn.Parameter]] = {}
            for p in params:
                by_mult.setdefault(float(getattr(p, LR_ATTR, 1.0)), []).append(p)
            params = [{"params": ps, "lr_mult": m} for m, ps in by_mult.items()]
        super().__init__(params, lr=lr, **kwargs)

    def step(self, closure: Any = None) -> Any:
        base = [g["lr"] for g in self.param_groups]
        for g in self.param_groups:
            g["lr"] = g["lr"] * g.get("lr_mult", 1.0)
        try:
            return super().step(closure)
        finally:
            for g, lr in zip(self.param_groups, base, strict=True):
                g["lr"] = lr


class GroupedAdam(_Grouped, torch.optim.Adam):
    """Adam with one parameter group per LR multiplier."""


class GroupedAdamW(_Grouped, torch.optim.AdamW):
    """AdamW with one parameter group per LR multiplier."""


class GroupedRMSprop(_Grouped, torch.optim.RMSprop):
    """RMSprop with one parameter group per LR multiplier."""


class GroupedSGD(_Grouped, torch.optim.SGD):
    """SGD with one parameter group per LR multiplier."""


GROUPED = {
    torch.optim.Adam: GroupedAdam,
    torch.optim.AdamW: GroupedAdamW,
    torch.optim.RMSprop: GroupedRMSprop,
    torch.optim.SGD: GroupedSGD,
}


def optimizers_of(policy: nn.Module) -> list[torch.optim.Optimizer]:
    """The optimizers SB3 keeps on the policy or its submodules (actor, critic)."""
    found = []
    for m in policy.modules():
        opt = getattr(m, "optimizer", None)
        if isinstance(opt, torch.optim.Optimizer) and opt not in found:
            found.append(opt)
    return found


def install_unfreeze_schedule(
    model: Any, at: Mapping[str, int], unfreeze: Callable[[Any, str], None]
) -> None:
    """Progressive unfreezing, the one schedule: ``unfreeze(model, name)`` runs once for each
    ``name`` of ``at``, before the first optimizer step taken once ``model.num_timesteps``
    reaches ``at[name]``.

    A step pre-hook on every optimizer of ``model.policy`` checks the schedule, so no callback
    has to be passed to ``learn`` (``Grouped*`` optimizers rebuilt later keep the hook)."""
    if not at:
        return
    ref = weakref.ref(model)
    pending = dict(at)

    def hook(optimizer: Any, args: Any, kwargs: Any) -> None:
        m = ref()
        if m is None:
            return
        for name in [n for n, step in pending.items() if m.num_timesteps >= step]:
            del pending[name]
            unfreeze(m, name)

    for opt in optimizers_of(model.policy):
        opt.register_step_pre_hook(hook)


def install_encoder_schedule(model: Any, encoders: list[Encoder]) -> dict[str, int]:
    """Unfreeze each encoder group with ``unfreeze_at`` (of the encoders' group plan) once
    ``model.num_timesteps`` reaches it; ``encoder.unfrozen_at`` records when (env steps).
    Returns ``{group: step}``."""
    schedule = {
        g: int(s["unfreeze_at"])
        for e in encoders
        for g, s in e.group_plan.items()
        if s["unfreeze_at"] is not None
    }

    def unfreeze_group(m: Any, g: str) -> None:
        for e in encoders:
            if g in e.frozen:
                unfreeze(e, g)
                e.unfrozen_at = {**getattr(e, "unfrozen_at", {}), g: int(m.num_timesteps)}

    install_unfreeze_schedule(model, schedule, unfreeze_group)
    return schedule
