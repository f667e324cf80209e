"""What a transfer method did to the fresh target model: one typed record, written by the
methods, saved as the ``transfer`` block of a run's ``meta.json``, read back by the analysis
(``rltransfer.analysis.transfer_summary``) and, through the summary, by the report.

The common facts are typed fields; a method's own facts (its teacher, schedule, columns, …) go
in ``details``, plain JSON data. In ``meta.json`` the record is one flat mapping::

    {"transferred": str, "loaded": [tensor], "skipped": {tensor: why}, "frozen": [tensor],
     "reinitialised": [tensor],
     "groups": {group: {"mode": "freeze|finetune|reinit", "lr": float, "unfreeze_at": int|None}},
     "parameters": {"total", "loaded", "frozen", "reinitialised", ...}   (scalar counts),
     "reset": [str], "normalization": {"mode", "vecnormalize", "encoder"},
     "adapters": [str], "distillation_steps": int, **details}

A field the method did not record is left out (``None`` here). :meth:`TransferRecord.from_json`
reads any ``meta.json`` written so far, older ones included (a plain-string ``normalization``,
``groups`` as ``{group: mode}``), and never raises: what it cannot read stays unrecorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

SKIP_CAUSES = ("absent", "shape", "cache", "action", "critic", "recorded")
"""Why a source tensor was not loaded: not in the target model | another shape | encoded by the
frozen-feature cache instead | the action space differs | a critic reads the differing action |
read back from a file (the cause is only known in the run that wrote it)."""

STATS_ACTIONS = ("unused", "reused", "blended", "reestimated", "recorded")
"""What happened to a set of normalisation statistics; ``recorded``: read back from a file."""

COUNT_KEYS = ("total", "loaded", "frozen", "reinitialised")


@dataclass(frozen=True)
class Skip:
    """A source tensor left out: ``cause`` (one of ``SKIP_CAUSES``) and the sentence saved."""

    cause: str
    text: str

    def because(self, cause: str, prefix: str) -> Skip:
        """The same skip, now explained by ``cause``, its text led by ``prefix``."""
        return Skip(cause, f"{prefix}: {self.text}")


@dataclass(frozen=True)
class StatsOutcome:
    """What a transfer did with normalisation statistics: ``action`` (``STATS_ACTIONS``) and
    the sentence saved."""

    action: str
    text: str

    @property
    def reestimated(self) -> bool:
        return self.action == "reestimated"


@dataclass(frozen=True)
class Normalization:
    """The normalisation mode a method applied (``reuse | reestimate | blend``), and what it did
    to the VecNormalize observation statistics and the encoder's feature statistics."""

    mode: str | None
    vecnormalize: StatsOutcome | None = None
    encoder: StatsOutcome | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode}
        for key in ("vecnormalize", "encoder"):
            outcome = getattr(self, key)
            if outcome is not None:
                out[key] = outcome.text
        return out


@dataclass(frozen=True)
class GroupState:
    """A layer group after the transfer: ``mode``, learning-rate multiplier, and the env step
    at which a frozen group unfreezes (None: never)."""

    mode: str
    lr: float = 1.0
    unfreeze_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "lr": self.lr, "unfreeze_at": self.unfreeze_at}


@dataclass(frozen=True)
class ParameterCounts:
    """Scalar parameters of the target's online networks: ``total`` and how many were loaded,
    frozen and re-initialised (None: not recorded); ``more``: a method's own counts (``fresh``,
    ``trained``, a column's sizes)."""

    total: int | None = None
    loaded: int | None = None
    frozen: int | None = None
    reinitialised: int | None = None
    more: dict[str, int] = field(default_factory=dict)

    def percent(self, key: str) -> float | None:
        """``key``'s count as % of ``total`` (2 decimals); None when either is unknown."""
        n = getattr(self, key)
        return round(100.0 * n / self.total, 2) if self.total and n is not None else None

    def to_json(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in COUNT_KEYS}, **self.more}


