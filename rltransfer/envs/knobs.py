"""Checkers for ``Knob`` parameters: each returns ``check(name, value) -> normalised value``.

Every checker raises ``EnvParameterError`` naming the parameter, so that a study file with a bad
value stops with exit code 2 and a message such as ``target.env.kwargs.slip: must be in [0, 1)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

from .base import EnvParameterError, check_real

Checker = Callable[[str, Any], Any]


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(low: int, high: int | None = None) -> Checker:
    """An ``int`` in ``[low, high]`` (``high=None``: no upper bound). Rejects bools and floats."""

    def check(name: str, value: Any) -> int:
        if not _is_int(value):
            raise EnvParameterError(name, f"must be an integer, got {value!r}")
        number = int(value)
        if number < low or (high is not None and number > high):
            bound = f"[{low}, {high}]" if high is not None else f">= {low}"
            raise EnvParameterError(name, f"must be {'in ' if high is not None else ''}{bound}, "
                                    f"got {value!r}")  # fmt: skip
        return number

    return check


def real(low: float, high: float, *, high_open: bool = False) -> Checker:
    """A finite float in ``[low, high]`` (``[low, high)`` when ``high_open``)."""

    def check(name: str, value: Any) -> float:
        number = check_real(name, value)
        if number < low or number > high or (high_open and number == high):
            bracket = ")" if high_open else "]"
            raise EnvParameterError(name, f"must be in [{low}, {high}{bracket}, got {value!r}")
        return number

    return check


def any_real(name: str, value: Any) -> float:
    """Any finite float (e.g. a reward that may be negative)."""
    return check_real(name, value)


def choice(options: Sequence[str]) -> Checker:
    """One of the strings ``options``."""

    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise EnvParameterError(
                name, f"must be one of {', '.join(map(repr, options))}; got {value!r}"
            )
        return value

    return check


def permutation(n: int) -> Checker:
    """A permutation of ``0..n-1`` as a list of ints; returned as a tuple."""

    def check(name: str, value: Any) -> tuple[int, ...]:
        items = list(value) if isinstance(value, list | tuple) else None
        if items is None or not all(_is_int(v) for v in items) or sorted(items) != list(range(n)):
            raise EnvParameterError(
                name, f"must be a permutation of 0..{n - 1} such as {list(range(n))}, got {value!r}"
            )
        return tuple(int(v) for v in items)

    return check


def rgb(name: str, value: Any) -> tuple[int, int, int]:
    """An RGB colour: three integers in [0, 255]."""
    items = list(value) if isinstance(value, list | tuple) else None
    if items is None or len(items) != 3 or not all(_is_int(v) and 0 <= v <= 255 for v in items):
        raise EnvParameterError(name, f"must be [r, g, b] with integers in 0..255, got {value!r}")
    return (int(items[0]), int(items[1]), int(items[2]))
