"""Transfer methods: one small class per file, registered by kind."""

from rltransfer.methods import finetune, scratch  # noqa: F401  (register the built-ins)
from rltransfer.methods.base import (
    METHODS,
    SourceArtifact,
    TransferContext,
    TransferMethod,
    method_class,
    register_method,
)

__all__ = [
    "METHODS",
    "SourceArtifact",
    "TransferContext",
    "TransferMethod",
    "method_class",
    "register_method",
]
