"""Kickstarting: with λ = 0 training is bitwise plain SB3 (the term is computed but adds zeros),
with λ > 0 the student moves toward the teacher (PPO, A2C, DQN), λ decays on its schedule, the
teacher gets the raw observations of exactly the minibatch, and the method runs in studies (W&B
offline logs read back; trained source and ``source.checkpoint``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rltransfer import run_study
from rltransfer.agents import build_model
from rltransfer.cli import main
from rltransfer.config.spec import PolicySpec
from rltransfer.methods import METHODS, BuildPlan, SourceArtifact, TransferContext
from rltransfer.methods.kickstart import kl_teacher_student
from rltransfer.tracking.offline_reader import read_offline_runs
from tests.teacher_harness import attach

POLICY = PolicySpec(net_arch=[16, 16])
HP = {
    "ppo": {"n_steps": 32, "batch_size": 32, "n_epochs": 2},
    "a2c": {"n_steps": 8},
    "dqn": {"learning_starts": 64, "train_freq": 4, "buffer_size": 2000},
}


class Offset(gym.ObservationWrapper):
    """CartPole with 100 added to every observation: raw and normalised ones tell apart."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)

    def observation(self, obs: np.ndarray) -> np.ndarray:
        return (obs + 100.0).astype(np.float32)


def _env(n: int = 2, offset: bool = False, normalize: bool = False) -> Any:
    def make() -> gym.Env:
        env = gym.make("CartPole-v1")
        return Offset(env) if offset else env

    venv = DummyVecEnv([make] * n)
    return VecNormalize(venv, norm_reward=False) if normalize else venv


def _model(algo: str = "ppo", seed: int = 0, env: Any = None, **hp: Any) -> Any:
    return build_model(
        algo,
        env if env is not None else _env(n=1 if algo == "dqn" else 2),
        hyperparams={**HP[algo], **hp},
        policy=POLICY,
        seed=seed,
        device="cpu",
    )


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, SourceArtifact]:
    """Small trained CartPole source agents (PPO, A2C, DQN), saved."""
    root = tmp_path_factory.mktemp("sources")
    out = {}
    for algo in ("ppo", "a2c", "dqn"):
        model = _model(algo, seed=100)
        model.learn(256)
        model.save(root / f"{algo}.zip")
        out[algo] = SourceArtifact(root / f"{algo}.zip")
    return out


def _kickstart(model: Any, source: SourceArtifact, budget: int | None = None, **options: Any):
    return attach("kickstart", model, source, POLICY, budget, **options)


def _sharpen(method: Any) -> None:
    """Give the teacher an output layer of its own, so its distribution is peaked and far from
    a fresh student's."""
    policy = method.teacher.policy
    dqn = not hasattr(policy, "action_net")
    head = policy.q_net.q_net[-1] if dqn else policy.action_net
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # (ReLU features of DQN are small and alike: a larger scale)
        head.weight.copy_((30.0 if dqn else 3.0) * torch.randn(head.weight.shape, generator=gen))
        head.bias.zero_()


def _params(model: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.policy.state_dict().items()}


def _states(n: int = 256) -> np.ndarray:
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=123)
    out = []
    rng = np.random.default_rng(0)
    for _ in range(n):
        out.append(obs)
        obs, _, done, truncated, _ = env.step(int(rng.integers(2)))
        if done or truncated:
            obs, _ = env.reset()
    return np.asarray(out, dtype=np.float32)


