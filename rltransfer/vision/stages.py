"""Extractor stages: modules that ``VisionExtractor`` runs around its encoder, registered by the
packages that need them (vision itself knows none of them by name).

A stage sits at one of three places, run in this order::

    observations → OBSERVATION → INPUT → encoder and feature reader → FEATURES → features

* ``OBSERVATION``: reads what SB3 hands the extractor (which may be a Dict) and returns a
  tensor, e.g. the multi-task split ``{"obs", "task"}`` → ``obs`` (``rltransfer.multitask``);
* ``INPUT``: maps the observation tensor onto what the encoder reads, e.g. the ``adapt``
  method's input adapter;
* ``FEATURES``: maps the reader's features onto the extractor's, e.g. the ``progressive``
  method's columns.

A stage is registered with ``@register_stage(name, place=..., key=...)`` on a builder
``build(config, space) -> nn.Module | None``: ``config`` is the whole extractor config (plain
data, saved with the model), ``space`` what the stage reads (for ``FEATURES``: a
``Box((features_dim,))``); it returns None when the stage does not apply. The module is stored
on the extractor under ``name`` (the state-dict prefix of its tensors, e.g.
``features_extractor.adapter.weight``); the extractor has ``name`` = None when the stage is
registered but does not apply. ``OBSERVATION`` and ``INPUT`` modules carry ``output_space``
(what the next stage, at last the encoder, reads); ``FEATURES`` modules carry ``features_dim``.

``key`` names the extractor-config entry the stage reads: an entry that is neither the
encoder's own (``BASE_KEYS``) nor any registered stage's raises, so a saved config is never
silently built without one of its stages. Registration happens when the registering module is
imported (the method catalog imports a method's module when a study names it); a name
registered twice raises, as encoders do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from torch import nn

OBSERVATION, INPUT, FEATURES = "observation", "input", "features"
PLACES = (OBSERVATION, INPUT, FEATURES)
"""The places of a stage, in the order they run."""
RESERVED = frozenset({"reader", "config", "encoder", "features_dim"})
"""Attributes of ``VisionExtractor`` that a stage name cannot take."""
BASE_KEYS = frozenset({"encoder", "encoder_kwargs", "preprocess", "groups", "features"})
"""The extractor-config entries of the encoder itself (``vision.sb3.build_reader``)."""

Builder = Callable[[dict[str, Any], gym.Space], nn.Module | None]


@dataclass(frozen=True)
class StageEntry:
    """``name``: the extractor attribute holding the stage; ``place``: one of ``PLACES``;
    ``build(config, space)``: the stage, or None when it does not apply; ``key``: the
    extractor-config entry it reads (None: it reads none, e.g. it applies by the space)."""

    name: str
    place: str
    build: Builder
    key: str | None = None


STAGES: dict[str, StageEntry] = {}
"""name → ``StageEntry``, in registration order."""


def register_stage(
    name: str, *, place: str, key: str | None = None
) -> Callable[[Builder], Builder]:
    """Decorator registering ``build`` as stage ``name`` at ``place``; a duplicate name, an
    unknown place or a key already read by another stage raises ``ValueError``."""
    if (
        not name.isidentifier()
        or name.startswith("_")
        or name in RESERVED
        or hasattr(nn.Module, name)
    ):
        raise ValueError(f"'{name}' cannot name an extractor stage (it is not a free attribute)")
    if place not in PLACES:
        raise ValueError(f"place must be one of {', '.join(PLACES)}, got {place!r}")
    if key in BASE_KEYS:
        raise ValueError(f"config entry '{key}' belongs to the encoder, not to a stage")

    def decorate(build: Builder) -> Builder:
        if name in STAGES:
            raise ValueError(f"extractor stage '{name}' is already registered")
        if key is not None and any(e.key == key for e in STAGES.values()):
            raise ValueError(f"extractor config entry '{key}' is already read by another stage")
        STAGES[name] = StageEntry(name, place, build, key)
        return build

    return decorate


def stages_at(place: str) -> list[StageEntry]:
    """The registered stages at ``place``, in registration order."""
    return [e for e in STAGES.values() if e.place == place]


def check_config(config: dict[str, Any]) -> None:
    """``ValueError`` for an extractor-config entry that no registered stage reads."""
    known = BASE_KEYS | {e.key for e in STAGES.values() if e.key is not None}
    unknown = [k for k in config if k not in known]
    if unknown:
        readers = ", ".join(sorted(e.key for e in STAGES.values() if e.key)) or "none"
        raise ValueError(
            f"the extractor config has an entry '{unknown[0]}' that no registered stage reads "
            f"(stage entries: {readers}); import the module that registers its stage, e.g. the "
            "transfer method that added it"
        )