@dataclass(frozen=True)
class TransferRecord:
    """One run's transfer. ``transferred``: what moved ("parameters", "policy", "nothing", …);
    the tensor fields name entries of the target policy's ``state_dict``."""

    transferred: str | None
    """None only when read back from a file that did not record it."""
    loaded: list[str] | None = None
    skipped: dict[str, Skip] | None = None
    frozen: list[str] | None = None
    reinitialised: list[str] | None = None
    groups: dict[str, GroupState] | None = None
    parameters: ParameterCounts | None = None
    reset: list[str] | None = None
    normalization: Normalization | None = None
    adapters: list[str] | None = None
    distillation_steps: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def with_details(self, **details: Any) -> TransferRecord:
        """This record with more of the method's own facts (typed keys are not details)."""
        typed = sorted(set(details) & set(_TYPED))
        if typed:
            raise ValueError(f"{', '.join(typed)}: typed fields of the record, not details")
        return replace(self, details={**self.details, **details})

    def with_facts(self, facts: dict[str, Any]) -> TransferRecord:
        """The record after training: ``facts`` (``TransferMethod.after_training``) merged in,
        a typed key (e.g. ``distillation_steps``) into its field."""
        typed = [k for k in facts if k in _TYPED and k != "transferred"]
        read = TransferRecord.from_json({k: facts[k] for k in typed})
        extra = {k: v for k, v in facts.items() if k not in _TYPED}
        return replace(
            self, **{k: getattr(read, k) for k in typed}, details={**self.details, **extra}
        )

    def to_json(self) -> dict[str, Any]:
        """The flat ``meta.json`` form (module docstring); unrecorded fields left out."""
        out: dict[str, Any] = {"transferred": self.transferred}
        for key in _TYPED[1:]:
            value = getattr(self, key)
            if value is None:
                continue
            if key == "skipped":
                value = {k: s.text for k, s in value.items()}
            elif key == "groups":
                value = {g: s.to_json() for g, s in value.items()}
            elif key in ("parameters", "normalization"):
                value = value.to_json()
            elif isinstance(value, list):
                value = list(value)
            out[key] = value
        return {**out, **self.details}

    @classmethod
    def from_json(cls, data: Any) -> TransferRecord:
        """The record of a ``meta.json`` ``transfer`` block (or a plug-in's plain dict); what
        is missing or unreadable stays None, unknown keys become ``details``."""
        d = data if isinstance(data, dict) else {}
        transferred = d.get("transferred")
        return cls(
            transferred=str(transferred) if transferred is not None else None,
            loaded=_names(d.get("loaded")),
            skipped=_skips(d.get("skipped")),
            frozen=_names(d.get("frozen")),
            reinitialised=_names(d.get("reinitialised")),
            groups=_groups(d.get("groups")),
            parameters=_counts(d.get("parameters")),
            reset=_strings(d.get("reset")),
            normalization=_normalization(d.get("normalization")),
            adapters=_strings(d.get("adapters")),
            distillation_steps=_int(d.get("distillation_steps")),
            details={k: v for k, v in d.items() if k not in _TYPED},
        )


_TYPED = (
    "transferred",
    "loaded",
    "skipped",
    "frozen",
    "reinitialised",
    "groups",
    "parameters",
    "reset",
    "normalization",
    "adapters",
    "distillation_steps",
)


def as_record(value: TransferRecord | dict[str, Any]) -> TransferRecord:
    """A method's ``apply`` result as a record: a plug-in may still return a plain dict."""
    if isinstance(value, TransferRecord):
        return value
    if isinstance(value, dict):
        return TransferRecord.from_json(value)
    raise TypeError(f"apply returned {type(value).__name__}; expected a TransferRecord or a dict")


def _int(value: Any) -> int | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return int(value) if ok else None


def _names(value: Any) -> list[str] | None:
    """Tensor names as a list or a mapping's keys; a bare count (an older writer) as that many
    unnamed entries; anything else is unrecorded."""
    if isinstance(value, list | tuple | dict):
        return [str(v) for v in value]
    n = _int(value)
    return [f"(unnamed {i})" for i in range(n)] if n is not None and n >= 0 else None


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list | tuple) else None


def _skips(value: Any) -> dict[str, Skip] | None:
    if isinstance(value, dict):
        return {str(k): Skip("recorded", str(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return {str(k): Skip("recorded", "no reason recorded") for k in value}
    return None


def _groups(value: Any) -> dict[str, GroupState] | None:
    if not isinstance(value, dict):
        return None
    out = {}
    for name, g in value.items():
        if isinstance(g, str):
            out[str(name)] = GroupState(g)
        elif isinstance(g, dict):
            lr = g.get("lr", 1.0)
            ok = isinstance(lr, int | float) and not isinstance(lr, bool)
            out[str(name)] = GroupState(
                str(g.get("mode", "?")), float(lr) if ok else 1.0, _int(g.get("unfreeze_at"))
            )
        else:
            out[str(name)] = GroupState("?")
    return out


def _counts(value: Any) -> ParameterCounts | None:
    if not isinstance(value, dict):
        return None
    more = {
        str(k): n for k, v in value.items() if k not in COUNT_KEYS and (n := _int(v)) is not None
    }
    return ParameterCounts(*(_int(value.get(k)) for k in COUNT_KEYS), more=more)


def _normalization(value: Any) -> Normalization | None:
    if isinstance(value, dict):
        mode = value.get("mode")
        outcomes = {
            key: StatsOutcome("recorded", str(value[key]))
            for key in ("vecnormalize", "encoder")
            if value.get(key) is not None
        }
        return Normalization(str(mode) if mode is not None else None, **outcomes)
    return Normalization(str(value)) if value is not None else None
