"""Fine-tuning: load every source parameter whose name and shape match, then train everything."""

from __future__ import annotations

from rltransfer.methods.base import register_method
from rltransfer.methods.parameters import ParameterMethod


@register_method
class Finetune(ParameterMethod):
    kind = "finetune"
    description = "load every source parameter whose name and shape match, then train everything"
