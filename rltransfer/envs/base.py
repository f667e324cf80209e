"""Parameters of the environment families: declaration, validation and errors.

A family declares its parameters once, as a mapping ``name -> Param | Knob``. A ``Param`` is a
physical constant (a float: default, whether the physics needs it positive, unit); a ``Knob`` is
any other parameter (a name, a count, a colour table, ...) with its own checker. That mapping is the
single source of truth: the environment classes read their defaults from it, their docstrings and
signatures list it, and the catalogue publishes it, grouped by the axis of change each parameter
controls (``AXES``).
"""

from __future__ import annotations

import importlib
import inspect
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import gymnasium as gym

AXES = ("appearance", "task", "dynamics", "reward", "observation")
"""What a parameter changes between a source and a target: how observations look (P(X)), the
goal or layout, the transition function, the reward function, or the observation format."""


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
        axis: what the parameter changes (one of ``AXES``); physical constants are dynamics.
    """

    default: float
    unit: str = ""
    positive: bool = False
    note: str = ""
    axis: str = "dynamics"


@dataclass(frozen=True)
class Knob:
    """A parameter that is not a physical float: a name, a count, a permutation, a colour table.

    Attributes:
        default: a JSON value (lists, not tuples) the family uses when the keyword is omitted.
        axis: what the parameter changes, one of ``AXES``.
        note: a one-line description (shown in the docstring and ``rltransfer envs``).
        check: ``check(name, value) -> value``: returns the normalised value or raises
            ``EnvParameterError`` naming ``name``.
    """

    default: Any
    axis: str
    note: str
    check: Callable[[str, Any], Any]


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
    owner: str, specs: Mapping[str, Param | Knob], given: Mapping[str, object]
) -> dict[str, Any]:
    """Validate the keyword arguments ``given`` against ``specs`` and fill in the defaults.

    Args:
        owner: the class name, used in the ``TypeError`` for an unknown keyword.
        specs: the family's parameters.
        given: the keyword arguments the caller passed.

    Returns:
        Every parameter of ``specs``, in its order: a float for a ``Param``, the value its
        checker returns for a ``Knob``.

    Raises:
        TypeError: for a keyword that is not a parameter (as Python does for unknown keywords).
        EnvParameterError: for an invalid value.
    """
    for name in given:
        if name not in specs:
            raise TypeError(f"{owner}.__init__() got an unexpected keyword argument {name!r}")
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        value = given.get(name, spec.default)
        if isinstance(spec, Knob):
            values[name] = spec.check(name, value)
        else:
            values[name] = check_real(name, value, positive=spec.positive)
    return values


def defaults(specs: Mapping[str, Param | Knob]) -> dict[str, Any]:
    """Return ``{name: default}`` for a family's parameters."""
    return {name: spec.default for name, spec in specs.items()}


def axes(specs: Mapping[str, Param | Knob]) -> dict[str, list[str]]:
    """Return ``{axis: [parameter names]}`` for the axes that have parameters, in ``AXES`` order."""
    grouped = {axis: [n for n, spec in specs.items() if spec.axis == axis] for axis in AXES}
    return {axis: names for axis, names in grouped.items() if names}


class ParametrisedEnv:
    """Mixin for the families: the parameters live as attributes of the instance.

    Subclasses set ``PARAMS``; ``get_params()`` reads the live attribute values back.
    """

    PARAMS: ClassVar[Mapping[str, Param | Knob]] = {}

    def get_params(self) -> dict[str, Any]:
        """Return the current value of every parameter, ``{name: value}`` (floats for ``Param``)."""
        return {
            name: float(getattr(self, name)) if isinstance(spec, Param) else getattr(self, name)
            for name, spec in self.PARAMS.items()
        }

    def _set_params(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            setattr(self, name, value)


_T = TypeVar("_T", bound=type)


def _annotation(spec: Param | Knob) -> str:
    if isinstance(spec, Param):
        return "float"
    return type(spec.default).__name__ if spec.default is not None else "Any"


def declare_params(cls: _T) -> _T:
    """Class decorator for a family whose ``__init__(self, render_mode=None, **params)``.

    Appends the table of ``cls.PARAMS`` (defaults, units) to the class docstring, and gives
    ``cls.__init__`` the signature ``(self, render_mode=None, *, <name>: float = <default>, ...)``
    so that ``inspect.signature`` and ``help()`` list the real parameters.
    """
    specs: Mapping[str, Param | Knob] = cls.PARAMS
    lines = ["", "    Parameters (keyword arguments, default, unit):", ""]
    for name, spec in specs.items():
        if isinstance(spec, Knob):
            lines.append(f"    - ``{name}`` = {spec.default!r} ({spec.axis}); {spec.note}")
            continue
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
                inspect.Parameter(name, kw, default=spec.default, annotation=_annotation(spec))
                for name, spec in specs.items()
            ),
        ],
        return_annotation="None",
    )
    return cls


class DelegatingEnv(gym.Env):
    """A family env built around an inner env ``self._env`` (set in ``__init__``).

    ``reset``, ``step`` and ``close`` forward to it; infos are copied into plain dicts and
    rewards and flags into Python types. ``reset`` seeds this env's RNG too.
    """

    _env: gym.Env

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        obs, info = self._env.reset(seed=seed, options=options)
        return obs, dict(info)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self._env.step(action)
        return obs, float(reward), bool(terminated), bool(truncated), dict(info)

    def close(self) -> None:
        self._env.close()


def import_extra(module: str, package: str, env_id: str, extra: str) -> Any:
    """Import the optional ``module`` an env family needs (pip ``package``, the rltransfer
    ``extra``), or raise ``ImportError`` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f'{env_id} needs {package}: pip install "rltransfer[{extra}]" ({e})'
        ) from None
