"""Records one run's evaluation curve as it is made.

At each grid point the recorder evaluates the model, logs the point to W&B, rewrites
``curve.partial.csv`` (so a paired transfer run can compare itself with this one while both
train), and, for transfer runs, asks the negative-transfer alarm. With ``eval.on_source`` it also
evaluates on the source env at each point; those returns become the ``source_*`` columns.
A multi-task source adds its per-task columns (``columns``), logged to W&B as ``eval/task<k>/*``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rltransfer.alarm import NegativeTransferAlarm
from rltransfer.analysis.curves import Curve, write_curve
from rltransfer.layout import CURVE_FILE, PARTIAL_CURVE_FILE
from rltransfer.stopwatch import Stopwatch
from rltransfer.tracking import RunTracker

log = logging.getLogger("rltransfer")


class CurveRecorder:
    def __init__(
        self,
        out: Path,
        evaluate: Callable[[Any], tuple[float, float, int]],
        tracker: RunTracker,
        alarm: NegativeTransferAlarm | None = None,
        stop_on_alarm: bool = False,
        on_source: Callable[[Any], tuple[float, float, int]] | None = None,
        columns: Callable[[], dict[str, float]] | None = None,
        watch: Stopwatch | None = None,
    ):
        """``evaluate(model)`` and ``on_source(model)`` return (mean return, std, episodes) on
        the target and on the source env; ``on_source`` is None unless ``eval.on_source``.
        ``columns()``, called after each ``evaluate``, gives extra curve columns (e.g.
        ``task0_return_mean``); the same columns at every point. ``watch`` times the
        evaluations (``eval``) and the curve writes (``io``)."""
        self.out = out
        self.evaluate = evaluate
        self.tracker = tracker
        self.alarm = alarm
        self.stop_on_alarm = stop_on_alarm
        self.on_source = on_source
        self.columns = columns
        self.watch = watch or Stopwatch()
        self.extra_points: list[dict[str, float]] = []
        self.points: list[tuple[int, float, float, int]] = []
        self.source_points: list[tuple[float, float, int]] = []
        self.alarms: list[dict[str, Any]] = []
        self.stopped_early = False

    def curve(self) -> Curve:
        t, mean, std, n = (np.asarray(c) for c in zip(*self.points, strict=True))
        source: dict[str, Any] = {}
        if self.on_source is not None:
            s_mean, s_std, s_n = (np.asarray(c) for c in zip(*self.source_points, strict=True))
            source = {
                "source_return_mean": s_mean.astype(float),
                "source_return_std": s_std.astype(float),
                "source_episodes": s_n.astype(np.int64),
            }
        extra = None
        if self.extra_points:
            extra = {k: np.asarray([p[k] for p in self.extra_points]) for k in self.extra_points[0]}
        return Curve(
            t.astype(np.int64), mean.astype(float), std.astype(float), n.astype(np.int64), **source,
            extra=extra,
        )  # fmt: skip

    def record(self, model: Any, t: int) -> bool:
        """Evaluate ``model`` at grid point ``t``; return False when training should stop."""
        with self.watch.section("eval"):
            mean, std, n = self.evaluate(model)
            columns = self.columns() if self.columns is not None else None
            source = self.on_source(model) if self.on_source is not None else None
        self.points.append((t, mean, std, n))
        if source is not None:
            self.source_points.append(source)
        if columns is not None:
            self.extra_points.append(columns)
            self.tracker.log_eval(t, mean, std, n, source=source, extra=columns)
        else:
            self.tracker.log_eval(t, mean, std, n, source=source)
        with self.watch.section("io"):  # the alarm reads the baseline's partial curve
            write_curve(self.out / PARTIAL_CURVE_FILE, self.curve())
            message = self.alarm.check(self.points) if self.alarm is not None else None
        if message is None:
            return True
        log.warning(message)
        self.tracker.alert("Negative transfer suspected", message)
        self.alarms.append({"t": t, "message": message})
        if self.stop_on_alarm:
            self.stopped_early = True
            return False
        return True

    def finish(self) -> Curve:
        """Write the final ``curve.csv`` and drop the partial one."""
        curve = self.curve()
        write_curve(self.out / CURVE_FILE, curve)
        (self.out / PARTIAL_CURVE_FILE).unlink(missing_ok=True)
        return curve
