"""Shrink-and-perturb (Ash & Adams 2020): θ ← λ·θ_source + σ·θ_fresh, then train everything.

Warm-started networks can generalise worse than fresh ones; shrinking the source weights and
adding a fresh initialisation restores trainability while keeping what was learned. θ_fresh is
the target's own fresh initialisation (the scratch baseline's, for the same seed). Tensors that
do not match by name and shape stay fresh; buffers (normalisation statistics) are copied, then
follow the ``normalization`` option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rltransfer.config.parse import FieldError
from rltransfer.methods.base import TransferContext, register_method
from rltransfer.methods.parameters import (
    ParameterMethod,
    ParameterOptions,
)


@dataclass
class ShrinkPerturbOptions(ParameterOptions):
    """``shrink`` λ multiplies the source weights, ``perturb`` σ the fresh ones (defaults as in
    the paper's code: λ = 0.4, σ = 0.1)."""

    shrink: float = 0.4
    perturb: float = 0.1

    def check(self, path: str) -> None:
        super().check(path)
        for name in ("shrink", "perturb"):
            if getattr(self, name) < 0:
                raise FieldError(f"{path}.{name}", f"must be >= 0, got {getattr(self, name)}")


@register_method
class ShrinkPerturb(ParameterMethod):
    kind = "shrink_perturb"
    description = "θ ← λ·θ_source + σ·θ_fresh (Ash & Adams 2020), then train everything"
    Options = ShrinkPerturbOptions

    def apply(self, ctx: TransferContext) -> dict[str, Any]:
        lam, sigma = self.options.shrink, self.options.perturb
        record = self.transfer(
            ctx,
            combine=lambda source, fresh: lam * source + sigma * fresh,
        )
        record["combined"] = f"θ = {lam:g}·θ_source + {sigma:g}·θ_fresh (parameters only)"
        return record
