"""Command-line mistakes exit 2 with a message naming the option or file, never a traceback:
path arguments of the wrong kind, closed pipes, unreadable files under `rltransfer report`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rltransfer.analysis.curves import Curve, write_curve
from rltransfer.cli import main


def _exit_2(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("not a folder\n")
    return path


@pytest.fixture
def study_file(tiny_study, write_study) -> Path:
    return write_study(tiny_study)


# ------------------------------------------------------------------------------------ run
def test_run_out_naming_a_file_exits_2(study_file, a_file, capsys):
    err = _exit_2(["run", str(study_file), "--out", str(a_file)], capsys)
    assert "--out" in err and "is a file" in err and str(a_file) in err


def test_run_out_under_a_file_exits_2(study_file, a_file, capsys):
    err = _exit_2(["run", str(study_file), "--out", str(a_file / "runs")], capsys)
    assert "--out" in err and f"{a_file} is a file" in err
    assert not (a_file.parent / "runs").exists()


@pytest.mark.parametrize("name", [".", "nope.yaml"], ids=["a folder", "missing"])
def test_run_study_that_is_not_a_file_exits_2(tmp_path, capsys, name):
    study = tmp_path / name
    err = _exit_2(["run", str(study), "--out", str(tmp_path / "out")], capsys)
    assert f"{study}: no such study file" in err


# --------------------------------------------------------------------------------- report
def _curves(root: Path, seeds: int = 3) -> Path:
    grid = np.arange(0, 6) * 100
    for seed in range(seeds):
        for method, lift in (("scratch", 0.0), ("warmstart", 40.0)):
            values = np.linspace(10, 100, len(grid)) + lift + seed
            curve = Curve(grid, values, np.zeros(len(grid)), np.full(len(grid), 5))
            write_curve(root / "target" / method / f"seed_{seed}" / "curve.csv", curve)
    return root


def test_report_on_a_file_exits_2(a_file, capsys):
    err = _exit_2(["report", str(a_file)], capsys)
    assert "DIR" in err and "is a file" in err


def test_report_on_a_binary_study_yaml_exits_2(tmp_path, capsys):
    root = _curves(tmp_path)
    (root / "study.yaml").write_bytes(bytes(range(256)) * 4)
    err = _exit_2(["report", str(root)], capsys)
    assert f"{root / 'study.yaml'}: not a text YAML file" in err


def test_report_on_a_study_yaml_that_is_a_folder_exits_2(tmp_path, capsys):
    root = _curves(tmp_path)
    (root / "study.yaml").mkdir()
    err = _exit_2(["report", str(root)], capsys)
    assert f"{root / 'study.yaml'}: cannot read" in err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (bytes(range(256)) * 4, "not a text CSV file"),
        (b"timesteps,return_mean\x00,return_std,episodes\n", "the first line must start with"),
        (b"\x00" * 64, "the first line must start with"),
    ],
)
def test_report_on_a_binary_curve_exits_2(tmp_path, capsys, content, words):
    root = _curves(tmp_path)
    bad = root / "target" / "warmstart" / "seed_1" / "curve.csv"
    bad.write_bytes(content)
    err = _exit_2(["report", str(root)], capsys)
    assert f"{bad}: {words}" in err


def test_report_on_a_curve_that_is_a_folder_exits_2_rather_than_dropping_the_seed(tmp_path, capsys):
    root = _curves(tmp_path)
    seed_dir = root / "target" / "warmstart" / "seed_3"
    (seed_dir / "curve.csv").mkdir(parents=True)
    err = _exit_2(["report", str(root)], capsys)
    assert f"{seed_dir / 'curve.csv'}: is a folder" in err


def test_report_where_report_md_is_a_folder_exits_2(tmp_path, capsys):
    root = _curves(tmp_path)
    (root / "report.md").mkdir()
    err = _exit_2(["report", str(root)], capsys)
    assert f"{root / 'report.md'}: cannot write the report" in err


def test_report_skips_a_seed_folder_without_a_curve(tmp_path, capsys):
    """An unfinished run (no curve.csv yet) is still skipped: only a wrong curve.csv stops."""
    root = _curves(tmp_path)
    (root / "target" / "warmstart" / "seed_7").mkdir()
    assert main(["report", str(root)]) == 0


# ------------------------------------------------------------------------------- closed pipe
@pytest.mark.parametrize("argv", [["methods", "--json"], ["envs"], ["encoders"]], ids=" ".join)
def test_a_closed_pipe_exits_quietly(argv):
    """`rltransfer methods --json | head`: the reader went away. The read end is closed before
    the command starts, so its first write fails: no traceback, the SIGPIPE exit code."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "rltransfer", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write)
    assert proc.stderr == ""
    assert proc.returncode == 141


