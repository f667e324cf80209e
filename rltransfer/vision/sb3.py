"""The one stable-baselines3 adapter: ``VisionExtractor`` wraps every registry encoder.

SB3 builds it from ``features_extractor_kwargs={"config": {...}}`` (plain data, so a saved model
re-creates the same architecture, preprocessing and frozen groups). Weights are loaded after the
model exists (``finish_model``), so loading a saved model never reads weight files again.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from rltransfer.vision.encoder import Encoder
from rltransfer.vision.features import FeatureReader
from rltransfer.vision.groups import (
    apply_groups,
    install_unfreeze_schedule,
    keep_frozen_bn_eval,
    reinit_groups,
    resolve_groups,
)
from rltransfer.vision.preprocess import Preprocess
from rltransfer.vision.registry import check_space, get_entry
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
    (B, features_dim). Running feature statistics update in training mode. With an
    ``"adapter"`` entry in ``config`` the encoder is built for the adapter's ``out_shape`` and
    the adapter runs first.

    A multi-task Dict space ``{"obs": <space>, "task": Discrete(K)}`` is accepted too: the
    encoder reads ``obs["obs"]`` and the one-hot task (B, K) goes to ``task_context`` (a
    ``rltransfer.multitask.policy.TaskContext`` the policy shares with its task heads)."""

    def __init__(self, observation_space: gym.Space, config: dict[str, Any]):
        from rltransfer.multitask.env import OBS_KEY, is_task_space

        adapter = None
        outer_space = observation_space
        multitask = is_task_space(observation_space)
        if multitask:
            observation_space = observation_space[OBS_KEY]
        encoder_space = observation_space
        if config.get("adapter") is not None:  # ``adapt``: the encoder reads the source's shape
            from rltransfer.vision.adapters import InputAdapter, adapted_space

            adapter = InputAdapter(config["adapter"])
            if tuple(observation_space.shape) != adapter.in_shape:
                raise ValueError(
                    f"the input adapter maps observations of shape {adapter.in_shape}, the "
                    f"policy sees {tuple(observation_space.shape)}"
                )
            encoder_space = adapted_space(observation_space, adapter.out_shape)
        reader = build_reader(encoder_space, config)
        columns = None
        if config.get("progressive") is not None:  # ``progressive``: columns on the reader
            from rltransfer.methods.columns import ProgressiveColumns

            columns = ProgressiveColumns(config["progressive"])
        super().__init__(outer_space, (reader if columns is None else columns).features_dim)
        self.columns = columns
        """``ProgressiveColumns`` after the reader (``rltransfer.methods.columns``), or None."""
        self.multitask = multitask
        self.task_context: Any = None
        """Where ``forward`` writes the one-hot task of a multi-task batch (set by the policy)."""
        self.adapter = adapter
        """An ``InputAdapter`` in front of the encoder (``rltransfer.vision.adapters``), or None."""
        self.reader = reader
        self.config = config

    @property
    def encoder(self) -> Encoder:
        return self.reader.encoder

    def train(self, mode: bool = True) -> VisionExtractor:
        super().train(mode)
        keep_frozen_bn_eval(self.encoder)
        return self

    def forward(self, observations: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        if isinstance(observations, dict):  # a multi-task batch: {"obs", "task" (one-hot)}
            if self.task_context is not None:
                self.task_context.set(observations["task"])
            observations = observations["obs"]
        if self.adapter is not None:
            observations = self.adapter(observations)
        features = self.reader(observations, update_stats=self.training)
        return features if self.columns is None else self.columns(features)


def extractors_of(policy: torch.nn.Module) -> list[VisionExtractor]:
    return [m for m in policy.modules() if isinstance(m, VisionExtractor)]


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
    # target networks start equal to the online networks, as SB3 makes them
    for online, target in (("q_net", "q_net_target"), ("critic", "critic_target")):
        if hasattr(model.policy, target):
            getattr(model.policy, target).load_state_dict(
                getattr(model.policy, online).state_dict()
            )
    encoders = [ex.encoder for ex in extractors]
    report["unfreeze_schedule"] = install_unfreeze_schedule(model, encoders)
    if encoders:
        plan = encoders[0].group_plan
        report["groups"] = {g: s["mode"] for g, s in plan.items()}
        report["trainable"] = sum(p.numel() for p in encoders[0].parameters() if p.requires_grad)
    return report
