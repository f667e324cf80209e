"""Feature taps, pooling and per-layer normalisation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rltransfer.vision import FeatureNorm, FeatureReader, create_encoder, tap_names

SPACE = gym.spaces.Box(0, 255, (3, 32, 32), np.uint8)


def test_taps_read_groups_modules_and_graph_nodes():
    enc = create_encoder("resnet18", SPACE)
    node = next(n for n in tap_names(enc) if n.startswith("trunk.layer2.") and "relu" in n)
    reader = FeatureReader(enc, ["stage3", "trunk.layer4", node])
    assert reader.dims == [256, 512, 128]
    out = reader(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 896) and reader.features_dim == 896
    with pytest.raises(ValueError, match="unknown taps"):
        FeatureReader(enc, ["stage9"])


def test_l2_and_max_pool():
    enc = create_encoder("tiny_cnn", SPACE)
    reader = FeatureReader(enc, ["stem", "stage1"], norm="l2", pool="max")
    out = reader(torch.rand(4, 3, 32, 32))
    assert torch.allclose(out[:, :8].norm(dim=1), torch.ones(4), atol=1e-5)
    assert torch.allclose(out[:, 8:].norm(dim=1), torch.ones(4), atol=1e-5)


def test_standardize_uses_running_statistics_of_the_observations_seen():
    norm = FeatureNorm(3, "standardize")
    data = torch.randn(500, 3) * torch.tensor([1.0, 2.0, 5.0]) + torch.tensor([0.0, 3.0, -1.0])
    for chunk in data.split(50):
        norm.update(chunk)
    assert torch.allclose(norm.mean, data.mean(0), atol=1e-4)
    assert torch.allclose(norm.var, data.var(0, unbiased=False), atol=1e-3)
    z = norm(data)
    assert torch.allclose(z.mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(z.std(0, unbiased=False), torch.ones(3), atol=1e-3)


def test_discretize_thresholds_follow_the_full_network_embedding():
    norm = FeatureNorm(1, "discretize")
    norm.fit(torch.tensor([[-1.0], [1.0]]))  # mean 0, std 1
    x = torch.tensor([[-0.3], [-0.2], [0.0], [0.2], [0.26], [3.0]])
    assert norm(x).flatten().tolist() == [-1.0, 0.0, 0.0, 0.0, 1.0, 1.0]


def test_running_statistics_weigh_recent_observations_when_capped():
    norm = FeatureNorm(1, "standardize", max_count=100)
    norm.update(torch.full((1000, 1), 10.0))
    for _ in range(20):
        norm.update(torch.zeros(100, 1))
    assert float(norm.mean) < 0.1  # the earlier (source) statistics have washed out


def test_reader_updates_statistics_only_when_asked():
    enc = create_encoder("tiny_cnn", SPACE)
    reader = FeatureReader(enc, ["stage1"], norm="standardize")
    reader(torch.rand(5, 3, 32, 32))
    assert float(reader.norms[0].count) == 0
    reader(torch.rand(5, 3, 32, 32), update_stats=True)
    assert float(reader.norms[0].count) == 5
