"""What each method transferred: the ``transfer`` dict of ``meta.json`` summarised per method."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from rltransfer import run_study
from rltransfer.analysis.transfer_summary import (
    add_transfer_summaries,
    groups_plan,
    load_run_metas,
    run_record,
    summarise_method,
)
from rltransfer.cli import main
from rltransfer.report.sections import transfer_section

NEW = {
    "transferred": "parameters",
    "loaded": ["encoder.conv1.weight", "encoder.conv1.bias", "hidden1.weight", "hidden1.bias"],
    "skipped": {
        "action_net.weight": "shape (2, 64) != target (3, 64)",
        "action_net.bias": "shape (2,) != target (3,)",
        "value_net.weight": "reinitialised by the plan",
    },
    "frozen": ["encoder.conv1.weight", "encoder.conv1.bias"],
    "reinitialised": ["action_net.weight", "action_net.bias"],
    "groups": {
        "encoder.conv1": {"mode": "freeze", "lr": 1.0, "unfreeze_at": None},
        "hidden1": {"mode": "finetune", "lr": 0.1, "unfreeze_at": None},
        "output": {"mode": "reinit", "lr": 1.0, "unfreeze_at": None},
    },
    "parameters": {"total": 1000, "loaded": 800, "frozen": 250, "reinitialised": 130},
    "reset": ["optimizer state"],
    "normalization": {"mode": "blend", "vecnormalize": "blended 0.5", "encoder": "not used"},
    "adapters": ["residual adapter after hidden1"],
}
OLD = {
    "transferred": "parameters",
    "loaded": ["a", "b"],
    "skipped": {},
    "trainable": "all",
    "reset": ["optimizer state", "learning-rate and exploration schedules"],
    "normalization": "source statistics reused, then updated on the target",
}


def _write_meta(root: Path, method: str, seed: int, transfer: dict, status: str = "complete"):
    folder = root / "target" / method / f"seed_{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"status": status, "method": method, "seed": seed, "transfer": transfer}
    (folder / "meta.json").write_text(json.dumps(meta))


def test_full_schema_record():
    r = run_record(NEW)
    assert r["transferred"] == "parameters"
    assert r["tensors"] == {"loaded": 4, "offered": 7, "frozen": 2, "reinitialised": 2}
    assert r["percent"] == {"loaded": 80.0, "frozen": 25.0, "reinitialised": 13.0}
    assert r["skipped"]["count"] == 3
    assert r["skipped"]["reasons"] == {
        "shape (2, 64) != target (3, 64)": 1,
        "shape (2,) != target (3,)": 1,
        "reinitialised by the plan": 1,
    }
    assert r["normalization"] == "blend" and r["normalization_detail"]["vecnormalize"]
    assert r["groups"] == "encoder.conv1=freeze, hidden1=finetune×0.1, output=reinit"
    assert r["reset"] == ["optimizer state"] and r["adapters"] == ["residual adapter after hidden1"]


def test_old_runs_with_a_plain_normalization_string():
    r = run_record(OLD)
    assert r["normalization"] == "source statistics reused, then updated on the target"
    assert r["normalization_detail"] is None
    assert r["tensors"] == {"loaded": 2, "offered": 2, "frozen": None, "reinitialised": None}
    assert r["parameters"] is None
    assert r["percent"] == {"loaded": None, "frozen": None, "reinitialised": None}
    assert r["groups"] is None and r["adapters"] == [] and r["skipped"]["count"] == 0


def test_missing_or_odd_values_are_read_defensively():
    r = run_record({"loaded": 5, "skipped": ["x", "y"], "parameters": {"total": "n/a"}})
    assert r["transferred"] is None and r["tensors"]["loaded"] == 5
    assert r["skipped"] == {"count": 2, "reasons": {"no reason recorded": 2}}
    assert r["parameters"] == {"total": None, "loaded": None, "frozen": None, "reinitialised": None}
    assert run_record(None)["tensors"]["loaded"] is None
    assert groups_plan({"stage1": {"mode": "freeze", "unfreeze_at": 20000, "lr": 0.5}}) == (
        "stage1=freeze×0.5 until t=20000"
    )
    assert groups_plan({"all": "freeze"}) == "all=freeze" and groups_plan({}) is None


def test_seeds_that_disagree_are_noted():
    other = copy.deepcopy(NEW)
    other["loaded"] = other["loaded"][:3]
    r = summarise_method({0: {"transfer": NEW}, 1: {"transfer": NEW}, 2: {"transfer": other}})
    assert r["seeds_read"] == [0, 1, 2] and r["consistent"] is False
    assert "tensor counts" in r["note"] and "seed 2" in r["note"] and "seed 0 is shown" in r["note"]
    r = summarise_method({0: {"transfer": NEW}, 1: {"transfer": copy.deepcopy(NEW)}})
    assert r["consistent"] is True and r["note"] is None
    assert summarise_method({}) is None


def test_only_complete_runs_are_read_and_the_report_has_a_table(tmp_path):
    _write_meta(tmp_path, "layerwise", 0, NEW)
    _write_meta(tmp_path, "layerwise", 1, {**NEW, "loaded": []}, status="failed")
    _write_meta(tmp_path, "old", 0, OLD)
    (tmp_path / "target" / "old" / "seed_1").mkdir()
    (tmp_path / "target" / "old" / "seed_1" / "meta.json").write_text("{not json")
    metas = load_run_metas(tmp_path)
    assert {m: sorted(s) for m, s in metas.items()} == {"layerwise": [0], "old": [0]}
    summary = {"baseline": "scratch", "methods": {"layerwise": {}, "old": {}, "gone": {}}}
    add_transfer_summaries(summary, tmp_path)
    assert "transfer" not in summary["methods"]["gone"]
    assert summary["methods"]["layerwise"]["transfer"]["tensors"]["loaded"] == 4
    text = "\n".join(transfer_section(summary))
    assert "## What each method transferred" in text
    assert (
        "| layerwise | parameters | 4/7 | 80% | 25% | 13% | 3 | blend | optimizer state | "
        "encoder.conv1=freeze, hidden1=finetune×0.1, output=reinit |" in text
    )
    assert "| old | parameters | 2/2 | — | — | — | 0 | source statistics reused" in text
    assert (
        "- layerwise skipped 3 source tensor(s): shape (2, 64) != target (3, 64) (1 tensor)" in text
    )
    assert "- layerwise added: residual adapter after hidden1." in text


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    from tests.conftest import TINY_STUDY

    study = copy.deepcopy(TINY_STUDY)
    study["source"]["timesteps"] = study["target"]["timesteps"] = 256
    return run_study(study, out=tmp_path_factory.mktemp("runs"), quiet=True)


def test_finetune_end_to_end(finetuned, tmp_path):
    from stable_baselines3 import PPO

    summary = json.loads((finetuned.out_dir / "summary.json").read_text())
    t = summary["methods"]["finetune"]["transfer"]
    n_source = len(
        PPO.load(finetuned.out_dir / "source" / "seed_0" / "model.zip").policy.state_dict()
    )
    assert t["seeds_read"] == [0, 1] and t["consistent"] is True
    assert t["transferred"] == "parameters"
    assert t["tensors"]["loaded"] == t["tensors"]["offered"] == n_source
    assert t["skipped"]["count"] == 0
    assert summary["methods"]["finetune"]["verdict"] in {"positive", "negative", "inconclusive"}
    text = (finetuned.out_dir / "report.md").read_text()
    assert "## What each method transferred" in text
    assert f"| finetune | parameters | {n_source}/{n_source} |" in text
    # `rltransfer report` on a copy with the meta.json files recomputes the same record.
    copy_dir = tmp_path / "copy"
    shutil.copytree(finetuned.out_dir / "target", copy_dir / "target")
    shutil.copyfile(finetuned.out_dir / "study.yaml", copy_dir / "study.yaml")
    assert main(["report", str(copy_dir)]) == 0
    again = json.loads((copy_dir / "summary.json").read_text())
    assert again["methods"]["finetune"]["transfer"] == t
