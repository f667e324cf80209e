"""Fine-tuning: load every source parameter whose name and shape match, then train everything."""

from __future__ import annotations

from rltransfer.methods.parameters import ParameterMethod


class Finetune(ParameterMethod):
    """Loads what matches (``ParameterMethod.apply``); every group trains."""
