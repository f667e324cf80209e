"""What training would trip on stops the study at validation: exit 2, no traceback, a message
naming the file and the dotted field, and no run folder (issue 13, item 6)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

PENDULUM = "rltransfer/Pendulum-v0"


def _set(d: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d[k]
    d[keys[-1]] = value


def _sac(study: dict[str, Any]) -> None:
    study.update(algo="sac", hyperparams={"learning_starts": 0})
    study["source"]["env"] = PENDULUM
    study["target"]["env"] = PENDULUM


CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    # (id, edits: dotted key -> value ("algo" first when it changes the hyperparams), message)
    ("seed-count-huge", {"seeds": 1_000_000_000_000}, ["seeds: a count must be in [1, 10000]"]),
    ("seed-list-long", {"seeds": list(range(10_001))}, ["seeds: must hold at most 10000"]),
    (
        "name-300-chars",
        {"name": "n" * 300},
        ["name: must be at most 100 characters (it names a folder), got 300"],
    ),
    (
        "lr-negative",
        {"hyperparams.learning_rate": -1},
        ["hyperparams.learning_rate: must be a number in (0, 1]"],
    ),
    (
        "lr-inf",
        {"hyperparams.learning_rate": float("inf")},
        ["hyperparams.learning_rate:", "got inf"],
    ),
    (
        "lr-schedule-negative",
        {"hyperparams.learning_rate": "lin_-0.1"},
        ["hyperparams.learning_rate:"],
    ),
    (
        "ent-coef-nan",
        {"hyperparams.ent_coef": float("nan")},
        ["hyperparams.ent_coef: must be a number >= 0, got nan"],
    ),
    (
        "n-epochs-0",
        {"hyperparams.n_epochs": 0},
        ["hyperparams.n_epochs: must be an integer >= 1, got 0"],
    ),
    (
        "n-steps-float",
        {"hyperparams.n_steps": 1.5},
        ["hyperparams.n_steps: must be an integer >= 1, got 1.5"],
    ),
    (
        "a2c-n-steps-0",
        {"algo": "a2c", "hyperparams": {"n_steps": 0}},
        ["hyperparams.n_steps: must be an integer >= 1"],
    ),
    (
        "sac-tau-5",
        {"sac": True, "hyperparams.tau": 5},
        ["hyperparams.tau: must be a number in (0, 1], got 5"],
    ),
    (
        "sac-ent-coef-word",
        {"sac": True, "hyperparams.ent_coef": "auto_x"},
        ["hyperparams.ent_coef:", "'auto_<number>'"],
    ),
    (
        "net-arch-negative",
        {"policy.net_arch": [-3]},
        ["policy.net_arch[0]: must be an integer in [1, 65536], got -3"],
    ),
    (
        "net-arch-zero",
        {"policy.net_arch": [0]},
        ["policy.net_arch[0]: must be an integer in [1, 65536], got 0"],
    ),
    (
        "net-arch-huge",
        {"policy.net_arch": [10**9]},
        ["policy.net_arch[0]: must be an integer in [1, 65536], got 1000000000"],
    ),
    (
        "n-envs-huge",
        {"hyperparams.n_envs": 10**9},
        ["hyperparams.n_envs: must be an integer in [1, 1024]"],
    ),
    (
        "net-arch-head",
        {"policy.net_arch": {"pi": [8], "qf": [8]}},
        ["policy.net_arch.qf: not a head of ppo"],
    ),
    (
        "policy-kwargs-net-arch",
        {"hyperparams.policy_kwargs": {"net_arch": [0]}},
        ["hyperparams.policy_kwargs.net_arch[0]:"],
    ),
    (
        "policy-kwargs-unknown",
        {"hyperparams.policy_kwargs": {"foo": 1}},
        ["hyperparams.policy_kwargs.foo: not an option of ppo's policy", "ortho_init"],
    ),
    (
        "policy-kwargs-type",
        {"hyperparams.policy_kwargs": {"ortho_init": 3}},
        ["hyperparams.policy_kwargs.ortho_init: must be true or false"],
    ),
    (
        "normalize-unknown",
        {"hyperparams.normalize": {"foo": 1}},
        ["hyperparams.normalize.foo: not an option of VecNormalize", "clip_obs"],
    ),
    (
        "normalize-range",
        {"hyperparams.normalize": {"clip_obs": -1}},
        ["hyperparams.normalize.clip_obs: must be a number > 0"],
    ),
    ("source-seed-negative", {"source.seed": -1}, ["source.seed: must be in [0, "]),
    ("seed-2-32", {"seeds": [0, 2**32]}, ["seeds: must be in [0, ", "got 4294967296"]),
    ("seed-below-2-32-but-offset", {"seeds": [2**32 - 10]}, ["seeds: must be in [0, ", "offsets"]),
    ("source-seed-offset", {"source.seed": 2**32 - 1}, ["source.seed: must be in [0, "]),
    ("gamma-2", {"hyperparams.gamma": 2}, ["hyperparams.gamma: must be a number in [0, 1], got 2"]),
    (
        "gae-lambda",
        {"hyperparams.gae_lambda": -0.5},
        ["hyperparams.gae_lambda: must be a number in [0, 1]"],
    ),
    (
        "clip-range-0",
        {"hyperparams.clip_range": 0},
        ["hyperparams.clip_range: must be a number > 0"],
    ),
    (
        "max-grad-norm",
        {"hyperparams.max_grad_norm": -1},
        ["hyperparams.max_grad_norm: must be a number > 0"],
    ),
    (
        "bool-flag",
        {"hyperparams.normalize_advantage": "yes"},
        ["hyperparams.normalize_advantage: must be true or false"],
    ),
    (
        "yaml-1e5-string",
        {"hyperparams.n_steps": "1e5"},
        ["hyperparams.n_steps:", "YAML reads 1e5 or 1e-3 as a string"],
    ),
    (
        "dqn-buffer-negative",
        {"algo": "dqn", "hyperparams": {"buffer_size": -1}},
        ["hyperparams.buffer_size: must be an integer >= 1, got -1"],
    ),
    (
        "dqn-final-eps-5",
        {"algo": "dqn", "hyperparams": {"exploration_final_eps": 5}},
        ["hyperparams.exploration_final_eps: must be a number in [0, 1], got 5"],
    ),
    (
        "dqn-batch-larger-than-buffer",
        {"algo": "dqn", "hyperparams": {"buffer_size": 100, "batch_size": 10**12}},
        ["hyperparams.batch_size: must be at most buffer_size (100), got 1000000000000"],
    ),
    (
        "sac-batch-larger-than-default-buffer",
        {"sac": True, "hyperparams.batch_size": 10**7},
        ["hyperparams.batch_size: must be at most buffer_size (1000000)"],
    ),
    ("lr-huge", {"hyperparams.learning_rate": 1e12}, ["hyperparams.learning_rate: must be"]),
    (
        "dqn-fraction-0",
        {"algo": "dqn", "hyperparams": {"exploration_fraction": 0}},
        ["hyperparams.exploration_fraction: must be a number in (0, 1]"],
    ),
    (
        "dqn-train-freq-unit",
        {"algo": "dqn", "hyperparams": {"train_freq": [4, "stp"]}},
        ["hyperparams.train_freq: must be an integer >= 1 or [n, step | episode]"],
    ),
    (
        "dqn-gradient-steps",
        {"algo": "dqn", "hyperparams": {"gradient_steps": -2}},
        ["hyperparams.gradient_steps: must be an integer >= 1 or -1"],
    ),
    (
        "dqn-target-update",
        {"algo": "dqn", "hyperparams": {"target_update_interval": 0}},
        ["hyperparams.target_update_interval:"],
    ),
    (
        "dqn-learning-starts",
        {"algo": "dqn", "hyperparams": {"learning_starts": -1}},
        ["hyperparams.learning_starts: must be an integer >= 0"],
    ),
    (
        "method-label-newline",
        {"methods": [{"name": "ft\n", "method": "finetune"}]},
        ["methods[0].name: 'ft\\n' must use only letters"],
    ),
    (
        "method-label-long",
        {"methods": [{"name": "m" * 101, "method": "finetune"}]},
        ["methods[0].name: must be at most 100 characters"],
    ),
    (
        "threshold-1e308",
        {"threshold": 1e308},
        ["threshold: must be a return in [-1e+12, 1e+12]", "got 1e+308"],
    ),
    (
        "score-range-huge",
        {"score_range": {"high": -1e300}},
        ["score_range.high: must be a return in"],
    ),
    # what only SB3's build knows: the model is built once, without training
    (
        "build-n-steps-times-envs",
        {"hyperparams.n_envs": 1, "hyperparams.n_steps": 1},
        ["hyperparams.n_steps: ppo cannot build the model of the target", "must be greater than 1"],
    ),
    (
        "build-optimizer-kwargs",
        {"hyperparams.policy_kwargs": {"optimizer_kwargs": {"foo": 1}}},
        ["hyperparams.policy_kwargs.optimizer_kwargs.foo: ppo cannot build the model of"],
    ),
    (
        "build-ppo-batch-1",
        {"hyperparams.batch_size": 1},
        ["hyperparams.batch_size: ppo cannot build the model of the target", "greater than 1"],
    ),
    (
        "build-buffer-kwargs",
        {"hyperparams.rollout_buffer_kwargs": {"foo": 1}},
        ["hyperparams.rollout_buffer_kwargs.foo: ppo cannot build the model of the target"],
    ),
    (
        "python-object",
        {"hyperparams.policy_kwargs": {"optimizer_class": "Adam"}},
        ["hyperparams.policy_kwargs.optimizer_class: must be null (it takes a Python object"],
    ),
    (
        "build-normalize-keys",
        {"hyperparams.normalize": {"norm_obs_keys": ["x"]}},
        ["hyperparams.normalize: VecNormalize:"],
    ),
]


@pytest.mark.parametrize("edits,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_what_training_would_trip_on_exits_2(edits, expected, tiny_study, study_exit_2, tmp_path):
    edits = dict(edits)
    if edits.pop("sac", False):
        _sac(tiny_study)
    for key, value in edits.items():
        _set(tiny_study, key, value)
    err = study_exit_2(tiny_study)
    assert "study.yaml: " in err
    for part in expected:
        assert part in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / tiny_study["name"]).exists()  # nothing ran, nothing written


def test_the_source_models_are_built_too(tiny_study, study_exit_2):
    """The source's model (its own ``source.policy``) and a method's own source's are built
    once each, besides the target's; their errors name their own fields."""
    tiny_study["source"]["policy"] = {"encoder": "mlp", "encoder_kwargs": {"foo": 1}}
    err = study_exit_2(tiny_study)
    assert "source.policy.encoder_kwargs.foo: ppo cannot build the model of the source" in err
    del tiny_study["source"]["policy"]
    own = {"env": "rltransfer/CartPole-v0", "timesteps": 256}
    own["policy"] = {"encoder": "mlp", "encoder_kwargs": {"bar": 2}}
    tiny_study["methods"] = [
        "scratch",
        "finetune",
        {"name": "own", "method": "finetune", "source": own},
    ]
    err = study_exit_2(tiny_study)
    assert "methods[2].source.policy.encoder_kwargs.bar:" in err
    assert "the source of method 'own'" in err
    own["policy"] = {"net_arch": [0]}
    assert "methods[2].source.policy.net_arch[0]: must be an integer in [1, 65536]" in study_exit_2(
        tiny_study
    )


