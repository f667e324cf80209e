"""Probabilistic policy reuse: the realised fraction of teacher actions follows ψ's schedule, PPO
stores the mixture's log-probabilities, A2C weights its policy gradient by the truncated ratio,
evaluation never asks the teacher, off-policy learners (DQN, SAC) reuse in their exploration,
and the method runs in studies (trained source and ``source.checkpoint``); also the schedules."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rltransfer import run_study
from rltransfer.agents import build_model
from rltransfer.cli import main
from rltransfer.config.parse import FieldError
from rltransfer.config.spec import PolicySpec
from rltransfer.methods import METHODS, BuildPlan, SourceArtifact, TransferContext
from rltransfer.methods.schedules import DecayOptions, Schedule, Timeline
from tests.teacher_harness import attach

POLICY = PolicySpec(net_arch=[16, 16])
PPO_HP = {"n_steps": 32, "batch_size": 32, "n_epochs": 2}
DQN_HP = {"learning_starts": 64, "train_freq": 4, "buffer_size": 2000, "target_update_interval": 64}
SAC_HP = {"learning_starts": 32, "buffer_size": 2000, "batch_size": 32}


class Offset(gym.ObservationWrapper):
    """CartPole with 100 added to every observation: raw and normalised ones tell apart."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)

    def observation(self, obs: np.ndarray) -> np.ndarray:
        return (obs + 100.0).astype(np.float32)


def _env(env_id: str = "CartPole-v1", n: int = 2, offset: bool = False, normalize: bool = False):
    def make() -> gym.Env:
        env = gym.make(env_id)
        return Offset(env) if offset else env

    venv = DummyVecEnv([make] * n)
    return VecNormalize(venv, norm_reward=False) if normalize else venv


def _model(algo: str = "ppo", seed: int = 0, env: Any = None, **hp: Any) -> Any:
    base = {"ppo": PPO_HP, "a2c": {"n_steps": 8}, "dqn": DQN_HP, "sac": SAC_HP}[algo]
    return build_model(
        algo,
        env if env is not None else _env(n=1 if algo in ("dqn", "sac") else 2),
        hyperparams={**base, **hp},
        policy=POLICY,
        seed=seed,
        device="cpu",
    )


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, SourceArtifact]:
    """Small trained source agents, saved: PPO, A2C and DQN on CartPole, PPO and SAC on
    Pendulum."""
    root = tmp_path_factory.mktemp("sources")
    out = {}
    for name, algo, env_id, steps in [
        ("ppo", "ppo", "CartPole-v1", 256),
        ("a2c", "a2c", "CartPole-v1", 256),
        ("dqn", "dqn", "CartPole-v1", 256),
        ("ppo_box", "ppo", "Pendulum-v1", 128),
        ("sac", "sac", "Pendulum-v1", 64),
    ]:
        n = 1 if algo in ("dqn", "sac") else 2
        model = _model(algo, seed=100, env=_env(env_id, n=n))
        model.learn(steps)
        model.save(root / f"{name}.zip")
        out[name] = SourceArtifact(root / f"{name}.zip")
    return out


def _reuse(model: Any, source: SourceArtifact, budget: int | None = None, **options: Any):
    return attach("reuse", model, source, POLICY, budget, **options)


def _one_rollout(model: Any) -> None:
    """One SB3 rollout into ``model.rollout_buffer``, as ``learn`` collects it."""
    _, callback = model._setup_learn(model.n_steps * model.n_envs)
    model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)


def _params(model: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.policy.state_dict().items()}


# --- the schedules ------------------------------------------------------------------------------


def test_schedules_decay_as_documented():
    lin = DecayOptions("linear", until=0.5).schedule(0.8, budget=1000)
    assert lin.horizon == 500
    assert [lin(t) for t in (0, 250, 499, 500, 900)] == pytest.approx([0.8, 0.4, 0.0016, 0, 0])
    exp = DecayOptions("exponential", until_steps=100).schedule(2.0, budget=10**6)
    assert exp(0) == 2.0 and exp(50) == pytest.approx(0.2) and exp(99) > 0 and exp(100) == 0
    step = DecayOptions("step").schedule(1.0, budget=400)  # default horizon: half the budget
    assert (step(199), step(200)) == (1.0, 0.0) and step.done(200) and not step.done(199)
    const = DecayOptions("constant").schedule(0.3, budget=10)
    assert const(10**9) == 0.3 and not const.done(10**9) and const.horizon is None
    with pytest.raises(ValueError):
        Schedule(1.0, "linear", None)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"until": 1.5}, "o.until"),
        ({"until": 0}, "o.until"),
        ({"until_steps": -3}, "o.until_steps"),
        ({"until": 0.5, "until_steps": 10}, "o.until_steps"),
        ({"decay": "constant", "until_steps": 10}, "o.until_steps"),
    ],
)
def test_schedule_option_mistakes_name_the_field(options, field):
    from rltransfer.config.parse import parse_dataclass

    with pytest.raises(FieldError) as e:
        parse_dataclass(DecayOptions, options, "o")
    assert e.value.path == field


