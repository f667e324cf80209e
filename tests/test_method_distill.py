"""The ``distill`` method: a CartPole student agrees with its teacher, both modes (the
student-driven one labels the student's own states), a smaller student, a state teacher taught
to a pixel student, studies end to end (the study's source and a checkpoint), option mistakes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

import rltransfer.envs  # noqa: F401  (registers the families)
from rltransfer import run_study
from rltransfer.agents import build_agent, build_model
from rltransfer.cli import main
from rltransfer.config.parse import parse_dataclass
from rltransfer.config.spec import EnvSpec, EvalSpec, PolicySpec
from rltransfer.config.zoo_defaults import zoo_defaults
from rltransfer.envs.wrappers import StateInInfo
from rltransfer.evaluation import GridClock, eval_grid
from rltransfer.layout import RunSpec
from rltransfer.methods import SourceArtifact, TransferContext, method_class
from rltransfer.methods.distill_core import agreement, distill_loss
from rltransfer.run import _make_train_env

CARTPOLE = "rltransfer/CartPole-v0"
CARTPOLE_HP = zoo_defaults("ppo", CARTPOLE)  # rl-zoo3's PPO settings: 8 envs, lin_0.001, ...
TEACHER = {"policy": {"net_arch": [64, 64]}}
GRID = {"obs_mode": "state", "grid": 6, "goal": "random", "size": 16}
GRID_HP = {"n_envs": 8, "n_steps": 32, "batch_size": 256, "n_epochs": 10, "ent_coef": 0.01,
           "learning_rate": 1e-3, "gamma": 0.95}  # fmt: skip


def _train_teacher(path: Path, env_id: str, kwargs: dict, hp: dict, steps: int) -> SourceArtifact:
    n = hp["n_envs"]
    venv = DummyVecEnv([lambda: Monitor(gym.make(env_id, **kwargs)) for _ in range(n)])
    model = build_model("ppo", venv, hyperparams=hp, net_arch=[64, 64], seed=0, device="cpu")
    model.learn(steps)
    model.save(path)
    return SourceArtifact(path)


@pytest.fixture(scope="module")
def cartpole_teacher(tmp_path_factory) -> SourceArtifact:
    """PPO ([64, 64]) on CartPole, rl-zoo3's settings, 24,576 steps: a return of ~450 (~8 s)."""
    path = tmp_path_factory.mktemp("teacher") / "cartpole.zip"
    return _train_teacher(path, CARTPOLE, {}, CARTPOLE_HP, 24_576)


@pytest.fixture(scope="module")
def grid_teacher(tmp_path_factory) -> SourceArtifact:
    """PPO ([64, 64]) on PixelGrid's STATE vector (agent and goal cells), random goals (~5 s)."""
    path = tmp_path_factory.mktemp("teacher") / "grid.zip"
    return _train_teacher(path, "rltransfer/PixelGrid-v0", GRID, GRID_HP, 16_384)


def _setup(
    source: SourceArtifact,
    options: dict[str, Any],
    env: dict[str, Any] | str = CARTPOLE,
    policy: dict[str, Any] | None = None,
    hyperparams: dict[str, Any] | None = None,
    algo: str = "ppo",
    seed: int = 0,
) -> tuple[Any, TransferContext, dict[str, Any]]:
    """The method, its context and its ``apply`` record, built as a run builds them."""
    cls = method_class("distill", "method")
    method = cls(cls.parse_options(options, "options"))
    spec = RunSpec(
        run_id="test", role="target", label="distill", seed=seed,
        env=parse_dataclass(EnvSpec, env, "env"), timesteps=0, algo=algo,
        hyperparams=hyperparams or CARTPOLE_HP,
        policy=parse_dataclass(PolicySpec, policy or {"net_arch": [64, 64]}, "policy"),
        eval=EvalSpec(), eval_seed=0, device="cpu", out_dir="unused", study="test",
    )  # fmt: skip
    venv, recipe = _make_train_env(spec, method, source)
    model = build_agent(recipe, venv)
    ctx = TransferContext(model, venv, source)
    return method, ctx, method.apply(ctx).to_json()


