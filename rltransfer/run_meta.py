"""A run folder's ``meta.json``: its status words and one reader.

``running`` while a run trains (written when it starts), ``complete`` when it finished (written
last, with the run's content-hash id), ``failed`` with the error when it crashed. A folder
without ``meta.json`` holds curves made by another tool.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

META_FILE = "meta.json"
STATUS_COMPLETE = "complete"
STATUS_FAILED = "failed"
STATUS_RUNNING = "running"
UNFINISHED = (STATUS_RUNNING, STATUS_FAILED)
"""Statuses of a run whose files are no result."""


def read_meta(folder: Path) -> dict[str, Any] | None:
    """``folder/meta.json`` as a mapping; None when it is missing, unreadable or not a mapping."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None