@torch.no_grad()
def _kl(method: Any, model: Any, states: np.ndarray) -> float:
    """Mean KL(teacher ‖ student) on ``states``, as the method measures it."""
    teacher = method.teacher.distribution(method.teacher.prepare(states))
    obs = torch.as_tensor(states)
    if hasattr(model.policy, "q_net"):
        student = torch.distributions.Categorical(logits=model.policy.q_net(obs))
    else:
        student = model.policy.get_distribution(obs)
    return float(kl_teacher_student(teacher, student).mean())


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn"])
def test_zero_weight_trains_bitwise_as_plain_sb3(sources, algo):
    plain = _model(algo, seed=3)
    plain.learn(320)
    model = _model(algo, seed=3)
    method, _, _ = _kickstart(model, sources[algo], weight=0.0, decay="constant")
    _sharpen(method)  # a large KL, with zero weight
    model.learn(320)
    after = method.after_training(model)
    a, b = _params(plain), _params(model)
    assert all(torch.equal(a[k], b[k]) for k in a), algo
    assert after["distill_loss"]["minibatches"] > 0 and after["distill_loss"]["mean"] > 0.1
    assert after["coef"] == {"initial": 0.0, "final": 0.0}


@pytest.mark.parametrize(
    ("algo", "weight", "steps", "hp"),
    [
        ("ppo", 5.0, 640, {"learning_rate": 3e-3}),
        ("a2c", 5.0, 640, {}),
        ("dqn", 10.0, 800, {"learning_rate": 1e-3}),
    ],
)
def test_kickstart_moves_the_student_toward_the_teacher(sources, algo, weight, steps, hp):
    states = _states()
    plain = _model(algo, seed=5, **hp)
    method0, _, _ = _kickstart(plain, sources[algo], weight=0.0, decay="constant")
    _sharpen(method0)
    start = _kl(method0, plain, states)
    plain.learn(steps)
    model = _model(algo, seed=5, **hp)
    method, _, _ = _kickstart(model, sources[algo], weight=weight, decay="constant")
    _sharpen(method)
    model.learn(steps)
    kl_plain, kl_kick = _kl(method0, plain, states), _kl(method, model, states)
    assert kl_kick < 0.5 * kl_plain and kl_kick < 0.5 * start, (start, kl_plain, kl_kick)
    losses = method.after_training(model)["distill_loss"]
    assert losses["end"] < losses["start"]
    assert any(not torch.equal(v, _params(plain)[k]) for k, v in _params(model).items())


@pytest.mark.parametrize(
    ("options", "horizon"),
    [
        ({"decay": "linear", "until_steps": 512}, 512),
        ({"decay": "exponential", "until": 0.5}, 512),
        ({"decay": "step", "until": 0.25}, 256),
    ],
)
def test_coefficient_decays_on_its_schedule(sources, options, horizon):
    budget = 1024
    model = _model()
    method, record, logged = _kickstart(model, sources["ppo"], budget=budget, weight=2.0, **options)
    model.learn(budget, callback=method.callbacks())
    after = method.after_training(model)
    schedule = method.schedule
    assert after["schedule"]["until_steps"] == horizon == schedule.horizon
    t, coef = np.array(after["timeline"]["points"])[:, :2].T
    assert list(t) == list(range(64, horizon, 64))  # one update every 64 env steps, until H
    assert coef == pytest.approx([schedule(int(x)) for x in t], abs=1e-6)
    assert np.all(np.diff(coef) <= 0)
    assert after["coef"] == {"initial": 2.0, "final": 0.0}
    assert {k for _, m in logged for k in m} == {"kickstart_coef", "distill_loss"}
    assert [x for x, _ in logged] == list(t)
    assert record["logged"]["wandb"] == ["transfer/kickstart_coef", "transfer/distill_loss"]


@pytest.mark.parametrize("normalize", [False, True])
def test_teacher_gets_the_raw_observations_of_the_minibatch(sources, normalize):
    env = _env(n=2, offset=normalize, normalize=normalize)
    if normalize:  # frozen statistics, so the raw → normalised map is known
        env.training = False
        env.obs_rms.mean[:] = 100.0
    model = _model(env=env)
    method, _, _ = _kickstart(model, sources["ppo"], weight=1.0, decay="constant")
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    prepare, evaluate = method.teacher.prepare, model.policy.evaluate_actions
    seen: list[np.ndarray] = []
    method.teacher.prepare = lambda obs: (seen.append(np.array(obs)), prepare(obs))[1]

    def spy(obs, actions):
        out = evaluate(obs, actions)
        pairs.append((obs.numpy().copy(), seen[-1]))
        return out

    model.policy.evaluate_actions = spy
    model.learn(128)
    assert len(pairs) == 8  # 2 updates × 2 epochs × 2 minibatches of 32
    for obs, raw in pairs:
        expected = env.normalize_obs(raw) if normalize else raw
        assert np.allclose(obs, expected, atol=1e-5)
        assert not normalize or np.all(raw > 90)