def test_timeline_keeps_one_point_per_window_and_logs_it():
    logged = []
    tl = Timeline(("a",), every=10, log=lambda t, m: logged.append((t, m)), names={"a": "x_a"})
    for t in range(1, 26):
        tl.add(t, weight=2.0, a=t)
    tl.flush()
    assert [p[0] for p in tl.points] == [10, 20, 25]  # windows (0, 10], (10, 20], (20, 30]
    assert tl.column("a") == [5.5, 15.5, 23.0]
    assert logged[0] == (10, {"x_a": 5.5})
    assert tl.record()["columns"] == ["t", "a"]


# --- on-policy ------------------------------------------------------------------------------------


def test_constant_psi_realised_fraction_is_psi(sources):
    model = _model(env=_env(n=4))
    method, record, logged = _reuse(model, sources["ppo"], psi=0.5, decay="constant")
    model.learn(4096)
    after = method.after_training(model)
    assert record["transferred"] == "policy" and record["teacher"]["algo"] == "ppo"
    assert after["teacher_actions"]["steps"] == 4096
    assert after["teacher_actions"]["fraction"] == pytest.approx(0.5, abs=0.04)
    timeline = after["timeline"]
    assert timeline["columns"] == ["t", "psi", "fraction"] and len(timeline["points"]) <= 51
    assert all(p[1] == 0.5 for p in timeline["points"])
    fractions = [p[2] for p in timeline["points"]]
    assert np.mean(fractions) == pytest.approx(0.5, abs=0.04)
    assert {k for _, m in logged for k in m} == {"reuse_psi", "reuse_fraction"}


def test_linear_decay_realised_fraction_follows_the_schedule(sources):
    budget = 2048
    model = _model(env=_env(n=4))
    method, _, _ = _reuse(model, sources["ppo"], budget=budget, psi=1.0, until=0.5)
    model.learn(budget)
    after = method.after_training(model)
    assert after["schedule"]["until_steps"] == 1024 and after["schedule"]["decay"] == "linear"
    points = np.array(after["timeline"]["points"])
    t, psi, fraction = points[:, 0], points[:, 1], points[:, 2]
    early, late = t <= 256, t > 1024 + after["timeline"]["every"]
    assert fraction[early].mean() > 0.8  # ψ from 1 to 0.75
    assert np.all(fraction[late] == 0) and np.all(psi[late] == 0)  # the teacher is gone
    assert np.all(np.diff(psi) <= 1e-9)  # ψ never increases
    # over the run: the realised fraction is the mean of ψ(t) (1/4 of the budget)
    assert after["teacher_actions"]["fraction"] == pytest.approx(0.25, abs=0.04)


@pytest.mark.parametrize(("env_id", "source"), [("CartPole-v1", "ppo"), ("Pendulum-v1", "ppo_box")])
def test_ppo_rollout_stores_the_mixture_log_prob(sources, env_id, source):
    """The stored log-probability is log μ = log(ψ·π_T + (1−ψ)·π_θ), recomputed here."""
    psi = 0.4
    model = _model(env=_env(env_id, n=2), n_steps=64)
    method, _, _ = _reuse(model, sources[source], psi=psi, decay="constant")
    with torch.no_grad():  # a teacher unlike the learner, so that μ differs from π_θ
        for p in method.teacher.policy.action_net.parameters():
            p.mul_(30.0)
    _one_rollout(model)
    buf = model.rollout_buffer
    obs = torch.as_tensor(buf.observations.reshape(-1, *buf.obs_shape))
    actions = torch.as_tensor(buf.actions.reshape(-1, buf.action_dim))
    if isinstance(model.action_space, gym.spaces.Discrete):
        actions = actions.long().flatten()
    with torch.no_grad():
        log_student = model.policy.get_distribution(obs).log_prob(actions).double()
        teacher = method.teacher.distribution(method.teacher.prepare(obs.numpy()))
        log_teacher = teacher.log_prob(actions).double()
    expected = torch.logaddexp(math.log(psi) + log_teacher, math.log(1 - psi) + log_student)
    stored = torch.as_tensor(buf.log_probs.reshape(-1)).double()
    assert torch.allclose(stored, expected, atol=1e-4), (stored - expected).abs().max()
    assert (stored - log_student).abs().max() > 0.1  # not the learner's own log-probability
    frac = method.teacher_steps / method.steps
    assert 0.2 < frac < 0.6
    if env_id == "Pendulum-v1":  # unclipped Gaussian samples are stored, as SB3 stores its own
        assert np.abs(buf.actions).max() > 0  # (sanity) and the env got clipped actions


