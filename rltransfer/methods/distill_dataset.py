"""The aggregated distillation data of ``distill``, bounded: a reservoir over every visited state.

Each visited state is one row: the student's raw observation, the teacher's labels at
collection time (``rltransfer.methods.distill_core.Labels``), the executed action, who chose it
and the collection round. Rows are stored whole, so a kept state keeps its own labels and
fields. While fewer states were visited than the bound, every one is kept, in visiting order
(the arrays are exactly the concatenation of what was added). Past the bound, Vitter's
algorithm R keeps a uniform sample: the j-th visited state (0-based) replaces a kept one, chosen
uniformly, with probability ``bound / (j + 1)``, so after N visits every visited state is kept
with probability ``bound / N``, whichever round it came from — the aggregation's distribution
over rounds, subsampled.

The bound, in states, is the smaller of ``max_states`` and ``memory_mb`` (MB, 2^20 bytes)
divided by the bytes of one row (known at the first ``add``). The buffers are allocated once,
for the smaller of the bound and ``expected`` (the states the collection will visit), and grow
by doubling when ``expected`` is not given or is passed. Memory: at most the bound's bytes (no
second, concatenated copy: ``arrays`` returns views)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rltransfer.methods.distill_core import Labels

LABEL_FIELDS = ("action", "logits", "mean", "std", "value")
MB = 2**20
"""Bytes in a megabyte, as ``memory_mb`` counts them."""


def _rows(
    obs: np.ndarray, labels: Labels, acted: np.ndarray, student: np.ndarray, k: int
) -> dict[str, np.ndarray]:
    student = np.asarray(student, dtype=bool)
    out = {
        "obs": np.asarray(obs),
        "acted": np.asarray(acted),
        "student": student,
        "round": np.full(len(student), k, dtype=np.int32),
    }
    for name in LABEL_FIELDS:
        value = getattr(labels, name)
        if value is not None:
            out[name] = np.asarray(value)
    return out


def row_bytes(rows: dict[str, np.ndarray]) -> int:
    """Bytes one state takes in the dataset (``rows``: a batch, first axis = state)."""
    return int(sum(a[0].nbytes if a.ndim > 1 else a.dtype.itemsize for a in rows.values()))


@dataclass
class Dataset:
    """Visited states with the teacher's labels, at most ``bound`` of them (a reservoir).

    ``max_states``/``memory_mb``: the bounds (None: none); ``expected``: the states the
    collection will visit (sizes the buffers; None: grow); ``rng``: the reservoir's draws (used
    only once the bound is passed). ``visited``: states added; ``student_visited``: those the
    student chose; ``episodes_ended``: episodes that ended during the collection."""

    max_states: int | None = None
    memory_mb: float | None = None
    expected: int | None = None
    rng: np.random.Generator | None = None
    visited: int = 0
    student_visited: int = 0
    episodes_ended: int = 0
    bound: int | None = None
    """The bound in states, known at the first ``add`` (None: unbounded)."""
    state_bytes: int | None = None
    """Bytes of one state, known at the first ``add``."""
    _buf: dict[str, np.ndarray] = field(default_factory=dict)
    _kept: int = 0

    def add(
        self, obs: np.ndarray, labels: Labels, acted: np.ndarray, student: np.ndarray, k: int
    ) -> None:
        """One batch of visited states (first axis = state): ``obs`` raw, the teacher's
        ``labels``, the ``acted`` actions, ``student`` (bool: the student chose) and round ``k``."""
        rows = _rows(obs, labels, acted, student, k)
        m = len(rows["student"])
        if self.state_bytes is None:
            self._set_bound(rows)
        j = self.visited + np.arange(m)
        slots = j.copy()
        cap = self.bound if self.bound is not None else self.visited + m
        full = j >= cap
        if full.any():
            if self.rng is None:
                raise ValueError("Dataset: a bounded dataset needs an rng for its reservoir")
            slots[full] = self.rng.integers(0, j[full] + 1)  # uniform in [0, j], algorithm R
        take = slots < cap
        if take.any():
            # within a batch a later state replaces an earlier one drawn for the same slot
            rev = slots[::-1][take[::-1]]
            _, first = np.unique(rev, return_index=True)
            src = np.flatnonzero(take)[::-1][first]
            self._store(rows, src, slots[src])
        self.visited += m
        self.student_visited += int(rows["student"].sum())

    def _set_bound(self, rows: dict[str, np.ndarray]) -> None:
        self.state_bytes = row_bytes(rows)
        bounds = [b for b in (self.max_states,) if b is not None]
        if self.memory_mb is not None:
            by_memory = int(self.memory_mb * MB) // self.state_bytes
            if by_memory < 1:
                raise ValueError(
                    f"distill: memory_mb = {self.memory_mb:g} holds no state (one takes "
                    f"{self.state_bytes} bytes); raise memory_mb or set it to null (no bound)"
                )
            bounds.append(int(by_memory))
        self.bound = min(bounds) if bounds else None

    def _store(self, rows: dict[str, np.ndarray], src: np.ndarray, dst: np.ndarray) -> None:
        need = int(dst.max()) + 1
        if not self._buf:
            cap = need if self.expected is None else max(need, self.expected)
            cap = min(cap, self.bound) if self.bound is not None else cap
            self._buf = {k: np.empty((cap,) + a.shape[1:], a.dtype) for k, a in rows.items()}
        size = len(self._buf["student"])
        if need > size:
            grown = max(need, 2 * size)
            grown = min(grown, self.bound) if self.bound is not None else grown
            self._resize(grown)
        for key, a in rows.items():
            buf = self._buf[key]
            if a.dtype != buf.dtype:  # as np.concatenate would: promote the stored rows
                self._buf[key] = buf = buf.astype(np.result_type(buf, a))
            buf[dst] = a[src]
        self._kept = max(self._kept, need)

    def _resize(self, size: int) -> None:
        for key, buf in self._buf.items():
            new = np.empty((size,) + buf.shape[1:], buf.dtype)
            new[: self._kept] = buf[: self._kept]
            self._buf[key] = new

    def __len__(self) -> int:
        """States kept."""
        return self._kept

    @property
    def nbytes(self) -> int:
        """Bytes of the kept states (the allocated buffers may hold more, untouched)."""
        return int(sum(buf[: self._kept].nbytes for buf in self._buf.values()))

    def arrays(self) -> dict[str, np.ndarray]:
        """The kept states (views, first axis = state): ``obs``, ``acted``, ``student``,
        ``round`` and the label fields present (``action``, ``logits`` | ``mean`` + ``std``,
        ``value``). Below the bound: in visiting order."""
        return {k: v[: self._kept] for k, v in self._buf.items()}

    def facts(self) -> dict[str, Any]:
        """For the transfer record: ``visited`` states, ``states`` kept (all of them up to the
        bound, else a uniform sample: ``sampled``), the ``bound`` (in states, None: none, and
        the options that set it), the ``bytes`` kept and per state, the fraction of visited
        states the student chose (``student_acted``) and the episodes ended."""
        return {
            "states": len(self),
            "visited": self.visited,
            "sampled": self.bound is not None and self.visited > self.bound,
            "bound": {
                "states": self.bound,
                "memory_mb": self.memory_mb,
                "max_states": self.max_states,
            },
            "bytes": self.nbytes,
            "bytes_per_state": self.state_bytes,
            "student_acted": self.student_visited / self.visited if self.visited else None,
            "episodes_ended": self.episodes_ended,
        }

    def release(self) -> None:
        """Frees the stored states; the counts stay."""
        self._buf, self._kept = {}, 0
