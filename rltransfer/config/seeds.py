"""``seeds`` as a mapping: a first seed id, and sequential seeding's looks."""

from __future__ import annotations

from dataclasses import dataclass

from rltransfer.config.parse import FieldError, join


@dataclass
class SeedsSpec:
    """``seeds`` as a mapping. Sequential seeding: ``{min, max, step}`` trains ``min`` seed
    pairs, decides, and while a method is inconclusive adds ``step`` pairs, up to ``max``
    (a group-sequential rule, ``rltransfer.analysis.sequential``). Fixed: ``{count}``.
    ``start``: the first seed id (ids ``start``, ``start + 1``, …)."""

    min: int | None = None
    max: int | None = None
    step: int | None = None
    count: int | None = None
    start: int = 0

    def check(self, path: str) -> None:
        if self.count is not None:
            extra = [k for k in ("min", "max", "step") if getattr(self, k) is not None]
            if extra:
                raise FieldError(
                    join(path, extra[0]), "give either 'count' (fixed) or 'min'/'max' (sequential)"
                )
            if self.count < 1:
                raise FieldError(join(path, "count"), f"must be >= 1, got {self.count}")
        else:
            for key in ("min", "max"):
                if getattr(self, key) is None:
                    raise FieldError(
                        join(path, key),
                        "is required for sequential seeding (or give 'count' for a fixed number)",
                    )
            assert self.min is not None and self.max is not None
            if self.min < 2:
                raise FieldError(join(path, "min"), f"must be >= 2 seed pairs, got {self.min}")
            if self.max < self.min:
                raise FieldError(join(path, "max"), f"must be >= min ({self.min}), got {self.max}")
            if self.step is not None and self.step < 1:
                raise FieldError(join(path, "step"), f"must be >= 1, got {self.step}")
        if self.start < 0:
            raise FieldError(join(path, "start"), f"must be >= 0, got {self.start}")

    @property
    def ids(self) -> list[int]:
        """The seed ids: ``start``, ``start + 1``, … (``total`` of them)."""
        return list(range(self.start, self.start + self.total))

    @property
    def sequential(self) -> SequentialSpec | None:
        """The looks of sequential seeding (``step`` defaults to ``min``); None for a count."""
        if self.count is not None:
            return None
        assert self.min is not None and self.max is not None  # check() ran
        return SequentialSpec(self.min, self.max, self.step if self.step is not None else self.min)

    @property
    def total(self) -> int:
        """The most seed pairs the study may train."""
        return int(self.count if self.count is not None else self.max)  # type: ignore[arg-type]


@dataclass
class SequentialSpec:
    """Resolved sequential seeding: looks at ``min``, ``min + step``, …, ``max`` seed pairs."""

    min: int
    max: int
    step: int

    @property
    def looks(self) -> tuple[int, ...]:
        """Seed pairs at each look; ``max`` is always the last."""
        return tuple(sorted({*range(self.min, self.max, self.step), self.max}))
