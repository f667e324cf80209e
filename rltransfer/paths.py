"""Checks of the command line's path arguments: each raises ``UserError`` (exit 2) naming the
option and the path, before any work starts.

A folder where a file is expected, a file where a folder is expected, a missing input, or an
output under an existing file (``--out results.txt/x``) all stop here with a message, instead of
a traceback later.
"""

from __future__ import annotations

from pathlib import Path

from rltransfer.errors import UserError


def existing_file(path: str | Path, option: str) -> Path:
    """``path`` as an existing regular file (or a file-like device)."""
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{option}: {p} is a folder; give a file")
    if not p.exists():
        raise UserError(f"{option}: {p}: no such file")
    return p


def existing_dir(path: str | Path, option: str) -> Path:
    """``path`` as an existing folder."""
    p = Path(path)
    if p.is_dir():
        return p
    if p.exists():
        raise UserError(f"{option}: {p} is a file; give a folder")
    raise UserError(f"{option}: {p}: no such folder")


def _check_parents(p: Path, option: str) -> None:
    """No ancestor of ``p`` that exists is a file (then nothing can be created under it)."""
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(
                    f"{option}: {p}: {parent} is a file, so no folder can be made in it"
                )
            return


def output_dir(path: str | Path, option: str) -> Path:
    """``path`` as a folder that exists, or that can be created (no file in the way)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"{option}: {p} is a file; give a folder (it is created if missing)")
    _check_parents(p, option)
    return p


def output_file(path: str | Path, option: str) -> Path:
    """``path`` as a file to write: not a folder, and no file where its folders should be."""
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{option}: {p} is a folder; give a file name")
    _check_parents(p, option)
    return p
