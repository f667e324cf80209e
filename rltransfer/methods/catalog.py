"""The transfer-method catalog: the one registry of methods, declared as data.

Each method is a ``MethodEntry``: its kind, description, what it transfers, whether it needs a
source agent, its options dataclass and where its implementation class lives
(``"module:Class"``). The entries and the options import neither torch nor stable-baselines3,
so listing methods (``rltransfer methods``) and parsing their options are instant; the
implementation is imported on demand by ``method_class(kind, path)`` (or ``METHODS[kind]``).

A built-in implementation class takes its kind, description, options and ``needs_source``
from the entry that names it (``TransferMethod.__init_subclass__``), so they are written once,
here. A plug-in method is a ``TransferMethod`` subclass with
those class attributes, added by ``@register_method``.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from rltransfer.config.parse import FieldError, join, parse_dataclass
from rltransfer.errors import did_you_mean
from rltransfer.methods.distill_options import DistillOptions
from rltransfer.methods.options import (
    AdaptOptions,
    FreezeOptions,
    LayerwiseOptions,
    MultitaskOptions,
    ParameterOptions,
    ProgressiveOptions,
    ShrinkPerturbOptions,
)
from rltransfer.methods.teacher_options import KickstartOptions, ReuseOptions

if TYPE_CHECKING:
    from rltransfer.methods.base import TransferMethod


@dataclass
class NoOptions:
    """This method takes no options."""


def parse_options(kind: str, options_type: type, data: dict[str, Any], path: str) -> Any:
    """``data`` (the method's keys in the study file) as an ``options_type``, checked."""
    if data and not dataclasses.fields(options_type):
        raise FieldError(join(path, next(iter(data))), f"unknown option: '{kind}' takes no options")
    return parse_dataclass(options_type, data, path)


@dataclass(frozen=True)
class MethodEntry:
    """One transfer method, as data. ``impl``: ``"module:Class"`` of its ``TransferMethod``."""

    kind: str
    description: str
    transfers: str
    """What moves from source to target: "nothing", "parameters", "policy", …"""
    impl: str
    options: type = NoOptions
    needs_source: bool = True
    algorithms: tuple[str, ...] | None = None
    """The study algorithms (the learner on the target) it supports; None: all of them."""
    same_algorithm: bool = False
    """The source agent must have been trained with the study's algorithm (its parameters are
    loaded as they are)."""
    observations: tuple[str, ...] | None = None
    """The target observation kinds it supports (``SUPPORT_KINDS``); None: all of them."""
    support_note: str = ""
    """Why, in a few words, added to the message when the study's algorithm is not supported."""

    def load(self) -> type[TransferMethod]:
        """The implementation class (imports its module, and so torch, on first use)."""
        cls = _LOADED.get(self.kind)
        if cls is None:
            module, _, name = self.impl.partition(":")
            cls = getattr(importlib.import_module(module), name)
            if getattr(cls, "kind", None) != self.kind:
                raise TypeError(f"{self.impl} does not implement method '{self.kind}'")
            _LOADED[self.kind] = cls
        return cls

    def parse_options(self, data: dict[str, Any], path: str) -> Any:
        return parse_options(self.kind, self.options, data, path)

    def option_defaults(self) -> dict[str, Any]:
        """Every option and its default (``rltransfer methods``)."""
        return dataclasses.asdict(self.options())


_ENTRIES: dict[str, MethodEntry] = {}
_LOADED: dict[str, type[TransferMethod]] = {}

CATALOG: Mapping[str, MethodEntry] = MappingProxyType(_ENTRIES)
"""kind → ``MethodEntry``, read-only; add with ``declare_method`` or ``register_method``."""


def declare_method(entry: MethodEntry) -> MethodEntry:
    """Add ``entry`` to the catalog; a duplicate kind raises."""
    if entry.kind in _ENTRIES:
        raise ValueError(f"transfer method '{entry.kind}' is already registered")
    _ENTRIES[entry.kind] = entry
    return entry


def _entry_of(cls: type[TransferMethod], kind: str, impl: str) -> MethodEntry:
    """The catalog entry of a plug-in class, from its class attributes."""
    return MethodEntry(
        kind,
        cls.description,
        cls.transfers,
        impl,
        cls.Options,
        cls.needs_source,
        cls.algorithms,
        cls.same_algorithm,
        cls.observations,
        cls.support_note,
    )


def register_method(cls: type[TransferMethod]) -> type[TransferMethod]:
    """Class decorator adding an already imported method class (a plug-in) to the catalog, from
    its class attributes (``kind``, ``description``, ``transfers``, ``Options``,
    ``needs_source``); a duplicate kind raises."""
    entry = _entry_of(cls, cls.kind, f"{cls.__module__}:{cls.__qualname__}")
    declare_method(entry)
    _LOADED[cls.kind] = cls
    return cls


def entry_implemented_by(impl: str) -> MethodEntry | None:
    """The entry whose implementation is ``impl`` (``"module:Class"``), if any."""
    return next((e for e in _ENTRIES.values() if e.impl == impl), None)


ENTRY_POINT_GROUP = "rltransfer.methods"
"""Installed packages may offer methods under this entry-point group: ``name = "pkg.mod:Class"``."""


def _plugin(kind: str, ref: str, path: str) -> MethodEntry:
    """Import the ``TransferMethod`` subclass ``ref`` (``module:Class``) and add it to the catalog
    as ``kind``, from its class attributes; ``FieldError`` at ``path`` naming what is wrong."""
    from rltransfer.methods.base import TransferMethod

    module, _, name = ref.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError as e:
        raise FieldError(path, f"cannot import the module of method '{ref}': {e}") from None
    except AttributeError:
        raise FieldError(
            path, f"module '{module}' has no class '{name}' (method '{ref}')"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, TransferMethod)):
        raise FieldError(path, f"'{ref}' is not a subclass of rltransfer.methods.TransferMethod")
    for attr in ("description", "transfers"):
        if not isinstance(getattr(cls, attr, None), str):
            raise FieldError(path, f"method class '{ref}' must set the class attribute '{attr}'")
    if not isinstance(getattr(cls, "kind", None), str):
        cls.kind = kind  # the name the study gave it, for messages and meta.json
    entry = _entry_of(cls, kind, ref)
    declare_method(entry)
    _LOADED[kind] = cls
    return entry


