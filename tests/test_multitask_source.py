"""Multi-task sources (``source.envs``): one agent over several tasks with a shared trunk and
per-task output layers, balanced sampling, per-task evaluation, and its validation."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from rltransfer.agents import ALGOS, build_model
from rltransfer.cli import main
from rltransfer.config.spec import EnvSpec, PolicySpec
from rltransfer.environments import make_env
from rltransfer.methods.layers import policy_groups
from rltransfer.multitask import MultiTaskPolicy, make_task_vec_env
from rltransfer.multitask.policy import task_logits

CARTPOLE = "rltransfer/CartPole-v0"
LENGTHS = (0.5, 0.8, 1.2)
TASKS = [{"id": CARTPOLE, "kwargs": {"length": x}} for x in LENGTHS]
A2C_HP = {"n_envs": 2, "n_steps": 8, "normalize": True}


def _envs(k: int) -> list[EnvSpec]:
    return [EnvSpec(CARTPOLE, {"length": x}) for x in LENGTHS[:k]]


def _model(algo: str, heads: str, k: int = 2, n_envs: int = 2, n_steps: int = 16):
    venv = make_task_vec_env(_envs(k), n_envs)
    hp = {"n_steps": n_steps}
    if algo == "ppo":
        hp.update(batch_size=n_steps * n_envs * k, n_epochs=1)
    return build_model(
        algo, venv, hyperparams=hp, policy=PolicySpec(net_arch=[16]), seed=0, device="cpu",
        heads=heads,
    )  # fmt: skip


def _multitask_study(tiny_study, algo: str, heads: str, k: int) -> dict:
    tiny_study.update(algo=algo, seeds=[0])
    tiny_study["source"] = {"envs": TASKS[:k], "timesteps": 384, "heads": heads}
    tiny_study["target"]["timesteps"] = 256
    if algo == "a2c":
        tiny_study["hyperparams"] = dict(A2C_HP)
    return tiny_study


@pytest.mark.parametrize(("algo", "heads", "k"), [("ppo", "multi", 3), ("a2c", "conditioned", 2)])
def test_multitask_source_study_runs_with_per_task_curve(
    algo, heads, k, tiny_study, write_study, tmp_path
):
    path = write_study(_multitask_study(tiny_study, algo, heads, k))
    assert main(["run", str(path), "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    src = tmp_path / "runs" / "tiny" / "source"
    rows = list(csv.DictReader((src / "curve.csv").open()))
    assert [int(r["timesteps"]) for r in rows] == [0, 128, 256, 384]
    for r in rows:
        per_task = [float(r[f"task{i}_return_mean"]) for i in range(k)]
        assert all(np.isfinite(per_task)) and all(np.isfinite(float(r[f"task{i}_return_std"]))
                                                  for i in range(k))  # fmt: skip
        assert float(r["return_mean"]) == pytest.approx(np.mean(per_task))
        assert int(r["episodes"]) == 3 * k
    meta = json.loads((src / "meta.json").read_text())
    assert meta["tasks"] == TASKS[:k] and meta["heads"] == heads
    report = (tmp_path / "runs" / "tiny" / "report.md").read_text()
    assert "## Source tasks" in report and f"length={LENGTHS[k - 1]}" in report
    saved = ALGOS[algo].cls.load(src / "model.zip", device="cpu")
    assert isinstance(saved.policy, MultiTaskPolicy) and saved.policy.heads_kind == heads
    if algo == "a2c":  # VecNormalize on ``obs`` only: its statistics are the source's
        assert len(json.loads((src / "normalize.json").read_text())["mean"]) == 4
    # the target runs (single task) trained after the multi-task source
    target = json.loads((src.parent / "target" / "finetune" / "seed_0" / "meta.json").read_text())
    assert target["status"] == "complete"


@pytest.mark.parametrize(("algo", "heads"), [("ppo", "conditioned"), ("a2c", "multi")])
def test_every_algo_and_heads_kind_trains(algo, heads):
    model = _model(algo, heads)
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.learn(128)
    assert isinstance(model.policy, MultiTaskPolicy) and model.policy.heads_kind == heads
    changed = [k for k, v in model.policy.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("action_net.") for k in changed)
    assert any(k.startswith("mlp_extractor.") for k in changed)


def test_multi_heads_are_per_task():
    policy = _model("ppo", "multi").policy
    obs = np.array([0.01, -0.02, 0.03, 0.0], dtype=np.float32)
    l0, l1 = task_logits(policy, obs, 0), task_logits(policy, obs, 1)
    assert not torch.allclose(l0, l1)  # separately initialised heads
    with torch.no_grad():  # head 1 alone decides task 1's logits
        policy.action_net.heads[1].weight.zero_()
        policy.action_net.heads[1].bias.copy_(torch.tensor([3.0, -3.0]))
    assert torch.allclose(task_logits(policy, obs, 1), torch.tensor([[3.0, -3.0]]))
    assert torch.equal(task_logits(policy, obs, 0), l0)


def test_conditioned_head_reads_the_one_hot_task():
    policy = _model("a2c", "conditioned", k=3).policy
    linear = policy.action_net.linear
    latent = policy.mlp_extractor.latent_dim_pi
    assert linear.in_features == latent + 3
    obs = np.zeros(4, dtype=np.float32)
    l0, l2 = task_logits(policy, obs, 0), task_logits(policy, obs, 2)
    with torch.no_grad():  # the weight column of task 2's one-hot entry
        linear.weight[:, latent + 2] += torch.tensor([5.0, -5.0])
    assert torch.allclose(task_logits(policy, obs, 2), l2 + torch.tensor([[5.0, -5.0]]))
    assert torch.equal(task_logits(policy, obs, 0), l0)


@pytest.mark.parametrize("heads", ["multi", "conditioned"])
@pytest.mark.parametrize("share", [True, False])
def test_shared_trunk_has_the_single_task_names_and_shapes(heads, share):
    policy = PolicySpec(net_arch=[16, 8], share_features_extractor=share)
    venv = make_task_vec_env(_envs(2), 1)
    multi = build_model("ppo", venv, hyperparams={}, policy=policy, seed=0, device="cpu",
                        heads=heads)  # fmt: skip
    single_env = DummyVecEnv([lambda: make_env(_envs(1)[0])])
    single = build_model("ppo", single_env, hyperparams={}, policy=policy, seed=0, device="cpu")

    def trunk(model):
        return {
            k: tuple(v.shape)
            for k, v in model.policy.state_dict().items()
            if not k.startswith(("action_net.", "value_net."))
        }

    assert trunk(multi) == trunk(single)
    assert any(k.startswith("mlp_extractor.") for k in trunk(multi))
    heads_keys = [
        k for k in multi.policy.state_dict() if k.startswith(("action_net.", "value_net."))
    ]
    assert heads_keys  # per-task layers exist, and they are the ``output`` layer group
    groups = policy_groups(multi.policy)
    assert all(groups["output"].owns(k) for k in heads_keys)
    assert not any(g.owns(k) for name, g in groups.items() if name != "output" for k in heads_keys)


def test_balanced_sampling_gives_every_task_equal_steps():
    model = _model("ppo", "multi", k=3, n_envs=2, n_steps=16)
    assert model.get_env().task_of.tolist() == [0, 0, 1, 1, 2, 2]
    model.learn(16 * 6)  # one rollout
    task = model.rollout_buffer.observations["task"].reshape(-1).astype(int)
    assert np.bincount(task, minlength=3).tolist() == [32, 32, 32]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda s: s["source"]["envs"].__setitem__(1, {"id": "MountainCar-v0"}),
            "source.envs[1]: observation space",
        ),
        (lambda s: s["source"].update(env=TASKS[0]), "source.envs: give either 'envs'"),
        (
            lambda s: s.update(algo="dqn", hyperparams={}),
            "algo: a multi-task source ('source.envs') trains",
        ),
        (lambda s: s["source"].update(envs=TASKS[:1]), "source.envs: list at least 2 tasks"),
        (lambda s: s["source"].update(heads="shared"), "source.heads: must be one of"),
    ],
    ids=["spaces-differ", "env-and-envs", "dqn", "one-task", "bad-heads"],
)
def test_invalid_multitask_source_exits_2_naming_the_field(
    edit, expected, tiny_study, write_study, capsys
):
    study = _multitask_study(tiny_study, "ppo", "multi", 2)
    edit(study)
    path = write_study(study)
    assert main(["run", str(path), "--out", str(path.parent / "runs"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert expected in err, err
    assert not (path.parent / "runs").exists() or not any((path.parent / "runs").rglob("*.csv"))


def test_heads_without_envs_is_an_error(tiny_study, write_study, capsys):
    tiny_study["source"]["heads"] = "multi"
    path = write_study(tiny_study)
    assert main(["run", str(path), "--quiet"]) == 2
    assert "source.heads: only applies to a multi-task source" in capsys.readouterr().err


def test_run_ids_single_env_unchanged_multitask_identified_by_tasks_and_heads(tiny_study, tmp_path):
    from rltransfer.study import _env_dict, _eval_identity, _hash, _policy_identity, plan_study
    from rltransfer.validation import load_study

    spec = load_study(tiny_study)
    old_payload = {  # what a single-env source's id always hashed
        "role": "source",
        "algo": spec.algo,
        "hyperparams": spec.hyperparams,
        "policy": _policy_identity(spec.policy),  # the policy fields before cache_memory_mb
        "eval": _eval_identity(spec),
        "env": _env_dict(spec.source.env),
        "timesteps": spec.source.timesteps,
        "seed": spec.source.seed,
    }
    assert plan_study(spec, tmp_path).sources[0].run_id == _hash(old_payload)

    def source_id(heads, length):
        study = _multitask_study(json.loads(json.dumps(tiny_study)), "ppo", heads, 2)
        study["source"]["envs"][1]["kwargs"]["length"] = length
        return plan_study(load_study(study), tmp_path).sources[0].run_id

    ids = {source_id("multi", 0.8), source_id("conditioned", 0.8), source_id("multi", 0.9)}
    assert len(ids) == 3
