"""The executor interface: run ``execute_run`` for ``RunSpec``s and hand back futures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from rltransfer.layout import RunSpec

ProgressFn = Callable[[str, int], None]
"""``progress(run_id, timesteps_done)``."""


class Executor(Protocol):
    """Runs training runs. ``submit`` returns a future of the run's meta dict."""

    def submit(self, spec: RunSpec) -> Future[dict[str, Any]]: ...

    def shutdown(self, cancel: bool = False) -> None: ...


class Throttled:
    """Forwards progress at most every ``interval`` seconds (and always the first call)."""

    def __init__(self, sink: ProgressFn, interval: float = 0.5):
        self.sink = sink
        self.interval = interval
        self._last = 0.0

    def __call__(self, run_id: str, t: int) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.sink(run_id, t)


class ProgressPump:
    """A daemon thread moving ``(run_id, t)`` reports from a worker queue to ``progress``.

    ``get(timeout)`` reads the queue and raises one of ``empty`` when nothing came in time; any
    other error means the queue is gone (the executor is shutting down) and ends the thread.
    """

    def __init__(
        self,
        get: Callable[[float], tuple[str, int]],
        empty: tuple[type[BaseException], ...],
        progress: ProgressFn,
    ):
        self._get, self._empty, self._progress = get, empty, progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                run_id, t = self._get(0.3)
            except self._empty:
                continue
            except Exception:
                return
            self._progress(run_id, t)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