def test_every_known_seed_offset_fits_the_reserved_room():
    from rltransfer import seeds

    offsets = [seeds.EVAL_SEED_OFFSET, seeds.REUSE_COIN_SEED_OFFSET]
    offsets += [seeds.HELDOUT_SEED_OFFSET, seeds.RETURN_SEED_OFFSET]
    assert max(offsets) < seeds.MAX_SEED_OFFSET


def test_the_largest_allowed_seed_is_accepted(tiny_study):
    from rltransfer.seeds import MAX_SEED_OFFSET, SEED_LIMIT
    from rltransfer.validation import load_study

    top = SEED_LIMIT - MAX_SEED_OFFSET - tiny_study["hyperparams"]["n_envs"]
    tiny_study["seeds"] = [top - 1]
    tiny_study["source"]["seed"] = top - 1
    assert load_study(tiny_study).seeds == [top - 1]


def test_valid_off_policy_arguments_reach_sb3(tiny_study):
    """``train_freq: [n, unit]`` (a YAML list) and an integral float are accepted and built."""
    from rltransfer.validation import load_study

    tiny_study.update(algo="dqn", hyperparams={"train_freq": [4, "episode"], "buffer_size": 1e3})
    spec = load_study(tiny_study)
    assert spec.hyperparams["buffer_size"] == 1000 and isinstance(
        spec.hyperparams["buffer_size"], int
    )


