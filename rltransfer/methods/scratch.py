"""The baseline: the same architecture, budget, seeds and evaluation grid, trained from scratch."""

from __future__ import annotations

from typing import Any

from rltransfer.methods.base import TransferContext, TransferMethod, register_method


@register_method
class Scratch(TransferMethod):
    kind = "scratch"
    description = "no transfer: the paired baseline, trained from a fresh initialisation"
    transfers = "nothing"
    needs_source = False

    def apply(self, ctx: TransferContext) -> dict[str, Any]:
        return {"transferred": "nothing", "loaded": [], "reset": ["everything"]}