def test_teacher_sees_raw_observations_under_vecnormalize(sources):
    model = _model(env=_env(n=2, offset=True, normalize=True), n_steps=32)
    method, _, _ = _reuse(model, sources["ppo"], psi=1.0, decay="constant", teacher_action="mode")
    seen: list[np.ndarray] = []
    prepare = method.teacher.prepare
    method.teacher.prepare = lambda obs: (seen.append(np.array(obs)), prepare(obs))[1]
    _one_rollout(model)
    raw = np.concatenate(seen)
    assert raw.shape == (64, 4) and np.all(raw > 90)  # raw: 100 + CartPole's state
    assert np.all(np.abs(model.rollout_buffer.observations) <= 10)  # the learner's: normalised
    with torch.no_grad():
        greedy = method.teacher.distribution(prepare(raw)).mode().numpy()
    # ψ = 1 with the teacher's mode: every action is the teacher's on the raw observation
    assert np.array_equal(model.rollout_buffer.actions.reshape(-1), greedy.astype(np.float32))
    assert np.all(model.rollout_buffer.log_probs == 0)  # log μ = log 1


@pytest.mark.parametrize("clip", [5.0, None])
def test_teacher_normalises_with_the_sources_vecnormalize_settings(tmp_path, clip):
    """A source trained with ``normalize: {clip_obs: 5}``: its teacher clips at 5, exactly as
    the source's own VecNormalize does. A ``normalize.json`` from before the settings were
    stored (``clip: None``) gets SB3's defaults (clip_obs 10, epsilon 1e-8)."""
    import shutil

    from rltransfer.layout import MODEL_FILE, NORMALIZE_FILE
    from rltransfer.run import _save_model

    kwargs = {"clip_obs": clip} if clip is not None else {}
    env = VecNormalize(_env(n=2, offset=True), norm_reward=False, **kwargs)
    source = _model(env=env, n_steps=32)
    source.learn(64)  # statistics of 100 + CartPole's state
    (tmp_path / "run").mkdir()
    _save_model(source, tmp_path / "run")
    stats = json.loads((tmp_path / "run" / NORMALIZE_FILE).read_text())
    assert stats["clip_obs"] == (clip or 10.0) and stats["epsilon"] == 1e-8
    folder = tmp_path / "run"
    if clip is None:  # an older source run: statistics only
        folder = tmp_path / "old"
        folder.mkdir()
        shutil.copy(tmp_path / "run" / MODEL_FILE, folder / MODEL_FILE)
        old = {k: stats[k] for k in ("mean", "var", "count")}
        (folder / NORMALIZE_FILE).write_text(json.dumps(old))
    student = _model(env=_env(n=2, offset=True, normalize=True), n_steps=32)
    method, _, _ = _reuse(student, SourceArtifact.of_run(folder), psi=1.0, decay="constant")
    env.training = False  # the source's statistics, frozen
    mean, std = np.asarray(stats["mean"]), np.sqrt(np.asarray(stats["var"]))
    raw = np.stack([mean + 1000 * std, mean - 1000 * std, mean + 0.5 * std]).astype(np.float32)
    seen = method.teacher.prepare(raw).cpu().numpy()
    limit = clip or 10.0
    assert np.all(np.abs(seen[:2]) == limit) and np.all(np.abs(seen[2]) < 1)
    assert np.allclose(seen, env.normalize_obs(raw), atol=1e-6)


