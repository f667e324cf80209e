"""The baseline: the same architecture, budget, seeds and evaluation grid, trained from scratch."""

from __future__ import annotations

from typing import Any

from rltransfer.methods.base import TransferContext, TransferMethod


class Scratch(TransferMethod):
    """Changes nothing: the fresh model trains as built."""

    def apply(self, ctx: TransferContext) -> dict[str, Any]:
        return {"transferred": "nothing", "loaded": [], "reset": ["everything"]}
