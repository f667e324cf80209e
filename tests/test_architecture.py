"""The layers of docs/architecture.md, held against the code's own imports.

Every ``import rltransfer.…`` (at module level or inside a function: a late import is still a
dependency) must go to the same layer or a lower one, and module-level imports must not form a
cycle. ``typing.TYPE_CHECKING`` blocks are left out: they are never executed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rltransfer

PACKAGE = Path(rltransfer.__file__).parent

LAYERS: list[tuple[str, ...]] = [
    (
        "errors",
        "io",
        "seeds",
        "layout",
        "paths",
        "progress",
        "checkpoints",
        "transfer_record",
        "stopwatch",
    ),
    ("config",),
    ("analysis",),
    ("report",),
    ("envs",),
    ("environments", "arguments"),
    ("tracking",),
    ("vision",),
    ("evaluation", "recorder", "alarm"),
    ("multitask",),
    ("agents",),
    ("methods",),
    ("run",),
    ("executors",),
    ("validation",),
    ("reanalysis", "folder_guard", "scheduling"),
    ("study",),
    ("tools", "cli", "__main__", "__init__", "studies"),
]
"""Low to high: a module may import its own layer and those before it (docs/architecture.md)."""


def _layer(module: str) -> int:
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    for i, names in enumerate(LAYERS):
        if head in names:
            return i
    raise AssertionError(f"{module}: in no layer of LAYERS (add it to docs/architecture.md)")


def _module_name(path: Path) -> str:
    parts = ("rltransfer", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(p for p in parts if p != "__init__") or "rltransfer"


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(test)


def _imports(tree: ast.AST, top_only: bool = False) -> list[str]:
    """Internal modules imported in ``tree``, skipping TYPE_CHECKING blocks."""
    found = []
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if _type_checking(node):
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        if not (top_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)):
            stack += ast.iter_child_nodes(node)
    return [m for m in found if m == "rltransfer" or m.startswith("rltransfer.")]


def _modules() -> dict[str, ast.AST]:
    return {_module_name(p): ast.parse(p.read_text("utf-8")) for p in PACKAGE.rglob("*.py")}


def test_no_layer_imports_a_higher_one():
    upward = []
    for module, tree in _modules().items():
        me = _layer(module if module != "rltransfer" else "rltransfer.__init__")
        for target in _imports(tree):
            if target != "rltransfer" and _layer(target) > me:
                upward.append(f"{module} -> {target}")
    assert upward == [], "imports that run back up the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycle_at_module_level():
    modules = _modules()
    graph = {
        m: {t for t in _imports(tree, top_only=True) if t in modules and t != m}
        for m, tree in modules.items()
    }
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done:
            return None
        for nxt in sorted(graph[node]):
            cycle = visit(nxt, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for m in sorted(graph):
        cycle = visit(m, [])
        assert cycle is None, "import cycle: " + " -> ".join(cycle)