def _distill(method: Any, ctx: TransferContext, budget: int) -> tuple[int, dict[str, Any]]:
    used = method.before_learning(ctx, budget, lambda t: True)
    return used, method.after_training(ctx.model)


def test_distilled_cartpole_student_agrees_with_its_teacher(cartpole_teacher):
    logged: list[tuple[int, dict[str, float]]] = []
    method, ctx, record = _setup(cartpole_teacher, {"rl": False, "teacher": TEACHER})
    ctx.log = lambda t, m: logged.append((t, m))
    used, facts = _distill(method, ctx, 6000)
    assert used == 6000 and facts["distillation_steps"] == 6000  # rl: false → the whole budget
    agree = facts["agreement"]
    assert facts["heldout"]["states"] == 1000
    assert agree["distilled"] >= 0.95, agree
    assert facts["return"]["distilled"] >= 200  # the teacher: ~450
    assert agree["final"] == agree["distilled"] and facts["rl_steps"] == 0
    assert record["transferred"] == "policy (distillation)" and record["mode"] == "student"
    assert [t for t, _ in logged] == sorted(t for t, _ in logged) and len(logged) == 8
    assert {"distill_loss", "distill_agreement", "distill_beta"} <= set(logged[-1][1])
    assert logged[-1][1]["distill_loss"] < logged[0][1]["distill_loss"]


def test_teacher_driven_mode_learns_on_the_teachers_trajectories(cartpole_teacher):
    options = {"mode": "teacher", "actions": "mode", "rl": False, "teacher": TEACHER}
    method, ctx, _ = _setup(cartpole_teacher, options)
    _, facts = _distill(method, ctx, 4000)
    data = method.data.arrays()
    assert not data["student"].any() and facts["dataset"]["student_acted"] == 0.0
    assert np.array_equal(data["acted"], data["action"])  # the teacher's argmax was executed
    assert facts["agreement"]["distilled"] >= 0.9, facts["agreement"]


def test_student_driven_mode_labels_the_students_own_states(cartpole_teacher):
    options = {"mode": "student", "beta": 0.0, "actions": "mode", "rl": False,
               "teacher": TEACHER, "rounds": 4, "loss": "nll"}  # fmt: skip
    method, ctx, _ = _setup(cartpole_teacher, options, policy={"net_arch": [8]})
    initial = copy.deepcopy(ctx.model.policy)
    _, facts = _distill(method, ctx, 2000)
    data = method.data.arrays()
    assert data["student"].all() and facts["dataset"]["student_acted"] == 1.0
    first = data["round"] == 0  # collected before any training: the initial student acted
    with torch.no_grad():
        obs, _ = initial.obs_to_tensor(data["obs"][first])
        own = initial.get_distribution(obs).mode().numpy()
    assert np.array_equal(data["acted"][first], own)
    # the labels are the teacher's, and it disagrees with the untrained student's choices
    assert (data["action"][first] != own).mean() > 0.1
    # the untrained student drops the pole quickly: many more episodes than the teacher's
    assert facts["dataset"]["episodes_ended"] >= 20


def test_a_smaller_student_distils(cartpole_teacher):
    """Compression: a [64, 64] teacher (9,155 parameters) into an [8] student (107)."""
    method, ctx, record = _setup(
        cartpole_teacher, {"rl": False, "teacher": TEACHER}, policy={"net_arch": [8]}
    )
    _, facts = _distill(method, ctx, 6000)
    assert record["teacher"]["parameters"] > 50 * record["student"]["parameters"]
    assert facts["agreement"]["distilled"] >= 0.95, facts["agreement"]


def test_grid_points_during_distillation_see_the_student_as_trained_so_far(cartpole_teacher):
    method, ctx, _ = _setup(cartpole_teacher, {"steps": 2000, "rounds": 4, "teacher": TEACHER})
    weights = ctx.model.policy.action_net.weight
    seen: dict[int, torch.Tensor] = {}

    def evaluate(t: int) -> bool:
        seen[t] = weights.detach().clone()
        return True

    initial = weights.detach().clone()
    clock = GridClock(eval_grid(4000, 400), evaluate)
    used = method.before_learning(ctx, 4000, clock.advance)
    assert used == 2000  # rl: true → learn trains for the other 2,000 steps
    assert sorted(seen) == [400, 800, 1200, 1600, 2000]  # evaluated during distillation
    assert torch.equal(seen[400], initial)  # in round 1 (steps 0–496): not trained yet
    assert not torch.equal(seen[2000], initial)


