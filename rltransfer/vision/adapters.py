"""Input adapters: map a target task's observations onto the input a source encoder was built for.

The ``adapt`` transfer method keeps the source's encoder, built for the source's observation
shape, and puts an ``InputAdapter`` in front of it: the ``adapter`` extractor stage, which
``rltransfer.methods.adapt`` registers (``rltransfer.vision.stages``), builds it when the
extractor config has an ``"adapter"`` entry. Shapes are as the policy sees them (images
channel-first).

* Vectors ``(D_t,) → (D_s,)``: a learned linear map ``x ↦ W x + b`` (``W``: ``D_s × D_t``).
  It starts so that source input ``i`` reads target coordinate ``map[i]`` unchanged (weight 1),
  every other weight 0, bias 0. The default map (``match: prefix``) is ``i → i`` for
  ``i < min(D_t, D_s)``: the shared leading coordinates pass through, extra target coordinates
  start ignored (weight 0) and source inputs without a target coordinate read 0. At the start,
  the adapted agent on ``[x, extra]`` acts exactly as the source on ``x``.
* Images ``(C_t, H_t, W_t) → (C_s, H_s, W_s)``: a bilinear resize to ``H_s × W_s`` (no parameters;
  antialiased when shrinking) and, when the channel counts differ, a learned 1×1 convolution
  ``C_t → C_s`` that starts as the identity on the shared channels (a single target channel is
  replicated to every source channel; a single source channel starts as the mean of the target
  channels), bias 0. Images reach the adapter as floats in [0, 1] (SB3 scales uint8 images).

The weights are plain parameters of ``InputAdapter`` (``adapter.weight``, ``adapter.bias``),
not ``nn.Linear``/``nn.Conv2d`` children: SB3's orthogonal initialisation of the features
extractor (PPO, A2C) re-initialises every ``nn.Linear``/``nn.Conv2d`` in it and would erase the
identity start.

Config (plain data, saved with the model, so a saved model re-creates the adapter)::

    {"in_shape": [6], "out_shape": [4], "map": [0, 1, 2, 3]}     # vectors; map: None → 0
    {"in_shape": [1, 24, 24], "out_shape": [3, 32, 32]}           # images
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

VECTOR, IMAGE = 1, 3  # the ranks an adapter maps


def prefix_map(d_in: int, d_out: int) -> list[int | None]:
    """Source input ``i`` ← target coordinate ``i`` for the shared leading coordinates."""
    return [i if i < d_in else None for i in range(d_out)]


def adapt_problem(source: Any, target: Any) -> str | None:
    """Why observations described by ``target`` cannot be mapped onto ``source``'s (both
    ``SpaceInfo``), or None when they can (equal spaces need no adapter)."""
    if source == target:
        return None
    if source.kind != "Box" or target.kind != "Box":
        return (
            f"it maps Box observations (vectors or images) onto each other; the source "
            f"observes {source}, the target {target}"
        )
    rs, rt = len(source.shape), len(target.shape)
    if rs != rt:
        what = {VECTOR: "vectors", IMAGE: "images"}
        return (
            f"the source observes {what.get(rs, f'rank-{rs} arrays')} {source} and the target "
            f"{what.get(rt, f'rank-{rt} arrays')} {target}; it maps vectors to vectors and "
            "images to images"
        )
    if rs not in (VECTOR, IMAGE):
        return (
            f"it maps vectors (D,) or images (C, H, W); the observations have shapes "
            f"{source.shape} (source) and {target.shape} (target)"
        )
    return None


def map_problem(mapping: list[int | None], source: Any, target: Any) -> str | None:
    """Why an explicit ``map`` does not fit vector spaces ``source``/``target`` (``SpaceInfo``)."""
    if any(s.kind != "Box" or len(s.shape) != VECTOR for s in (source, target)):
        return f"applies to vector observations; the source observes {source}, the target {target}"
    d_s, d_t = source.shape[0], target.shape[0]
    if len(mapping) != d_s:
        return (
            f"needs one entry per source input: the source observes {d_s} coordinates, the map "
            f"has {len(mapping)} entries"
        )
    bad = [i for i in mapping if i is not None and not 0 <= i < d_t]
    if bad:
        return (
            f"target coordinate {bad[0]} does not exist (the target observes {d_t}: 0..{d_t - 1})"
        )
    return None


def adapter_config(
    source: Any, target: Any, mapping: list[int | None] | None = None
) -> dict[str, Any] | None:
    """The adapter config mapping ``target`` observations onto ``source``'s (``SpaceInfo``,
    channel-first), or None when no adapter is needed (equal spaces and no explicit ``map``).
    Raises ``ValueError`` for spaces ``adapt_problem`` rejects."""
    problem = adapt_problem(source, target)
    if problem is not None:
        raise ValueError(problem)
    if mapping is not None:
        problem = map_problem(mapping, source, target)
        if problem is not None:
            raise ValueError(f"map {problem}")
    elif source == target:
        return None
    config: dict[str, Any] = {"in_shape": list(target.shape), "out_shape": list(source.shape)}
    if len(source.shape) == VECTOR:
        d_t, d_s = target.shape[0], source.shape[0]
        config["map"] = list(mapping) if mapping is not None else prefix_map(d_t, d_s)
    return config


def adapted_space(space: gym.spaces.Box, out_shape: tuple[int, ...]) -> gym.spaces.Box:
    """The space the encoder behind the adapter reads: ``out_shape`` with ``space``'s dtype and
    its overall bounds."""
    low, high = np.min(space.low), np.max(space.high)
    return gym.spaces.Box(low, high, tuple(int(s) for s in out_shape), space.dtype)


def _ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5] → '0-2, 5'."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


class InputAdapter(nn.Module):
    """(B, *in_shape) → (B, *out_shape); see the module docstring for the initialisation."""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.config = dict(config)
        self.in_shape = tuple(int(s) for s in config["in_shape"])
        self.out_shape = tuple(int(s) for s in config["out_shape"])
        if len(self.in_shape) != len(self.out_shape) or len(self.in_shape) not in (VECTOR, IMAGE):
            raise ValueError(
                f"an input adapter maps vectors (D,) or images (C, H, W) of the same rank; got "
                f"{self.in_shape} → {self.out_shape}"
            )
        self.image = len(self.in_shape) == IMAGE
        self.size: tuple[int, int] | None = None
        self.map: list[int | None] | None = None
        self.weight: nn.Parameter | None = None
        self.bias: nn.Parameter | None = None
        if self.image:
            (c_t, *hw_t), (c_s, *hw_s) = self.in_shape, self.out_shape
            if hw_t != hw_s:
                self.size = (hw_s[0], hw_s[1])
            if c_t != c_s:
                self.weight = nn.Parameter(torch.zeros(c_s, c_t, 1, 1))
                self.bias = nn.Parameter(torch.zeros(c_s))
        else:
            (d_t,), (d_s,) = self.in_shape, self.out_shape
            mapping = config.get("map")
            self.map = list(mapping) if mapping is not None else prefix_map(d_t, d_s)
            if len(self.map) != d_s or any(i is not None and not 0 <= i < d_t for i in self.map):
                raise ValueError(f"adapter map {self.map} does not map {d_t} → {d_s} inputs")
            self.weight = nn.Parameter(torch.zeros(d_s, d_t))
            self.bias = nn.Parameter(torch.zeros(d_s))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The identity start (a group ``reinit`` returns here too)."""
        if self.weight is None:
            return
        self.weight.zero_()
        self.bias.zero_()
        if not self.image:
            for i, j in enumerate(self.map):
                if j is not None:
                    self.weight[i, j] = 1.0
            return
        c_s, c_t = self.weight.shape[:2]
        if c_t == 1:
            self.weight[:, 0] = 1.0  # replicate the single channel
        elif c_s == 1:
            self.weight[0, :] = 1.0 / c_t  # the mean of the channels
        else:
            for c in range(min(c_s, c_t)):
                self.weight[c, c] = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.image:
            return F.linear(x.flatten(1), self.weight, self.bias)
        if self.size is not None:
            shrink = self.size[0] < x.shape[-2] or self.size[1] < x.shape[-1]
            x = F.interpolate(
                x, size=self.size, mode="bilinear", align_corners=False, antialias=shrink
            )
        if self.weight is not None:
            x = F.conv2d(x, self.weight, self.bias)
        return x

    def describe(self) -> str:
        """What the adapter does and how it starts, for the run's records."""
        if not self.image:
            (d_t,), (d_s,) = self.in_shape, self.out_shape
            fed = [(i, j) for i, j in enumerate(self.map) if j is not None]
            if all(i == j for i, j in fed):
                start = f"initially the identity on coordinates {_ranges([i for i, _ in fed])}"
            else:
                pairs = ", ".join(f"{j}→{i}" for i, j in fed)
                start = f"initially passing target→source coordinates {pairs} unchanged"
            parts = [f"learned linear map {d_t} → {d_s} coordinates, {start}"]
            ignored = sorted(set(range(d_t)) - {j for _, j in fed})
            if ignored:
                many = len(ignored) > 1
                parts.append(
                    f"target coordinate{'s' * many} {_ranges(ignored)} "
                    f"start{'s' * (not many)} with weight 0"
                )
            unfed = [i for i, j in enumerate(self.map) if j is None]
            if unfed:
                many = len(unfed) > 1
                parts.append(
                    f"source input{'s' * many} {_ranges(unfed)} start{'s' * (not many)} at 0"
                )
            return "before the encoder: " + "; ".join([*parts, "bias 0"])
        (c_t, h_t, w_t), (c_s, h_s, w_s) = self.in_shape, self.out_shape
        parts = []
        if self.size is not None:
            parts.append(
                f"resize {h_t}×{w_t} → {h_s}×{w_s} (bilinear, antialiased when shrinking; "
                "no parameters)"
            )
        if self.weight is not None:
            start = (
                "copying the channel into each"
                if c_t == 1
                else "averaging the channels"
                if c_s == 1
                else f"the identity on channels {_ranges(list(range(min(c_s, c_t))))}"
            )
            parts.append(f"learned 1×1 convolution {c_t} → {c_s} channels, initially {start}")
            parts.append("bias 0")
        return "before the encoder: " + "; ".join(parts)
