"""Transfer methods: one small class per file, registered by kind."""

from rltransfer.methods import (  # noqa: F401  (register the built-ins)
    adapt,
    distill,
    finetune,
    freeze,
    kickstart,
    layerwise,
    multitask,
    progressive,
    reuse,
    scratch,
    shrink_perturb,
)
from rltransfer.methods.base import (
    METHODS,
    BuildPlan,
    SourceArtifact,
    TransferContext,
    TransferMethod,
    method_class,
    register_method,
)

__all__ = [
    "METHODS",
    "BuildPlan",
    "SourceArtifact",
    "TransferContext",
    "TransferMethod",
    "method_class",
    "register_method",
]
