"""Transfer methods: one small class per file, declared in the catalog
(``rltransfer.methods.catalog``) and imported when first used.

This package imports neither torch nor stable-baselines3: the catalog's names are plain, and the
interface classes (``TransferMethod``, ``BuildPlan``, ...) of ``rltransfer.methods.base`` are
imported on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rltransfer.methods.catalog import (
    CATALOG,
    METHODS,
    MethodEntry,
    NoOptions,
    declare_method,
    method_class,
    method_entry,
    register_method,
)
from rltransfer.transfer_record import TransferRecord

if TYPE_CHECKING:
    from rltransfer.methods.base import BuildPlan, SourceArtifact, TransferContext, TransferMethod

_FROM_BASE = ("BuildPlan", "SourceArtifact", "TransferContext", "TransferMethod")


def __getattr__(name: str) -> Any:
    if name in _FROM_BASE:
        return getattr(importlib.import_module("rltransfer.methods.base"), name)
    raise AttributeError(f"module 'rltransfer.methods' has no attribute '{name}'")


__all__ = [
    "CATALOG",
    "METHODS",
    "BuildPlan",
    "MethodEntry",
    "NoOptions",
    "SourceArtifact",
    "TransferContext",
    "TransferMethod",
    "TransferRecord",
    "declare_method",
    "method_class",
    "method_entry",
    "register_method",
]
