"""Learning curves: the evaluation return on a grid of target timesteps, starting at t = 0.

A curve on disk is ``curve.csv`` with the columns ``timesteps,return_mean,return_std,episodes``.
More columns may follow. Of those, ``source_return_mean,source_return_std,source_episodes`` (the
return on the source task at the same grid points, written when ``eval.on_source`` is on) are
read when present; ``nan`` there means the run could not be evaluated on the source. Any other
column is ignored when read; a writer may add its own (a multi-task source writes
``task<k>_return_mean,task<k>_return_std``, ``Curve.extra``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rltransfer.errors import UserError
from rltransfer.io import atomic_write_text
from rltransfer.layout import (
    CURVE_FILE,
    TARGET_DIR,
    TARGET_RUNS,
    UNFINISHED,
    read_meta,
    seed_of_dir,
    target_root,
)

CURVE_COLUMNS = ("timesteps", "return_mean", "return_std", "episodes")
SOURCE_COLUMNS = ("source_return_mean", "source_return_std", "source_episodes")


@dataclass(frozen=True)
class Curve:
    """One run's evaluation curve.

    Attributes:
        timesteps: shape (G,), int64, strictly increasing target env steps of the grid, first is 0.
        return_mean: shape (G,), mean undiscounted episode return over the evaluation episodes.
        return_std: shape (G,), standard deviation of those returns.
        episodes: shape (G,), int64, number of evaluation episodes behind each point.
        source_return_mean, source_return_std: shape (G,) or None, the same on the source task
            (``eval.on_source``); nan where the run could not be evaluated there.
        source_episodes: shape (G,), int64, or None: episodes behind each source point.
        extra: ``{column: shape (G,)}`` written after the other columns (not read back), or None.
    """

    timesteps: np.ndarray
    return_mean: np.ndarray
    return_std: np.ndarray
    episodes: np.ndarray
    source_return_mean: np.ndarray | None = None
    source_return_std: np.ndarray | None = None
    source_episodes: np.ndarray | None = None
    extra: dict[str, np.ndarray] | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.timesteps)

    @property
    def has_source(self) -> bool:
        """True when the curve carries the return on the source task."""
        return self.source_return_mean is not None

    def on_source(self) -> Curve:
        """The source-task curve on the same grid, as a plain curve (needs ``has_source``)."""
        if self.source_return_mean is None:
            raise ValueError("this curve has no source-task columns")
        g = len(self.timesteps)
        std = self.source_return_std
        n = self.source_episodes
        return Curve(
            self.timesteps,
            np.asarray(self.source_return_mean, dtype=np.float64),
            np.full(g, np.nan) if std is None else np.asarray(std, dtype=np.float64),
            np.zeros(g, np.int64) if n is None else np.asarray(n, dtype=np.int64),
        )


def curve_to_csv(curve: Curve) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    src = curve.on_source() if curve.has_source else None
    extra = curve.extra or {}
    w.writerow(CURVE_COLUMNS + (SOURCE_COLUMNS if src else ()) + tuple(extra))
    for i, (t, m, s, e) in enumerate(
        zip(curve.timesteps, curve.return_mean, curve.return_std, curve.episodes, strict=True)
    ):
        row = [int(t), repr(float(m)), repr(float(s)), int(e)]
        if src is not None:
            row += [
                repr(float(src.return_mean[i])),
                repr(float(src.return_std[i])),
                int(src.episodes[i]),
            ]
        row += [repr(float(v[i])) for v in extra.values()]
        w.writerow(row)
    return buf.getvalue()


def write_curve(path: str | Path, curve: Curve) -> None:
    atomic_write_text(path, curve_to_csv(curve))


def read_curve(path: str | Path) -> Curve:
    """Read a ``curve.csv``; a malformed file raises ``UserError`` naming the file and the line."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not a curve file; remove it or put the CSV there")
    try:
        text = path.read_text(encoding="utf-8")
        rows = list(csv.reader(io.StringIO(text)))
    except OSError as e:
        raise UserError(f"{path}: cannot read curve ({e.strerror})") from None
    except (UnicodeDecodeError, csv.Error):
        raise UserError(f"{path}: not a text CSV file (binary content)") from None
    header = [c.strip() for c in rows[0]] if rows else []
    if tuple(header[:4]) != CURVE_COLUMNS:
        raise UserError(f"{path}: the first line must start with {','.join(CURVE_COLUMNS)}")
    where = [header.index(c) for c in SOURCE_COLUMNS if c in header[4:]]
    if where and len(where) != len(SOURCE_COLUMNS):
        raise UserError(f"{path}: give all of the columns {','.join(SOURCE_COLUMNS)} or none")
    cols: list[list[float]] = [[], [], [], []]
    src: list[list[float]] = [[] for _ in where]
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            values = [float(x) for x in row[:4]]
            extra = [float(row[i]) for i in where]
        except (ValueError, IndexError):
            raise UserError(
                f"{path}:{lineno}: expected {4 + len(where)} numbers, got {row!r}"
            ) from None
        if len(values) < 4:
            raise UserError(f"{path}:{lineno}: expected 4 numbers, got {row!r}")
        for c, v in zip(cols + src, values + extra, strict=True):
            c.append(v)
    if not cols[0]:
        raise UserError(f"{path}: the curve has no points")
    t = np.asarray(cols[0], dtype=np.int64)
    if np.any(np.diff(t) <= 0):
        raise UserError(f"{path}: timesteps must be strictly increasing")
    if not np.all(np.isfinite(cols[1])):
        raise UserError(f"{path}: return_mean holds a value that is not finite")
    if src and not np.all(np.isfinite(src[2])):
        raise UserError(f"{path}: source_episodes holds a value that is not finite")
    return Curve(
        timesteps=t,
        return_mean=np.asarray(cols[1], dtype=np.float64),
        return_std=np.asarray(cols[2], dtype=np.float64),
        episodes=np.asarray(cols[3], dtype=np.int64),
        source_return_mean=np.asarray(src[0], dtype=np.float64) if src else None,
        source_return_std=np.asarray(src[1], dtype=np.float64) if src else None,
        source_episodes=np.asarray(src[2]).astype(np.int64) if src else None,
    )


