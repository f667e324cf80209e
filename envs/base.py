"""Physical parameters of the environment families: declaration, validation and errors.

A family declares its parameters once, as a mapping ``name -> Param`` (default, whether the physics
needs the value to be positive, unit). That mapping is the single source of truth: the environment
classes read their defaults from it, their docstrings list it, and the catalogue publishes it.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, TypeVar


class EnvParameterError(ValueError):
    """A physical parameter has a value the environment cannot simulate.

    Attributes:
        param: the parameter's name, e.g. ``"length"``.
        reason: what is wrong with the value, e.g. ``"must be > 0, got 0"``.
    """

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason

    def __reduce__(self) -> tuple[type[EnvParameterError], tuple[str, str]]:
        # Keeps the error picklable (it may cross a process boundary in a parallel executor).
        return (type(self), (self.param, self.reason))


@dataclass(frozen=True)
class Param:
    """One physical parameter of a family.

    Attributes:
        default: the value Gymnasium's own environment uses.
        unit: the physical unit, for documentation (``""`` when dimensionless).
        positive: whether the physics requires the value to be ``> 0``.
        note: an optional short remark shown in the class docstring.
    """

    default: float
    unit: str = ""
    positive: bool = False
    note: str = ""


def check_real(name: str, value: object, *, positive: bool = False) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number (and ``> 0`` if ``positive``).

    Accepts ``int``, ``float`` and NumPy integer/floating scalars. Rejects ``bool`` (also NumPy's),
    strings, ``None``, NaN and infinities.

    Raises:
        EnvParameterError: naming ``name`` and saying what is wrong.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise EnvParameterError(name, f"must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise EnvParameterError(name, f"must be finite, got {value!r}")
    if positive and number <= 0:
        raise EnvParameterError(name, f"must be > 0, got {value!r}")
    return number


def resolve_params(
    owner: str, specs: Mapping[str, Param], given: Mapping[str, object]
) -> dict[str, float]:
    """Validate the keyword arguments ``given`` against ``specs`` and fill in the defaults.

    Args:
        owner: the class name, used in the ``TypeError`` for an unknown keyword.
        specs: the family's parameters.
        given: the keyword arguments the caller passed.

    Returns:
        Every parameter of ``specs``, in its order, as a float.

    Raises:
        TypeError: for a keyword that is not a parameter (as Python does for unknown keywords).
        EnvParameterError: for an invalid value.
    """
    for name in given:
        if name not in specs:
            raise TypeError(f"{owner}.__init__() got an unexpected keyword argument {name!r}")
    return {
        name: check_real(name, given.get(name, spec.default), positive=spec.positive)
        for name, spec in specs.items()
    }


def defaults(specs: Mapping[str, Param]) -> dict[str, float]:
    """Return ``{name: default}`` for a family's parameters."""
    return {name: spec.default for name, spec in specs.items()}


class ParametrisedEnv:
    """Mixin for the families: the parameters live as attributes of the instance.

    Subclasses set ``PARAMS``; ``get_params()`` reads the live attribute values back.
    """

    PARAMS: ClassVar[Mapping[str, Param]] = {}

    def get_params(self) -> dict[str, float]:
        """Return the current value of every physical parameter, ``{name: value}``."""
        return {name: float(getattr(self, name)) for name in self.PARAMS}

    def _set_params(self, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            setattr(self, name, value)


_T = TypeVar("_T", bound=type)


def declare_params(cls: _T) -> _T:
    """Class decorator for a family whose ``__init__(self, render_mode=None, **params)``.

    Appends the table of ``cls.PARAMS`` (defaults, units) to the class docstring, and gives
    ``cls.__init__`` the signature ``(self, render_mode=None, *, <name>: float = <default>, ...)``
    so that ``inspect.signature`` and ``help()`` list the real parameters.
    """
    specs: Mapping[str, Param] = cls.PARAMS
    lines = ["", "    Parameters (keyword arguments, default, unit):", ""]
    for name, spec in specs.items():
        unit = f" [{spec.unit}]" if spec.unit else ""
        rule = ", > 0" if spec.positive else ""
        note = f"; {spec.note}" if spec.note else ""
        lines.append(f"    - ``{name}`` = {spec.default!r}{unit}{rule}{note}")
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n" + "\n".join(lines) + "\n"

    kw = inspect.Parameter.KEYWORD_ONLY
    init = cls.__init__
    init.__signature__ = inspect.Signature(
        [
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter(
                "render_mode",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=None,
                annotation="str | None",
            ),
            *(
                inspect.Parameter(name, kw, default=spec.default, annotation="float")
                for name, spec in specs.items()
            ),
        ],
        return_annotation="None",
    )
    return cls
