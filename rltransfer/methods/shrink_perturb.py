"""Shrink-and-perturb (Ash & Adams 2020): θ ← λ·θ_source + σ·θ_fresh, then train everything.

Warm-started networks can generalise worse than fresh ones; shrinking the source weights and
adding a fresh initialisation restores trainability while keeping what was learned. θ_fresh is
the target's own fresh initialisation (the scratch baseline's, for the same seed). Tensors that
do not match by name and shape stay fresh; buffers (normalisation statistics) are copied, then
follow the ``normalization`` option.
"""

from __future__ import annotations

from rltransfer.methods.base import TransferContext
from rltransfer.methods.parameters import ParameterMethod
from rltransfer.transfer_record import TransferRecord


class ShrinkPerturb(ParameterMethod):
    """Combines source and fresh parameters (``ShrinkPerturbOptions``), then trains everything."""

    def apply(self, ctx: TransferContext) -> TransferRecord:
        lam, sigma = self.options.shrink, self.options.perturb
        record = self.transfer(
            ctx,
            combine=lambda source, fresh: lam * source + sigma * fresh,
        )
        return record.with_details(
            combined=f"θ = {lam:g}·θ_source + {sigma:g}·θ_fresh (parameters only)"
        )
