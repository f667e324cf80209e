"""The bounded distillation dataset (``rltransfer.methods.distill_dataset``): below its bound it is
the plain aggregation (every state, in visiting order; a distillation bit-identical to an
unbounded one), past it a uniform reservoir (inclusion frequencies over many seeded draws within
binomial bounds) whose kept states keep their own labels and fields; the bound holds, in states
and in bytes, and the record states it."""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from scipy import stats
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

import rltransfer.envs  # noqa: F401  (registers the families)
from rltransfer.agents import build_agent, build_model
from rltransfer.config.parse import FieldError, parse_dataclass
from rltransfer.config.spec import EnvSpec, EvalSpec, PolicySpec
from rltransfer.layout import RunSpec
from rltransfer.methods import SourceArtifact, TransferContext, method_class
from rltransfer.methods.distill_core import Labels
from rltransfer.methods.distill_dataset import MB, Dataset
from rltransfer.run import _make_train_env
from rltransfer.transfer_record import TransferRecord

CARTPOLE = "rltransfer/CartPole-v0"
HP = {"n_envs": 4, "n_steps": 64, "batch_size": 64}
NET = {"policy": {"net_arch": [32]}}


def _batch(start: int, m: int, k: int = 0) -> tuple[Any, ...]:
    """States ``start .. start+m-1`` whose every field encodes the state's index."""
    i = np.arange(start, start + m)
    obs = np.stack([i, -i, 2 * i], axis=1).astype(np.float32)  # (m, 3)
    logits = np.stack([i, i + 0.5], axis=1).astype(np.float32)  # (m, 2)
    labels = Labels(action=i.astype(np.int64), logits=logits)
    return obs, labels, i.astype(np.int64), i % 2 == 0, k


