"""Executors that run a study's training runs, by kind. ``local`` is the default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rltransfer.config.spec import ExecutorSpec
from rltransfer.executors.base import Executor, ProgressFn
from rltransfer.executors.local import make_local_executor


def _local(spec: ExecutorSpec, progress: ProgressFn) -> Any:
    return make_local_executor(spec.workers, progress)


def _ray(spec: ExecutorSpec, progress: ProgressFn) -> Any:
    from rltransfer.executors.ray_executor import RayExecutor, RayOptions

    options = RayOptions(
        address=spec.address,
        cpus_per_run=spec.cpus_per_run,
        gpus_per_run=spec.gpus_per_run,
        num_cpus=None if spec.address else int(spec.workers * spec.cpus_per_run),
    )
    return RayExecutor(progress, options)


EXECUTORS: dict[str, Callable[[ExecutorSpec, ProgressFn], Any]] = {"local": _local, "ray": _ray}


def make_executor(spec: ExecutorSpec, progress: ProgressFn) -> Executor:
    return EXECUTORS[spec.kind](spec, progress)


__all__ = ["EXECUTORS", "Executor", "ProgressFn", "make_executor"]
