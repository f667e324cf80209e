"""What each method transferred, summarised from the ``transfer`` dict in its runs' ``meta.json``.

A method writes that dict when it changes the fresh target model. Every key is optional and read
defensively (older runs lack most of them)::

    {"transferred": "parameters" | "nothing" | ..., "loaded": [tensor], "skipped": {tensor: why},
     "frozen": [tensor], "reinitialised": [tensor],
     "groups": {group: {"mode": "freeze|finetune|reinit", "lr": float, "unfreeze_at": int|None}},
     "parameters": {"total", "loaded", "frozen", "reinitialised"}   (scalar counts),
     "reset": [str], "normalization": {"mode", "vecnormalize", "encoder"} or a plain string,
     "adapters": [str]}

One seed is enough for the structure; the others are checked to agree and a disagreement is
noted. Each method's record (``summary.json`` → ``methods.NAME.transfer``)::

    {"seeds_read": [seed, ...], "transferred": str | None,
     "tensors": {"loaded", "offered", "frozen", "reinitialised"}   (counts or None; offered =
                                                                    loaded + skipped),
     "parameters": {"total", "loaded", "frozen", "reinitialised"} | None   (scalar counts),
     "percent": {"loaded", "frozen", "reinitialised"}   (% of the target's scalar parameters,
                                                         or None),
     "skipped": {"count": int, "reasons": {reason: tensors}},
     "normalization": str | None, "normalization_detail": dict | None,
     "reset": [str], "groups": str | None (compact plan), "adapters": [str],
     "consistent": bool, "note": str | None}
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from rltransfer.analysis.curves import run_dirs
from rltransfer.layout import STATUS_COMPLETE, read_meta

SIGNATURE = (
    ("transferred", "what was transferred"),
    ("tensors", "tensor counts"),
    ("parameters", "parameter counts"),
    ("groups", "the layer-group plan"),
    ("normalization", "the normalisation"),
    ("skipped_count", "skipped tensors"),
)


def load_run_metas(study_dir: str | Path) -> dict[str, dict[int, dict[str, Any]]]:
    """``{method: {seed: meta}}`` of the complete target runs under ``study_dir`` (folders are
    found as for the curves); unreadable or unfinished ``meta.json`` files are left out."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for method, seed, folder in run_dirs(study_dir):
        meta = read_meta(folder)
        if meta is not None and meta.get("status") == STATUS_COMPLETE:
            out.setdefault(method, {})[seed] = meta
    return out


def _count(value: Any) -> int | None:
    """Tensor names as a list, a mapping or a bare count → how many; anything else → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple | dict):
        return len(value)
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def _group_text(name: str, g: Any) -> str:
    """``name=mode``, ``×lr`` when the rate multiplier is not 1, `` until t=N`` when unfrozen."""
    if isinstance(g, str):
        return f"{name}={g}"
    if not isinstance(g, dict):
        return f"{name}=?"
    text = f"{name}={g.get('mode', '?')}"
    lr = g.get("lr")
    if isinstance(lr, int | float) and not isinstance(lr, bool) and lr != 1:
        text += f"×{lr:g}"
    if g.get("unfreeze_at") is not None:
        text += f" until t={g['unfreeze_at']}"
    return text


def groups_plan(groups: Any) -> str | None:
    """A layer-group plan in one line: ``conv1=freeze, hidden1=finetune×0.1, output=reinit``."""
    if not isinstance(groups, dict) or not groups:
        return None
    return ", ".join(_group_text(str(k), v) for k, v in groups.items())


def _normalization(value: Any) -> tuple[str | None, dict[str, Any] | None]:
    """``(mode or the old plain string, the full mapping)``."""
    if isinstance(value, dict):
        mode = value.get("mode")
        return (str(mode) if mode is not None else None), value
    return (str(value) if value is not None else None), None


def _parameters(value: Any) -> dict[str, int | None] | None:
    """The scalar parameter counts; a missing or non-numeric count is None."""
    if not isinstance(value, dict):
        return None
    out: dict[str, int | None] = {}
    for k in ("total", "loaded", "frozen", "reinitialised"):
        v = value.get(k)
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        out[k] = int(v) if ok else None
    return out


def _percent(params: dict[str, int | None] | None) -> dict[str, float | None]:
    total = (params or {}).get("total")
    out: dict[str, float | None] = {}
    for k in ("loaded", "frozen", "reinitialised"):
        n = (params or {}).get(k)
        out[k] = round(100.0 * n / total, 2) if total and n is not None else None
    return out


def run_record(transfer: Any) -> dict[str, Any]:
    """One run's ``transfer`` dict as a record (see the module docstring), without the seeds."""
    t = transfer if isinstance(transfer, dict) else {}
    loaded, skipped = _count(t.get("loaded")), t.get("skipped")
    n_skipped = _count(skipped) or 0
    if isinstance(skipped, dict):
        reasons = Counter(str(r) for r in skipped.values())
    else:
        reasons = Counter({"no reason recorded": n_skipped} if n_skipped else {})
    params = _parameters(t.get("parameters"))
    mode, detail = _normalization(t.get("normalization"))
    transferred = t.get("transferred")
    return {
        "transferred": str(transferred) if transferred is not None else None,
        "tensors": {
            "loaded": loaded,
            "offered": None if loaded is None else loaded + n_skipped,
            "frozen": _count(t.get("frozen")),
            "reinitialised": _count(t.get("reinitialised")),
        },
        "parameters": params,
        "percent": _percent(params),
        "skipped": {"count": n_skipped, "reasons": dict(reasons.most_common())},
        "normalization": mode,
        "normalization_detail": detail,
        "reset": _strings(t.get("reset")),
        "groups": groups_plan(t.get("groups")),
        "adapters": _strings(t.get("adapters")),
        "distillation_steps": t.get("distillation_steps"),
    }


def _signature(record: dict[str, Any]) -> dict[str, Any]:
    sig = {k: record.get(k) for k, _ in SIGNATURE}
    sig["skipped_count"] = record["skipped"]["count"]
    return sig


def summarise_method(metas: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """The record of one method from its runs' metas ``{seed: meta}``; None without any."""
    if not metas:
        return None
    seeds = sorted(metas)
    records = {s: run_record(metas[s].get("transfer")) for s in seeds}
    out = {"seeds_read": seeds, **records[seeds[0]]}
    first = _signature(records[seeds[0]])
    differ = []
    for key, words in SIGNATURE:
        values = {s: _signature(records[s])[key] for s in seeds}
        if any(v != first[key] for v in values.values()):
            shown = "; ".join(
                f"seed {s}: {json.dumps(v, sort_keys=True)}" for s, v in values.items()
            )
            differ.append(f"{words} ({shown})")
    out["consistent"] = not differ
    out["note"] = (
        f"the seeds disagree on {'; and on '.join(differ)}; seed {seeds[0]} is shown"
        if differ
        else None
    )
    return out


def add_transfer_summaries(summary: dict[str, Any], study_dir: str | Path) -> None:
    """Add ``"transfer"`` to each compared method of ``summary`` whose runs have a ``meta.json``
    (curves from other tools have none: nothing is added)."""
    metas = load_run_metas(study_dir)
    for name, block in summary.get("methods", {}).items():
        record = summarise_method(metas.get(name, {}))
        if record is not None:
            block["transfer"] = record