def _fill(data: Dataset, n: int, m: int) -> Dataset:
    for start in range(0, n, m):
        data.add(*_batch(start, min(m, n - start), k=start // m))
    return data


def test_below_the_bound_the_dataset_is_the_concatenation_in_visiting_order():
    batches = [_batch(s, 5, k=s // 5) for s in range(0, 40, 5)]
    for data in (Dataset(), Dataset(max_states=40, expected=40), Dataset(expected=7)):
        for b in batches:  # no rng: below the bound nothing is drawn
            data.add(*b)
        arrays = data.arrays()
        want = {
            "obs": np.concatenate([b[0] for b in batches]),
            "action": np.concatenate([b[1].action for b in batches]),
            "logits": np.concatenate([b[1].logits for b in batches]),
            "acted": np.concatenate([b[2] for b in batches]),
            "student": np.concatenate([b[3] for b in batches]),
            "round": np.concatenate([np.full(5, b[4], np.int32) for b in batches]),
        }
        assert set(arrays) == set(want)
        for key, value in want.items():
            assert arrays[key].dtype == value.dtype and np.array_equal(arrays[key], value), key
        assert len(data) == data.visited == 40 and data.student_visited == 20
        assert data.facts()["sampled"] is False


@pytest.mark.parametrize(("n", "m", "bound"), [(60, 4, 12), (48, 16, 4), (30, 7, 29)])
def test_the_reservoir_keeps_every_visited_state_with_equal_probability(n, m, bound):
    """Algorithm R: after n visits each state is kept with probability bound / n, whichever
    batch (round) it came in, also when a batch is larger than the bound (a later state of a
    batch replacing an earlier one drawn for the same slot)."""
    draws = 2000
    counts = np.zeros(n, dtype=int)
    for s in range(draws):
        data = _fill(Dataset(max_states=bound, rng=np.random.default_rng(s)), n, m)
        a = data.arrays()
        idx = a["action"]
        assert len(data) == bound and len(np.unique(idx)) == bound  # the bound, no duplicates
        # every kept row is one visited state, whole: its fields all encode the same index
        assert np.array_equal(a["obs"][:, 0], idx) and np.array_equal(a["acted"], idx)
        assert np.array_equal(a["logits"][:, 1], idx + 0.5) and np.array_equal(a["round"], idx // m)
        assert np.array_equal(a["student"], idx % 2 == 0)
        counts[idx] += 1
    p = bound / n
    alpha = 1e-3 / n  # Bonferroni over the n states: a false alarm once in 1000 suites
    low, high = stats.binom.ppf([alpha / 2, 1 - alpha / 2], draws, p)
    assert low <= counts.min() and counts.max() <= high, (counts.min(), counts.max(), low, high)
    # the states together: a chi-square test of equal inclusion frequencies
    assert stats.chisquare(counts).pvalue > 1e-4


ONE = 3 * 4 + 2 * 4 + 8 + 8 + 1 + 4
"""Bytes of one ``_batch`` state: obs, logits (float32), action, acted (int64), student, round."""


def test_the_memory_bound_counts_the_bytes_of_a_whole_state():
    one = ONE
    data = _fill(Dataset(memory_mb=10.5 * one / MB, rng=np.random.default_rng(0)), 50, 4)
    assert data.state_bytes == one and data.bound == 10 and len(data) == 10
    assert data.nbytes == 10 * one <= 10.5 * one
    both = _fill(Dataset(max_states=3, memory_mb=1.0, rng=np.random.default_rng(0)), 50, 4)
    assert both.bound == 3 and len(both) == 3  # the smaller bound holds
    f = both.facts()
    assert f["sampled"] and f["visited"] == 50 and f["states"] == 3
    assert f["bound"] == {"states": 3, "memory_mb": 1.0, "max_states": 3}


def test_a_memory_bound_that_holds_no_state_says_so():
    with pytest.raises(ValueError, match=rf"memory_mb = .* holds no state \(one takes {ONE} bytes"):
        Dataset(memory_mb=(ONE - 1) / MB).add(*_batch(0, 4))


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"memory_mb": 0}, "memory_mb", "> 0"),
        ({"memory_mb": -5}, "memory_mb", "> 0 (MB; null: no bound)"),
        ({"memory_mb": float("inf")}, "memory_mb", "finite"),
        ({"max_states": 0}, "max_states", ">= 1"),
        ({"max_states": 1.5}, "max_states", "int"),
    ],
)
def test_bound_mistakes_name_the_field(options, field, words):
    cls = method_class("distill", "method")
    with pytest.raises(FieldError) as err:
        cls.parse_options(options, "methods[1]")
    assert f"methods[1].{field}" in str(err.value) and words in str(err.value), str(err.value)


# ------------------------------------------------------------------------------ in a distillation
@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> SourceArtifact:
    """An untrained PPO teacher: deterministic labels are all these tests need."""
    path = tmp_path_factory.mktemp("teacher") / "ppo.zip"
    venv = DummyVecEnv([lambda: Monitor(gym.make(CARTPOLE)) for _ in range(4)])
    build_model("ppo", venv, hyperparams=HP, net_arch=[32], seed=3, device="cpu").save(path)
    return SourceArtifact(path)


def _distill(source: SourceArtifact, options: dict[str, Any], budget: int = 800) -> Any:
    cls = method_class("distill", "method")
    base = {"rl": False, "rounds": 4, "epochs": 2, "batch_size": 64, "beta": 0.5, "actions": "mode",
            "teacher": NET, "heldout": {"steps": 100, "episodes": 1}}  # fmt: skip
    method = cls(cls.parse_options({**base, **options}, "options"))
    spec = RunSpec(
        run_id="test", role="target", label="distill", seed=2,
        env=parse_dataclass(EnvSpec, CARTPOLE, "env"), timesteps=0, algo="ppo", hyperparams=HP,
        policy=parse_dataclass(PolicySpec, {"net_arch": [16]}, "policy"),
        eval=EvalSpec(), eval_seed=0, device="cpu", out_dir="unused", study="test",
    )  # fmt: skip
    venv, recipe = _make_train_env(spec, method, source)
    model = build_agent(recipe, venv)
    ctx = TransferContext(model, venv, source)
    record = method.apply(ctx)
    method.before_learning(ctx, budget, lambda t: True)
    return method, model, record.with_facts(method.after_training(model))


def _params(model: Any) -> dict[str, torch.Tensor]:
    return model.policy.state_dict()


def test_a_distillation_that_never_reaches_the_bound_is_the_unbounded_one(teacher):
    """The default bound (2048 MB), a bound of exactly the states visited and no bound at all:
    the same data, the same student, bit for bit, and the same facts but the bound's."""
    runs = [_distill(teacher, o) for o in ({}, {"max_states": 800}, {"memory_mb": None})]
    (m0, model0, r0), *rest = runs
    for m, model, r in rest:
        a0, a = m0.data.arrays(), m.data.arrays()
        assert set(a) == set(a0) and all(np.array_equal(a[k], a0[k]) for k in a0)
        assert all(torch.equal(v, _params(model)[k]) for k, v in _params(model0).items())
        d0, d = copy.deepcopy(r0.details), copy.deepcopy(r.details)
        assert d0.pop("dataset").pop("bound") != d.pop("dataset").pop("bound")
        assert d == d0  # agreement, returns, losses, counts
    facts = r0.details["dataset"]
    assert facts["visited"] == facts["states"] == 800 and not facts["sampled"]
    assert facts["bound"]["states"] == 2048 * MB // facts["bytes_per_state"]


def test_past_the_bound_the_student_trains_on_a_uniform_sample_of_every_round(teacher):
    method, model, record = _distill(teacher, {"max_states": 300})
    a = method.data.arrays()
    facts = TransferRecord.from_json(record.to_json()).details["dataset"]  # as meta.json keeps it
    assert len(a["obs"]) == facts["states"] == 300 and facts["visited"] == 800
    assert facts["sampled"] and facts["bound"] == {"states": 300, "memory_mb": 2048.0,
                                                   "max_states": 300}  # fmt: skip
    assert facts["bytes"] == 300 * facts["bytes_per_state"] == method.data.nbytes
    # all four rounds are represented (each visited 200 states; kept ~75 in expectation)
    assert set(np.unique(a["round"]).tolist()) == {0, 1, 2, 3}
    # a kept state keeps the teacher's labels of that state (the teacher is frozen: relabel)
    t = method.teacher
    inputs = t.prepare(a["obs"])
    dist = t.distribution(inputs)
    assert np.allclose(dist.distribution.logits.detach().numpy(), a["logits"], atol=1e-6)
    teacher_acted = ~a["student"]  # actions: mode → where the teacher acted, its argmax
    assert np.array_equal(a["acted"][teacher_acted], a["action"][teacher_acted])
    assert 0.2 < facts["student_acted"] < 0.95  # over all 800 visited states (β: 0.5 → 0.06)


def test_a_run_keeps_the_same_sample_when_repeated(teacher):
    kept = [_distill(teacher, {"max_states": 200, "epochs": 1})[0].data.arrays()["obs"]]
    kept.append(_distill(teacher, {"max_states": 200, "epochs": 1})[0].data.arrays()["obs"])
    assert np.array_equal(kept[0], kept[1])


def test_with_rl_the_dataset_is_released_before_learning(teacher):
    method, _, record = _distill(teacher, {"rl": True, "steps": 400, "max_states": 100})
    assert len(method.data) == 0 and method.data.arrays() == {}
    d = record.details["dataset"]
    assert d["states"] == 100 and d["visited"] == 400
