"""Replicated sources and sequential seeding: the spec, the plan, the errors, a real study."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from rltransfer import run_study
from rltransfer.cli import main
from rltransfer.config.replicas import pair_replicas
from rltransfer.config.spec import SourceSpec
from rltransfer.errors import UserError
from rltransfer.study import plan_study
from rltransfer.validation import load_study


def test_paired_sources_are_the_default(tiny_study, tmp_path):
    spec = load_study({**tiny_study, "seeds": [3, 7]})
    plan = plan_study(spec, tmp_path)
    seeds = sorted(r.seed for r in plan.sources)
    assert seeds == [1003, 1007]  # source.seed + the pair's seed id
    for t in plan.targets:
        if t.label == "finetune":
            assert t.source_dir == str(tmp_path / "source" / f"seed_{t.seed}")
    assert {r.replica for r in plan.sources} == {"seed_3", "seed_7"}


def test_n_replicas_are_shared_round_robin(tiny_study, tmp_path):
    tiny_study["source"]["replicas"] = 2
    spec = load_study({**tiny_study, "seeds": 5})
    plan = plan_study(spec, tmp_path)
    assert sorted(r.seed for r in plan.sources) == [1000, 1001]
    used = {t.seed: t.source_dir.rsplit("/", 1)[-1] for t in plan.targets if t.source_dir}
    assert used == {0: "seed_0", 1: "seed_1", 2: "seed_0", 3: "seed_1", 4: "seed_0"}


def test_one_shared_source_keeps_the_old_layout(tiny_study, tmp_path):
    tiny_study["source"]["replicas"] = 1
    plan = plan_study(load_study(tiny_study), tmp_path)
    (src,) = plan.sources
    assert src.out_dir == str(tmp_path / "source") and src.seed == 1000 and src.replica is None


def test_a_run_id_does_not_depend_on_the_look_that_planned_it(tiny_study, tmp_path):
    tiny_study["seeds"] = {"min": 2, "max": 4, "step": 1}
    spec = load_study(tiny_study)
    full = {r.out_dir: r.run_id for r in plan_study(spec, tmp_path).runs}
    first = plan_study(spec, tmp_path, seeds=spec.seeds[:2], methods=["scratch", "finetune"])
    assert all(full[r.out_dir] == r.run_id for r in first.runs)
    assert len(first.sources) == 2 and len(first.targets) == 4


def test_seeds_mapping_round_trips_through_the_resolved_spec(tiny_study):
    tiny_study["seeds"] = {"min": 3, "max": 9, "step": 3, "start": 100}
    spec = load_study(tiny_study)
    assert spec.seeds == list(range(100, 109))
    assert spec.sequential.looks == (3, 6, 9)
    again = load_study(spec.to_dict())
    assert again.seeds == spec.seeds and again.sequential == spec.sequential
    fixed = load_study({**tiny_study, "seeds": {"count": 3, "start": 50}})
    assert fixed.seeds == [50, 51, 52] and fixed.sequential is None


def test_last_look_is_max_even_off_the_step(tiny_study):
    tiny_study["seeds"] = {"min": 5, "max": 12, "step": 5}
    assert load_study(tiny_study).sequential.looks == (5, 10, 12)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seeds": {"min": 1, "max": 5}}, "seeds.min"),
        ({"seeds": {"min": 5, "max": 3}}, "seeds.max"),
        ({"seeds": {"min": 2, "max": 4, "stepp": 1}}, "seeds.stepp"),
        ({"seeds": {"count": 3, "min": 2}}, "seeds.min"),
        ({"seeds": {"max": 4}}, "seeds.min"),
        ({"source": {"replicas": "pair"}}, "source.replicas"),
        ({"source": {"replicas": 0}}, "source.replicas"),
        ({"source": {"replicas": 9}}, "source.replicas"),
    ],
)
def test_bad_seeds_or_replicas_name_the_field(tiny_study, change, field):
    for key, value in change.items():
        tiny_study[key] = {**tiny_study[key], **value} if key == "source" else value
    with pytest.raises(UserError, match=re.escape(field)):
        load_study(tiny_study)


def test_checkpoint_replicas_each_checked(tiny_study, tmp_path, capsys):
    from stable_baselines3 import PPO

    from rltransfer.config.spec import EnvSpec
    from rltransfer.environments import make_env

    env = make_env(EnvSpec("rltransfer/CartPole-v0", {"length": 0.5}))
    zips = []
    for seed in (1, 2):
        model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, seed=seed)
        model.save(tmp_path / f"agent{seed}.zip")
        zips.append(str(tmp_path / f"agent{seed}.zip"))
    env.close()
    tiny_study["source"] = {"checkpoint": zips}
    spec = load_study(tiny_study)
    plan = plan_study(spec, tmp_path / "out")
    used = {t.seed: t.source_checkpoint for t in plan.targets if t.label == "finetune"}
    assert used == {0: zips[0], 1: zips[1]} and plan.sources == []
    tiny_study["source"] = {"checkpoint": [zips[0], str(tmp_path / "missing.zip")]}
    path = tmp_path / "bad.yaml"
    import yaml

    path.write_text(yaml.safe_dump(tiny_study))
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "source.checkpoint[1]" in err and "missing.zip" in err and "Traceback" not in err


def test_pair_replicas_of_a_checkpoint_list():
    s = SourceSpec(checkpoint=["a.zip", "b.zip"])
    keys = {k: r.key for k, r in pair_replicas(s, "source", [4, 5, 6]).items()}
    assert keys == {4: "source/checkpoint_0", 5: "source/checkpoint_1", 6: "source/checkpoint_0"}


def test_a_sequential_study_replays_as_it_ran(tiny_study, tmp_path):
    """A real sequential study: every look is in summary.json, the report of the folder
    replays the same looks from the curves, and the sources record their zero-shot return."""
    tiny_study["seeds"] = {"min": 2, "max": 3, "step": 1, "start": 20}
    result = run_study(tiny_study, out=tmp_path, quiet=True)
    root = result.out_dir
    ran = json.loads((root / "summary.json").read_text())
    looks = ran["methods"]["finetune"]["looks"]
    assert [x["planned_seeds"] for x in looks] in ([2], [2, 3])
    assert ran["methods"]["finetune"]["seeds"] == looks[-1]["seeds"]
    assert ran["sequential"]["looks"] == [2, 3]
    meta = json.loads((root / "source" / "seed_20" / "meta.json").read_text())
    assert meta["zero_shot"]["episodes"] == 3 and meta["zero_shot"]["return_mean"] > 0
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / "summary.json").unlink()
    assert main(["report", str(copy)]) == 0
    replayed = json.loads((copy / "summary.json").read_text())
    assert replayed["methods"]["finetune"]["looks"] == looks
    assert replayed["methods"]["finetune"]["verdict"] == ran["methods"]["finetune"]["verdict"]
    sources = replayed["methods"]["finetune"]["areas"]["source"]
    assert sources == ran["methods"]["finetune"]["areas"]["source"]
    assert sources[0] == "source/seed_20"  # the study's own source, read back from study.yaml


def test_a_folder_from_before_replicas_reports_its_one_shared_source(tiny_study, tmp_path):
    """A study.yaml without source.replicas and a single source/ run (older versions): the
    report says its verdicts are conditional on that one source; curves from another tool
    (no source run) make no claim either way."""
    from rltransfer.io import atomic_write_json
    from rltransfer.reanalysis import AnalysisOptions

    root = tmp_path / "old"
    (root / "source").mkdir(parents=True)
    atomic_write_json(root / "source" / "meta.json", {"run_id": "x", "status": "complete"})
    (root / "study.yaml").write_text(
        "seeds: 3\nmethods: [scratch, finetune]\nsource: {seed: 1000}\n"
    )
    options = AnalysisOptions.from_folder(root)
    assert options.groups == {"finetune": dict.fromkeys(range(3), "source")}
    (root / "source" / "meta.json").unlink()
    assert AnalysisOptions.from_folder(root).groups is None
    (root / "study.yaml").write_text("seeds: 3\nmethods: [finetune]\nsource: {replicas: paired}\n")
    paired = AnalysisOptions.from_folder(root).groups
    assert paired == {"finetune": {s: f"source/seed_{s}" for s in range(3)}}
