"""Where a run's wall time goes: named sections, each counted without the sections nested in it.

A run times its set-up, training, evaluation, W&B calls and file writes with one
:class:`Stopwatch`; ``meta.json`` → ``timing`` holds the totals (``scripts/bench_study.py`` reads
them). Sections nest: evaluation inside SB3's ``learn`` counts as evaluation, not training, so
the shares add up to the run's wall time (``other_s`` is what no section covered).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Stopwatch:
    """Exclusive wall time (seconds) per section name, from ``time.perf_counter``."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self._clock = clock
        self._start = clock()
        self._open: list[list[float]] = []  # [start, seconds spent in nested sections]
        self.seconds: dict[str, float] = {}
        self.process_age = process_age_s()
        """The process's age when the stopwatch started, seconds (None: unknown)."""

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Time the block as ``name``, less the sections opened inside it."""
        frame = [self._clock(), 0.0]
        self._open.append(frame)
        try:
            yield
        finally:
            self._open.pop()
            elapsed = self._clock() - frame[0]
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - frame[1]
            if self._open:
                self._open[-1][1] += elapsed

    def report(self) -> dict[str, Any]:
        """``{"seconds": {section: s, ..., "other": s}, "total_s", "process_age_s", "pid",
        "peak_rss_mb"}``: seconds since the stopwatch started, the process's age at that start
        (mostly imports, for a worker's first run) and its peak resident memory so far (MiB;
        a worker's runs share it)."""
        total = self._clock() - self._start
        seconds = {k: round(v, 4) for k, v in self.seconds.items()}
        seconds["other"] = round(total - sum(self.seconds.values()), 4)
        return {
            "seconds": seconds,
            "total_s": round(total, 4),
            "process_age_s": self.process_age,
            "pid": os.getpid(),
            "peak_rss_mb": peak_rss_mb(),
        }


def peak_rss_mb() -> float:
    """This process's peak resident set size, MiB (``getrusage``: KiB on Linux, bytes on
    macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def process_age_s() -> float | None:
    """Seconds since this process started, from ``/proc`` (None where there is none)."""
    try:
        stat = open("/proc/self/stat").read()  # noqa: SIM115 - a one-shot read
        uptime = float(open("/proc/uptime").read().split()[0])  # noqa: SIM115
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of proc(5): starttime
    return round(uptime - started, 3)
