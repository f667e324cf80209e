"""Learning curves: the evaluation return on a grid of target timesteps, starting at t = 0.

A curve on disk is ``curve.csv`` with the columns ``timesteps,return_mean,return_std,episodes``
(more columns may follow; they are ignored here).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rltransfer.errors import UserError
from rltransfer.io import atomic_write_text

CURVE_COLUMNS = ("timesteps", "return_mean", "return_std", "episodes")


@dataclass(frozen=True)
class Curve:
    """One run's evaluation curve.

    Attributes:
        timesteps: shape (G,), int64, strictly increasing target env steps of the grid, first is 0.
        return_mean: shape (G,), mean undiscounted episode return over the evaluation episodes.
        return_std: shape (G,), standard deviation of those returns.
        episodes: shape (G,), int64, number of evaluation episodes behind each point.
    """

    timesteps: np.ndarray
    return_mean: np.ndarray
    return_std: np.ndarray
    episodes: np.ndarray

    def __len__(self) -> int:
        return len(self.timesteps)


def curve_to_csv(curve: Curve) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CURVE_COLUMNS)
    for t, m, s, e in zip(
        curve.timesteps, curve.return_mean, curve.return_std, curve.episodes, strict=True
    ):
        w.writerow([int(t), repr(float(m)), repr(float(s)), int(e)])
    return buf.getvalue()


def write_curve(path: str | Path, curve: Curve) -> None:
    atomic_write_text(path, curve_to_csv(curve))


def read_curve(path: str | Path) -> Curve:
    """Read a ``curve.csv``; a malformed file raises ``UserError`` naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{path}: cannot read curve ({e.strerror})") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(c.strip() for c in rows[0][:4]) != CURVE_COLUMNS:
        raise UserError(f"{path}: the first line must start with {','.join(CURVE_COLUMNS)}")
    cols: list[list[float]] = [[], [], [], []]
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            values = [float(x) for x in row[:4]]
        except (ValueError, IndexError):
            raise UserError(f"{path}:{lineno}: expected 4 numbers, got {row!r}") from None
        if len(values) < 4:
            raise UserError(f"{path}:{lineno}: expected 4 numbers, got {row!r}")
        for c, v in zip(cols, values, strict=True):
            c.append(v)
    if not cols[0]:
        raise UserError(f"{path}: the curve has no points")
    t = np.asarray(cols[0], dtype=np.int64)
    if np.any(np.diff(t) <= 0):
        raise UserError(f"{path}: timesteps must be strictly increasing")
    if not np.all(np.isfinite(cols[1])):
        raise UserError(f"{path}: return_mean holds a value that is not finite")
    return Curve(
        timesteps=t,
        return_mean=np.asarray(cols[1], dtype=np.float64),
        return_std=np.asarray(cols[2], dtype=np.float64),
        episodes=np.asarray(cols[3], dtype=np.int64),
    )


_SEED_DIR = re.compile(r"^seed_(\d+)$")


def load_study_curves(study_dir: str | Path) -> dict[str, dict[int, Curve]]:
    """Read every ``target/<method>/seed_<k>/curve.csv`` under ``study_dir``.

    Returns ``{method: {seed: Curve}}``. Folders without a ``curve.csv`` are skipped.
    """
    target = Path(study_dir) / "target"
    if not target.is_dir():
        raise UserError(
            f"{study_dir}: no 'target' folder (expected target/<method>/seed_<k>/curve.csv)"
        )
    out: dict[str, dict[int, Curve]] = {}
    for method_dir in sorted(p for p in target.iterdir() if p.is_dir()):
        for seed_dir in sorted(p for p in method_dir.iterdir() if p.is_dir()):
            m = _SEED_DIR.match(seed_dir.name)
            if m and (seed_dir / "curve.csv").is_file():
                out.setdefault(method_dir.name, {})[int(m.group(1))] = read_curve(
                    seed_dir / "curve.csv"
                )
    if not out:
        raise UserError(f"{target}: no curve.csv found under target/<method>/seed_<k>/")
    return out
