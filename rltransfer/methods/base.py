"""The transfer-method interface (the registry is ``rltransfer.methods.catalog``).

A method is a small strategy class. Before training it changes the fresh target model
(``apply``), may add training hooks (``callbacks``), and states what it transferred: a
``TransferRecord`` (``rltransfer.transfer_record``), saved in the run's ``meta.json``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from rltransfer.checkpoints import (
    CheckpointInfo,
    SpaceInfo,
    read_checkpoint_info,
    read_policy_state,
)
from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import PolicySpec
from rltransfer.layout import MODEL_FILE, NORMALIZE_FILE
from rltransfer.methods.catalog import NoOptions, entry_implemented_by, parse_options
from rltransfer.transfer_record import TransferRecord


def observation_kind(space: SpaceInfo) -> str:
    """``vector`` (a 1-D Box), ``image`` (a Box of more dimensions), ``dict`` or the space's
    kind in lower case (``discrete``, …): what ``TransferMethod.observations`` names."""
    if space.kind == "Box":
        return "vector" if len(space.shape) == 1 else "image"
    return space.kind.lower()


@dataclass(frozen=True)
class SourceArtifact:
    """The source agent: its SB3 checkpoint and, when it trained with VecNormalize, the
    observation statistics (``normalize.json``: ``mean``, ``var``, ``count``, and the
    ``clip_obs``/``epsilon`` they were applied with; older files lack those two)."""

    model_path: Path
    normalize_path: Path | None = None
    policy: PolicySpec | None = None
    """Its architecture, when the study gives one (``source.policy``); else the study's."""

    @classmethod
    def of_run(cls, folder: Path, policy: PolicySpec | None = None) -> SourceArtifact:
        """The agent a source run trained in ``folder`` (its run folder)."""
        return cls(folder / MODEL_FILE, folder / NORMALIZE_FILE, policy=policy)

    @cached_property
    def info(self) -> CheckpointInfo:
        return read_checkpoint_info(self.model_path)

    def policy_state(self) -> dict[str, torch.Tensor]:
        return read_policy_state(self.model_path)

    def obs_stats(self) -> dict[str, Any] | None:
        if self.normalize_path is None or not self.normalize_path.is_file():
            return None
        return json.loads(self.normalize_path.read_text())

    def without(self, drop: Iterable[str], stats: bool = True) -> SourceArtifact:
        """This source without the tensors named in ``drop`` (the target keeps its fresh ones)
        and, when ``stats`` is False, without its VecNormalize statistics."""
        return FilteredSource(
            self.model_path, self.normalize_path, self.policy, frozenset(drop), stats
        )


@dataclass(frozen=True)
class FilteredSource(SourceArtifact):
    """A source that offers fewer tensors (``drop``) and maybe no statistics (``stats``)."""

    drop: frozenset[str] = frozenset()
    stats: bool = True

    def policy_state(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in super().policy_state().items() if k not in self.drop}

    def obs_stats(self) -> dict[str, Any] | None:
        return super().obs_stats() if self.stats else None


@dataclass
class BuildPlan:
    """How a target run builds its agent; ``TransferMethod.configure`` may change it first.

    ``observation_space``/``action_space``: the target env's, as the training env yields them
    (before the vision and normalisation wrappers). ``extractor``: extra entries for the vision
    extractor's config (plain data, saved with the model), e.g. an input adapter.
    """

    algo: str
    policy: PolicySpec
    hyperparams: dict[str, Any]
    observation_space: Any = None
    action_space: Any = None
    extractor: dict[str, Any] = field(default_factory=dict)


def _no_log(timesteps: int, metrics: dict[str, float]) -> None:
    return None


@dataclass
class TransferContext:
    """What ``apply`` may change: the fresh ``model`` and its training ``env``. ``log(t,
    metrics)`` records a method's own quantities during training (W&B ``transfer/*`` against
    env steps), through the run's tracker, which is open before ``apply``."""

    model: BaseAlgorithm
    env: VecEnv
    source: SourceArtifact | None
    log: Callable[[int, dict[str, float]], None] = _no_log


