"""The preprocessing a set of weights expects, carried with the weights and applied by the encoder.

Encoders receive images as float tensors (B, C, H, W) in [0, 1] (stable-baselines3 divides uint8
observations by 255), channels in the observation's order (RGB). ``Preprocess`` turns that into
what the network was trained on: resize, channel order, value scale, then per-channel mean/std.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocess:
    """``size`` (H, W) to resize to, or None to keep the observation's size; ``channels``
    ``rgb`` | ``bgr``; ``scale``: input value of a white pixel; ``mean``/``std`` per channel
    (None: no standardisation)."""

    size: tuple[int, int] | None = None
    channels: str = "rgb"
    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Preprocess | None:
        if data is None:
            return None
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in data.items() if k in known}
        for key in ("size", "mean", "std"):
            if d.get(key) is not None:
                d[key] = tuple(float(x) if key != "size" else int(x) for x in d[key])
        if "scale" in d:
            d["scale"] = float(d["scale"])
        return cls(**d)

    def overridden(self, overrides: dict[str, Any]) -> Preprocess:
        """A copy with the non-None ``overrides`` (``PreprocessSpec`` fields) applied."""
        d = self.to_dict()
        for key, value in overrides.items():
            if value is None:
                continue
            if key == "size" and isinstance(value, int):
                value = [value, value]
            d[key] = value
        return Preprocess.from_dict(d)

    def differences(self, other: Preprocess) -> list[str]:
        """Human-readable fields where ``other`` differs from ``self``."""
        a, b = self.to_dict(), other.to_dict()
        return [f"{k}: recorded {a[k]}, used {b[k]}" for k in a if a[k] != b[k]]


def warn_mismatch(recorded: Preprocess | None, used: Preprocess, what: str) -> None:
    """Warn when the preprocessing used differs from the one recorded with the weights."""
    if recorded is None:
        warnings.warn(
            f"{what}: the weights record no preprocessing; using {used.to_dict()}",
            UserWarning,
            stacklevel=3,
        )
        return
    diffs = recorded.differences(used)
    if diffs:
        warnings.warn(
            f"{what}: preprocessing differs from the one the weights were trained with ("
            + "; ".join(diffs)
            + ")",
            UserWarning,
            stacklevel=3,
        )


def adapt_stats(values: tuple[float, ...] | None, channels: int) -> tuple[float, ...] | None:
    """Per-channel statistics for ``channels`` channels (averaged when the count differs)."""
    if values is None or len(values) == channels:
        return values
    m = sum(values) / len(values)
    return tuple([m] * channels)


class PreprocessModule(nn.Module):
    """Applies a ``Preprocess`` to (B, C, H, W) floats in [0, 1]; FX-traceable."""

    def __init__(self, p: Preprocess, channels: int):
        super().__init__()
        self.size = p.size
        self.flip = p.channels == "bgr" and channels == 3
        self.scale = float(p.scale)
        mean, std = adapt_stats(p.mean, channels), adapt_stats(p.std, channels)
        self.standardize = mean is not None and std is not None
        # plain constants, not buffers: the traced feature graph shares no tensor state
        self.mean = list(mean) if self.standardize else None
        self.std = list(std) if self.standardize else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] → (B, C, H', W') as the network expects."""
        if self.size is not None:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        if self.flip:
            x = x.flip(1)
        if self.scale != 1.0:
            x = x * self.scale
        if self.standardize:
            mean = x.new_tensor(self.mean).view(1, -1, 1, 1)
            std = x.new_tensor(self.std).view(1, -1, 1, 1)
            x = (x - mean) / std
        return x