def test_dqn_replay_samples_are_sb3s_own_under_vecnormalize(sources):
    env = _env(n=2, offset=True, normalize=True)
    model = _model("dqn", env=env)
    method, record, _ = _kickstart(model, sources["dqn"], weight=1.0, decay="constant")
    model.learn(200)
    state = np.random.get_state()
    got = model.replay_buffer.sample(32, env=env)  # hooked
    raw = method._pending
    np.random.set_state(state)
    want = ReplayBuffer.sample(model.replay_buffer, 32, env=env)  # SB3's own
    for name in ("observations", "actions", "next_observations", "dones", "rewards"):
        assert torch.equal(getattr(got, name), getattr(want, name)), name
    assert np.all(raw > 90) and np.all(np.abs(got.observations.numpy()) <= 10)
    assert record["attached_to"].startswith("the Q-values")
    after = method.after_training(model)
    assert after["distill_loss"]["minibatches"] > 0
    assert "sample" not in vars(model.replay_buffer) and not model.policy.q_net._forward_hooks


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_teacher_gets_the_minibatch_images_on_pixels(tmp_path, algo):
    """Image observations, which SB3 transposes to channel-first: the teacher gets exactly the
    minibatch's images (PPO: looked up by index), and the loss is logged (PPO, DQN)."""
    from rltransfer.envs.vision_testing import GridPixelEnv

    policy = PolicySpec("tiny_cnn", net_arch=[8])
    hp = {"ppo": {"n_steps": 16, "batch_size": 32, "n_epochs": 1},
          "dqn": {"learning_starts": 16, "buffer_size": 500}}[algo]  # fmt: skip

    def model() -> Any:
        env = DummyVecEnv([lambda: GridPixelEnv(size=16, max_steps=12)] * 2)
        return build_model(algo, env, hyperparams=hp, policy=policy, seed=1, device="cpu")

    source = model()
    source.learn(32)
    source.save(tmp_path / "pixels.zip")
    artifact = SourceArtifact(tmp_path / "pixels.zip")
    student = model()
    cls = METHODS["kickstart"]
    method = cls(cls.parse_options({"decay": "constant"}, "options"))
    method.configure(BuildPlan(algo, policy, hp), artifact)
    method.apply(TransferContext(student, student.get_env(), artifact))
    seen: list[np.ndarray] = []
    prepare = method.teacher.prepare
    method.teacher.prepare = lambda obs: (seen.append(np.array(obs)), prepare(obs))[1]
    pairs = []
    if algo == "ppo":
        evaluate = student.policy.evaluate_actions

        def spy(obs, actions):
            out = evaluate(obs, actions)
            pairs.append((obs.numpy().copy(), seen[-1]))
            return out

        student.policy.evaluate_actions = spy
    student.learn(96)
    losses = method.after_training(student)["distill_loss"]
    assert losses["minibatches"] > 0 and np.isfinite(losses["mean"])
    assert seen and seen[0].shape[1:] == (3, 16, 16)  # channel-first, as the policy sees
    for obs, raw in pairs:
        assert np.array_equal(obs, raw.astype(np.float32))
    assert len(pairs) == (3 if algo == "ppo" else 0)


# --- studies --------------------------------------------------------------------------------------


def _meta(root: Path, method: str) -> dict[str, Any]:
    return json.loads((root / "target" / method / "seed_0" / "meta.json").read_text())


