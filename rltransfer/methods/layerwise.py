"""Layer-wise transfer: per layer group freeze, fine-tune with an LR multiplier, or
re-initialise; frozen groups may unfreeze progressively.

"Freeze the bottom, fine-tune the middle, retrain the top" is one line::

    groups: {encoder: freeze, hidden: {finetune: 0.1}, output: reinit}
"""

from __future__ import annotations

from rltransfer.config.spec import GroupSpec
from rltransfer.methods.parameters import (
    ParameterMethod,
    check_nothing_trains,
    check_selectors_exist,
    progressive_schedule,
    resolve_plan,
)


class Layerwise(ParameterMethod):
    """Plans each group as ``groups`` says (``LayerwiseOptions``); unlisted groups fine-tune."""

    def check_groups(self, groups: list[str], path: str) -> None:
        check_selectors_exist(list(self.options.groups), groups, f"{path}.groups")
        check_nothing_trains(self.group_plan(groups), groups, f"{path}.groups")

    def group_plan(self, groups: list[str]) -> dict[str, GroupSpec]:
        plan = resolve_plan(groups, self.options.groups, missing_ok=True)
        if self.options.progressive is not None:
            plan = progressive_schedule(plan, self.options.progressive)
        return plan
