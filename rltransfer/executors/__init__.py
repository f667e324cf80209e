"""Executors that run a study's training runs, by kind. ``local`` is the default."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from rltransfer.config.spec import ExecutorSpec
from rltransfer.executors.base import Executor, ProgressFn
from rltransfer.executors.local import make_local_executor
from rltransfer.layout import RunSpec

Factory = Callable[[ExecutorSpec, ProgressFn, Sequence[RunSpec]], Any]


def _local(spec: ExecutorSpec, progress: ProgressFn, runs: Sequence[RunSpec]) -> Any:
    return make_local_executor(spec.workers, progress)


def _ray(spec: ExecutorSpec, progress: ProgressFn, runs: Sequence[RunSpec]) -> Any:
    from rltransfer.executors.ray_executor import RayExecutor, RayOptions

    options = RayOptions(
        address=spec.address,
        cpus_per_run=spec.cpus_per_run,
        gpus_per_run=spec.gpus_per_run,
        num_cpus=math.ceil(spec.workers * spec.cpus_per_run),  # a local Ray's; ignored when joining
    )
    return RayExecutor(progress, options, runs)


EXECUTORS: dict[str, Factory] = {"local": _local, "ray": _ray}


def make_executor(
    spec: ExecutorSpec, progress: ProgressFn, runs: Sequence[RunSpec] = ()
) -> Executor:
    """The executor ``spec`` names. ``runs``: what may be submitted (Ray ships their modules)."""
    return EXECUTORS[spec.kind](spec, progress, runs)


__all__ = ["EXECUTORS", "Executor", "ProgressFn", "make_executor"]
