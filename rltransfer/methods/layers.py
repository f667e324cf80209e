"""Layer groups of a whole SB3 policy, from input to output, for parameter-transfer methods.

Groups, in depth order:

* ``adapter``: an input adapter (``adapt`` across observation spaces), when present;
* ``encoder.<g>``: each layer group of the features extractor's encoder (``encoder.conv1``, …);
* ``hidden1`` … ``hiddenN``: the i-th hidden layer of every MLP head (actor and critic together,
  e.g. ``mlp_extractor.policy_net.0`` and ``mlp_extractor.value_net.0`` for PPO);
* ``output``: the layers that produce actions, values or Q-values (``action_net``,
  ``value_net``, ``log_std``, the last layer of DQN's ``q_net`` and SAC's ``qf*``, ``mu``).

Selectors name groups or families of them: ``encoder`` (every ``encoder.*``), ``hidden``
(every ``hidden*``), ``all``. Target networks (``q_net_target``, ``critic_target``) are not
grouped: ``sync_target_networks`` (``rltransfer.vision.sb3``) copies the online networks into
them after a change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from rltransfer.vision.encoder import Encoder
from rltransfer.vision.groups import GROUPED, LR_ATTR, keep_frozen_bn_eval
from rltransfer.vision.groups import install_unfreeze_schedule as unfreeze_on_schedule
from rltransfer.vision.groups import unfreeze as unfreeze_encoder_group
from rltransfer.vision.sb3 import TARGET_NETWORKS as TARGET_NETWORKS
from rltransfer.vision.sb3 import is_target as is_target
from rltransfer.vision.sb3 import named_extractors
from rltransfer.vision.sb3 import sync_target_networks as sync_target_networks

OUTPUT = "output"
ADAPTER = "adapter"


@dataclass
class LayerGroup:
    """One group: the module prefixes it owns (every state-dict entry under them, parameters
    and buffers, belongs to it) and the encoder groups it stands for (for BatchNorm)."""

    name: str
    prefixes: list[str] = field(default_factory=list)
    encoder_groups: list[tuple[Encoder, str]] = field(default_factory=list)

    def owns(self, key: str) -> bool:
        return any(key == p or key.startswith(p + ".") for p in self.prefixes)


def _classify_linear(policy: nn.Module) -> dict[str, str]:
    """Module name of every head ``nn.Linear`` → ``hidden<i>`` or ``output``."""
    out: dict[str, str] = {}
    modules = dict(policy.named_modules())
    for name, module in modules.items():
        if not isinstance(module, nn.Linear) or is_target(name) or "features_extractor" in name:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = modules.get(parent_name) if parent_name else policy
        if not isinstance(parent, nn.Sequential):
            out[name] = OUTPUT
            continue
        children = list(parent.named_children())
        linears = [n for n, m in children if isinstance(m, nn.Linear)]
        ends_with_linear = children[-1][0] == child
        if ends_with_linear and child == linears[-1]:
            out[name] = OUTPUT
        else:
            out[name] = f"hidden{linears.index(child) + 1}"
    return out


def policy_groups(policy: nn.Module) -> dict[str, LayerGroup]:
    """Ordered ``{group: LayerGroup}`` of ``policy`` (input → output); every online parameter
    belongs to exactly one group."""
    adapter = LayerGroup(ADAPTER)
    enc: dict[str, LayerGroup] = {}
    for path, extractor in named_extractors(policy):
        encoder = extractor.encoder
        for g, module_paths in encoder.groups.items():
            group = enc.setdefault(f"encoder.{g}", LayerGroup(f"encoder.{g}"))
            group.prefixes += [f"{path}.reader.encoder.{p}" for p in module_paths]
            group.encoder_groups.append((encoder, g))
        if getattr(extractor, "adapter", None) is not None:
            adapter.prefixes.append(f"{path}.adapter")
    heads: dict[str, LayerGroup] = {}
    for name, g in _classify_linear(policy).items():
        heads.setdefault(g, LayerGroup(g)).prefixes.append(name)
    groups = [adapter] if adapter.prefixes else []
    groups += list(enc.values())
    hidden = sorted((g for g in heads if g != OUTPUT), key=lambda g: int(g[len("hidden") :]))
    groups += [heads[g] for g in hidden]
    output = heads.get(OUTPUT, LayerGroup(OUTPUT))
    # parameters outside any module group (PPO's ``log_std``; an encoder's ungrouped layers
    # would be a registry bug) go to ``output`` when they are not in a features extractor
    for name, _ in policy.named_parameters():
        if is_target(name) or any(g.owns(name) for g in [*groups, output]):
            continue
        if "features_extractor" in name:
            raise ValueError(f"parameter {name} belongs to no layer group of its encoder")
        output.prefixes.append(name)
    if output.prefixes:
        groups.append(output)
    return {g.name: g for g in groups}


def select(groups: dict[str, LayerGroup], selector: str) -> list[str]:
    """The group names ``selector`` stands for: a group, ``encoder``, ``hidden`` or ``all``.

    Raises ``KeyError`` with the available names when nothing matches.
    """
    if selector == "all":
        return list(groups)
    if selector in groups:
        return [selector]
    family = re.compile(rf"^{re.escape(selector)}(\.|\d+$)")
    found = [g for g in groups if family.match(g)]
    if not found:
        raise KeyError(selector)
    return found


def group_names_help(groups: dict[str, LayerGroup]) -> str:
    families = ["all"] + [f for f in ("encoder", "hidden") if any(g.startswith(f) for g in groups)]
    return ", ".join([*groups, *families])


def state_keys(policy_state: dict[str, Any], group: LayerGroup) -> list[str]:
    return [k for k in policy_state if not is_target(k) and group.owns(k)]


def group_parameters(policy: nn.Module, group: LayerGroup) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in policy.named_parameters() if not is_target(n) and group.owns(n)]


def freeze(policy: nn.Module, group: LayerGroup) -> None:
    """No gradient for the group; its BatchNorm layers stay in eval mode."""
    for _, p in group_parameters(policy, group):
        p.requires_grad_(False)
    for encoder, g in group.encoder_groups:
        encoder.frozen = {*getattr(encoder, "frozen", set()), g}
        keep_frozen_bn_eval(encoder)


def unfreeze(policy: nn.Module, group: LayerGroup) -> None:
    for _, p in group_parameters(policy, group):
        p.requires_grad_(True)
    for encoder, g in group.encoder_groups:
        encoder.frozen = set(getattr(encoder, "frozen", set()))
        unfreeze_encoder_group(encoder, g)


def set_lr_multiplier(policy: nn.Module, group: LayerGroup, mult: float) -> None:
    for _, p in group_parameters(policy, group):
        setattr(p, LR_ATTR, float(mult))


def regroup_optimizers(policy: nn.Module) -> int:
    """Rebuild every optimizer of ``policy`` as its ``Grouped*`` form, which scales each
    parameter's LR by its multiplier tag (``set_lr_multiplier``); SB3's LR schedule keeps
    setting the base LR. Returns the number of optimizers rebuilt."""
    rebuilt = 0
    for module in policy.modules():
        opt = module.__dict__.get("optimizer")
        if not isinstance(opt, torch.optim.Optimizer):
            continue
        cls = GROUPED.get(type(opt)) or (type(opt) if type(opt) in GROUPED.values() else None)
        if cls is None:
            raise ValueError(
                f"LR multipliers need one of {[c.__name__ for c in GROUPED]}, not "
                f"{type(opt).__name__}"
            )
        params = [p for g in opt.param_groups for p in g["params"]]
        new = cls(params, **opt.defaults)
        for hook in opt._optimizer_step_pre_hooks.values():  # e.g. an unfreezing schedule
            new.register_step_pre_hook(hook)
        module.optimizer = new
        rebuilt += 1
    return rebuilt


def install_unfreeze_schedule(model: Any, groups: list[LayerGroup], at: dict[str, int]) -> None:
    """Unfreeze group ``g`` once ``model.num_timesteps >= at[g]`` (progressive unfreezing, on
    the schedule of ``rltransfer.vision.groups``); ``model.unfrozen_at`` records when each group
    was unfrozen (env steps)."""
    if not at:
        return
    by_name = {g.name: g for g in groups}
    model.unfrozen_at = {}

    def unfreeze_group(m: Any, name: str) -> None:
        unfreeze(m.policy, by_name[name])
        m.unfrozen_at[name] = int(m.num_timesteps)

    unfreeze_on_schedule(model, {g: s for g, s in at.items() if g in by_name}, unfreeze_group)
