"""Executors that run a study's training runs, by kind. ``local`` is the default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rltransfer.executors.base import Executor, ProgressFn
from rltransfer.executors.local import make_local_executor

EXECUTORS: dict[str, Callable[[int, ProgressFn], Any]] = {"local": make_local_executor}


def make_executor(kind: str, workers: int, progress: ProgressFn) -> Executor:
    return EXECUTORS[kind](workers, progress)


__all__ = ["EXECUTORS", "Executor", "ProgressFn", "make_executor"]