def run_dirs(study_dir: str | Path) -> Iterator[tuple[str, int, Path]]:
    """``(method, seed, folder)`` of every ``target/<method>/seed_<k>/`` under ``study_dir``, in
    name order; nothing when there is no ``target`` folder."""
    target = target_root(study_dir)
    if not target.is_dir():
        return
    for method_dir in sorted(p for p in target.iterdir() if p.is_dir()):
        for seed_dir in sorted(p for p in method_dir.iterdir() if p.is_dir()):
            seed = seed_of_dir(seed_dir.name)
            if seed is not None:
                yield method_dir.name, seed, seed_dir


def _unfinished(folder: Path) -> bool:
    meta = read_meta(folder)  # None: no meta.json, curves made by another tool
    return meta is not None and meta.get("status") in UNFINISHED


def load_study_curves(
    study_dir: str | Path,
    methods: Collection[str] | None = None,
    seeds: Collection[int] | None = None,
) -> dict[str, dict[int, Curve]]:
    """Read every ``target/<method>/seed_<k>/curve.csv`` under ``study_dir``; with ``methods``
    or ``seeds`` (what the study lists), only those: runs an earlier spec left in the folder
    are not the study's.

    Returns ``{method: {seed: Curve}}``. Folders without a ``curve.csv`` are skipped (runs not
    finished), and so are runs whose ``meta.json`` says they are ``running`` or ``failed`` (a
    half-written curve is no result); a folder without ``meta.json`` (curves from another tool)
    is read. A ``curve.csv`` that is not a readable CSV file (a folder, binary) raises
    ``UserError``.
    """
    target = target_root(study_dir)
    if not target.is_dir():
        raise UserError(
            f"{study_dir}: no '{TARGET_DIR}' folder (expected {TARGET_RUNS}/{CURVE_FILE})"
        )
    out: dict[str, dict[int, Curve]] = {}
    for method, seed, folder in run_dirs(study_dir):
        if (methods is not None and method not in methods) or (
            seeds is not None and seed not in seeds
        ):
            continue
        if (folder / CURVE_FILE).exists() and not _unfinished(folder):
            out.setdefault(method, {})[seed] = read_curve(folder / CURVE_FILE)
    if not out:
        raise UserError(f"{target}: no {CURVE_FILE} found under {TARGET_RUNS}/")
    return out
