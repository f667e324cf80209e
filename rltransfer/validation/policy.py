"""Study validation of ``policy``: every mistake is a ``FieldError`` naming the field.

Also resolves the defaults that must be explicit in the resolved study: ``cache`` (true when
every layer group is frozen) and ``share_features_extractor`` (the algorithm's default), and
makes a weight file's path absolute.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rltransfer.agents import SHARES_FEATURES
from rltransfer.checkpoints import SpaceInfo
from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import PolicySpec, StudySpec
from rltransfer.errors import did_you_mean
from rltransfer.methods import METHODS
from rltransfer.vision.encoder import Encoder
from rltransfer.vision.features import NORMS, POOLS, tap_names
from rltransfer.vision.groups import ALL, all_frozen, resolve_groups
from rltransfer.vision.registry import EncoderEntry, check_space, encoder_entry
from rltransfer.vision.weights import (
    WeightsError,
    load_state,
    read_weight_file,
    source_state,
    torchvision_weight,
)


def check_encoder_name(policy: PolicySpec, path: str = "policy.encoder") -> EncoderEntry:
    """The registry entry of ``policy.encoder``; ``FieldError`` at ``path`` when unknown."""
    return encoder_entry(policy.encoder, path)


def _space(info: SpaceInfo) -> gym.Space | None:
    if info.kind != "Box":
        return None
    return gym.spaces.Box(0, 255, info.shape, np.uint8)


def _build(entry: EncoderEntry, space: gym.Space, policy: PolicySpec) -> Encoder:
    try:
        shape = check_space(entry, space)
    except ValueError as e:
        raise FieldError("policy.encoder", str(e)) from None
    params = [p for p in inspect.signature(entry.build).parameters if p != "in_shape"]
    for key in policy.encoder_kwargs:
        if key not in params:
            raise FieldError(
                join("policy.encoder_kwargs", key),
                f"not an option of {entry.name}{did_you_mean(key, params)}; "
                f"options: {', '.join(params) or 'none'}",
            )
    try:
        return entry.build(shape, **policy.encoder_kwargs)
    except (TypeError, ValueError, RuntimeError) as e:
        raise FieldError("policy.encoder_kwargs", f"{entry.name} cannot be built: {e}") from None


def _check_groups(encoder: Encoder, policy: PolicySpec, timesteps: int) -> dict[str, Any]:
    names = ", ".join(encoder.groups) or "none"
    for key, g in policy.groups.items():
        path = join("policy.groups", key)
        if key != ALL and key not in encoder.groups:
            raise FieldError(
                path,
                f"unknown layer group of {encoder.name} (groups: {names}; or 'all')"
                f"{did_you_mean(key, list(encoder.groups))}",
            )
        # mode, lr and the sign of unfreeze_at: GroupSpec.check, when the study was parsed
        if g.unfreeze_at is not None and g.unfreeze_at >= timesteps:
            raise FieldError(
                join(path, "unfreeze_at"),
                f"must be in [0, {timesteps}) (the target budget), got {g.unfreeze_at}",
            )
    return resolve_groups(encoder, policy.groups)


def _check_features(encoder: Encoder, policy: PolicySpec) -> None:
    f = policy.features
    if f.norm not in NORMS:
        raise FieldError(
            "policy.features.norm",
            f"must be one of {', '.join(NORMS)}, got '{f.norm}'{did_you_mean(f.norm, NORMS)}",
        )
    if f.pool not in POOLS:
        raise FieldError("policy.features.pool", f"must be one of {', '.join(POOLS)}")
    if f.taps:
        known = tap_names(encoder)
        for i, tap in enumerate(f.taps):
            if tap not in known:
                raise FieldError(
                    join("policy.features.taps", i),
                    f"unknown layer '{tap}' of {encoder.name}{did_you_mean(tap, known)} "
                    f"(groups: {', '.join(encoder.groups)}; module paths and graph nodes are "
                    f"listed by `rltransfer encoders {encoder.name} --taps`)",
                )


def _check_preprocess(encoder: Encoder, policy: PolicySpec) -> None:
    p = policy.preprocess
    given = {k: v for k, v in vars(p).items() if v is not None}
    if given and not encoder.image:
        raise FieldError(join("policy.preprocess", next(iter(given))), "only for image encoders")
    if p.channels is not None and p.channels not in ("rgb", "bgr"):
        raise FieldError("policy.preprocess.channels", f"must be rgb or bgr, got '{p.channels}'")
    if p.scale is not None and p.scale <= 0:
        raise FieldError("policy.preprocess.scale", f"must be > 0, got {p.scale}")
    size = [p.size] * 2 if isinstance(p.size, int) else p.size
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise FieldError("policy.preprocess.size", f"must be N or [H, W] > 0, got {p.size}")
    for key in ("mean", "std"):
        v = getattr(p, key)
        if v is not None and len(v) not in (1, encoder.in_shape[0], 3):
            raise FieldError(
                join("policy.preprocess", key), f"needs one value per channel, got {len(v)}"
            )
    if p.std is not None and min(p.std) <= 0:
        raise FieldError("policy.preprocess.std", "every value must be > 0")


def _check_weights(spec: StudySpec, entry: EncoderEntry, encoder: Encoder, frozen: bool) -> None:
    w = spec.policy.weights
    try:
        if w == "none":
            return
        if w.startswith("torchvision:"):
            if entry.torchvision is None:
                raise WeightsError(f"{entry.name} is not a torchvision model")
            _, path = torchvision_weight(w, entry.torchvision)
            if not path.is_file():
                raise WeightsError(
                    f"needs the file {path.name} in {path.parent} (the local torch hub cache); "
                    "nothing is downloaded: copy the file there"
                )
            return
        if w == "source":
            if spec.source.checkpoint is not None:
                load_state(encoder, source_state(spec.source.checkpoint))
            elif frozen:
                raise WeightsError(
                    "every layer group is frozen, so the source run would not train its "
                    "encoder and 'source' would transfer a random one; unfreeze a group or "
                    "give source.checkpoint"
                )
            return
        path = Path(w).expanduser()
        load_state(encoder, read_weight_file(path))
        spec.policy.weights = str(path.resolve())
    except WeightsError as e:
        raise FieldError("policy.weights", f"'{w}': {e}") from None


def check_policy(spec: StudySpec, obs: SpaceInfo) -> None:
    """Check ``spec.policy`` against the target's observation space ``obs``; fill defaults."""
    policy = spec.policy
    entry = check_encoder_name(policy)
    if policy.cache_memory_mb < 0:
        raise FieldError(
            "policy.cache_memory_mb",
            f"must be >= 0 MB (0: no store, every frame encoded), got {policy.cache_memory_mb:g}",
        )
    space = _space(obs)
    if space is None:
        default = PolicySpec()
        for key in ("encoder", "encoder_kwargs", "weights", "groups", "features", "preprocess"):
            if getattr(policy, key) != getattr(default, key):
                raise FieldError(
                    join("policy", key), f"vision encoders need a Box observation space, got {obs}"
                )
        if policy.share_features_extractor is None:
            policy.share_features_extractor = SHARES_FEATURES.get(spec.algo)
        return
    encoder = _build(entry, space, policy)
    plan = _check_groups(encoder, policy, spec.target.timesteps)
    _check_features(encoder, policy)
    _check_preprocess(encoder, policy)
    frozen = all_frozen(plan)
    _check_weights(spec, entry, encoder, frozen)
    if policy.cache and not frozen:
        modes = ", ".join(f"{g}: {s['mode']}" for g, s in plan.items()) or "no groups"
        raise FieldError("policy.cache", f"needs every layer group frozen for good ({modes})")
    if policy.cache is None:
        policy.cache = frozen
    if policy.share_features_extractor is not None and spec.algo not in SHARES_FEATURES:
        raise FieldError(
            "policy.share_features_extractor", f"{spec.algo} has no separate actor and critic"
        )
    if policy.share_features_extractor is None:
        policy.share_features_extractor = SHARES_FEATURES.get(spec.algo)
    reinit = [g for g, s in plan.items() if s["mode"] == "reinit"]
    loads = [m.name for m in spec.methods if METHODS[m.method].transfers == "parameters"]
    if reinit and loads:
        raise FieldError(
            join("policy.groups", reinit[0]),
            f"reinit would be undone in the runs of {', '.join(loads)}, which load every "
            "matching source tensor after the model is built",
        )
