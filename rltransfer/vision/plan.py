"""A run's vision setup: the resolved encoder config, weights, and whether features are cached.

``resolve_setup`` turns a ``PolicySpec`` and an observation space into a ``VisionSetup``;
``prepare_env`` wraps a run's training env with the feature cache when the encoder is frozen and
returns the setup with it; the run passes both to ``rltransfer.agents.build_model`` (nothing
rides on the env).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

from rltransfer.config.spec import PolicySpec
from rltransfer.vision.cache import FeatureVecEnv
from rltransfer.vision.features import FeatureReader
from rltransfer.vision.groups import all_frozen, reinit_groups
from rltransfer.vision.preprocess import Preprocess
from rltransfer.vision.registry import check_space, get_entry
from rltransfer.vision.sb3 import build_reader
from rltransfer.vision.weights import Weights, effective_preprocess, load_state, load_weights


@dataclass
class VisionSetup:
    """``config``: the extractor config (plain data); ``weights``: tensors to load (None:
    random); ``cached``: features are encoded by the env (``FeatureVecEnv``), the policy is an
    MLP on them; ``report``: what the run used, for its records."""

    policy: PolicySpec
    config: dict[str, Any]
    weights: Weights | None
    cached: bool
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def lr_multipliers(self) -> bool:
        return any(g["lr"] != 1.0 for g in self.config["groups"].values())


def group_dicts(policy: PolicySpec) -> dict[str, dict[str, Any]]:
    return {
        g: {"mode": s.mode, "lr": s.lr, "unfreeze_at": s.unfreeze_at}
        for g, s in policy.groups.items()
    }


def resolve_setup(
    policy: PolicySpec,
    observation_space: gym.Space,
    source: str | Path | None = None,
    extra: dict[str, Any] | None = None,
) -> VisionSetup:
    """Resolve ``policy`` for ``observation_space``. ``source``: the source agent's SB3
    checkpoint, used when ``policy.weights`` is ``source`` (without it: random weights).
    ``extra``: entries added to the extractor config (a transfer method's, e.g. an adapter)."""
    entry = get_entry(policy.encoder)
    in_shape = check_space(entry, observation_space)
    spec = policy.weights
    weights = None
    note = None
    if spec == "source" and source is None:
        note = "no source agent in this run (source or scratch run): random weights"
    else:
        weights = load_weights(spec, entry, source=source)
    config: dict[str, Any] = {
        "encoder": policy.encoder,
        "encoder_kwargs": dict(policy.encoder_kwargs),
        "groups": group_dicts(policy),
        "features": {
            "taps": list(policy.features.taps),
            "norm": policy.features.norm,
            "pool": policy.features.pool,
        },
        "preprocess": None,
        **(extra or {}),
    }
    if entry.kind == "image":
        overrides = vars(policy.preprocess)
        pre = effective_preprocess(Preprocess(), weights, overrides, f"policy.weights ({spec})")
        config["preprocess"] = pre.to_dict()
    plan = {
        g: config["groups"].get(g, config["groups"].get("all", {"mode": "finetune"}))
        for g in entry.build(in_shape, **policy.encoder_kwargs).groups
    }
    plan = {g: {"mode": s["mode"], "unfreeze_at": s.get("unfreeze_at")} for g, s in plan.items()}
    cached = policy.cache if policy.cache is not None else all_frozen(plan)
    report = {
        "encoder": policy.encoder,
        "weights": spec,
        "provenance": weights.provenance if weights else note,
        "cached": cached,
        "preprocess": config["preprocess"],
    }
    return VisionSetup(policy, config, weights, bool(cached), report)


def build_cached_reader(
    setup: VisionSetup, observation_space: gym.Space, seed: int
) -> FeatureReader:
    """The frozen encoder + reader of a cached run, with its weights; random parts are seeded
    with ``seed`` (they live outside the policy, which SB3 seeds)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        reader = build_reader(observation_space, setup.config)
        if setup.weights is not None:
            load_state(reader.encoder, setup.weights)
        reinit_groups(reader.encoder)
    return reader


def prepare_env(
    venv: Any,
    policy: PolicySpec,
    *,
    device: str,
    seed: int,
    source: str | Path | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[Any, VisionSetup]:
    """Resolve the run's vision setup and wrap ``venv`` with the feature cache when it
    applies (its content-addressed store gets ``policy.cache_memory_mb``). Returns the
    (possibly wrapped) env and the setup, which the model build takes
    (``rltransfer.agents.build_model(..., setup=)``)."""
    setup = resolve_setup(policy, venv.observation_space, source=source, extra=extra)
    if setup.cached:
        reader = build_cached_reader(setup, venv.observation_space, seed)
        venv = FeatureVecEnv(venv, reader, device=device, memory_mb=policy.cache_memory_mb)
    return venv, setup