def test_state_teacher_distils_into_a_pixel_student(grid_teacher):
    """Cross-modal: the teacher reads PixelGrid's state vector from ``info["state"]``
    (``StateInInfo``); the student (tiny_cnn) sees only 16×16 pixels."""
    env = {"id": "rltransfer/PixelGrid-v0", "kwargs": {**GRID, "render_mode": "rgb_array"},
           "wrappers": ["StateInInfo", "PixelObservation"]}  # fmt: skip
    options = {"teacher_obs": "state", "teacher": TEACHER, "rl": False, "beta": 0.0,
               "heldout": {"steps": 800, "episodes": 10}}  # fmt: skip
    method, ctx, record = _setup(
        grid_teacher, options, env=env, policy={"encoder": "tiny_cnn"},
        hyperparams={"n_envs": 8, "n_steps": 32, "batch_size": 256},
    )  # fmt: skip
    assert ctx.model.observation_space.shape == (3, 16, 16)  # the student sees pixels only
    assert record["teacher"]["observation_space"] == "Box(4,)"
    _, facts = _distill(method, ctx, 4000)
    agree = facts["agreement"]
    # 4 actions: chance is 25%; the untrained student is near it, the distilled one far above
    assert agree["initial"] < 0.5, agree
    assert agree["distilled"] >= 0.75 and agree["distilled"] - agree["initial"] >= 0.4, agree
    ret = facts["return"]  # reward 1 at the goal, -0.01 per step, 100 steps at most
    assert ret["distilled"] >= ret["initial"] + 0.8 and ret["distilled"] > 0.5, ret


def test_a_dqn_student_distils_and_its_target_network_follows(tmp_path):
    """DQN: softmax(Q / T) for teacher and student; an untrained DQN teacher is enough here."""
    hp = {"learning_starts": 0}
    venv = DummyVecEnv([lambda: Monitor(gym.make(CARTPOLE))])
    build_model("dqn", venv, hyperparams=hp, net_arch=[64, 64], seed=5, device="cpu").save(
        tmp_path / "dqn.zip"
    )
    options = {"rl": False, "teacher": {**TEACHER, "temperature": 0.1},
               "heldout": {"steps": 300, "episodes": 2}}  # fmt: skip
    method, ctx, record = _setup(
        SourceArtifact(tmp_path / "dqn.zip"), options, policy={"net_arch": [16]},
        hyperparams=hp, algo="dqn", seed=1,
    )  # fmt: skip
    _, facts = _distill(method, ctx, 1500)
    assert record["student"]["parameters"] < record["teacher"]["parameters"]
    assert facts["agreement"]["distilled"] >= 0.9, facts["agreement"]
    q = ctx.model.policy
    pairs = zip(q.q_net.parameters(), q.q_net_target.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_losses_and_agreement_for_categorical_and_gaussian_actions():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    same = torch.distributions.Categorical(logits=logits)
    batch = {"logits": logits, "action": torch.tensor([0, 1])}
    assert distill_loss(same, batch, "kl", None).item() == pytest.approx(0.0, abs=1e-6)
    other = torch.distributions.Categorical(logits=torch.zeros(2, 2))
    assert distill_loss(other, batch, "kl", None).item() > 0.1
    assert distill_loss(other, batch, "nll", None).item() == pytest.approx(np.log(2))
    mean, std = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, 0.3]])
    gauss = {"mean": mean, "std": std, "value": torch.tensor([1.0])}
    student = torch.distributions.Normal(mean, std)
    assert distill_loss(student, gauss, "kl", None).item() == pytest.approx(0.0, abs=1e-6)
    value = torch.tensor([[3.0]])  # the value head's MSE adds (3 - 1)^2
    assert distill_loss(student, gauss, "kl", value).item() == pytest.approx(4.0)
    nll = -torch.distributions.Normal(mean, std).log_prob(mean).sum()
    assert distill_loss(student, gauss, "nll", None).item() == pytest.approx(nll.item())
    box = gym.spaces.Box(-2.0, 2.0, (1,))  # Box actions agree within 5% of the range (0.2)
    assert agreement(np.array([[0.1], [1.0], [9.0]]), np.array([[0.0], [0.0], [2.0]]), box) == (
        pytest.approx(2 / 3)
    )
    assert agreement(np.array([1, 0]), np.array([1, 1]), gym.spaces.Discrete(2)) == 0.5


