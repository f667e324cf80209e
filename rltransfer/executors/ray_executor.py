"""The Ray executor: each run is one Ray task, on a laptop or a cluster.

It joins a running cluster (``executor.address`` or ``RAY_ADDRESS``) or starts a local Ray, and
ships the study's own env modules to the workers (``ray_cluster``). A task declares its resources
(CPUs, and a fraction of a GPU so small runs can share one); a request no node can meet is a
``UserError`` before anything is submitted. A task returns its files and warnings to the driver,
which writes and re-issues them: workers need no access to ``runs/``. A source agent's files go
to the object store once, however many target runs read them. Ray retries a task whose worker
was lost (``max_retries``); a run that raises is not retried but recorded as failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from rltransfer.executors.base import ProgressFn, ProgressPump, Throttled
from rltransfer.executors.packing import pack_inputs, run_packed, unpack_result
from rltransfer.executors.ray_cluster import check_resources, connect, shipped_modules
from rltransfer.layout import RunSpec

LOST_WORKER_RETRIES = 3


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None
    """``auto`` or ``HOST:PORT`` joins a cluster; ``None``: ``RAY_ADDRESS``, else a local Ray."""
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    num_cpus: int | None = None
    """CPUs of a local Ray started here (``None``: all of this machine's); unused when joining."""


def _remote_run(spec: RunSpec, inputs: dict[str, bytes], progress_queue: Any) -> Any:
    # Fire and forget. ``Queue.put_nowait`` waits for the queue actor's reply with ``ray.get``;
    # Ray releases a task's CPU while it waits, and starts another task on it: runs then
    # oversubscribe the cores (3-4 runs on 2 CPUs, each twice as slow).
    sink = Throttled(lambda run_id, t: progress_queue.actor.put_nowait.remote((run_id, t)))
    return run_packed(spec, inputs, sink)


class RayExecutor:
    """Runs on Ray. ``runs``: every run the study may submit, to find the modules to ship."""

    def __init__(
        self,
        progress: ProgressFn,
        options: RayOptions | None = None,
        runs: Sequence[RunSpec] = (),
    ):
        import ray
        from ray.util.queue import Empty, Queue

        self.options = options or RayOptions()
        modules = shipped_modules(runs)
        self._started_ray = connect(self.options.address, self.options.num_cpus, modules)
        self._ray = ray
        try:
            check_resources(self.options.cpus_per_run, self.options.gpus_per_run)
        except BaseException:
            if self._started_ray:
                ray.shutdown()
            raise
        self._sources: dict[str, Any] = {}  # source folder -> ObjectRef of its files
        self._queue = Queue()
        self._remote = ray.remote(_remote_run).options(
            num_cpus=self.options.cpus_per_run,
            num_gpus=self.options.gpus_per_run,
            max_retries=LOST_WORKER_RETRIES,
            retry_exceptions=False,
        )
        self._refs: list[Any] = []
        self._pump = ProgressPump(
            lambda timeout: self._queue.get(timeout=timeout), (Empty,), progress
        )

    def _inputs(self, spec: RunSpec) -> Any:
        """The source agent's files for ``spec``: read and put in the object store once."""
        if spec.source_dir is None:
            return {}
        if spec.source_dir not in self._sources:
            self._sources[spec.source_dir] = self._ray.put(pack_inputs(spec))
        return self._sources[spec.source_dir]

    def submit(self, spec: RunSpec) -> Future[dict[str, Any]]:
        ref = self._remote.remote(spec, self._inputs(spec), self._queue)
        self._refs.append(ref)
        future: Future[dict[str, Any]] = Future()

        def done(ray_future: Future) -> None:
            try:
                future.set_result(unpack_result(spec, ray_future.result()))
            except BaseException as e:  # includes a task whose worker could not be recovered
                future.set_exception(e)

        ref.future().add_done_callback(done)
        return future

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            for ref in self._refs:
                self._ray.cancel(ref, force=True)
        self._pump.stop()
        if self._started_ray:
            self._ray.shutdown()
