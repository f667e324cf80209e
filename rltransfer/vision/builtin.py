"""Built-in encoders for RL: NatureCNN, IMPALA-CNN, an MLP for vectors, and tiny test encoders.

Each builder takes the input shape ((C, H, W) or (D,)) and keyword options and returns an
``Encoder`` whose groups run input → output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rltransfer.vision.encoder import Encoder
from rltransfer.vision.registry import register_encoder


def _flat_size(trunk: nn.Module, in_shape: tuple[int, ...]) -> int:
    with torch.no_grad():
        return int(trunk(torch.zeros(1, *in_shape)).shape[1])


@register_encoder(
    "nature_cnn",
    kind="image",
    min_size=36,
    description="DQN Nature CNN (Mnih et al. 2015): 3 convs, linear head",
)
def nature_cnn(in_shape: tuple[int, ...], out_dim: int = 512) -> Encoder:
    """(B, C, H, W) → (B, out_dim). Groups: conv1, conv2, conv3, head."""
    c = in_shape[0]
    trunk = nn.Sequential()
    trunk.add_module("conv1", nn.Sequential(nn.Conv2d(c, 32, 8, stride=4), nn.ReLU()))
    trunk.add_module("conv2", nn.Sequential(nn.Conv2d(32, 64, 4, stride=2), nn.ReLU()))
    trunk.add_module("conv3", nn.Sequential(nn.Conv2d(64, 64, 3, stride=1), nn.ReLU()))
    trunk.add_module("flatten", nn.Flatten())
    head = nn.Sequential(nn.Linear(_flat_size(trunk, in_shape), out_dim), nn.ReLU())
    groups = {f"conv{i}": [f"trunk.conv{i}"] for i in (1, 2, 3)} | {"head": ["head"]}
    return Encoder(
        "nature_cnn",
        trunk,
        head,
        in_shape=in_shape,
        groups=groups,
        features_dim=out_dim,
        image=True,
        first_conv="trunk.conv1.0",
        kwargs={"out_dim": out_dim},
    )


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


def _impala_stage(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.MaxPool2d(3, stride=2, padding=1),
        _Residual(c_out),
        _Residual(c_out),
    )


@register_encoder(
    "impala_cnn",
    kind="image",
    min_size=8,
    description="IMPALA CNN (Espeholt et al. 2018): 3 residual stages, linear head",
)
def impala_cnn(
    in_shape: tuple[int, ...], channels: Sequence[int] = (16, 32, 32), out_dim: int = 256
) -> Encoder:
    """(B, C, H, W) → (B, out_dim). Groups: stage1..stage3, head."""
    trunk = nn.Sequential()
    c = in_shape[0]
    for i, width in enumerate(channels, start=1):
        trunk.add_module(f"stage{i}", _impala_stage(c, int(width)))
        c = int(width)
    trunk.add_module("relu", nn.ReLU())
    trunk.add_module("flatten", nn.Flatten())
    head = nn.Sequential(nn.Linear(_flat_size(trunk, in_shape), out_dim), nn.ReLU())
    groups = {f"stage{i}": [f"trunk.stage{i}"] for i in range(1, len(channels) + 1)}
    groups["head"] = ["head"]
    kwargs = {"channels": [int(w) for w in channels], "out_dim": out_dim}
    return Encoder(
        "impala_cnn",
        trunk,
        head,
        in_shape=in_shape,
        groups=groups,
        features_dim=out_dim,
        image=True,
        first_conv="trunk.stage1.0",
        kwargs=kwargs,
    )


@register_encoder(
    "mlp",
    kind="vector",
    description="flatten, then optional hidden layers (hidden: [64, 64]) for vector observations",
)
def mlp(in_shape: tuple[int, ...], hidden: Sequence[int] = (), activation: str = "tanh") -> Encoder:
    """(B, *in_shape) → (B, hidden[-1]) or the flattened size. Groups: layer1..layerN."""
    acts = {"tanh": nn.Tanh, "relu": nn.ReLU}
    if activation not in acts:
        raise ValueError(f"activation must be one of {', '.join(acts)}, got {activation!r}")
    trunk = nn.Sequential()
    trunk.add_module("flatten", nn.Flatten())
    size = int(torch.tensor(in_shape).prod())
    for i, h in enumerate(hidden, start=1):
        trunk.add_module(f"layer{i}", nn.Sequential(nn.Linear(size, int(h)), acts[activation]()))
        size = int(h)
    groups = {f"layer{i}": [f"trunk.layer{i}"] for i in range(1, len(hidden) + 1)}
    kwargs = {"hidden": [int(h) for h in hidden], "activation": activation}
    return Encoder(
        "mlp",
        trunk,
        None,
        in_shape=in_shape,
        groups=groups,
        features_dim=size,
        image=False,
        kwargs=kwargs,
    )


@register_encoder(
    "tiny_cnn",
    kind="image",
    min_size=8,
    description="test encoder: conv+BatchNorm stem, one conv stage, linear head (32 features)",
)
def tiny_cnn(in_shape: tuple[int, ...], out_dim: int = 32) -> Encoder:
    """(B, C, H, W) → (B, out_dim). Groups: stem, stage1, head. Has BatchNorm (for tests)."""
    c = in_shape[0]
    trunk = nn.Sequential()
    trunk.add_module(
        "stem", nn.Sequential(nn.Conv2d(c, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    )
    trunk.add_module("stage1", nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU()))
    trunk.add_module("pool", nn.AdaptiveAvgPool2d(1))
    trunk.add_module("flatten", nn.Flatten())
    head = nn.Sequential(nn.Linear(16, out_dim), nn.ReLU())
    groups = {"stem": ["trunk.stem"], "stage1": ["trunk.stage1"], "head": ["head"]}
    return Encoder(
        "tiny_cnn",
        trunk,
        head,
        in_shape=in_shape,
        groups=groups,
        features_dim=out_dim,
        image=True,
        first_conv="trunk.stem.0",
        kwargs={"out_dim": out_dim},
    )


@register_encoder(
    "tiny_mlp",
    kind="vector",
    description="test encoder: two hidden layers of 16 units",
)
def tiny_mlp(in_shape: tuple[int, ...]) -> Encoder:
    """(B, D) → (B, 16). Groups: layer1, layer2."""
    enc = mlp(in_shape, hidden=(16, 16), activation="relu")
    enc.name = "tiny_mlp"
    enc.kwargs = {}
    return enc
