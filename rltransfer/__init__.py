"""rltransfer: does what an agent learned on task A help on task B, and how sure are we?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from rltransfer.study import StudyResult


def run_study(path_or_spec: Any = None, **overrides: Any) -> StudyResult:
    """Run a transfer-vs-scratch study and return its result (summary, paths, curves).

    ``path_or_spec`` is a YAML path, a dict in the study-file format, or ``None`` for the
    built-in default study. ``overrides`` use the command-line names (``seeds``, ``workers``,
    ``executor``, ``wandb``, ``device``, ``out``) or any top-level study key (``target={...}``).
    """
    from rltransfer.study import run_study as _run

    return _run(path_or_spec, **overrides)
