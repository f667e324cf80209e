"""The one stable-baselines3 adapter: ``VisionExtractor`` wraps every registry encoder (and
the extractor stages of ``rltransfer.vision.stages`` around it).

SB3 builds it from ``features_extractor_kwargs={"config": {...}}`` (plain data, so a saved model
re-creates the same architecture, preprocessing and frozen groups). Weights are loaded after the
model exists (``finish_model``), so loading a saved model never reads weight files again.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from rltransfer.vision.encoder import Encoder
from rltransfer.vision.features import FeatureReader
from rltransfer.vision.groups import (
    apply_groups,
    install_encoder_schedule,
    keep_frozen_bn_eval,
    reinit_groups,
    resolve_groups,
)
from rltransfer.vision.preprocess import Preprocess
from rltransfer.vision.registry import check_space, get_entry
from rltransfer.vision.stages import FEATURES, INPUT, OBSERVATION, STAGES, check_config, stages_at
from rltransfer.vision.weights import Weights, load_state


def build_reader(observation_space: gym.Space, config: dict[str, Any]) -> FeatureReader:
    """Encoder + groups + feature reader from an extractor ``config`` (random weights).

    ``config``: ``encoder``, ``encoder_kwargs``, ``preprocess`` (a ``Preprocess`` dict or None),
    ``groups`` ({group: {mode, lr, unfreeze_at}}), ``features`` ({taps, norm, pool}).
    """
    entry = get_entry(config["encoder"])
    encoder = entry.build(check_space(entry, observation_space), **config.get("encoder_kwargs", {}))
    pre = Preprocess.from_dict(config.get("preprocess"))
    if encoder.image and pre is not None:
        encoder.set_preprocess(pre)
    apply_groups(encoder, resolve_groups(encoder, config.get("groups", {})))
    f = config.get("features", {})
    return FeatureReader(encoder, f.get("taps", []), f.get("norm", "none"), f.get("pool", "avg"))


class VisionExtractor(BaseFeaturesExtractor):
    """Observations (B, *obs_shape) — images already scaled to [0, 1] by SB3 — → features
    (B, features_dim). Running feature statistics update in training mode.

    Registered extractor stages (``rltransfer.vision.stages``) run around the encoder: the
    ``observation`` and ``input`` stages that apply to ``observation_space`` and ``config``
    before it (the encoder is built for the space the last of them yields), the ``features``
    stages after the feature reader. Each registered stage is an attribute under its name (None
    when it does not apply)."""

    def __init__(self, observation_space: gym.Space, config: dict[str, Any]):
        check_config(config)
        # built in data-flow order (the random initialisations follow it)
        before: list[tuple[str, nn.Module]] = []
        space = observation_space
        for place in (OBSERVATION, INPUT):
            for entry in stages_at(place):
                stage = entry.build(config, space)
                if stage is not None:
                    before.append((entry.name, stage))
                    space = stage.output_space
        reader = build_reader(space, config)
        after: list[tuple[str, nn.Module]] = []
        dim = reader.features_dim
        for entry in stages_at(FEATURES):
            stage = entry.build(config, _features_space(dim))
            if stage is not None:
                after.append((entry.name, stage))
                dim = int(stage.features_dim)
        super().__init__(observation_space, dim)
        for name, stage in [*before, *after]:  # the stages' tensors before the reader's
            setattr(self, name, stage)
        for entry in STAGES.values():
            if not hasattr(self, entry.name):
                setattr(self, entry.name, None)
        self._before = [stage for _, stage in before]
        self._after = [stage for _, stage in after]
        self.reader = reader
        self.config = config
        # A plain vector policy (``mlp`` without hidden layers, no stage, no tap, no norm) is
        # SB3's FlattenExtractor: ``forward`` skips the module calls (~35 µs per batch).
        self._flatten_only = (
            not before
            and not after
            and reader.extractor is None
            and all(n.mode == "none" for n in reader.norms)
            and reader.encoder.flattens_only
        )

    @property
    def encoder(self) -> Encoder:
        return self.reader.encoder

    def train(self, mode: bool = True) -> VisionExtractor:
        super().train(mode)
        keep_frozen_bn_eval(self.encoder)
        return self

    def forward(self, observations: Any) -> torch.Tensor:
        if self._flatten_only:
            return observations.flatten(1).float()
        for stage in self._before:
            observations = stage(observations)
        features = self.reader(observations, update_stats=self.training)
        for stage in self._after:
            features = stage(features)
        return features


def _features_space(dim: int) -> gym.spaces.Box:
    return gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)


TARGET_NETWORKS = {"q_net": "q_net_target", "critic": "critic_target"}
"""SB3's online network → its target network (DQN; SAC and TD3)."""


def is_target(name: str) -> bool:
    """True for the name of a target network or of anything inside one."""
    return any(name == t or name.startswith(t + ".") for t in TARGET_NETWORKS.values())


def sync_target_networks(policy: nn.Module) -> None:
    """Target networks start equal to their online networks, as SB3 makes them."""
    for online, target in TARGET_NETWORKS.items():
        if hasattr(policy, target):
            getattr(policy, target).load_state_dict(getattr(policy, online).state_dict())


def named_extractors(
    policy: nn.Module, *, targets: bool = False
) -> list[tuple[str, VisionExtractor]]:
    """``(module path, extractor)`` of every distinct ``VisionExtractor`` of ``policy``; those
    inside target networks only with ``targets``."""
    return [
        (n, m)
        for n, m in policy.named_modules()
        if isinstance(m, VisionExtractor) and (targets or not is_target(n))
    ]


def extractors_of(policy: nn.Module) -> list[VisionExtractor]:
    """Every distinct ``VisionExtractor`` of ``policy``, target networks' too."""
    return [m for _, m in named_extractors(policy, targets=True)]


def finish_model(model: Any, weights: Weights | None) -> dict[str, Any]:
    """After SB3 built ``model``: load ``weights`` into every encoder copy (actor, critic,
    target networks), reinitialise ``reinit`` groups, install the unfreezing schedule.
    Returns a report for the run's records."""
    extractors = extractors_of(model.policy)
    report: dict[str, Any] = {"encoders": len(extractors)}
    for ex in extractors:
        if weights is not None:
            loaded = load_state(ex.encoder, weights)
            report.update(
                loaded=len(loaded["loaded"]),
                adapted=loaded["adapted"],
                skipped=loaded["skipped"],
                missing=loaded["missing"],
            )
        report["reinitialised"] = reinit_groups(ex.encoder)
        ex.encoder.optimize_layout()
    sync_target_networks(model.policy)
    encoders = [ex.encoder for ex in extractors]
    report["unfreeze_schedule"] = install_encoder_schedule(model, encoders)
    if encoders:
        plan = encoders[0].group_plan
        report["groups"] = {g: s["mode"] for g, s in plan.items()}
        report["trainable"] = sum(p.numel() for p in encoders[0].parameters() if p.requires_grad)
    return report
