"""Validation: a parsed study checked against the real environments, algorithms, encoders and
methods, and resolved (defaults filled in) into a new spec.

``config/`` parses study files and depends on nothing above it; this package sits above the
libraries it checks against (agents, environments, methods, vision, executors) and below
``study.py``, which calls :func:`load_study`.
"""

from __future__ import annotations

from typing import Any

from rltransfer.config.load import parse_study
from rltransfer.config.parse import FieldError
from rltransfer.config.spec import StudySpec
from rltransfer.errors import UserError
from rltransfer.validation.study import resolve


def load_study(path_or_spec: Any = None, **overrides: Any) -> StudySpec:
    """Read, override, parse, validate and resolve a study; ``UserError`` on any mistake,
    naming the file and the dotted field."""
    spec, label = parse_study(path_or_spec, **overrides)
    try:
        return resolve(spec)
    except FieldError as e:
        raise UserError(f"{label}: {e}") from None


__all__ = ["load_study", "resolve"]
