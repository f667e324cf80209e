"""What each method transferred, summarised from the ``transfer`` record of its runs' ``meta.json``
(``rltransfer.transfer_record.TransferRecord``, read back with ``from_json``: older runs lack
most fields).

One seed is enough for the structure; the others are checked to agree and a disagreement is
noted. Each method's summary (``summary.json`` → ``methods.NAME.transfer``, a
:class:`TransferSummary`)::

    {"seeds_read": [seed, ...], "transferred": str | None,
     "tensors": {"loaded", "offered", "frozen", "reinitialised"}   (counts or None; offered =
                                                                    loaded + skipped),
     "parameters": {"total", "loaded", "frozen", "reinitialised"} | None   (scalar counts),
     "percent": {"loaded", "frozen", "reinitialised"}   (% of the target's scalar parameters,
                                                         or None),
     "skipped": {"count": int, "reasons": {reason: tensors}},
     "normalization": str | None, "normalization_detail": dict | None,
     "reset": [str], "groups": str | None (compact plan), "adapters": [str],
     "distillation_steps": int | None, "consistent": bool, "note": str | None}
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rltransfer.analysis.curves import run_dirs
from rltransfer.layout import STATUS_COMPLETE, read_meta
from rltransfer.transfer_record import COUNT_KEYS, GroupState, TransferRecord

SIGNATURE = (
    ("transferred", "what was transferred"),
    ("tensors", "tensor counts"),
    ("parameters", "parameter counts"),
    ("groups", "the layer-group plan"),
    ("normalization", "the normalisation"),
    ("skipped_count", "skipped tensors"),
)
SHARES = ("loaded", "frozen", "reinitialised")


@dataclass(frozen=True)
class TensorCounts:
    """Source tensors loaded and offered (loaded + skipped), target tensors frozen and
    re-initialised; None: not recorded."""

    loaded: int | None = None
    offered: int | None = None
    frozen: int | None = None
    reinitialised: int | None = None


@dataclass(frozen=True)
class SkippedSummary:
    """How many source tensors were left out, and ``{reason: how many}``, most common first."""

    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TransferSummary:
    """One method's transfer as the report shows it (the module docstring has the JSON form)."""

    transferred: str | None
    tensors: TensorCounts
    parameters: dict[str, int | None] | None
    percent: dict[str, float | None]
    skipped: SkippedSummary
    normalization: str | None
    normalization_detail: dict[str, Any] | None
    reset: list[str]
    groups: str | None
    adapters: list[str]
    distillation_steps: int | None
    seeds_read: list[int] = field(default_factory=list)
    consistent: bool = True
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TransferSummary:
        """A summary this module wrote (``summary.json`` → ``methods.NAME.transfer``)."""
        return cls(
            **{
                **data,
                "tensors": TensorCounts(**data["tensors"]),
                "skipped": SkippedSummary(**data["skipped"]),
            }
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


def _count(names: list[str] | dict[str, Any] | None) -> int | None:
    return None if names is None else len(names)


def _group_text(name: str, g: GroupState) -> str:
    """``name=mode``, ``×lr`` when the rate multiplier is not 1, `` until t=N`` when unfrozen."""
    text = f"{name}={g.mode}"
    if g.lr != 1:
        text += f"×{g.lr:g}"
    if g.unfreeze_at is not None:
        text += f" until t={g.unfreeze_at}"
    return text


def groups_plan(groups: Any) -> str | None:
    """A layer-group plan in one line: ``conv1=freeze, hidden1=finetune×0.1, output=reinit``
    (``groups`` as ``meta.json`` holds it)."""
    return _plan_text(TransferRecord.from_json({"groups": groups}).groups)


def _plan_text(plan: dict[str, GroupState] | None) -> str | None:
    return ", ".join(_group_text(k, g) for k, g in plan.items()) if plan else None


def summarise_run(record: TransferRecord) -> TransferSummary:
    """One run's record as a summary, without the seeds."""
    skipped = record.skipped or {}
    loaded = _count(record.loaded)
    counts = record.parameters
    normalization = record.normalization
    return TransferSummary(
        transferred=record.transferred,
        tensors=TensorCounts(
            loaded,
            None if loaded is None else loaded + len(skipped),
            _count(record.frozen),
            _count(record.reinitialised),
        ),
        parameters=None if counts is None else {k: getattr(counts, k) for k in COUNT_KEYS},
        percent={k: counts.percent(k) if counts else None for k in SHARES},
        skipped=SkippedSummary(
            len(skipped), dict(Counter(s.text for s in skipped.values()).most_common())
        ),
        normalization=None if normalization is None else normalization.mode,
        normalization_detail=(
            normalization.to_json()
            if normalization is not None and (normalization.vecnormalize or normalization.encoder)
            else None
        ),
        reset=list(record.reset or []),
        groups=_plan_text(record.groups),
        adapters=list(record.adapters or []),
        distillation_steps=record.distillation_steps,
    )


def run_record(transfer: Any) -> dict[str, Any]:
    """One run's ``transfer`` block of ``meta.json`` summarised (JSON form), without the seeds."""
    out = summarise_run(TransferRecord.from_json(transfer)).to_json()
    for key in ("seeds_read", "consistent", "note"):
        del out[key]
    return out


def _signature(s: TransferSummary) -> dict[str, Any]:
    sig = {k: getattr(s, k, None) for k, _ in SIGNATURE}
    sig["tensors"] = dataclasses.asdict(s.tensors)
    sig["skipped_count"] = s.skipped.count
    return sig


def summarise_method(metas: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """The summary of one method (JSON form) from its runs' metas ``{seed: meta}``; None
    without any."""
    if not metas:
        return None
    seeds = sorted(metas)
    runs = {s: summarise_run(TransferRecord.from_json(metas[s].get("transfer"))) for s in seeds}
    signatures = {s: _signature(run) for s, run in runs.items()}
    first = signatures[seeds[0]]
    differ = []
    for key, words in SIGNATURE:
        if any(sig[key] != first[key] for sig in signatures.values()):
            shown = "; ".join(
                f"seed {s}: {json.dumps(sig[key], sort_keys=True)}" for s, sig in signatures.items()
            )
            differ.append(f"{words} ({shown})")
    return dataclasses.replace(
        runs[seeds[0]],
        seeds_read=seeds,
        consistent=not differ,
        note=f"the seeds disagree on {'; and on '.join(differ)}; seed {seeds[0]} is shown"
        if differ
        else None,
    ).to_json()


def add_transfer_summaries(summary: dict[str, Any], study_dir: str | Path) -> None:
    """Add ``"transfer"`` to each compared method of ``summary`` whose runs have a ``meta.json``
    (curves from other tools have none: nothing is added)."""
    metas = load_run_metas(study_dir)
    for name, block in summary.get("methods", {}).items():
        record = summarise_method(metas.get(name, {}))
        if record is not None:
            block["transfer"] = record
