"""Runs that need no shared filesystem: inputs and results travel as bytes.

A remote worker gets the source agent's files with its ``RunSpec``, trains in a private
temporary folder, and returns every file it wrote (the run folder and its W&B offline run). The
driver then writes them under ``runs/<study>/``, ``meta.json`` last, as a local run would.
Warnings the run raised travel back too and are re-issued on the driver, prefixed by the run.
"""

from __future__ import annotations

import sys
import tempfile
import traceback
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rltransfer.io import atomic_write_bytes
from rltransfer.layout import (
    META_FILE,
    MODEL_FILE,
    NORMALIZE_FILE,
    WANDB_DIR,
    WANDB_OFFLINE_RUNS,
    RunSpec,
    run_label,
    source_dir,
)
from rltransfer.run import execute_run, prepare_run_folder


class RemoteRunError(Exception):
    """A run failed on a worker; its traceback was written to the run folder."""


@dataclass
class PackedRun:
    """What a worker sends back: files relative to the run folder and to the W&B folder."""

    meta: dict[str, Any] | None
    error: str | None
    run_files: dict[str, bytes] = field(default_factory=dict)
    wandb_files: dict[str, bytes] = field(default_factory=dict)
    warnings: list[RecordedWarning] = field(default_factory=list)


@dataclass(frozen=True)
class RecordedWarning:
    """A warning raised in a worker, as plain data (its class may not import on the driver)."""

    category: str
    """``module.QualName`` of the warning class."""
    message: str
    filename: str
    lineno: int

    @classmethod
    def of(cls, w: warnings.WarningMessage) -> RecordedWarning:
        c = w.category
        return cls(f"{c.__module__}.{c.__qualname__}", str(w.message), w.filename, w.lineno)

    def reissue(self, label: str) -> None:
        """Issue it again in this process, as ``label: message``, through the usual filters."""
        warnings.warn_explicit(
            f"{label}: {self.message}", _category(self.category), self.filename, self.lineno
        )


MAX_WARNINGS = 50
"""Distinct warnings a run sends back at most."""


def _category(name: str) -> type[Warning]:
    """The warning class of that name if this process has its module loaded, else UserWarning."""
    module, _, qualname = name.rpartition(".")
    found = getattr(sys.modules.get(module), qualname, None)
    return found if isinstance(found, type) and issubclass(found, Warning) else UserWarning


def pack_inputs(spec: RunSpec) -> dict[str, bytes]:
    """The source agent's files a target run needs (empty for source and scratch runs)."""
    if spec.source_dir is None:
        return {}
    src = Path(spec.source_dir)
    return {
        name: (src / name).read_bytes()
        for name in (MODEL_FILE, NORMALIZE_FILE)
        if (src / name).is_file()
    }


def _read_tree(root: Path, pattern: str = "*") -> dict[str, bytes]:
    """Every regular file under ``root/<pattern>`` (symlinks skipped), keyed by relative path."""
    if not root.is_dir():
        return {}
    files = {}
    for top in root.glob(pattern):
        for p in [top, *top.rglob("*")] if top.is_dir() else [top]:
            if p.is_file() and not p.is_symlink():
                files[str(p.relative_to(root))] = p.read_bytes()
    return files


def run_packed(spec: RunSpec, inputs: dict[str, bytes], progress: Any = None) -> PackedRun:
    """Execute ``spec`` in a private temporary folder and return everything it wrote.

    The negative-transfer alarm needs the scratch run's folder, which a remote worker cannot
    see; it is off here.
    """
    with tempfile.TemporaryDirectory(prefix="rltransfer-run-") as tmp:
        root = Path(tmp)
        src = None
        if inputs:
            src = source_dir(root)
            for name, data in inputs.items():
                atomic_write_bytes(src / name, data)
        local = replace(
            spec,
            out_dir=str(root / "run"),
            wandb_dir=str(root),
            source_dir=str(src) if src else None,
            baseline_dir=None,
        )
        meta, error = None, None
        # the usual filters apply (each warning once per place per run); entering resets the
        # "already shown" marks a reused worker process kept from its previous task
        with warnings.catch_warnings(record=True) as caught:
            try:
                meta = execute_run(local, progress)
            except Exception as e:  # recorded in the run folder by execute_run; sent to the driver
                error = f"{type(e).__name__}: {e}"
            except BaseException:
                traceback.print_exc()
                raise
        recorded = list(dict.fromkeys(RecordedWarning.of(w) for w in caught))[:MAX_WARNINGS]
        wandb_runs = _read_tree(root / WANDB_DIR, WANDB_OFFLINE_RUNS)
        return PackedRun(meta, error, _read_tree(root / "run"), wandb_runs, recorded)


def unpack_result(spec: RunSpec, packed: PackedRun) -> dict[str, Any]:
    """Write a worker's files into the study folder (``meta.json`` last), re-issue its warnings;
    raise if it failed."""
    for w in packed.warnings:
        w.reissue(run_label(spec))
    out = Path(spec.out_dir)
    prepare_run_folder(out, spec.run_id)  # no file of an earlier attempt survives
    for name, data in packed.wandb_files.items():
        atomic_write_bytes(Path(spec.wandb_dir) / WANDB_DIR / name, data)
    for name, data in sorted(packed.run_files.items(), key=lambda kv: kv[0] == META_FILE):
        atomic_write_bytes(out / name, data)
    if packed.error is not None:
        raise RemoteRunError(packed.error)
    assert packed.meta is not None
    return packed.meta
