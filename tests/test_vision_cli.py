"""`rltransfer encoders | pretrain | probe`, and a pretrained file used by the encoder factory."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from rltransfer.cli import main
from rltransfer.vision import create_encoder
from rltransfer.vision.weights import read_weight_file

ENV = '{id: "rltransfer.envs.vision_testing:GridPixelEnv", kwargs: {size: 32, max_steps: 8}}'


def test_encoders_lists_groups_and_feature_sizes(capsys):
    assert main(["encoders", "resnet18", "--json", "--taps"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["features"] == 512 and list(row["groups"]) == [
        "stem",
        "stage1",
        "stage2",
        "stage3",
        "stage4",
    ]
    assert row["groups"]["stage3"] == 256 and "trunk.layer3" in row["taps"]
    assert main(["encoders", "resnet1"]) == 2
    assert "did you mean 'resnet18'" in capsys.readouterr().err


def test_pretrain_writes_weights_a_study_can_use(tmp_path, capsys):
    out = tmp_path / "pre.pt"
    code = main(
        [
            "pretrain",
            "--env",
            ENV,
            "--env",
            ENV,
            "--encoder",
            "tiny_cnn",
            "--out",
            str(out),
            "--frames",
            "64",
            "--steps",
            "3",
            "--batch-size",
            "8",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "step 3/3: mae" in capsys.readouterr().out
    w = read_weight_file(out)
    assert w.provenance["source"] == "pretrain" and w.provenance["objectives"] == ["mae", "atc"]
    assert w.provenance["frames"] == 64 and w.preprocess is not None
    space = gym.spaces.Box(0, 255, (32, 32, 3), np.uint8)
    enc = create_encoder("tiny_cnn", space, str(out))
    assert enc.weights_report["missing"] == []


@pytest.mark.parametrize(
    "args,message",
    [
        (["--objectives", "mae,byol"], "--objectives: choose among mae, atc"),
        (["--out", "x.bin"], "--out: must end in .pt"),
        (["--encoder", "mlp"], "--encoder: mlp reads vectors"),
    ],
)
def test_pretrain_mistakes_exit_2(args, message, tmp_path, capsys):
    base = ["pretrain", "--env", ENV, "--encoder", "tiny_cnn", "--out", str(tmp_path / "w.pt")]
    assert main(base + args) == 2
    assert message in capsys.readouterr().err


def test_probe_on_env_states(capsys):
    code = main(
        [
            "probe",
            "--encoder",
            "tiny_cnn",
            "--env",
            ENV,
            "--frames",
            "60",
            "--folds",
            "3",
            "--norms",
            "none,discretize",
            "--json",
        ]
    )
    assert code == 0, capsys.readouterr().err
    rows = json.loads(capsys.readouterr().out)
    assert {(r["tap"], r["norm"]) for r in rows} >= {("stem", "none"), ("all", "discretize")}
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)


def test_probe_on_an_image_folder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for label, color in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
        (tmp_path / label).mkdir()
        for i in range(6):
            img = np.clip(np.array(color) + rng.integers(-20, 20, (24, 24, 3)), 0, 255)
            Image.fromarray(img.astype(np.uint8)).save(tmp_path / label / f"{i}.png")
    code = main(
        [
            "probe",
            "--encoder",
            "tiny_cnn",
            "--images",
            str(tmp_path),
            "--size",
            "32",
            "--folds",
            "3",
            "--taps",
            "stem",
            "--norms",
            "l2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "12 images, 2 classes" in out
    assert "stem" in out and "l2" in out


def test_readme_policy_example_parses():
    import re
    from pathlib import Path

    import yaml

    from rltransfer.config.parse import parse_dataclass
    from rltransfer.config.spec import PolicySpec

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    start = readme.index("## Vision encoders")
    block = re.compile(r"```yaml\n(.*?)```", re.S).search(readme, start).group(1)
    spec = parse_dataclass(PolicySpec, yaml.safe_load(block)["policy"], "policy")
    assert spec.groups["stage4"].lr == 0.1 and spec.features.taps == ["stage3", "stage4"]


def test_pretrain_on_frames_of_a_source_agent(tmp_path, capsys):
    from rltransfer import run_study

    env = {
        "id": "rltransfer.envs.vision_testing:GridPixelEnv",
        "kwargs": {"size": 32, "max_steps": 8},
    }
    study = {
        "name": "agent",
        "algo": "ppo",
        "seeds": [0],
        "hyperparams": {"n_envs": 1, "n_steps": 16, "batch_size": 16, "n_epochs": 1},
        "policy": {"encoder": "tiny_cnn", "net_arch": [8]},
        "source": {"env": env, "timesteps": 32},
        "target": {"env": env, "timesteps": 32},
        "methods": ["finetune"],
        "eval": {"every": 16, "episodes": 1},
        "threshold": 0.5,
        "score_range": {"low": -1.0, "high": 1.0},
        "tracking": {"wandb": {"mode": "disabled"}},
    }
    result = run_study(study, out=tmp_path, quiet=True)
    out = tmp_path / "agent.pt"
    code = main(
        [
            "pretrain",
            "--env",
            ENV,
            "--encoder",
            "tiny_cnn",
            "--out",
            str(out),
            "--agent",
            str(result.out_dir),
            "--frames",
            "24",
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--objectives",
            "mae",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert read_weight_file(out).provenance["policy"].startswith("source agent of")
