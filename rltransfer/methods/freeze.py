"""Feature extraction: keep the source's layers frozen and train fresh heads on top."""

from __future__ import annotations

from rltransfer.config.spec import GroupSpec
from rltransfer.methods.parameters import (
    ParameterMethod,
    check_nothing_trains,
    check_selectors_exist,
    resolve_plan,
)


class Freeze(ParameterMethod):
    """The groups in ``train`` train (fresh or from the source); every other group is frozen."""

    def check_groups(self, groups: list[str], path: str) -> None:
        check_selectors_exist(self.options.train, groups, f"{path}.train")
        check_nothing_trains(self.group_plan(groups), groups, f"{path}.train")

    def group_plan(self, groups: list[str]) -> dict[str, GroupSpec]:
        trained = GroupSpec("reinit" if self.options.heads == "fresh" else "finetune")
        specs = {s: trained for s in self.options.train}
        return resolve_plan(groups, specs, GroupSpec("freeze"), missing_ok=True)
