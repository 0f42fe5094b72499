"""The emulator is an independent implementation: it imports nothing else from imagebridge."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import imagebridge._emulator as emulator

PACKAGE = "imagebridge._emulator"
ALLOWED_THIRD_PARTY = {"starlette", "uvicorn", "multipart", "python_multipart", "PIL"}


def modules() -> list[tuple[Path, str]]:
    """Every module of the package with the dotted name of the package it lives in."""
    root = Path(emulator.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.parent.relative_to(root).parts
        found.append((path, ".".join([PACKAGE, *parts])))
    return found


def imported_names(source: str, package: str) -> list[tuple[str, int]]:
    """Absolute names a module imports; relative imports are resolved against ``package``."""
    names: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            names.append((module, node.lineno))
            names.extend((f"{module}.{alias.name}", node.lineno) for alias in node.names)
    return names


def forbidden(name: str) -> bool:
    inside = name == PACKAGE or name.startswith(PACKAGE + ".")
    return (name == "imagebridge" or name.startswith("imagebridge.")) and not inside


def test_package_is_split_into_modules() -> None:
    assert len(modules()) >= 8


def test_no_imports_from_the_rest_of_imagebridge() -> None:
    offenders = [
        f"{path.name}:{line}: {name}"
        for path, package in modules()
        for name, line in imported_names(path.read_text(encoding="utf-8"), package)
        if forbidden(name)
    ]
    assert offenders == []


def test_only_stdlib_and_allowed_third_party_imports() -> None:
    allowed = set(sys.stdlib_module_names) | ALLOWED_THIRD_PARTY | {"__future__"}
    offenders = [
        f"{path.name}:{line}: {name}"
        for path, package in modules()
        for name, line in imported_names(path.read_text(encoding="utf-8"), package)
        if not name.startswith(PACKAGE) and name.split(".")[0] not in allowed
    ]
    assert offenders == []


def test_the_scanner_sees_forbidden_imports() -> None:
    source = (
        "import imagebridge\n"
        "from imagebridge import ImageClient\n"
        "from .. import _errors\n"
        "from .._sizes import parse\n"
        "from ._store import Task\n"
        "from imagebridge._emulator import _app\n"
    )
    flagged = {name for name, _ in imported_names(source, PACKAGE) if forbidden(name)}
    assert flagged == {
        "imagebridge",
        "imagebridge.ImageClient",
        "imagebridge._errors",
        "imagebridge._sizes",
        "imagebridge._sizes.parse",
    }
