"""The local executor: in-process for one worker, a process pool for several.

Workers are started with ``spawn`` (safe with PyTorch) and use one torch thread each, so N
workers on N cores do not oversubscribe. Progress travels back through a manager queue.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from rltransfer.executors.base import ProgressFn, ProgressPump, Throttled
from rltransfer.layout import RunSpec
from rltransfer.run import execute_run


def _run_in_worker(spec: RunSpec, progress_queue: Any) -> dict[str, Any]:
    sink = Throttled(lambda run_id, t: progress_queue.put((run_id, t)))
    return execute_run(spec, sink)


class InProcessExecutor:
    """Runs each submitted run at once, in this process."""

    def __init__(self, progress: ProgressFn):
        self.progress = Throttled(progress, interval=0.2)

    def submit(self, spec: RunSpec) -> Future[dict[str, Any]]:
        future: Future[dict[str, Any]] = Future()
        try:
            future.set_result(execute_run(spec, self.progress))
        except KeyboardInterrupt:
            raise
        except Exception as e:
            future.set_exception(e)
        return future

    def shutdown(self, cancel: bool = False) -> None:
        pass


class ProcessPoolRunExecutor:
    """Runs up to ``workers`` runs at once in spawned worker processes."""

    def __init__(self, workers: int, progress: ProgressFn):
        ctx = mp.get_context("spawn")
        self._manager = ctx.Manager()
        self._queue = self._manager.Queue()
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        self._pump = ProgressPump(
            lambda timeout: self._queue.get(timeout=timeout), (queue.Empty,), progress
        )

    def submit(self, spec: RunSpec) -> Future[dict[str, Any]]:
        return self._pool.submit(_run_in_worker, spec, self._queue)

    def shutdown(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
        self._pump.stop()
        self._manager.shutdown()


def make_local_executor(workers: int, progress: ProgressFn) -> Any:
    if workers <= 1:
        return InProcessExecutor(progress)
    return ProcessPoolRunExecutor(workers, progress)