def test_state_in_info_wrapper_keeps_the_observation_and_copies_it():
    env = StateInInfo(gym.make(CARTPOLE))
    obs, info = env.reset(seed=0)
    assert np.array_equal(info["state"], obs) and env.state_space == env.observation_space
    obs, *_, info = env.step(0)
    assert np.array_equal(info["state"], obs) and info["state"] is not obs


def test_a_state_teacher_needs_the_state_in_the_info(cartpole_teacher):
    method, ctx, _ = _setup(cartpole_teacher, {"teacher_obs": "state", "teacher": TEACHER})
    with pytest.raises(ValueError, match="StateInInfo"):
        method.before_learning(ctx, 1000, lambda t: True)


def _distill_study(tiny_study: dict[str, Any], **options: Any) -> dict[str, Any]:
    tiny_study["seeds"] = [0]
    tiny_study["methods"] = ["scratch", {"name": "distill", "method": "distill", **options}]
    return tiny_study


def test_distill_study_end_to_end_with_an_rl_phase(tiny_study, write_study, tmp_path):
    study = _distill_study(tiny_study, steps=256, rounds=4, heldout={"steps": 200, "episodes": 2})
    assert main(["run", str(write_study(study)), "--out", str(tmp_path / "out")]) == 0
    root = next((tmp_path / "out").iterdir())
    run = root / "target" / "distill" / "seed_0"
    meta = json.loads((run / "meta.json").read_text())
    t = meta["transfer"]
    assert meta["status"] == "complete" and meta["env_steps_trained"] == 384
    assert t["distillation_steps"] == 256 and t["rl_steps"] == 128 and t["counted_in_budget"]
    assert set(t["agreement"]) == {"initial", "distilled", "final"}
    assert set(t["return"]) == {"initial", "distilled", "final"}
    data = t["dataset"]  # the default bound (2048 MB) is far above 256 CartPole states: all kept
    assert data["visited"] == data["states"] == 256 and not data["sampled"]
    assert data["bound"]["memory_mb"] == 2048 and data["bound"]["states"] > 256
    rows = (run / "curve.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [0, 128, 256, 384]  # 128, 256: distillation
    assert all(int(r.split(",")[3]) == 3 for r in rows)  # every point evaluated (3 episodes)
    report = (root / "report.md").read_text()
    assert "distillation env steps count toward its budget" in report


def test_distill_study_from_a_source_checkpoint(tiny_study, tmp_path, cartpole_teacher):
    study = _distill_study(tiny_study, teacher=TEACHER, rl=False, heldout={"episodes": 2})
    study["source"] = {"checkpoint": str(cartpole_teacher.model_path)}
    study["target"] = {"env": CARTPOLE, "timesteps": 2048}
    study["eval"] = {"every": 1024, "episodes": 2}
    result = run_study(study, out=tmp_path, quiet=True)
    meta = json.loads((result.out_dir / "target/distill/seed_0/meta.json").read_text())
    t = meta["transfer"]
    assert t["distillation_steps"] == 2048 and t["rl_steps"] == 0  # rl: false → whole budget
    assert t["agreement"]["distilled"] >= 0.8, t["agreement"]
    assert t["teacher"]["parameters"] > t["student"]["parameters"]  # [64, 64] → [16]
    assert result.curves["distill"][0].timesteps.tolist() == [0, 1024, 2048]


PIXEL_TARGET = {
    "id": CARTPOLE,
    "kwargs": {"render_mode": "rgb_array"},
    "wrappers": [{"entry": "PixelObservation", "kwargs": {"height": 16, "width": 16}}],
}


@pytest.mark.parametrize(
    ("options", "change", "field", "words"),
    [
        ({"mode": "dagger"}, None, "methods[1].mode", "student, teacher"),
        ({"steps": 100, "fraction": 0.5}, None, "methods[1].fraction", "not both"),
        ({"steps": 0}, None, "methods[1].steps", ">= 1"),
        ({"lr": 0}, None, "methods[1].lr", "> 0"),
        ({"beta": 1.5}, None, "methods[1].beta", "[0, 1]"),
        ({"teacher": {"temperature": 0}}, None, "methods[1].teacher.temperature", "> 0"),
        ({"heldout": {"steps": -1}}, None, "methods[1].heldout.steps", ">= 0"),
        ({"memory_mb": 0}, None, "methods[1].memory_mb", "> 0 (MB; null: no bound)"),
        ({"max_states": -1}, None, "methods[1].max_states", ">= 1"),
        ({"teacher_obs": "pixels"}, None, "methods[1].teacher_obs", "same, state"),
        ({"teacher_obs": "state"}, None, "methods[1].teacher.policy", "the study's policy"),
        ({}, {"target": {"env": PIXEL_TARGET, "timesteps": 384}}, "methods[1].teacher_obs",
         "set teacher_obs: state"),
        ({"value": True}, {"algo": "dqn", "hyperparams": {"learning_starts": 0}},
         "methods[1].value", "value head"),
        ({}, {"algo": "sac", "hyperparams": {},
              "source": {"env": "rltransfer/Pendulum-v0", "timesteps": 512},
              "target": {"env": "rltransfer/Pendulum-v0", "timesteps": 384}},
         "methods[1].method", "not supported"),
    ],
)  # fmt: skip
def test_option_mistakes_exit_2_naming_the_field(
    tiny_study, study_exit_2, options, change, field, words
):
    study = _distill_study(tiny_study, **options)
    study.update(change or {})
    err = study_exit_2(study)
    assert f"{field}:" in err and words in err, err
    assert "Traceback" not in err


CROSS_MODAL = {
    "name": "cross-modal",
    "algo": "ppo",
    "hyperparams": {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 2},
    "methods": [{"name": "pixels", "method": "distill", "teacher_obs": "state", "rounds": 2,
                 "epochs": 2, "heldout": {"steps": 100, "episodes": 1}}],
    "source": {"env": {"id": "rltransfer/PixelGrid-v0",
                       "kwargs": {"obs_mode": "state", "size": 16}},
               "timesteps": 256, "policy": {"encoder": "mlp", "net_arch": [32]}},
    "target": {"env": {"id": "rltransfer/PixelGrid-v0",
                       "kwargs": {"obs_mode": "state", "size": 16, "render_mode": "rgb_array"},
                       "wrappers": ["StateInInfo", "PixelObservation"]},
               "timesteps": 256},
    "policy": {"encoder": "tiny_cnn"},
    "seeds": [0],
    "eval": {"every": 128, "episodes": 2},
    "tracking": {"wandb": {"mode": "disabled"}},
}  # fmt: skip


def test_source_policy_gives_the_state_source_and_its_teacher_their_own_architecture(tmp_path):
    """The README's cross-modal study: the source trains with ``source.policy`` (an MLP on the
    state), the student with the study's ``policy`` (a CNN on pixels)."""
    result = rltransfer.run_study(copy.deepcopy(CROSS_MODAL), out=tmp_path, quiet=True)
    source = json.loads((result.out_dir / "source" / "meta.json").read_text())
    assert source["status"] == "complete" and source["vision"]["encoder"] == "mlp"
    meta = json.loads((result.out_dir / "target" / "pixels" / "seed_0" / "meta.json").read_text())
    assert meta["status"] == "complete" and meta["vision"]["encoder"] == "tiny_cnn"
    assert meta["transfer"]["teacher_obs"] == "state"


def test_a_source_the_study_policy_cannot_read_exits_2_pointing_at_source_policy(study_exit_2):
    study = copy.deepcopy(CROSS_MODAL)
    del study["source"]["policy"]
    err = study_exit_2(study)
    assert "methods[0].teacher.policy" in err and "source.policy: {encoder: mlp" in err