@pytest.mark.parametrize(
    "algo,hyperparams",
    [
        ("ppo", {"gamma": 1, "gae_lambda": 0, "clip_range_vf": None, "target_kl": 0.01}),
        ("ppo", {"learning_rate": 1, "ent_coef": 0, "normalize": {"clip_obs": 5.0}}),
        ("dqn", {"gradient_steps": -1, "train_freq": [1, "episode"], "exploration_fraction": 1}),
        ("dqn", {"tau": 1, "learning_starts": 0, "policy_kwargs": {"net_arch": [8]}}),
        ("sac", {"ent_coef": "auto_0.1", "target_entropy": "auto", "tau": 0.005}),
    ],
)
def test_edge_values_are_accepted(algo, hyperparams, tiny_study):
    from rltransfer.validation import load_study

    if algo == "sac":
        _sac(tiny_study)
    tiny_study.update(algo=algo, hyperparams=hyperparams)
    spec = load_study(tiny_study)
    assert all(spec.hyperparams[k] == v for k, v in hyperparams.items())


def test_duplicate_yaml_keys_name_the_key_and_lines(study_exit_2):
    err = study_exit_2("name: x\nseeds: 2\nalgo: ppo\nseeds: 3\n")
    assert "study.yaml: seeds: duplicate key at line 4, column 1 (first at line 2, column 1)" in err
    nested = "name: x\nsource:\n  env: {id: a, kwargs: {length: 1, length: 2}}\n"
    err = study_exit_2(nested)
    assert "source.env.kwargs.length: duplicate key at line 3" in err
    in_list = "methods:\n  - {name: a, method: finetune, name: b}\n"
    assert "methods[0].name: duplicate key at line 2" in study_exit_2(in_list)


