"""Progress display: a study bar (runs done / total, ETA) and one bar per active run.

On a terminal this is a live ``rich`` display; otherwise (CI, a log file) one line per finished run.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class StudyProgress:
    def __init__(self, total_runs: int, enabled: bool = True):
        self.console = Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.quiet = not enabled
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self._budgets: dict[str, int] = {}
        self._labels: dict[str, str] = {}
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.live,
        )
        self._study = self._progress.add_task("study runs", total=total_runs)

    def __enter__(self) -> StudyProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    def grow(self, runs: int) -> None:
        """``runs`` more runs to do (the next look of sequential seeding)."""
        with self._lock:
            total = int(self._progress.tasks[self._study].total or 0)
            self._progress.update(self._study, total=total + runs)

    def started(self, run_id: str, label: str, budget: int) -> None:
        """A run was submitted; its bar appears with its first progress report."""
        with self._lock:
            self._budgets[run_id] = budget
            self._labels[run_id] = label

    def update(self, run_id: str, timesteps: int) -> None:
        with self._lock:
            if run_id not in self._budgets:
                return
            task = self._tasks.get(run_id)
            if task is None:
                task = self._progress.add_task(
                    f"  {self._labels[run_id]}", total=self._budgets[run_id]
                )
                self._tasks[run_id] = task
            self._progress.update(task, completed=min(timesteps, self._budgets[run_id]))

    def finished(self, run_id: str, label: str, message: str) -> None:
        with self._lock:
            self._budgets.pop(run_id, None)
            task = self._tasks.pop(run_id, None)
            if task is not None:
                self._progress.remove_task(task)
            self._progress.advance(self._study)
            done = int(self._progress.tasks[self._study].completed)
            total = int(self._progress.tasks[self._study].total or 0)
        self.log(f"[{done}/{total}] {label}: {message}")

    def log(self, message: str) -> None:
        if self.quiet:
            return
        if self.live:
            self._progress.console.print(message, highlight=False)
        else:
            print(message, file=sys.stderr, flush=True)
