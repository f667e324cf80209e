#!/usr/bin/env bash
# Build a wheel, install it WITHOUT -e into a fresh venv (at the tested versions), and use it as a
# user would: --version, a tiny study with a multi-task source, and `rltransfer report` on it.
# Run from anywhere but the checkout, so nothing is imported from the source tree.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$top/.venv/bin/python" -m pip wheel --quiet --no-deps --no-build-isolation "$top" -w "$work/dist"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet -c "$top/constraints.txt" "$work"/dist/rltransfer-*.whl
cd "$work"
bin="$work/venv/bin/rltransfer"
"$bin" --version
"$work/venv/bin/python" - <<'PY'
import rltransfer, pathlib
where = pathlib.Path(rltransfer.__file__).resolve()
assert "site-packages" in where.parts, f"rltransfer imported from {where}, not the installed wheel"
PY
"$bin" run "$top/.ci/smoke_study.yaml" --out "$work/runs" --quiet
test -s "$work/runs/wheel-smoke/summary.json"
"$bin" report "$work/runs/wheel-smoke"
echo "wheel smoke test passed"