def test_yaml_merge_keys_may_be_overridden():
    """``<<: *anchor`` then an explicit key is YAML's override, not a duplicate."""
    from rltransfer.config.load import load_yaml

    merged = load_yaml("base: &b {a: 1, b: 2}\nitem:\n  <<: *b\n  b: 3\n")
    assert merged["item"] == {"a": 1, "b": 3}


def test_an_env_module_that_raises_on_import(tiny_study, study_exit_2, tmp_path, monkeypatch):
    (tmp_path / "badmod_raises.py").write_text("raise RuntimeError('no licence server')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tiny_study["target"]["env"] = "badmod_raises:Foo-v0"
    err = study_exit_2(tiny_study)
    assert "target.env.id: importing module 'badmod_raises' raised RuntimeError" in err
    assert "no licence server" in err and "Traceback" not in err


def test_an_env_module_that_exits_on_import(tiny_study, study_exit_2, tmp_path, monkeypatch):
    (tmp_path / "badmod_exits.py").write_text("import sys\nsys.exit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tiny_study["target"]["env"] = {"id": "CartPole-v1", "wrappers": ["badmod_exits:Wrap"]}
    err = study_exit_2(tiny_study)
    assert "target.env.wrappers[0]: importing module 'badmod_exits' raised SystemExit" in err


def test_method_errors_name_the_index_in_the_file(tiny_study, study_exit_2):
    """Scratch is added when absent, but messages keep the user's index."""
    tiny_study["methods"] = [{"name": "ft", "method": "finetune", "lr_multi": 0.5}]
    assert "methods[0].lr_multi: unknown key" in study_exit_2(tiny_study)
    tiny_study["methods"] = ["finetune", "finetun"]
    assert "methods[1].method: unknown method 'finetun'" in study_exit_2(tiny_study)


def test_scratch_names_only_the_baseline(tiny_study, study_exit_2):
    tiny_study["methods"] = [{"name": "scratch", "method": "finetune"}]
    assert "methods[0].name: 'scratch' names the baseline" in study_exit_2(tiny_study)


def test_layer_group_errors_have_the_file_path(tiny_study, study_exit_2):
    """Method options live in the method's own mapping: no ``.options.`` segment."""
    tiny_study["methods"] = ["scratch", {"name": "fr", "method": "freeze", "train": ["nope"]}]
    err = study_exit_2(tiny_study)
    assert "methods[1].train" in err and ".options." not in err


def test_compare_may_name_the_added_baseline(tiny_study):
    from rltransfer.validation import load_study

    tiny_study.update(methods=["finetune"], compare=[["finetune", "scratch"]])
    assert [m.name for m in load_study(tiny_study).methods] == ["scratch", "finetune"]


def test_a_pickled_weights_file_gets_our_advice(tiny_study, study_exit_2, tmp_path):
    bad = tmp_path / "enc.pt"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "evil": object()}, bad)
    tiny_study["policy"] = {"encoder": "tiny_cnn", "weights": str(bad)}
    tiny_study["source"]["env"] = {"id": "rltransfer/PixelGrid-v0", "kwargs": {"size": 16}}
    tiny_study["target"]["env"] = {"id": "rltransfer/PixelGrid-v0", "kwargs": {"size": 16}}
    err = study_exit_2(tiny_study)
    assert "policy.weights:" in err and ".safetensors" in err and "state_dict()" in err
    assert "weights_only=False" not in err and "weights_only` set to `False" not in err


@pytest.mark.parametrize(
    "options, field",
    [
        ({"groups": {"all": "freeze", "output": {"unfreeze_at": 10**9}}}, "unfreeze_at"),
        ({"groups": {"all": "freeze"}, "progressive": 384}, "progressive"),
    ],
)
def test_unfreezing_after_the_budget_exits_2(options, field, tiny_study, study_exit_2):
    tiny_study["methods"] = ["scratch", {"name": "lw", "method": "layerwise", **options}]
    err = study_exit_2(tiny_study)
    assert f"methods[1].{'groups.output.' if field == 'unfreeze_at' else ''}{field}" in err
    assert "must be below the target budget (384 env steps)" in err
