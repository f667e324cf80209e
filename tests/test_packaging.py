"""The wheel a user installs holds every package of the tree, its data files and the license;
the library declares dependency ranges, and the tested versions live in constraints.txt."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from importlib.metadata import requires
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + [str(ROOT), "-w", str(out)],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("rltransfer-*.whl")
    return zipfile.ZipFile(path)


def test_every_package_folder_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    tree = {
        str(p.parent.relative_to(ROOT))
        for p in (ROOT / "rltransfer").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    inside = {n.rsplit("/", 1)[0] for n in wheel.namelist() if n.endswith("/__init__.py")}
    assert "rltransfer/envs" in tree and "rltransfer/multitask" in tree
    assert tree - inside == set()


def test_every_module_and_data_file_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "rltransfer").rglob("*.py")}
    assert modules - names == set()
    assert {"rltransfer/studies/default.yaml", "rltransfer/py.typed"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def _requirement_name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")


def test_dependencies_are_ranges_and_constraints_pin_them() -> None:
    # The installed metadata: what pip reads (``extra == "ray"`` markers for the extras).
    requirements = [r for r in requires("rltransfer") or [] if not r.startswith("rltransfer")]
    assert any("torch" in r for r in requirements)
    pinned = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for req in requirements:
        assert "==" not in req.split(";")[0], (
            f"{req}: the library declares a range; pins go in constraints.txt"
        )
        assert _requirement_name(req) in pinned, f"{req} has no tested version in constraints.txt"
    assert pinned["torch"] == "2.14.1" and pinned["torchvision"] == "0.29.1"
