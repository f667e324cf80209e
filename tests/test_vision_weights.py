"""Weights: files with their preprocessing, torchvision weights from the local hub cache only,
the source agent's encoder, safe loading."""

from __future__ import annotations

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv
from torchvision.models import ResNet18_Weights, get_model

from rltransfer.agents import build_model
from rltransfer.config.spec import PolicySpec
from rltransfer.envs.vision_testing import GridPixelEnv
from rltransfer.vision import WeightsError, create_encoder, save_weights
from rltransfer.vision.preprocess import IMAGENET_MEAN
from rltransfer.vision.weights import read_weight_file

SPACE = gym.spaces.Box(0, 255, (3, 32, 32), np.uint8)


@pytest.fixture
def hub(tmp_path):
    """A private torch hub cache folder."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub" / "checkpoints"
    torch.hub.set_dir(old)


def test_torchvision_weights_are_read_only_from_the_hub_cache(hub):
    with pytest.raises(WeightsError) as e:
        create_encoder("resnet18", SPACE, "torchvision:ResNet18_Weights.IMAGENET1K_V1")
    assert "resnet18-f37072fd.pth" in str(e.value) and str(hub) in str(e.value)
    hub.mkdir(parents=True)
    reference = get_model("resnet18", weights=None)  # stands in for the published file
    torch.save(reference.state_dict(), hub / "resnet18-f37072fd.pth")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc = create_encoder("resnet18", SPACE, "torchvision:ResNet18_Weights.IMAGENET1K_V1")
    assert any("hash" in str(w.message) for w in caught)  # not the published bytes
    assert torch.equal(enc.trunk.conv1.weight, reference.conv1.weight)
    assert enc.preprocess.mean == IMAGENET_MEAN
    assert "trunk.fc.weight" not in enc.state_dict()
    assert enc.weights_report["skipped"] == {
        "trunk.fc.weight": "not in the encoder",
        "trunk.fc.bias": "not in the encoder",
    }


def test_wrong_torchvision_enum_is_refused(hub):
    with pytest.raises(WeightsError, match="not weights of resnet18"):
        create_encoder("resnet18", SPACE, "torchvision:ResNet50_Weights.IMAGENET1K_V2")
    with pytest.raises(WeightsError, match="need a torchvision encoder"):
        create_encoder("tiny_cnn", SPACE, "torchvision:ResNet18_Weights.IMAGENET1K_V1")
    assert ResNet18_Weights.IMAGENET1K_V1.url.endswith("resnet18-f37072fd.pth")


def test_weight_file_round_trip_carries_preprocessing_and_provenance(tmp_path):
    enc = create_encoder("tiny_cnn", SPACE, preprocess={"mean": [0.5] * 3, "std": [0.25] * 3})
    path = save_weights(tmp_path / "enc.pt", enc, {"source": "unit-test"})
    meta = json.loads((tmp_path / "enc.pt.json").read_text())
    assert meta["preprocess"]["mean"] == [0.5] * 3 and meta["provenance"]["source"] == "unit-test"
    w = read_weight_file(path)
    assert w.preprocess.std == (0.25,) * 3
    again = create_encoder("tiny_cnn", SPACE, str(path))
    assert again.preprocess == enc.preprocess
    x = torch.rand(2, 3, 32, 32)
    enc.eval(), again.eval()
    assert torch.allclose(enc(x), again(x))


def test_preprocessing_mismatch_warns(tmp_path):
    enc = create_encoder("tiny_cnn", SPACE, preprocess={"mean": [0.5] * 3, "std": [0.25] * 3})
    path = save_weights(tmp_path / "enc.pt", enc)
    with pytest.warns(UserWarning, match="differs"):
        create_encoder("tiny_cnn", SPACE, str(path), preprocess={"std": [1.0, 1.0, 1.0]})
    torch.save(enc.state_dict(), tmp_path / "bare.pt")  # no metadata at all
    with pytest.warns(UserWarning, match="record no preprocessing"):
        create_encoder("tiny_cnn", SPACE, str(tmp_path / "bare.pt"))


def test_arbitrary_pickles_are_never_loaded(tmp_path):
    torch.save({"state_dict": {"x": torch.zeros(1)}, "evil": object()}, tmp_path / "bad.pt")
    with pytest.raises(WeightsError, match="weights_only"):
        read_weight_file(tmp_path / "bad.pt")
    with pytest.raises(WeightsError, match="no such file"):
        read_weight_file(tmp_path / "missing.pt")


def test_channel_count_adaptation(tmp_path):
    enc = create_encoder("tiny_cnn", SPACE)
    path = save_weights(tmp_path / "rgb.pt", enc)
    gray = gym.spaces.Box(0, 255, (1, 32, 32), np.uint8)
    g = create_encoder("tiny_cnn", gray, str(path))
    w = enc.trunk.stem[0].weight
    assert torch.allclose(g.trunk.stem[0].weight, w.mean(1, keepdim=True) * 3)
    assert g.weights_report["adapted"] == ["trunk.stem.0.weight"]


def test_source_weights_come_from_an_sb3_checkpoint(tmp_path):
    env = DummyVecEnv([lambda: GridPixelEnv(size=32, channel_first=True)])
    hyper = {"n_steps": 16, "batch_size": 16, "n_epochs": 1}
    model = build_model(
        "ppo", env, hyperparams=hyper, seed=0, device="cpu", policy=PolicySpec(encoder="tiny_cnn")
    )
    model.save(tmp_path / "agent.zip")
    enc = create_encoder("tiny_cnn", SPACE, "source", source=tmp_path / "agent.zip")
    ref = model.policy.features_extractor.encoder.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in enc.state_dict().items())
    flat = build_model("ppo", env, hyperparams=hyper, seed=0, device="cpu")
    flat.save(tmp_path / "flat.zip")
    with pytest.raises(WeightsError, match="no encoder tensors"):
        create_encoder("tiny_cnn", SPACE, "source", source=tmp_path / "flat.zip")
