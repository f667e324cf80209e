"""A method may name its own ``source``: it gets its own source run (or checkpoint), the targets
wait for it, and the other methods keep the study's source."""

from __future__ import annotations

import json

from rltransfer import run_study


def test_a_method_with_its_own_source_trains_and_uses_it(tiny_study, tmp_path):
    own = {"env": {"id": "rltransfer/CartPole-v0", "kwargs": {"length": 0.8}}, "timesteps": 256}
    tiny_study["methods"] = ["scratch", "finetune",
                             {"name": "ft-own", "method": "finetune", "source": own}]  # fmt: skip
    tiny_study["seeds"] = [0]
    tiny_study["compare"] = [["finetune", "ft-own"]]
    result = run_study(tiny_study, out=tmp_path, quiet=True)
    root = result.out_dir
    main_source = json.loads((root / "source" / "meta.json").read_text())
    own_source = json.loads((root / "sources" / "ft-own" / "meta.json").read_text())
    assert main_source["env"]["kwargs"] == {"length": 0.5}
    assert own_source["env"]["kwargs"] == {"length": 0.8} and own_source["timesteps"] == 256
    # each target loaded its own source's weights: at t = 0 both start as their source
    ft = json.loads((root / "target" / "finetune" / "seed_0" / "meta.json").read_text())
    ft_own = json.loads((root / "target" / "ft-own" / "seed_0" / "meta.json").read_text())
    assert ft["transfer"]["loaded"] and ft_own["transfer"]["loaded"]
    assert ft["run_id"] != ft_own["run_id"]
    summary = json.loads((root / "summary.json").read_text())
    assert {"finetune", "ft-own"} <= set(summary["methods"])
    assert summary["comparisons"][0]["a"] == "finetune"
    resolved = (root / "study.yaml").read_text()
    assert "length: 0.8" in resolved  # the resolved study keeps the method's source


def test_a_bad_method_source_names_its_field(tiny_study, study_exit_2):
    tiny_study["methods"] = ["scratch", {"name": "ft", "method": "finetune",
                                         "source": {"env": "rltransfer/CartPole-v0"}}]  # fmt: skip
    assert "methods[1].source.timesteps: is required" in study_exit_2(tiny_study)


def test_scratch_takes_no_source(tiny_study, study_exit_2):
    own = {"env": "CartPole-v1", "timesteps": 10}
    tiny_study["methods"] = [{"name": "scratch", "method": "scratch", "source": own}, "finetune"]
    assert "methods[0].source: 'scratch' uses no source agent" in study_exit_2(tiny_study)
