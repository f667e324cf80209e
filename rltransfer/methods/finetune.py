"""Fine-tuning: load every source parameter whose name and shape match, then train everything."""

from __future__ import annotations

from typing import Any

from rltransfer.methods.base import TransferContext, register_method
from rltransfer.methods.parameters import ParameterMethod, keep_study_plan


@register_method
class Finetune(ParameterMethod):
    kind = "finetune"
    description = "load every source parameter whose name and shape match, then train everything"

    def apply(self, ctx: TransferContext) -> dict[str, Any]:
        return self.transfer(ctx, keep_study_plan)
