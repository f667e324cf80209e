"""Feature extraction: keep the source's layers frozen and train fresh heads on top."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rltransfer.config.spec import GroupSpec
from rltransfer.methods.base import register_method
from rltransfer.methods.parameters import (
    ParameterMethod,
    ParameterOptions,
    check_selectors,
    check_selectors_exist,
    resolve_plan,
)


@dataclass
class FreezeOptions(ParameterOptions):
    """``train``: the layer groups that train (default: the output layers); every other group
    keeps the source's weights, frozen. ``heads``: the trained groups start ``fresh`` (as the
    scratch baseline does) or from the ``source``'s weights. ``cache``: when the whole encoder
    is frozen, encode each observation once, in the env, with the source's encoder (the
    frozen-feature cache; faster, same results up to float rounding)."""

    train: list[str] = field(default_factory=lambda: ["output"])
    heads: Literal["fresh", "source"] = "fresh"
    cache: bool = True

    def check(self, path: str) -> None:
        super().check(path)
        check_selectors(self.train, f"{path}.train")


@register_method
class Freeze(ParameterMethod):
    kind = "freeze"
    description = (
        "feature extraction: source layers frozen (encoder features cached when possible), "
        "fresh heads trained"
    )
    Options = FreezeOptions

    def check_groups(self, groups: list[str], path: str) -> None:
        check_selectors_exist(self.options.train, groups, f"{path}.train")

    def group_plan(self, groups: list[str]) -> dict[str, GroupSpec]:
        trained = GroupSpec("reinit" if self.options.heads == "fresh" else "finetune")
        specs = {s: trained for s in self.options.train}
        return resolve_plan(groups, specs, GroupSpec("freeze"), missing_ok=True)
