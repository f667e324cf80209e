"""Layer-wise transfer: per layer group freeze, fine-tune with an LR multiplier, or
re-initialise; frozen groups may unfreeze progressively.

"Freeze the bottom, fine-tune the middle, retrain the top" is one line::

    groups: {encoder: freeze, hidden: {finetune: 0.1}, output: reinit}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rltransfer.config.parse import FieldError
from rltransfer.config.spec import GroupSpec
from rltransfer.methods.base import register_method
from rltransfer.methods.parameters import (
    ParameterMethod,
    ParameterOptions,
    check_selectors,
    check_selectors_exist,
    progressive_schedule,
    resolve_plan,
)


@dataclass
class LayerwiseOptions(ParameterOptions):
    """``groups``: layer group or family (``all``, ``encoder``, ``encoder.<g>``, ``hidden``,
    ``hidden<i>``, ``output``, ``adapter``) → ``freeze`` | ``finetune`` | ``reinit`` or
    ``{finetune: lr_mult}``, ``{reinit: lr_mult}``, ``{unfreeze_at: env_steps}``. Unlisted
    groups fine-tune; a named group overrides its family, a family overrides ``all``.
    ``progressive``: frozen groups without ``unfreeze_at`` unfreeze one at a time, from the
    output side, every ``progressive`` env steps. ``cache``: when every encoder group is frozen
    for good, use the frozen-feature cache with the source's encoder (as ``freeze`` does)."""

    groups: dict[str, GroupSpec] = field(default_factory=dict)
    progressive: int | None = None
    cache: bool = True

    def check(self, path: str) -> None:
        super().check(path)
        if not self.groups:
            raise FieldError(f"{path}.groups", "name at least one layer group (e.g. encoder)")
        check_selectors(list(self.groups), f"{path}.groups")
        for name, spec in self.groups.items():
            if spec.lr <= 0:
                raise FieldError(f"{path}.groups.{name}.lr", f"must be > 0, got {spec.lr}")
            if spec.unfreeze_at is not None and spec.mode != "freeze":
                raise FieldError(
                    f"{path}.groups.{name}.unfreeze_at", "applies to frozen groups only"
                )
        if self.progressive is not None and self.progressive <= 0:
            raise FieldError(
                f"{path}.progressive", f"must be > 0 env steps, got {self.progressive}"
            )


@register_method
class Layerwise(ParameterMethod):
    kind = "layerwise"
    description = "per layer group: freeze, fine-tune (LR multiplier) or re-initialise"

    Options = LayerwiseOptions

    def check_groups(self, groups: list[str], path: str) -> None:
        check_selectors_exist(list(self.options.groups), groups, f"{path}.groups")

    def group_plan(self, groups: list[str]) -> dict[str, GroupSpec]:
        plan = resolve_plan(groups, self.options.groups, missing_ok=True)
        if self.options.progressive is not None:
            plan = progressive_schedule(plan, self.options.progressive)
        return plan
