"""The options of the parameter methods and of ``progressive``, with their range checks.

Plain dataclasses on purpose: this module imports neither torch nor stable-baselines3, so the
method catalog (``rltransfer.methods.catalog``), ``rltransfer methods`` and the option checks
work without them. Each ``check(path)`` runs when the study file is parsed
(``rltransfer.config.parse.parse_dataclass``); checks that need the target's layer groups run
later, in the method's ``check_groups``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import GroupSpec

NormalizationMode = Literal["reuse", "reestimate", "blend"]
"""What happens to the source's normalisation statistics (``rltransfer.methods.normalization``)."""

SELECTOR = re.compile(r"^(all|adapter|output|hidden\d*|encoder(\.[\w.-]+)?)$")
"""A layer group or family name (``rltransfer.methods.layers``)."""


def check_selectors(selectors: list[str], path: str) -> None:
    """Raise ``FieldError`` at ``path.<s>`` for a selector that cannot name a layer group."""
    for s in selectors:
        if not SELECTOR.match(s):
            raise FieldError(
                join(path, s),
                "not a layer group: use all, encoder, encoder.<group>, hidden, hidden<i>, "
                "output or adapter",
            )


def check_group_specs(groups: dict[str, GroupSpec], path: str) -> None:
    """The selectors of a ``groups`` option (each ``GroupSpec`` checked itself when parsed)."""
    check_selectors(list(groups), path)


def _check_positive(options: object, names: tuple[str, ...], path: str) -> None:
    for name in names:
        value = getattr(options, name)
        if value is not None and value <= 0:
            raise FieldError(join(path, name), f"must be > 0, got {value}")


@dataclass
class ParameterOptions:
    """Options every parameter method takes.

    ``normalization``: ``reuse`` | ``reestimate`` | ``blend`` the source's VecNormalize and
    feature statistics (``rltransfer.methods.normalization``); ``blend_count``: the weight, in
    observations, of the source statistics under ``blend``. ``lr``: the target's learning rate
    (replaces the study's, constant); ``lr_mult``: multiplies the study's learning rate (or its
    schedule). Optimizer state and schedules always restart on the target. ``exploration``
    (DQN): ``restart`` ε from the study's ``exploration_initial_eps``, or ``continue`` from the
    source's last ε."""

    normalization: NormalizationMode = "reuse"
    blend_count: float = 1000.0
    lr: float | None = None
    lr_mult: float = 1.0
    exploration: Literal["restart", "continue"] = "restart"

    def check(self, path: str) -> None:
        _check_positive(self, ("blend_count", "lr", "lr_mult"), path)


@dataclass
class FreezeOptions(ParameterOptions):
    """``train``: the layer groups that train (default: the output layers); every other group
    keeps the source's weights, frozen. ``heads``: the trained groups start ``fresh`` (as the
    scratch baseline does) or from the ``source``'s weights. ``cache``: when the whole encoder
    is frozen, encode each observation once, in the env, with the source's encoder (the
    frozen-feature cache; faster, same results up to float rounding)."""

    train: list[str] = field(default_factory=lambda: ["output"])
    heads: Literal["fresh", "source"] = "fresh"
    cache: bool = True

    def check(self, path: str) -> None:
        super().check(path)
        if not self.train:
            raise FieldError(
                join(path, "train"),
                "name at least one layer group to train (e.g. [output]); with none, nothing "
                "would learn",
            )
        check_selectors(self.train, join(path, "train"))


@dataclass
class LayerwiseOptions(ParameterOptions):
    """``groups``: layer group or family (``all``, ``encoder``, ``encoder.<g>``, ``hidden``,
    ``hidden<i>``, ``output``, ``adapter``) → ``freeze`` | ``finetune`` | ``reinit`` or
    ``{finetune: lr_mult}``, ``{reinit: lr_mult}``, ``{unfreeze_at: env_steps}``. Unlisted
    groups fine-tune; a named group overrides its family, a family overrides ``all``.
    ``progressive``: frozen groups without ``unfreeze_at`` unfreeze one at a time, from the
    output side, every ``progressive`` env steps. ``cache``: when every encoder group is frozen
    for good, use the frozen-feature cache with the source's encoder (as ``freeze`` does)."""

    groups: dict[str, GroupSpec] = field(default_factory=dict)
    progressive: int | None = None
    cache: bool = True

    def check(self, path: str) -> None:
        super().check(path)
        if not self.groups:
            raise FieldError(join(path, "groups"), "name at least one layer group (e.g. encoder)")
        check_group_specs(self.groups, join(path, "groups"))
        if self.progressive is not None and self.progressive <= 0:
            raise FieldError(
                join(path, "progressive"), f"must be > 0 env steps, got {self.progressive}"
            )


@dataclass
class ShrinkPerturbOptions(ParameterOptions):
    """``shrink`` λ multiplies the source weights, ``perturb`` σ the fresh ones (defaults as in
    the paper's code: λ = 0.4, σ = 0.1)."""

    shrink: float = 0.4
    perturb: float = 0.1

    def check(self, path: str) -> None:
        super().check(path)
        for name in ("shrink", "perturb"):
            if getattr(self, name) < 0:
                raise FieldError(join(path, name), f"must be >= 0, got {getattr(self, name)}")


@dataclass
class AdaptOptions(ParameterOptions):
    """``match``: how target vector coordinates feed the source's inputs at the start —
    ``prefix``: source input i reads target coordinate i for the shared leading coordinates.
    ``map``: instead, the target coordinate feeding each source input, one entry per source
    input (``null``: that input starts at 0); with equal spaces it adds an adapter (e.g. for
    reordered coordinates). ``freeze_transferred``: every loaded tensor stays frozen; the adapter
    and the fresh tensors train."""

    match: Literal["prefix"] = "prefix"
    map: list[int | None] | None = None
    freeze_transferred: bool = False

    def check(self, path: str) -> None:
        super().check(path)
        if self.map is None:
            return
        if all(i is None for i in self.map):
            raise FieldError(join(path, "map"), "name at least one target coordinate")
        for k, i in enumerate(self.map):
            if i is not None and i < 0:
                raise FieldError(join(join(path, "map"), k), f"must be >= 0, got {i}")


@dataclass
class MultitaskOptions(ParameterOptions):
    """``trunk``: the loaded trunk (``encoder`` and ``hidden`` groups) ``finetune``s or stays
    frozen (``freeze``). ``groups``: per layer group or family, as ``layerwise``'s, laid over
    ``trunk``; the output layers are ``reinit`` (fresh) unless listed here (any output mode
    still starts fresh: the source's heads are never loaded)."""

    trunk: Literal["finetune", "freeze"] = "finetune"
    groups: dict[str, GroupSpec] = field(default_factory=dict)

    def check(self, path: str) -> None:
        super().check(path)
        check_group_specs(self.groups, join(path, "groups"))


@dataclass
class ProgressiveOptions:
    """``output_lateral``: the heads read the source column's last layer too ([h_L ; h^s_L]),
    as Rusu et al.'s output layer does; false: the new column's h_L only. ``normalization``
    (``reuse`` | ``reestimate`` | ``blend``) and ``blend_count``: the source's VecNormalize
    statistics, as for the parameter methods. ``lr``: the target's learning rate (constant);
    ``lr_mult``: multiplies the study's learning rate (or its schedule)."""

    output_lateral: bool = True
    normalization: NormalizationMode = "reuse"
    blend_count: float = 1000.0
    lr: float | None = None
    lr_mult: float = 1.0

    def check(self, path: str) -> None:
        _check_positive(self, ("blend_count", "lr", "lr_mult"), path)
