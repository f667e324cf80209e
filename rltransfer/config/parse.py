"""Typed parsing of plain data (from YAML) into the spec dataclasses.

Every mistake raises ``FieldError`` with the dotted path of the field (``target.env.id``), so the
caller can prefix the file name. Unknown keys get a "did you mean" suggestion.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Union

from rltransfer.errors import did_you_mean


class FieldError(Exception):
    """A value at ``path`` is invalid; ``message`` says why."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def parse_value(tp: Any, value: Any, path: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert it (e.g. int → float)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            hint = did_you_mean(str(value), [str(c) for c in choices])
            listed = ", ".join(str(c) for c in choices)
            raise FieldError(path, f"must be one of {listed}, got {value!r}{hint}")
        return value
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None:
            if type(None) in options:
                return None
            raise FieldError(path, "must not be empty")
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return parse_value(option, value, path)
            except FieldError as e:
                errors.append(e.message)
        raise FieldError(path, " or ".join(dict.fromkeys(errors)))
    if dataclasses.is_dataclass(tp):
        return parse_dataclass(tp, value, path)
    if origin is list:
        if not isinstance(value, list):
            raise FieldError(path, f"must be a list, got {type_name(value)}")
        (item,) = typing.get_args(tp)
        return [parse_value(item, v, join(path, i)) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise FieldError(path, f"must be a mapping, got {type_name(value)}")
        _, item = typing.get_args(tp)
        return {str(k): parse_value(item, v, join(path, str(k))) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise FieldError(path, f"must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(path, f"must be an integer, got {value!r}")
        if isinstance(value, float) and not value.is_integer():
            raise FieldError(path, f"must be an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(path, f"must be a number, got {value!r}")
        if not math.isfinite(value):
            raise FieldError(path, f"must be a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str) or not value.strip():
            raise FieldError(path, f"must be a non-empty string, got {value!r}")
        return value
    raise TypeError(f"unsupported annotation {tp!r} at {path}")  # a bug in the spec, not user input


def parse_dataclass(cls: type, data: Any, path: str) -> Any:
    """Build dataclass ``cls`` from a mapping; ``cls.coerce`` may first expand shorthands, and
    ``obj.check(path)`` may check ranges afterwards."""
    coerce = getattr(cls, "coerce", None)
    if coerce is not None:
        data = coerce(data, path)
    if not isinstance(data, dict):
        raise FieldError(path, f"must be a mapping, got {type_name(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            hint = did_you_mean(key, fields)
            raise FieldError(join(path, str(key)), f"unknown key{hint}; known: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = parse_value(hints[name], data[name], join(path, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise FieldError(join(path, name), "is required")
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if callable(check):
        check(path)  # the dataclass's own range checks; raises FieldError
    return obj
