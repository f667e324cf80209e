"""The encoder registry: every encoder's contract on a tiny input, the factory and the registry."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rltransfer.vision import create_encoder, get_entry, list_encoders, register_encoder
from rltransfer.vision.features import FeatureReader

HEAVY = {"vgg11", "vgg16", "resnet50", "efficientnet_b0"}


def _space(name: str, channel_last: bool = False) -> gym.spaces.Box:
    entry = get_entry(name)
    if entry.kind == "vector":
        return gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
    side = max(32, entry.min_size)
    shape = (side, side, 3) if channel_last else (3, side, side)
    return gym.spaces.Box(0, 255, shape, np.uint8)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in list_encoders()]
)
def test_every_encoder_meets_its_contract(name):
    """Output size = declared features size, finite values, groups cover every parameter."""
    torch.manual_seed(0)
    enc = create_encoder(name, _space(name), weights="none")
    x = torch.rand(2, *enc.in_shape)
    enc.eval()
    with torch.no_grad():
        y = enc(x)
    assert y.shape == (2, enc.features_dim)
    assert torch.isfinite(y).all()
    uncovered = [p for p, _ in enc.named_parameters() if enc.group_of(p) is None]
    assert uncovered == []
    owners = {}
    for g in enc.groups:  # each parameter belongs to exactly one group
        for p in enc.group_parameters(g):
            assert id(p) not in owners, f"{g} and {owners.get(id(p))} share a parameter"
            owners[id(p)] = g
    assert len(owners) == len(list(enc.parameters()))
    if enc.groups:  # every group is a tap point with a pooled output
        reader = FeatureReader(enc, list(enc.groups))
        assert len(reader.dims) == len(enc.groups)


def test_channel_last_observations_and_other_channel_counts():
    enc = create_encoder("resnet18", _space("resnet18", channel_last=True))
    assert enc.in_shape == (3, 32, 32)
    gray = gym.spaces.Box(0, 255, (4, 40, 40), np.uint8)  # e.g. 4 stacked grey frames
    enc = create_encoder("resnet18", gray)
    assert enc.trunk.conv1.in_channels == 4
    assert enc(torch.rand(1, 4, 40, 40)).shape == (1, 512)


def test_options_and_heads():
    enc = create_encoder("resnet18", _space("resnet18"), out_dim=64)
    assert list(enc.groups)[-1] == "head" and enc.features_dim == 64
    enc = create_encoder("mlp", _space("mlp"), hidden=[32, 8])
    assert list(enc.groups) == ["layer1", "layer2"] and enc.features_dim == 8
    assert create_encoder("mlp", _space("mlp")).features_dim == 6  # plain flatten by default


def test_duplicate_registration_raises_and_custom_encoders_work():
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("resnet18", kind="image", description="dup")(lambda s: None)
    name = "test_custom_linear"
    if name not in list_encoders():

        @register_encoder(name, kind="vector", description="a test encoder")
        def _build(in_shape):
            return get_entry("tiny_mlp").build(in_shape)

    enc = create_encoder(name, _space("mlp"))
    assert enc(torch.rand(3, 6)).shape == (3, 16)


def test_wrong_observations_are_refused():
    with pytest.raises(ValueError, match="reads images"):
        create_encoder("resnet18", gym.spaces.Box(-1, 1, (8,), np.float32))
    with pytest.raises(ValueError, match="at least 36"):
        create_encoder("nature_cnn", gym.spaces.Box(0, 255, (3, 32, 32), np.uint8))
