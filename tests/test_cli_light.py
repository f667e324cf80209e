"""A CLI that answers at once: the discovery commands and `report` import neither torch nor
stable-baselines3 (each case runs in a fresh interpreter, so nothing else imported them first).
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import numpy as np
import pytest

import rltransfer
from rltransfer.analysis.curves import Curve, write_curve

HEAVY = ("torch", "torchvision", "stable_baselines3")

DRIVER = """
import contextlib, io, json, sys
from rltransfer.cli import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        code = main(json.loads(sys.argv[1]))
    except SystemExit as e:
        code = e.code
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps({"code": code, "heavy": heavy, "out": out.getvalue(), "err": err.getvalue()}))
"""


def _run_cli(argv: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(argv), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def curves_folder(tmp_path_factory):
    """A study folder of curve.csv files only (scratch and one method, 3 seeds)."""
    root = tmp_path_factory.mktemp("curves")
    grid = np.arange(0, 6) * 100
    for seed in range(3):
        for method, lift in (("scratch", 0.0), ("warmstart", 40.0)):
            values = np.linspace(10, 100, len(grid)) + lift + seed
            curve = Curve(grid, values, np.zeros(len(grid)), np.full(len(grid), 5))
            write_curve(root / "target" / method / f"seed_{seed}" / "curve.csv", curve)
    return root


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["envs"], ["envs", "--json"], ["methods"], ["methods", "--json"],
     ["run", "--help"], ["probe", "--help"]],
    ids=" ".join,
)  # fmt: skip
def test_discovery_commands_import_no_torch(argv):
    result = _run_cli(argv)
    assert result["code"] == 0, result["err"]
    assert result["out"], "the command printed nothing"
    assert result["heavy"] == [], f"{' '.join(argv)} imported {result['heavy']}"


def test_report_on_curves_imports_no_torch(curves_folder):
    result = _run_cli(["report", str(curves_folder)])
    assert result["code"] == 0, result["err"]
    assert "warmstart: positive" in result["out"]
    assert (curves_folder / "report.md").is_file()
    assert result["heavy"] == [], f"report imported {result['heavy']}"


def test_methods_json_lists_every_catalog_entry_with_its_options():
    from rltransfer.methods import CATALOG

    result = _run_cli(["methods", "--json"])
    listing = json.loads(result["out"])
    assert set(listing) == set(CATALOG)
    assert listing["freeze"]["options"]["train"] == ["output"]
    assert listing["scratch"] == {
        "transfers": "nothing",
        "description": CATALOG["scratch"].description,
        "options": {},
    }


def test_version_prints_the_package_version():
    proc = subprocess.run(
        [sys.executable, "-m", "rltransfer", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    installed = importlib.metadata.version("rltransfer")  # pyproject's, read from the source
    assert proc.stdout == f"rltransfer {installed}\n" == f"rltransfer {rltransfer.__version__}\n"


def test_catalog_options_parse_and_check_without_torch():
    """Every method's options parse and check from the catalog alone: the option dataclasses
    live in light modules."""
    code = (
        "import json, sys\n"
        "from rltransfer.methods import CATALOG\n"
        "for kind, entry in CATALOG.items():\n"
        "    if kind != 'layerwise':  # it needs groups\n"
        "        entry.parse_options({}, 'methods[0]')\n"
        "CATALOG['layerwise'].parse_options({'groups': {'all': 'freeze'}}, 'm')\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules} & set(sys.argv[1:]))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *HEAVY], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