def test_kickstart_in_a_study_logs_to_wandb_and_runs_from_a_checkpoint(
    tiny_study, tmp_path, write_study
):
    tiny_study["seeds"] = [0]
    tiny_study["methods"] = [
        "scratch",
        {"name": "kickstart", "method": "kickstart", "weight": 2.0, "until": 1.0},
    ]
    tiny_study["tracking"] = {"wandb": {"mode": "offline", "project": "rlt-test"}}
    result = run_study(tiny_study, out=tmp_path / "a", quiet=True)
    meta = _meta(result.out_dir, "kickstart")
    t = meta["transfer"]
    assert meta["status"] == "complete" and t["transferred"] == "policy"
    assert t["teacher"]["algo"] == "ppo" and t["teacher"]["checkpoint"].endswith("model.zip")
    assert t["coef"] == {"initial": 2.0, "final": 0.0}
    assert t["schedule"]["until_steps"] == 384
    assert t["distill_loss"]["start"] is not None and t["distill_loss"]["end"] is not None
    # W&B (offline) holds the coefficient and the loss against env steps, as the record does
    run = next(r for r in read_offline_runs(result.out_dir / "wandb") if "kickstart" in r.name)
    rows = [h for h in run.history if "transfer/kickstart_coef" in h]
    assert [h["timesteps"] for h in rows] == [128, 256]  # updates before λ reaches 0 at 384
    coefs = [h["transfer/kickstart_coef"] for h in rows]
    assert coefs == pytest.approx([2.0 * (1 - 128 / 384), 2.0 * (1 - 256 / 384)])
    assert all(h["transfer/distill_loss"] >= 0 for h in rows)
    points = np.array(t["timeline"]["points"])
    assert points[:, 0].tolist() == [128, 256]
    assert points[:, 1] == pytest.approx(coefs, abs=1e-6)
    assert points[:, 2] == pytest.approx([h["transfer/distill_loss"] for h in rows], abs=1e-6)

    checkpoint = next((result.out_dir / "source").rglob("model.zip"))
    tiny_study["source"] = {"checkpoint": str(checkpoint)}
    tiny_study["tracking"] = {"wandb": {"mode": "disabled"}}
    tiny_study["methods"] = ["scratch", {"name": "kickstart", "method": "kickstart"}]
    path = write_study(tiny_study)
    assert main(["run", str(path), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    t = _meta(tmp_path / "b" / "tiny", "kickstart")["transfer"]
    assert t["teacher"]["checkpoint"] == str(checkpoint)
    assert t["coef"]["initial"] == 1.0 and t["distill_loss"]["minibatches"] > 0


@pytest.mark.parametrize(
    ("method", "field", "words"),
    [
        ({"method": "kickstart", "weight": -1}, "methods[1].weight", ">= 0"),
        ({"method": "kickstart", "decay": "cosine"}, "methods[1].decay", "must be one of"),
        ({"method": "kickstart", "until": 0.5, "until_steps": 100}, "methods[1].until_steps",
         "not both"),
        ({"method": "kickstart", "decay": "constant", "until": 0.5}, "methods[1].until",
         "no horizon"),
        ({"method": "kickstart", "teacher": {"polcy": {}}}, "methods[1].teacher.polcy",
         "did you mean 'policy'"),
    ],
)  # fmt: skip
def test_kickstart_option_mistakes_exit_2_naming_the_field(
    tiny_study, study_exit_2, method, field, words
):
    tiny_study["methods"] = ["scratch", method]
    err = study_exit_2(tiny_study)
    assert field in err and words in err, err
    assert "Traceback" not in err


def test_kickstart_rejects_a_sac_study(tiny_study, study_exit_2, tmp_path):
    env = {"id": "rltransfer/Pendulum-v0"}
    tiny_study.update(algo="sac", hyperparams={})
    tiny_study["source"]["env"] = env
    tiny_study["target"]["env"] = env
    tiny_study["methods"] = ["scratch", "kickstart"]
    err = study_exit_2(tiny_study)
    assert "methods[1].method" in err and "sac" in err and "reuse supports it" in err, err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("meta.json"))
