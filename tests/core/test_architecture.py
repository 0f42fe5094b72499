"""The shape of the code, checked: what a maintainer would otherwise have to police by eye.

* no module imports another module's private name (``from ._x import _helper``), and no
  module reaches into another module's private attributes (``client._plan``): private
  means "of this module", across every module of ``src/`` and ``plugins/``;
* no import cycle, counting imports inside functions (a lazy import hides a cycle, it does
  not remove it) and, with one documented exception, imports made only for type checking;
* no module longer than the house limit.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "imagebridge": ROOT / "src" / "imagebridge",
    "imagebridge_plugins": ROOT / "plugins" / "imagebridge_plugins",
}
MAX_LINES = 450

#: Private attributes of other libraries the code relies on, each for a stated reason.
FOREIGN_PRIVATE = {
    # httpx keeps no public handle on its transports' connection pools: the deadline
    # backend is installed into them (imagebridge._deadline_backend.install).
    ("imagebridge._deadline_backend", "_transport"),
    ("imagebridge._deadline_backend", "_mounts"),
    ("imagebridge._deadline_backend", "_network_backend"),
    # httpx has no public way to give a streamed response the body read into a buffer.
    ("imagebridge._reading", "_content"),
}

#: Imports made only for type checking that close a cycle, each for a stated reason.
TYPE_ONLY_BACK_EDGES = {
    # An error carries the images that finished before it (error.partial); results raise
    # errors. The annotation needs the type, nothing at run time does (httpx's exceptions
    # and models are tied the same way).
    ("imagebridge._errors", "imagebridge._result"),
    # Likewise the last partial image of a stream that broke (error.last_partial).
    ("imagebridge._errors", "imagebridge._flow"),
}


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # a module of ours
    names: tuple[str, ...]
    type_only: bool
    line: int


def module_files() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = module_files()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    base = base if _is_package(importer) else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for inner in ast.walk(child):
                    if hasattr(inner, "lineno"):
                        lines.add(inner.lineno)
    return lines


def imports_of(name: str) -> Iterator[Import]:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    type_only = _type_checking_lines(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    yield Import(name, alias.name, (), node.lineno in type_only, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(name, node)
            if source.split(".")[0] not in PACKAGES:
                continue
            names = tuple(alias.name for alias in node.names)
            modules = [f"{source}.{n}" for n in names if f"{source}.{n}" in MODULES]
            rest = tuple(n for n in names if f"{source}.{n}" not in MODULES)
            for target in modules:
                yield Import(name, target, (), node.lineno in type_only, node.lineno)
            if rest and source in MODULES:
                yield Import(name, source, rest, node.lineno in type_only, node.lineno)


ALL_IMPORTS = [imp for name in MODULES for imp in imports_of(name)]


def test_the_walk_sees_the_code() -> None:
    # A walk that finds nothing would pass every test below.
    assert len(MODULES) > 80
    assert len(ALL_IMPORTS) > 300
    assert any(imp.type_only for imp in ALL_IMPORTS)


def test_no_module_imports_another_modules_private_names() -> None:
    found = [
        f"{MODULES[imp.importer].relative_to(ROOT)}:{imp.line} imports {name} from {imp.target}"
        for imp in ALL_IMPORTS
        for name in imp.names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not found, "\n".join(found)


def _defined_private(tree: ast.Module) -> set[str]:
    """Private names a module defines: functions, classes, class attributes, attributes it
    assigns (``self._x = ...``), slots."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries, getattr(obj, "_x")
    return {name for name in names if name.startswith("_")}


def test_no_module_reaches_into_another_modules_private_attributes() -> None:
    found = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own = _defined_private(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or attr.startswith("__"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if attr in own or (name, attr) in FOREIGN_PRIVATE:
                continue
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {ast.unparse(node)}")
    assert not found, "\n".join(found)


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        if a != b:
            graph.setdefault(a, set()).add(b)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def _edges(*, type_only: bool) -> set[tuple[str, str]]:
    return {
        (imp.importer, imp.target)
        for imp in ALL_IMPORTS
        if type_only or not imp.type_only
        # A package's own __init__ is imported before any of its modules: not an edge.
        if not imp.importer.startswith(imp.target + ".")
    }


def test_no_import_cycles_at_run_time() -> None:
    cycles = _cycles(_edges(type_only=False))
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_no_import_cycles_for_the_type_checker_but_the_documented_one() -> None:
    edges = _edges(type_only=True)
    assert edges >= TYPE_ONLY_BACK_EDGES  # each exception still exists, or goes
    cycles = _cycles(edges - TYPE_ONLY_BACK_EDGES)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(ROOT)} has {lines} lines"


def test_the_architecture_page_names_every_core_module_and_no_other() -> None:
    page = (ROOT / "docs" / "concepts" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(_?[a-z_]+)`", page))
    core = {n.split(".")[1] for n in MODULES if n.startswith("imagebridge.")}
    core = {n for n in core if n.startswith("_") or n in {"adapter", "hookspecs", "testing"}}
    assert core <= named, sorted(core - named)
    listed_modules = {n for n in named if n.startswith("_") and not n.startswith("__")}
    assert listed_modules <= core, sorted(listed_modules - core)
