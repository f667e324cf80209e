"""A study folder never loses finished work to a study with another spec.

Run folders are named by label and seed (``target/<method>/seed_<k>``), so a re-run whose spec
changed would land in folders holding finished runs of the old spec. Before anything is written,
``check_study_folder`` finds those runs: by default the study stops (exit 2) and says what
differs; with ``overwrite`` the old runs are deleted, so the analysis cannot mix them in. Runs
whose identity did not change are kept and skipped, as on any resume.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rltransfer.errors import UserError
from rltransfer.layout import finished_run_id, study_file

IGNORED_KEYS = ("executor", "tracking", "device")
"""Study keys that change how runs execute, not what they compute (not in any run id)."""

SHOWN_DIFFERENCES = 8


@dataclass(frozen=True)
class PlannedRun:
    """What the guard needs of a planned run: its folder, its id and a label for messages."""

    out_dir: Path
    run_id: str
    label: str


@dataclass(frozen=True)
class Conflict:
    """A planned run whose folder holds a finished run with another id."""

    run: PlannedRun
    old_id: str


def find_conflicts(runs: Iterable[PlannedRun]) -> list[Conflict]:
    """The planned runs that would replace a finished run of another spec."""
    conflicts = []
    for run in runs:
        old = finished_run_id(run.out_dir)
        if old is not None and old != run.run_id:
            conflicts.append(Conflict(run, old))
    return conflicts


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def spec_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old → new`` for every dotted key whose value differs (execution-only keys left
    out), e.g. ``hyperparams.learning_rate: 0.0003 → -1``."""
    a, b = _flatten(old), _flatten(new)
    lines = []
    for key in sorted(set(a) | set(b)):
        if key.split(".")[0] in IGNORED_KEYS or a.get(key) == b.get(key):
            continue
        before = repr(a[key]) if key in a else "(absent)"
        after = repr(b[key]) if key in b else "(absent)"
        lines.append(f"{key}: {before} → {after}")
    return lines


def _old_spec(root: Path) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(study_file(root).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def _conflict_message(root: Path, conflicts: list[Conflict], new_spec: dict[str, Any]) -> str:
    labels = ", ".join(c.run.label for c in conflicts[:SHOWN_DIFFERENCES])
    if len(conflicts) > SHOWN_DIFFERENCES:
        labels += ", …"
    lines = [
        f"{root} holds {len(conflicts)} finished run(s) of a different spec ({labels}); "
        "this study would overwrite them."
    ]
    old = _old_spec(root)
    if old is not None:
        diff = spec_differences(old, new_spec)
        if diff:
            lines.append(f"  {study_file(root)} differs from this study in:")
            lines += [f"    {d}" for d in diff[:SHOWN_DIFFERENCES]]
            if len(diff) > SHOWN_DIFFERENCES:
                lines.append(f"    … and {len(diff) - SHOWN_DIFFERENCES} more")
    lines.append(
        "  Keep both: give the study a new 'name' or another --out. Replace the old runs: "
        "re-run with --overwrite (runs whose spec is unchanged are still kept)."
    )
    return "\n".join(lines)


def check_study_folder(
    root: Path, runs: Iterable[PlannedRun], new_spec: dict[str, Any], overwrite: bool
) -> list[Conflict]:
    """The finished runs of another spec that the study would replace; ``UserError`` (saying
    what differs) when there are any and not ``overwrite``. Nothing is deleted here: call
    ``remove_runs`` once the study is sure to start."""
    conflicts = find_conflicts(runs)
    if conflicts and not overwrite:
        raise UserError(_conflict_message(root, conflicts, new_spec))
    return conflicts


def remove_runs(conflicts: Iterable[Conflict]) -> None:
    """Delete the folders of the finished runs an ``--overwrite`` study replaces."""
    for c in conflicts:
        shutil.rmtree(c.run.out_dir)