def test_evaluation_never_uses_the_teacher(sources):
    model = _model()
    method, _, _ = _reuse(model, sources["ppo"], psi=1.0, decay="constant")
    calls = {"n": 0}
    distribution = method.teacher.distribution

    def counted(obs):
        calls["n"] += 1
        return distribution(obs)

    method.teacher.distribution = counted
    model.learn(128)
    assert calls["n"] == 64  # one call per rollout step (2 env copies each)
    calls["n"] = 0
    env = _env(n=2)
    evaluate_policy(model, env, n_eval_episodes=4, deterministic=True, warn=False)
    obs = env.reset()
    action, _ = model.predict(obs, deterministic=True)
    with torch.no_grad():
        own = model.policy.get_distribution(model.policy.obs_to_tensor(obs)[0]).mode().numpy()
    assert calls["n"] == 0 and np.array_equal(action, own)
    method.after_training(model)
    assert "forward" not in vars(model.policy)  # the hook is gone after training


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_psi_zero_trains_exactly_as_plain(sources, algo):
    plain = _model(algo, seed=4)
    plain.learn(256)
    model = _model(algo, seed=4)
    method, _, _ = _reuse(model, sources[algo], psi=0.0, decay="constant")
    model.learn(256)
    assert method.after_training(model)["teacher_actions"]["teacher"] == 0
    a, b = _params(plain), _params(model)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a2c_policy_gradient_is_weighted_by_the_truncated_ratio(sources):
    model = _model("a2c", n_steps=16)
    method, _, _ = _reuse(model, sources["a2c"], psi=0.7, decay="constant")
    _one_rollout(model)
    samples = next(model.rollout_buffer.get(batch_size=None))  # through the hooked _get_samples
    actions = samples.actions.long().flatten()
    _, log_prob, _ = model.policy.evaluate_actions(samples.observations, actions)
    plain = type(model.policy).evaluate_actions(model.policy, samples.observations, actions)[1]
    assert torch.equal(log_prob.detach(), plain.detach())  # the value is unchanged
    rho = torch.exp(plain.detach() - samples.old_log_prob).clamp(max=1.0)
    assert rho.min() < 0.99  # some actions were the teacher's
    params = [p for p in model.policy.parameters() if p.requires_grad]
    got = torch.autograd.grad(log_prob.sum(), params, allow_unused=True)
    want = torch.autograd.grad((rho * plain).sum(), params, allow_unused=True)
    for g, w in zip(got, want, strict=True):
        assert (g is None and w is None) or torch.allclose(g, w, atol=1e-6)
    model.learn(64)  # and A2C trains with it
    assert method.after_training(model)["teacher_actions"]["fraction"] > 0.4


def test_a_copy_of_the_learner_as_teacher_on_pixels_stores_the_learners_log_prob(tmp_path):
    """Image observations (SB3 transposes them to channel-first): the teacher sees what the
    learner sees, so with the learner's own weights μ = π_θ, whoever acted."""
    from rltransfer.envs.vision_testing import GridPixelEnv

    policy = PolicySpec("tiny_cnn", net_arch=[8])
    env = DummyVecEnv([lambda: GridPixelEnv(size=16, max_steps=12)] * 2)
    hp = {"n_steps": 16, "batch_size": 32, "n_epochs": 1}
    model = build_model("ppo", env, hyperparams=hp, policy=policy, seed=1, device="cpu")
    model.save(tmp_path / "pixels.zip")
    artifact = SourceArtifact(tmp_path / "pixels.zip")
    cls = METHODS["reuse"]
    method = cls(cls.parse_options({"psi": 0.5, "decay": "constant"}, "options"))
    method.configure(BuildPlan("ppo", policy, hp), artifact)
    method.apply(TransferContext(model, model.get_env(), artifact))
    _one_rollout(model)
    buf = model.rollout_buffer
    obs = torch.as_tensor(buf.observations.reshape(-1, *buf.obs_shape))
    actions = torch.as_tensor(buf.actions.reshape(-1)).long()
    with torch.no_grad():
        own = model.policy.get_distribution(obs).log_prob(actions)
    assert torch.allclose(torch.as_tensor(buf.log_probs.reshape(-1)), own, atol=1e-5)
    assert 0 < method.teacher_steps < method.steps


# --- off-policy -----------------------------------------------------------------------------------


