"""The online negative-transfer alarm.

While a transfer run trains, its curve so far is compared with its scratch counterpart's (the
same seed; finished, or still running and writing ``curve.partial.csv``). The alarm fires when
the transfer run is *clearly* below scratch: at each of the last ``window`` shared grid points
after t = 0, its mean return is lower by more than both

* twice the standard error of the difference, ``2·sqrt(s_T²/n_T + s_B²/n_B)`` (evaluation noise),
* ``margin`` of the score range (``low`` = scratch at t = 0, ``high`` = the threshold, else the
  highest return seen so far in either curve).

It is a warning about one seed pair, not a verdict: the verdict comes from all seeds at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rltransfer.analysis.curves import Curve, read_curve
from rltransfer.errors import UserError
from rltransfer.layout import CURVE_FILE, PARTIAL_CURVE_FILE


@dataclass
class NegativeTransferAlarm:
    baseline_dir: Path
    threshold: float | None = None
    window: int = 3
    margin: float = 0.05
    fired_at: int | None = None

    def _baseline(self) -> Curve | None:
        for name in (CURVE_FILE, PARTIAL_CURVE_FILE):
            path = self.baseline_dir / name
            if path.is_file():
                try:
                    return read_curve(path)
                except UserError:  # being replaced right now; try again at the next point
                    return None
        return None

    def check(self, points: list[tuple[int, float, float, int]]) -> str | None:
        """Return a warning the first time the alarm fires, else ``None``.

        ``points``: the transfer run's evaluations so far, ``(t, mean, std, episodes)``.
        """
        if self.fired_at is not None or len(points) <= self.window:
            return None
        base = self._baseline()
        if base is None:
            return None
        ours = {t: (m, s, n) for t, m, s, n in points}
        shared = [i for i, t in enumerate(base.timesteps) if t > 0 and int(t) in ours]
        if len(shared) < self.window:
            return None
        low = float(base.return_mean[0])
        seen = max(float(base.return_mean.max()), max(p[1] for p in points))
        high = self.threshold if self.threshold is not None and self.threshold > low else seen
        floor = self.margin * max(high - low, 0.0)
        for i in shared[-self.window :]:
            t = int(base.timesteps[i])
            m, s, n = ours[t]
            gap = float(base.return_mean[i]) - m
            s_b, n_b = float(base.return_std[i]), max(int(base.episodes[i]), 1)
            se = np.sqrt(s**2 / max(n, 1) + s_b**2 / n_b)
            if gap <= max(2 * se, floor):
                return None
        self.fired_at = int(base.timesteps[shared[-1]])
        ours_now, base_now = ours[self.fired_at][0], float(base.return_mean[shared[-1]])
        return (
            f"negative transfer suspected at t={self.fired_at}: return {ours_now:.1f} vs "
            f"{base_now:.1f} for scratch (same seed), clearly lower at the last {self.window} "
            "evaluations"
        )