def test_head_reads_the_first_line_of_methods_json():
    """The real pipe: `rltransfer methods --json | head -1`."""
    proc = subprocess.run(
        f"'{sys.executable}' -m rltransfer methods --json | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout == "{\n"
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


# ------------------------------------------------------------------------- pretrain, probe
ENV = '{id: "rltransfer.envs.vision_testing:GridPixelEnv", kwargs: {size: 32, max_steps: 8}}'


def test_pretrain_out_that_is_a_folder_exits_2(tmp_path, capsys):
    folder = tmp_path / "w.pt"
    folder.mkdir()
    argv = ["pretrain", "--env", ENV, "--encoder", "tiny_cnn", "--out", str(folder)]
    err = _exit_2(argv, capsys)
    assert "--out" in err and "is a folder" in err


def test_pretrain_out_under_a_file_exits_2(a_file, capsys):
    argv = ["pretrain", "--env", ENV, "--encoder", "tiny_cnn", "--out", str(a_file / "w.pt")]
    err = _exit_2(argv, capsys)
    assert "--out" in err and f"{a_file} is a file" in err


def test_pretrain_agent_that_is_a_file_exits_2(tmp_path, a_file, capsys):
    argv = ["pretrain", "--env", ENV, "--encoder", "tiny_cnn", "--out", str(tmp_path / "w.pt")]
    err = _exit_2([*argv, "--agent", str(a_file)], capsys)
    assert "--agent" in err and "is a file" in err


def test_pretrain_weights_file_missing_exits_2(tmp_path, capsys):
    argv = ["pretrain", "--env", ENV, "--encoder", "tiny_cnn", "--out", str(tmp_path / "w.pt")]
    err = _exit_2([*argv, "--weights", str(tmp_path / "missing.pt")], capsys)
    assert "--weights" in err and "no such file" in err


def _image_folder(root: Path, classes: list[str], per_class: int = 4) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / c / f"{i}.png")
    return root


def test_probe_on_images_of_one_class_exits_2(tmp_path, capsys):
    root = _image_folder(tmp_path / "images", ["cat"])
    err = _exit_2(["probe", "--encoder", "tiny_cnn", "--images", str(root)], capsys)
    assert "one class folder (cat)" in err and "at least two classes" in err


def test_probe_on_an_unreadable_image_exits_2(tmp_path, capsys):
    root = _image_folder(tmp_path / "images", ["cat", "dog"])
    (root / "dog" / "broken.png").write_bytes(b"not a png")
    err = _exit_2(["probe", "--encoder", "tiny_cnn", "--images", str(root)], capsys)
    assert f"{root / 'dog' / 'broken.png'}: not a readable image" in err


@pytest.mark.parametrize("option", ["--images", "--source", "--weights"])
def test_probe_path_arguments_of_the_wrong_kind_exit_2(tmp_path, a_file, capsys, option):
    images = _image_folder(tmp_path / "images", ["cat", "dog"])
    argv = ["probe", "--encoder", "tiny_cnn", "--images", str(images)]
    if option == "--images":
        argv[-1] = str(a_file)
        words = "is a file"
    else:  # a folder where a file is expected
        argv += [option, str(tmp_path)]
        words = "is a folder"
    err = _exit_2(argv, capsys)
    assert f"{option}:" in err and words in err


@pytest.mark.parametrize("option", ["--size", "--frames"])
def test_probe_sizes_below_one_exit_2(tmp_path, capsys, option):
    images = _image_folder(tmp_path / "images", ["cat", "dog"])
    argv = ["probe", "--encoder", "tiny_cnn", "--images", str(images), option, "0"]
    err = _exit_2(argv, capsys)
    assert f"{option}: must be at least 1, got 0" in err


@pytest.mark.parametrize("value", ["1e308", "inf", "nan"])
def test_report_threshold_out_of_range_exits_2(value, tmp_path, capsys):
    assert main(["report", str(tmp_path), "--threshold", value]) == 2
    err = capsys.readouterr().err
    assert "--threshold: must be a return in" in err and "Traceback" not in err
