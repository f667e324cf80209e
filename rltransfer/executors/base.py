"""The executor interface: run ``execute_run`` for ``RunSpec``s and hand back futures."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from rltransfer.run import RunSpec

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