def test_dqn_reuse_runs_and_its_checkpoint_holds_no_hook(sources, tmp_path):
    model = _model("dqn")
    method, record, _ = _reuse(model, sources["dqn"], psi=0.5, decay="constant")
    assert record["teacher_action"] == "mode"  # a DQN teacher acts greedily
    model.learn(600)
    model.save(tmp_path / "during.zip")  # a save while the hook is installed
    with zipfile.ZipFile(tmp_path / "during.zip") as z:
        data = json.loads(z.read("data"))
    assert "_sample_action" not in data and "_excluded_save_params" not in data
    after = method.after_training(model)
    assert after["teacher_actions"]["fraction"] == pytest.approx(0.5, abs=0.1)
    assert "_sample_action" not in vars(model)
    # teacher steps are stored in the replay buffer as the teacher's greedy actions
    buf = model.replay_buffer
    obs = buf.observations[: buf.pos, 0]
    with torch.no_grad():
        greedy = method.teacher.distribution(method.teacher.prepare(obs)).mode().numpy()
    agree = (buf.actions[: buf.pos, 0, 0] == greedy).mean()
    assert agree > 0.6  # half are the teacher's, the learner agrees with it by chance on others


def test_sac_reuse_stores_the_teachers_actions_scaled(sources):
    model = _model("sac", env=_env("Pendulum-v1", n=1))
    method, _, _ = _reuse(model, sources["sac"], psi=1.0, decay="constant", teacher_action="mode")
    model.learn(48)
    buf = model.replay_buffer
    obs = buf.observations[: buf.pos, 0]
    teacher = method.teacher.act(obs, deterministic=True)
    assert np.allclose(buf.actions[: buf.pos, 0], model.policy.scale_action(teacher), atol=1e-5)
    method.after_training(model)


# --- studies --------------------------------------------------------------------------------------


def _meta(root: Path, method: str) -> dict[str, Any]:
    return json.loads((root / "target" / method / "seed_0" / "meta.json").read_text())


def test_reuse_in_a_study_and_with_a_source_checkpoint(tiny_study, tmp_path, write_study):
    tiny_study["seeds"] = [0]
    tiny_study["methods"] = ["scratch", {"name": "reuse", "method": "reuse", "psi": 0.6}]
    result = run_study(tiny_study, out=tmp_path / "a", quiet=True)
    meta = _meta(result.out_dir, "reuse")
    t = meta["transfer"]
    assert meta["status"] == "complete" and t["transferred"] == "policy"
    assert t["teacher"]["checkpoint"].endswith("model.zip") and t["teacher"]["algo"] == "ppo"
    assert t["schedule"]["until_steps"] == 192  # half of the target's 384 env steps
    assert 0.1 < t["teacher_actions"]["fraction"] < 0.35  # mean ψ: 0.6/4
    assert meta["options"]["psi"] == 0.6

    checkpoint = next((result.out_dir / "source").rglob("model.zip"))
    tiny_study["source"] = {"checkpoint": str(checkpoint)}
    tiny_study["methods"] = ["scratch", {"name": "reuse", "method": "reuse", "decay": "step"}]
    path = write_study(tiny_study)
    assert main(["run", str(path), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    t = _meta(tmp_path / "b" / "tiny", "reuse")["transfer"]
    assert t["teacher"]["checkpoint"] == str(checkpoint)
    assert t["teacher"]["observations"].startswith("raw (no normalisation")
    assert t["teacher_actions"]["fraction"] == pytest.approx(0.4, abs=0.15)  # 0.8 for half


@pytest.mark.parametrize(
    ("method", "field", "words"),
    [
        ({"method": "reuse", "decay": "linaer"}, "methods[1].decay", "did you mean 'linear'"),
        ({"method": "reuse", "psi": -0.1}, "methods[1].psi", "[0, 1]"),
        ({"method": "reuse", "psi": 1.5}, "methods[1].psi", "[0, 1]"),
        ({"method": "reuse", "until": 2000}, "methods[1].until", "until_steps"),
        ({"method": "reuse", "teacher_action": "greedy"}, "methods[1].teacher_action", "mode"),
        ({"method": "reuse", "teacher": {"temperature": 0}}, "methods[1].teacher.temperature",
         "> 0"),
    ],
)  # fmt: skip
def test_reuse_option_mistakes_exit_2_naming_the_field(
    tiny_study, study_exit_2, method, field, words
):
    tiny_study["methods"] = ["scratch", method]
    err = study_exit_2(tiny_study)
    assert field in err and words in err, err
    assert "Traceback" not in err


def test_reuse_rejects_a_deterministic_teacher_on_continuous_actions_for_ppo(
    tiny_study, study_exit_2
):
    env = {"id": "rltransfer/Pendulum-v0"}
    tiny_study["source"]["env"] = env
    tiny_study["target"]["env"] = env
    tiny_study["methods"] = ["scratch", {"method": "reuse", "teacher_action": "mode"}]
    err = study_exit_2(tiny_study)
    assert "methods[1].teacher_action" in err and "no density" in err, err
