"""Per-group training: freeze (BatchNorm kept in eval), LR multipliers as optimizer parameter
groups inside SB3, reinitialisation, progressive unfreezing."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from rltransfer.agents import build_model
from rltransfer.config.parse import parse_dataclass
from rltransfer.config.spec import PolicySpec
from rltransfer.envs.vision_testing import GridPixelEnv
from rltransfer.vision.sb3 import extractors_of

PPO_TINY = {"n_steps": 16, "batch_size": 16, "n_epochs": 1}


def _model(policy: dict, algo: str = "ppo", hyper: dict | None = None, seed: int = 0):
    env = DummyVecEnv([lambda: GridPixelEnv(size=32, channel_first=True)])
    spec = parse_dataclass(PolicySpec, {"net_arch": [8], **policy}, "policy")
    return build_model(
        algo, env, hyperparams=hyper or PPO_TINY, policy=spec, seed=seed, device="cpu"
    )


def test_freeze_keeps_batchnorm_in_eval_and_parameters_fixed():
    model = _model({"encoder": "tiny_cnn", "groups": {"stem": "freeze"}})
    enc = extractors_of(model.policy)[0].encoder
    stem = [p.clone() for p in enc.group_parameters("stem")]
    head = [p.clone() for p in enc.group_parameters("head")]
    bn = enc.trunk.stem[1]
    stats = bn.running_mean.clone()
    model.policy.set_training_mode(True)
    assert not bn.training and enc.trunk.stage1.training
    model.learn(64)
    assert all(torch.equal(a, b) for a, b in zip(stem, enc.group_parameters("stem"), strict=True))
    assert torch.equal(stats, bn.running_mean)
    assert not all(
        torch.equal(a, b) for a, b in zip(head, enc.group_parameters("head"), strict=True)
    )
    assert all(not p.requires_grad for p in enc.group_parameters("stem"))


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_lr_multipliers_become_optimizer_parameter_groups(algo):
    hyper = PPO_TINY if algo == "ppo" else {"n_steps": 8}
    model = _model({"encoder": "tiny_cnn", "groups": {"stage1": {"finetune": 0.1}}}, algo, hyper)
    opt = model.policy.optimizer
    base = torch.optim.Adam if algo == "ppo" else torch.optim.RMSprop
    assert isinstance(opt, base)
    mults = sorted(g["lr_mult"] for g in opt.param_groups)
    assert mults == [0.1, 1.0]
    enc = extractors_of(model.policy)[0].encoder
    slow = next(g for g in opt.param_groups if g["lr_mult"] == 0.1)
    assert {id(p) for p in slow["params"]} == {id(p) for p in enc.group_parameters("stage1")}
    model.learn(32)
    lr = model.lr_schedule(1.0)
    assert all(g["lr"] == pytest.approx(lr) for g in opt.param_groups)  # SB3 sets the base LR
    # one step with equal gradients moves the slow group 10 times less
    opt.zero_grad()
    params = [p for g in opt.param_groups for p in g["params"]]
    for p in params:
        p.grad = torch.ones_like(p)
    opt.state.clear()
    before = [p.detach().clone() for p in params]
    opt.step()
    moved = {
        id(p): float((p.detach() - b).abs().max()) for p, b in zip(params, before, strict=True)
    }
    fast = next(g for g in opt.param_groups if g["lr_mult"] == 1.0)
    ratio = max(moved[id(p)] for p in slow["params"]) / max(moved[id(p)] for p in fast["params"])
    assert ratio == pytest.approx(0.1, rel=1e-3)


def test_saved_model_with_parameter_groups_loads(tmp_path):
    from stable_baselines3 import PPO

    model = _model({"encoder": "tiny_cnn", "groups": {"stem": {"finetune": 0.5}}})
    model.learn(16)
    model.save(tmp_path / "m.zip")
    loaded = PPO.load(tmp_path / "m.zip", device="cpu")
    assert len(loaded.policy.optimizer.param_groups) == 2
    obs = np.stack([GridPixelEnv(32, channel_first=True).reset(seed=1)[0]])
    assert np.array_equal(
        model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0]
    )


def test_reinit_differs_from_the_loaded_weights(tmp_path):
    from rltransfer.vision import create_encoder, save_weights

    space = gym.spaces.Box(0, 255, (3, 32, 32), np.uint8)
    path = save_weights(tmp_path / "w.pt", create_encoder("tiny_cnn", space), {"source": "test"})
    saved = torch.load(path, weights_only=True)["state_dict"]
    model = _model({"encoder": "tiny_cnn", "weights": str(path), "groups": {"head": "reinit"}})
    enc = extractors_of(model.policy)[0].encoder
    state = enc.state_dict()
    assert torch.equal(state["trunk.stem.0.weight"], saved["trunk.stem.0.weight"])
    assert not torch.equal(state["head.0.weight"], saved["head.0.weight"])


def test_progressive_unfreezing_starts_training_a_group_at_its_step():
    model = _model({"encoder": "tiny_cnn", "groups": {"all": {"unfreeze_at": 48}}})
    enc = extractors_of(model.policy)[0].encoder
    before = [p.clone() for p in enc.group_parameters("stage1")]
    model.learn(32)
    assert enc.frozen == {"stem", "stage1", "head"}
    assert all(
        torch.equal(a, b) for a, b in zip(before, enc.group_parameters("stage1"), strict=True)
    )
    model.learn(64, reset_num_timesteps=False)
    assert enc.frozen == set() and min(enc.unfrozen_at.values()) >= 48
    assert not all(
        torch.equal(a, b) for a, b in zip(before, enc.group_parameters("stage1"), strict=True)
    )


def test_actor_and_critic_encoders_shared_or_not():
    shared = _model({"encoder": "tiny_cnn", "share_features_extractor": True})
    assert len(extractors_of(shared.policy)) == 1
    split = _model({"encoder": "tiny_cnn", "share_features_extractor": False})
    pi, vf = extractors_of(split.policy)
    assert pi is not vf and pi.encoder is not vf.encoder
