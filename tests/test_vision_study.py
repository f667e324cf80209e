"""Studies on a pixel env with vision encoders: groups, a frozen cached encoder, `source` weights,
and every policy mistake as an exit-2 message naming the field."""

from __future__ import annotations

import copy
import json

import gymnasium as gym
import pytest
import torch
import yaml
from stable_baselines3 import PPO

import rltransfer.envs  # noqa: F401  (registers the families)
from rltransfer import run_study
from rltransfer.cli import main

ENV = "rltransfer.envs.vision_testing:GridPixelEnv"
PIXEL_STUDY = {
    "name": "pixels",
    "algo": "ppo",
    "hyperparams": {"n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 1},
    "policy": {"encoder": "resnet18", "weights": "none", "net_arch": [16]},
    "source": {"env": {"id": ENV, "kwargs": {"size": 32, "max_steps": 12}}, "timesteps": 64},
    "target": {
        "env": {"id": ENV, "kwargs": {"size": 32, "grid": 8, "max_steps": 12}},
        "timesteps": 64,
    },
    "methods": ["scratch", "finetune"],
    "seeds": [0],
    "eval": {"every": 32, "episodes": 2},
    "threshold": 0.5,
    "score_range": {"low": -1.0, "high": 1.0},
    "tracking": {"wandb": {"mode": "disabled"}},
}


@pytest.fixture
def pixel_study():
    return copy.deepcopy(PIXEL_STUDY)


@pytest.mark.slow
def test_resnet18_study_with_layer_groups(pixel_study, tmp_path):
    pixel_study["policy"]["groups"] = {
        "stem": "freeze",
        "stage1": {"unfreeze_at": 32},
        "stage4": {"finetune": 0.1},
    }
    result = run_study(pixel_study, out=tmp_path, quiet=True)
    root = result.out_dir
    resolved = yaml.safe_load((root / "study.yaml").read_text())["policy"]
    assert resolved["cache"] is False and resolved["share_features_extractor"] is True
    assert resolved["groups"]["stage4"] == {"mode": "finetune", "lr": 0.1, "unfreeze_at": None}
    source = PPO.load(root / "source" / "model.zip", device="cpu")
    target = PPO.load(root / "target" / "scratch" / "seed_0" / "model.zip", device="cpu")
    sd, td = source.policy.state_dict(), target.policy.state_dict()
    stem = "features_extractor.reader.encoder.trunk.conv1.weight"
    assert not torch.equal(sd[stem], td[stem])  # scratch is not the source
    meta = json.loads((root / "target" / "finetune" / "seed_0" / "meta.json").read_text())
    assert stem in meta["transfer"]["loaded"]
    assert result.curves["finetune"][0].timesteps.tolist() == [0, 32, 64]


def test_frozen_cached_encoder_study(pixel_study, tmp_path):
    pixel_study["policy"].update(
        groups={"all": "freeze"}, features={"taps": ["stage3", "stage4"], "norm": "l2"}
    )
    result = run_study(pixel_study, out=tmp_path, quiet=True)
    root = result.out_dir
    assert yaml.safe_load((root / "study.yaml").read_text())["policy"]["cache"] is True
    model = PPO.load(root / "target" / "finetune" / "seed_0" / "model.zip", device="cpu")
    assert model.observation_space.shape == (256 + 512,)  # the policy sees features
    assert not any("encoder" in k for k in model.policy.state_dict())
    assert result.curves["scratch"][0].timesteps.tolist() == [0, 32, 64]


@pytest.mark.skipif(
    "rltransfer/PixelGrid-v0" not in gym.registry, reason="the PixelGrid family is not there"
)
def test_frozen_cached_encoder_on_the_pixelgrid_family(pixel_study, tmp_path):
    grid = {"id": "rltransfer/PixelGrid-v0", "kwargs": {"size": 32}}
    pixel_study.update(name="pixelgrid", source={"env": grid, "timesteps": 64})
    pixel_study["target"] = {"env": grid, "timesteps": 64}
    pixel_study["policy"].update(
        encoder="tiny_cnn", groups={"all": "freeze"}, features={"norm": "standardize"}
    )
    result = run_study(pixel_study, out=tmp_path, quiet=True)
    assert yaml.safe_load((result.out_dir / "study.yaml").read_text())["policy"]["cache"] is True
    assert result.curves["finetune"][0].timesteps.tolist() == [0, 32, 64]


@pytest.mark.skipif(
    "rltransfer/PixelGrid-v0" not in gym.registry, reason="the PixelGrid family is not there"
)
def test_the_feature_cache_counters_reach_meta_json(pixel_study, tmp_path):
    grid = {"id": "rltransfer/PixelGrid-v0", "kwargs": {"size": 32}}
    pixel_study.update(name="pixelgrid-cache", source={"env": grid, "timesteps": 64})
    pixel_study["target"] = {"env": grid, "timesteps": 64}
    pixel_study["policy"].update(encoder="tiny_cnn", groups={"all": "freeze"})
    result = run_study(pixel_study, out=tmp_path, quiet=True)
    meta = json.loads((result.out_dir / "target" / "scratch" / "seed_0" / "meta.json").read_text())
    stats = meta["vision"]["feature_cache"]
    assert stats["content_addressed"] is True and stats["misses"] >= stats["entries"] > 0
    assert stats["hits"] > 0  # a small grid repeats frames, in training and in evaluation
    assert stats["hit_rate"] == pytest.approx(stats["hits"] / (stats["hits"] + stats["misses"]))


def test_source_weights_and_frozen_groups_from_a_checkpoint(pixel_study, tmp_path):
    """SB3 #409: load only the source's feature extractor, freeze it, train new heads."""
    pixel_study["policy"].update(encoder="tiny_cnn")
    for task in ("source", "target"):  # SB3 records image spaces channel-first
        pixel_study[task]["env"]["kwargs"]["channel_first"] = True
    first = run_study(pixel_study, out=tmp_path / "a", quiet=True)
    checkpoint = first.out_dir / "source" / "model.zip"
    study = copy.deepcopy(pixel_study)
    study.update(name="frozen-source", source={"checkpoint": str(checkpoint)})
    study["policy"].update(weights="source", groups={"all": "freeze"}, net_arch=[8])
    result = run_study(study, out=tmp_path / "b", quiet=True)
    assert result.curves["finetune"][0].timesteps.tolist() == [0, 32, 64]


POLICY_ERRORS = [
    (
        {"groups": {"stage9": "freeze"}},
        "policy.groups.stage9: unknown layer group of resnet18 (groups: stem, stage1, stage2, "
        "stage3, stage4; or 'all')",
    ),
    ({"groups": {"stem": "thaw"}}, "policy.groups.stem.mode: must be one of freeze, finetune"),
    ({"groups": {"stem": {"finetune": -1}}}, "policy.groups.stem.lr: the LR multiplier must be"),
    ({"groups": {"stem": {"unfreeze_at": 10_000}}}, "policy.groups.stem.unfreeze_at: must be in"),
    ({"groups": {"stem": "reinit"}}, "policy.groups.stem: reinit would be undone in the runs"),
    ({"features": {"norm": "l3"}}, "policy.features.norm: must be one of none, l2"),
    ({"features": {"taps": ["stage3", "layer9"]}}, "policy.features.taps[1]: unknown layer"),
    ({"encoder_kwargs": {"width": 2}}, "policy.encoder_kwargs.width: not an option of resnet18"),
    (
        {"weights": "torchvision:ResNet18_Weights.IMAGENET1K_V1"},
        "policy.weights: 'torchvision:ResNet18_Weights.IMAGENET1K_V1': needs the file "
        "resnet18-f37072fd.pth in ",
    ),
    ({"weights": "torchvision:ResNet50_Weights.IMAGENET1K_V2"}, "are not weights of resnet18"),
    ({"weights": "/nonexistent/w.pt"}, "policy.weights: '/nonexistent/w.pt':"),
    ({"weights": "source", "groups": {"all": "freeze"}}, "would transfer a random one"),
    ({"cache": True}, "policy.cache: needs every layer group frozen"),
    ({"preprocess": {"channels": "rbg"}}, "policy.preprocess.channels: must be rgb or bgr"),
    ({"preprocess": {"mean": [0.5, 0.5]}}, "policy.preprocess.mean: needs one value per channel"),
    ({"encoder": "nature_cnn"}, "policy.encoder: encoder 'nature_cnn' needs images of at least 36"),
    ({"encoder": "resnet81"}, "policy.encoder: unknown encoder 'resnet81' (did you mean"),
    ({"groups": {"stem": {"frozen": True}}}, "policy.groups.stem.frozen: unknown key"),
]


@pytest.mark.parametrize("edit,message", POLICY_ERRORS)
def test_policy_mistakes_exit_2_naming_the_field(edit, message, pixel_study, tmp_path, capsys):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))  # an empty hub cache
    pixel_study["policy"].update(edit)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(pixel_study))
    try:
        code = main(["run", str(path), "--out", str(tmp_path / "runs"), "--quiet"])
    finally:
        torch.hub.set_dir(old)
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{path}: " in err and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_dqn_has_no_shared_extractor_option(pixel_study, tmp_path, capsys):
    pixel_study.update(algo="dqn", hyperparams={"learning_starts": 16})
    pixel_study["policy"]["share_features_extractor"] = True
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(pixel_study))
    assert main(["run", str(path), "--quiet"]) == 2
    assert "policy.share_features_extractor: dqn has no separate actor" in capsys.readouterr().err
