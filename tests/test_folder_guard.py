"""A re-run with a changed spec never destroys finished work (``rltransfer.folder_guard``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rltransfer import run_study
from rltransfer.cli import main
from rltransfer.errors import UserError
from rltransfer.folder_guard import spec_differences


def _snapshot(root: Path) -> dict[str, int]:
    """Modification times of every file a finished study wrote (W&B is disabled)."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_differences_name_the_dotted_keys_and_skip_execution_keys() -> None:
    old = {"hyperparams": {"learning_rate": 0.0003, "n_steps": 64}, "executor": {"workers": 1}}
    new = {"hyperparams": {"learning_rate": -1, "gamma": 0.9}, "executor": {"workers": 2}}
    assert spec_differences(old, new) == [
        "hyperparams.gamma: (absent) → 0.9",
        "hyperparams.learning_rate: 0.0003 → -1",
        "hyperparams.n_steps: 64 → (absent)",
    ]


def test_changed_spec_exits_2_and_loses_nothing(tiny_study, write_study, tmp_path, capsys):
    out = tmp_path / "runs"
    original = write_study(tiny_study, "original.yaml")
    assert main(["run", str(original), "--out", str(out), "--quiet"]) == 0
    root = out / "tiny"
    before = _snapshot(root)
    summary = (root / "summary.json").read_text()

    tiny_study["hyperparams"]["learning_rate"] = 0.0005
    changed = write_study(tiny_study, "changed.yaml")
    capsys.readouterr()
    assert main(["run", str(changed), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "finished run(s) of a different spec" in err
    assert "hyperparams.learning_rate: 'lin_0.001' → 0.0005" in err
    assert "--overwrite" in err and "Traceback" not in err
    assert _snapshot(root) == before  # not a file touched: runs, study.yaml, summary, report
    assert (root / "summary.json").read_text() == summary

    again = run_study(original, out=out, quiet=True)
    assert sorted(again.skipped) == sorted(
        [f"{m}/seed_{s}" for m in ("source", "scratch", "finetune") for s in (0, 1)]
    )


def test_execution_settings_do_not_count_as_a_change(tiny_study, tmp_path) -> None:
    run_study(tiny_study, out=tmp_path, quiet=True)
    again = run_study(tiny_study, out=tmp_path, quiet=True, workers=2, device="cpu")
    assert len(again.skipped) == 6  # 2 sources, 2 scratch, 2 finetune


def test_overwrite_keeps_unchanged_runs_and_replaces_the_others(tiny_study, tmp_path) -> None:
    first = run_study(tiny_study, out=tmp_path, quiet=True)
    scratch_model = first.out_dir / "target" / "scratch" / "seed_0" / "model.zip"
    kept = scratch_model.stat().st_mtime_ns
    tiny_study["methods"] = ["scratch", {"name": "finetune", "method": "finetune", "lr_mult": 0.5}]
    second = run_study(tiny_study, out=tmp_path, quiet=True, overwrite=True)
    assert sorted(second.skipped) == [
        "scratch/seed_0",
        "scratch/seed_1",
        "source/seed_0",
        "source/seed_1",
    ]
    assert scratch_model.stat().st_mtime_ns == kept
    meta = json.loads((first.out_dir / "target/finetune/seed_0/meta.json").read_text())
    assert meta["status"] == "complete" and meta["options"]["lr_mult"] == 0.5


def test_a_run_never_writes_over_a_finished_run_of_another_id(tiny_study, tmp_path) -> None:
    from dataclasses import replace

    from rltransfer.run import execute_run
    from rltransfer.study import plan_study
    from rltransfer.validation import load_study

    spec = load_study(tiny_study)
    first = run_study(tiny_study, out=tmp_path, quiet=True)
    source = plan_study(spec, first.out_dir).sources[0]
    with pytest.raises(FileExistsError, match="not overwriting"):
        execute_run(replace(source, run_id="another"))
    assert json.loads((Path(source.out_dir) / "meta.json").read_text())["status"] == "complete"


def test_a_run_killed_mid_way_is_left_out_of_the_report(tiny_study, tmp_path) -> None:
    from rltransfer.io import atomic_write_json

    first = run_study(tiny_study, out=tmp_path, quiet=True)
    meta = first.out_dir / "target" / "finetune" / "seed_1" / "meta.json"
    atomic_write_json(meta, {"run_id": "x", "status": "running"})  # as a killed run leaves it
    assert main(["report", str(first.out_dir)]) == 0
    summary = json.loads((first.out_dir / "summary.json").read_text())
    assert summary["methods"]["finetune"]["seeds"] == 1


def test_a_file_where_the_study_folder_goes_is_an_input_error(tiny_study, tmp_path) -> None:
    (tmp_path / "tiny").write_text("not a folder")
    with pytest.raises(UserError, match=r"--out: .*tiny is a file"):
        run_study(tiny_study, out=tmp_path, quiet=True)


def test_overwrite_deletes_nothing_when_the_executor_cannot_start(tiny_study, tmp_path) -> None:
    pytest.importorskip("ray")
    first = run_study(tiny_study, out=tmp_path, quiet=True)
    before = _snapshot(first.out_dir)
    tiny_study["target"]["timesteps"] = 256
    with pytest.raises(UserError, match="executor.address"):  # nothing answers there
        run_study(
            tiny_study, out=tmp_path, quiet=True, overwrite=True, executor="ray",
            ray_address="127.0.0.1:9",
        )  # fmt: skip
    assert _snapshot(first.out_dir) == before


def test_runs_an_earlier_spec_left_behind_are_not_in_the_report(tiny_study, tmp_path) -> None:
    run_study(tiny_study, out=tmp_path, quiet=True)
    tiny_study["methods"] = ["scratch", {"name": "ft2", "method": "finetune"}]
    tiny_study["seeds"] = [0]
    second = run_study(tiny_study, out=tmp_path, quiet=True)
    assert set(second.summary["methods"]) == {"ft2"}  # the old finetune folders stay, unread
    assert second.summary["methods"]["ft2"]["seeds"] == 1
    assert (second.out_dir / "target" / "finetune" / "seed_1" / "curve.csv").is_file()
    assert main(["report", str(second.out_dir)]) == 0  # the same from study.yaml alone
    again = json.loads((second.out_dir / "summary.json").read_text())
    assert set(again["methods"]) == {"ft2"} and again["methods"]["ft2"]["seeds"] == 1
