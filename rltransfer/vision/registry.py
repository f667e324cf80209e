"""The encoder registry and factory: ``create_encoder(name, observation_space, weights=...)``.

Entries are registered by name with ``register_encoder``; registering a name twice raises (as
torchvision's ``register_model`` does). This module holds the table and the decorator only; the
built-ins (``builtin.py``, ``backbones.py``) register themselves when the ``rltransfer.vision``
package is imported, which every import of one of its modules does first.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from rltransfer.config.parse import FieldError
from rltransfer.errors import did_you_mean
from rltransfer.vision.encoder import Encoder, image_shape
from rltransfer.vision.weights import apply_weights, load_weights


@dataclass(frozen=True)
class EncoderEntry:
    """``build(in_shape, **kwargs)`` makes the encoder for inputs of shape ``in_shape``
    ((C, H, W) images or (D,) vectors). ``kind``: ``image`` or ``vector``. ``min_size``: the
    smallest image side it accepts. ``torchvision``: the torchvision model name whose weight
    enums it loads (``torchvision:<ENUM>``)."""

    name: str
    build: Callable[..., Encoder]
    kind: str
    description: str
    min_size: int = 1
    torchvision: str | None = None


ENCODERS: dict[str, EncoderEntry] = {}


def register_encoder(
    name: str,
    *,
    kind: str,
    description: str,
    min_size: int = 1,
    torchvision: str | None = None,
) -> Callable[[Callable[..., Encoder]], Callable[..., Encoder]]:
    """Decorator registering ``build`` under ``name``; a duplicate name raises ``ValueError``."""
    if kind not in ("image", "vector"):
        raise ValueError(f"kind must be 'image' or 'vector', got {kind!r}")

    def decorate(build: Callable[..., Encoder]) -> Callable[..., Encoder]:
        if name in ENCODERS:
            raise ValueError(f"encoder '{name}' is already registered")
        ENCODERS[name] = EncoderEntry(name, build, kind, description, min_size, torchvision)
        return build

    return decorate


ENTRY_POINT_GROUP = "rltransfer.encoders"
"""Installed packages may offer encoders under this entry-point group: ``name = "pkg.mod:f"``."""


def _plugin(name: str) -> EncoderEntry | None:
    """A plug-in encoder added under ``name``, or None when ``name`` names none.

    ``name`` is ``module:attr`` or an entry point's name; ``attr`` is a builder registered with
    ``register_encoder`` when its module was imported, or a builder carrying the entry's fields
    as attributes (``kind``, ``description``, optionally ``min_size``). ``ValueError`` when the
    module cannot be imported or the attribute is neither."""
    ref = name if ":" in name else None
    if ref is None:
        from importlib.metadata import entry_points

        ref = next((e.value for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == name), None)
    if ref is None:
        return None
    module, _, attr = ref.partition(":")
    try:
        build = getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise ValueError(f"cannot import the module of encoder '{ref}': {e}") from None
    except AttributeError:
        raise ValueError(f"module '{module}' has no '{attr}' (encoder '{ref}')") from None
    known = next((e for e in ENCODERS.values() if e.build is build), None)
    if known is not None:
        entry = dataclasses.replace(known, name=name)
    elif getattr(build, "kind", None) in ("image", "vector") and callable(build):
        desc = getattr(build, "description", None) or (build.__doc__ or ref).strip().split("\n")[0]
        entry = EncoderEntry(name, build, build.kind, desc, getattr(build, "min_size", 1))
    else:
        raise ValueError(
            f"'{ref}' is neither registered with rltransfer.vision.register_encoder nor a "
            "builder with the attributes kind ('image' or 'vector') and description"
        )
    ENCODERS[name] = entry
    return entry


def get_entry(name: str) -> EncoderEntry:
    """The entry of ``name`` (a built-in, registered or plug-in encoder); ``KeyError`` if none."""
    try:
        entry = ENCODERS.get(name) or _plugin(name)
    except ValueError as e:
        raise KeyError(str(e)) from None
    if entry is None:
        raise KeyError(f"unknown encoder '{name}'; available: {', '.join(ENCODERS)}")
    return entry


def encoder_entry(name: str, path: str = "policy.encoder") -> EncoderEntry:
    """The entry of encoder ``name``; ``FieldError`` at ``path`` (a study field) for none."""
    try:
        entry = ENCODERS.get(name) or _plugin(name)
    except ValueError as e:
        raise FieldError(path, str(e)) from None
    if entry is None:
        raise FieldError(
            path,
            f"unknown encoder '{name}'{did_you_mean(name, ENCODERS)}; "
            f"available: {', '.join(ENCODERS)}",
        )
    return entry


def list_encoders() -> list[str]:
    return list(ENCODERS)


def check_space(entry: EncoderEntry, space: gym.Space) -> tuple[int, ...]:
    """The encoder's input shape for ``space``; ``ValueError`` when it cannot read it."""
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"encoder '{entry.name}' needs a Box observation space, got {space}")
    shape = image_shape(space)
    if entry.kind == "image":
        if len(shape) != 3:
            raise ValueError(
                f"encoder '{entry.name}' reads images (C, H, W) or (H, W, C); "
                f"the observations have shape {tuple(space.shape)}"
            )
        if min(shape[1:]) < entry.min_size:
            raise ValueError(
                f"encoder '{entry.name}' needs images of at least {entry.min_size}×"
                f"{entry.min_size} pixels, got {shape[1]}×{shape[2]}"
            )
    return shape


def create_encoder(
    name: str,
    observation_space: gym.Space,
    weights: str = "none",
    *,
    preprocess: dict[str, Any] | None = None,
    source: str | Path | None = None,
    **kwargs: Any,
) -> Encoder:
    """Build encoder ``name`` for ``observation_space`` and load ``weights``.

    ``weights``: ``none`` | ``torchvision:<ENUM>`` (local torch hub cache only) | a ``.pt`` /
    ``.safetensors`` file | ``source`` (the encoder inside the SB3 checkpoint ``source``).
    ``preprocess``: overrides of the recorded preprocessing (``PreprocessSpec`` fields); a
    difference warns. ``kwargs`` go to the encoder's builder. The result maps
    (B, C, H, W) floats in [0, 1] (or (B, D) vectors) to (B, features_dim).
    """
    entry = get_entry(name)
    encoder = entry.build(check_space(entry, observation_space), **kwargs)
    loaded = load_weights(weights, entry, source=source)
    apply_weights(encoder, loaded, overrides=preprocess or {})
    return encoder