class TransferMethod:
    """Base class. Subclasses override ``apply``. A built-in takes the class attributes below
    from the catalog entry whose ``impl`` names it (``rltransfer.methods.catalog``); a plug-in
    sets them itself and is added with ``@register_method``."""

    kind: ClassVar[str]
    description: ClassVar[str]
    transfers: ClassVar[str]
    """What moves from source to target: "nothing", "parameters", "policy", …"""
    needs_source: ClassVar[bool] = True
    Options: ClassVar[type] = NoOptions
    algorithms: ClassVar[tuple[str, ...] | None] = None
    """The study algorithms it supports; None: all (``MethodEntry.algorithms``)."""
    same_algorithm: ClassVar[bool] = False
    """The source must have the study's algorithm."""
    observations: ClassVar[tuple[str, ...] | None] = None
    """Target observation kinds it supports: ``vector``, ``image``, ``dict``; None: all."""
    support_note: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        entry = entry_implemented_by(f"{cls.__module__}:{cls.__qualname__}")
        if entry is not None:  # a built-in: its catalog entry says what it is
            cls.kind, cls.description, cls.transfers = (
                entry.kind,
                entry.description,
                entry.transfers,
            )
            cls.needs_source, cls.Options = entry.needs_source, entry.options
            cls.algorithms, cls.same_algorithm = entry.algorithms, entry.same_algorithm
            cls.observations, cls.support_note = entry.observations, entry.support_note

    def __init__(self, options: Any):
        self.options = options

    @classmethod
    def parse_options(cls, options: dict[str, Any], path: str) -> Any:
        return parse_options(cls.kind, cls.Options, options, path)

    def check(self, source: CheckpointInfo, target: CheckpointInfo, path: str) -> None:
        """Everything about the source and target spaces checkable before training: what the
        method declares (:meth:`check_support`), then its own checks (``check_compatible``).
        ``FieldError`` at ``path``."""
        self.check_support(source, target, path)
        self.check_compatible(source, target, path)

    def check_compatible(self, source: CheckpointInfo, target: CheckpointInfo, path: str) -> None:
        """A method's own checks (beyond its declared support): raise ``FieldError`` at
        ``path`` when the source cannot transfer to the target."""

    def check_support(self, source: CheckpointInfo, target: CheckpointInfo, path: str) -> None:
        """The declared support (``algorithms``, ``same_algorithm``, ``observations``), checked
        here for every method, built-in or plug-in."""
        kind, algo = self.kind, target.algo
        if self.algorithms is not None and algo not in self.algorithms:
            why = f" ({self.support_note})" if self.support_note else ""
            *most, last = self.algorithms
            names = f"{', '.join(most)} and {last}" if most else last
            raise FieldError(
                join(path, "method"),
                f"{kind} supports {names}, not {algo}: the study's algorithm is not supported{why}",
            )
        if self.same_algorithm and source.algo != algo:
            raise FieldError(
                path,
                f"{kind} needs the same algorithm; the source is {source.algo}, the study "
                f"uses {algo}",
            )
        seen = observation_kind(target.observation_space)
        if self.observations is not None and seen not in self.observations:
            raise FieldError(
                path,
                f"{kind} supports {' and '.join(self.observations)} observations; the target "
                f"observes {target.observation_space}",
            )

    def check_groups(self, groups: list[str], path: str) -> None:
        """Raise ``FieldError`` when the options name a layer group the target model lacks.
        ``groups``: the target policy's group names (``rltransfer.methods.layers``)."""

    def configure(self, plan: BuildPlan, source: SourceArtifact | None) -> None:
        """Change how the target agent is built (hyperparameters, policy), before the build."""

    def apply(self, ctx: TransferContext) -> TransferRecord:
        """Change the fresh model before training; return what was done, for ``meta.json``
        (a plug-in may return the record's JSON form, a plain dict, instead)."""
        raise NotImplementedError

    def before_learning(
        self, ctx: TransferContext, budget: int, advance: Callable[[int], bool]
    ) -> int:
        """Train ``ctx.model`` outside SB3's ``learn``, before it (e.g. distillation).

        ``budget``: the run's env steps. Call ``advance(t)`` after each batch of work with the
        env steps used so far: it evaluates the grid points crossed and returns False when the
        run must stop. Return the env steps used; they count toward the budget, and ``learn``
        trains for the rest.
        """
        return 0

    def callbacks(self) -> list[BaseCallback]:
        return []

    def after_training(self, model: BaseAlgorithm) -> dict[str, Any]:
        """Facts known only after training (e.g. when groups unfroze), merged into the record
        (``TransferRecord.with_facts``: a typed key into its field, the rest into details)."""
        return {}

    def describe_options(self) -> dict[str, Any]:
        return dataclasses.asdict(self.options)