def _entry_point(kind: str) -> str | None:
    """``module:Class`` of the installed method named ``kind`` (entry-point group above)."""
    from importlib.metadata import entry_points

    found = [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind]
    return found[0] if found else None


def method_entry(kind: str, path: str) -> MethodEntry:
    """The catalog entry of ``kind``: a built-in or registered method, a plug-in class named
    ``module:Class``, or an installed entry point; ``FieldError`` at ``path`` for none."""
    if kind not in _ENTRIES and ":" in kind:
        return _plugin(kind, kind, path)
    if kind not in _ENTRIES and (ref := _entry_point(kind)) is not None:
        return _plugin(kind, ref, path)
    if kind not in _ENTRIES:
        raise FieldError(
            path,
            f"unknown method '{kind}'{did_you_mean(kind, _ENTRIES)}; available: "
            f"{', '.join(_ENTRIES)}",
        )
    return _ENTRIES[kind]


def method_class(kind: str, path: str) -> type[TransferMethod]:
    """The implementation class of ``kind`` (imported now); ``FieldError`` when unknown."""
    return method_entry(kind, path).load()


class _Classes(Mapping[str, "type[TransferMethod]"]):
    """kind → implementation class: the catalog's keys, each class imported when looked up."""

    def __getitem__(self, kind: str) -> type[TransferMethod]:
        return _ENTRIES[kind].load()

    def __iter__(self) -> Iterator[str]:
        return iter(_ENTRIES)

    def __len__(self) -> int:
        return len(_ENTRIES)

    def __contains__(self, kind: object) -> bool:
        return kind in _ENTRIES


METHODS: Mapping[str, type[TransferMethod]] = _Classes()
"""kind → ``TransferMethod`` subclass (a lazy view of ``CATALOG``)."""


SUPPORT_KINDS = ("vector", "image", "dict")
"""Observation kinds a method may declare: a 1-D Box, an image Box (more dimensions), a Dict."""


def _builtin(kind: str, cls: str, description: str, **kw: Any) -> None:
    """Declare a built-in method, implemented by ``rltransfer.methods.<kind>:<cls>``."""
    declare_method(MethodEntry(kind, description, impl=f"rltransfer.methods.{kind}:{cls}", **kw))


_builtin(
    "scratch",
    "Scratch",
    "no transfer: the paired baseline, trained from a fresh initialisation",
    transfers="nothing",
    needs_source=False,
)
_builtin(
    "finetune",
    "Finetune",
    "load every source parameter whose name and shape match, then train everything",
    transfers="parameters",
    options=ParameterOptions,
    same_algorithm=True,
)
_builtin(
    "freeze",
    "Freeze",
    "feature extraction: source layers frozen (encoder features cached when possible), "
    "fresh heads trained",
    transfers="parameters",
    options=FreezeOptions,
    same_algorithm=True,
)
_builtin(
    "layerwise",
    "Layerwise",
    "per layer group: freeze, fine-tune (LR multiplier) or re-initialise",
    transfers="parameters",
    options=LayerwiseOptions,
    same_algorithm=True,
)
_builtin(
    "shrink_perturb",
    "ShrinkPerturb",
    "θ ← λ·θ_source + σ·θ_fresh (Ash & Adams 2020), then train everything",
    transfers="parameters",
    options=ShrinkPerturbOptions,
    same_algorithm=True,
)
_builtin(
    "adapt",
    "Adapt",
    "across observation/action spaces: input adapter to the source's encoder, load by name "
    "and shape, fresh output layers",
    transfers="parameters",
    options=AdaptOptions,
    same_algorithm=True,
)
_builtin(
    "multitask",
    "Multitask",
    "the shared trunk (encoder + hidden layers) of a multi-task source, fresh output layers",
    transfers="parameters",
    options=MultitaskOptions,
    same_algorithm=True,
)
_builtin(
    "progressive",
    "Progressive",
    "progressive network: frozen source column + new column with lateral adapters "
    "(vector observations, PPO/A2C)",
    transfers="parameters (frozen column)",
    options=ProgressiveOptions,
    same_algorithm=True,
    algorithms=("ppo", "a2c"),
    observations=("vector",),
)
_builtin(
    "kickstart",
    "Kickstart",
    "kickstarting: the RL loss plus λ·KL(teacher ‖ student) on the target's own states, "
    "λ decaying (PPO, A2C, DQN)",
    transfers="policy",
    options=KickstartOptions,
    algorithms=("ppo", "a2c", "dqn"),
    support_note="its squashed-Gaussian policy has no closed-form KL; reuse supports it",
)
_builtin(
    "reuse",
    "Reuse",
    "probabilistic policy reuse: the source policy acts in the target's rollouts with a "
    "decaying probability ψ (on-policy learners store the mixture's log-probabilities)",
    transfers="policy",
    options=ReuseOptions,
)
_builtin(
    "distill",
    "Distill",
    "policy distillation from the frozen source (teacher- or student-driven, DAgger), then "
    "optional RL; distillation env steps count in the budget",
    transfers="policy",
    options=DistillOptions,
    algorithms=("ppo", "a2c", "dqn"),
)
