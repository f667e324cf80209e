"""The baseline: the same architecture, budget, seeds and evaluation grid, trained from scratch."""

from __future__ import annotations

from rltransfer.methods.base import TransferContext, TransferMethod
from rltransfer.transfer_record import TransferRecord


class Scratch(TransferMethod):
    """Changes nothing: the fresh model trains as built."""

    def apply(self, ctx: TransferContext) -> TransferRecord:
        return TransferRecord("nothing", loaded=[], reset=["everything"])
