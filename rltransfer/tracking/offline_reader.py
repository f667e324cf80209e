"""Read back what W&B offline mode wrote (``offline-run-*/run-<id>.wandb``), without a server.

The file is W&B's record log: a 7-byte header (``:W&B``, magic, version) followed by 32 KiB
blocks of LevelDB-style chunks (crc32 uint32, length uint16, type uint8), each holding part of a
protobuf ``Record``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rltransfer.layout import WANDB_OFFLINE_RUNS

_BLOCK = 32768
_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def iter_record_bytes(path: str | Path) -> Iterator[bytes]:
    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a W&B record log")
    pos, pending = _HEADER, b""
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        pos += _HEADER
        chunk = data[pos : pos + length]
        pos += length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk
            pending = b""


@dataclass
class OfflineRun:
    """What one offline run file holds."""

    run_id: str = ""
    name: str = ""
    project: str = ""
    entity: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def read_offline_run(path: str | Path) -> OfflineRun:
    from wandb.proto import wandb_internal_pb2 as pb

    out = OfflineRun()
    for raw in iter_record_bytes(path):
        rec = pb.Record()
        rec.ParseFromString(raw)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            r = rec.run
            out.run_id, out.name, out.group, out.job_type = (
                r.run_id,
                r.display_name,
                r.run_group,
                r.job_type,
            )
            out.tags = list(r.tags)
            out.project, out.entity = r.project, r.entity
            for item in r.config.update:
                out.config[_key(item)] = json.loads(item.value_json)
        elif kind == "config":
            for item in rec.config.update:
                out.config[_key(item)] = json.loads(item.value_json)
        elif kind == "history":
            out.history.append({_key(i): json.loads(i.value_json) for i in rec.history.item})
        elif kind == "summary":
            for item in rec.summary.update:
                out.summary[_key(item)] = json.loads(item.value_json)
    return out


def read_offline_runs(wandb_dir: str | Path) -> list[OfflineRun]:
    """Every offline run file under ``wandb_dir`` (e.g. ``runs/<study>/wandb``), oldest first."""
    files = sorted(Path(wandb_dir).glob(f"{WANDB_OFFLINE_RUNS}/run-*.wandb"))
    return [read_offline_run(f) for f in files]
