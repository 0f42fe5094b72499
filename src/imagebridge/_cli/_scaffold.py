"""The files of a new plugin package (``imagebridge plugin new``), rendered from templates.

The templates are package data (``templates/*.tmpl``, :class:`string.Template` with ``$name``
placeholders). :func:`plan_package` checks the name and returns the files to write, path ->
text; nothing here touches the disk but :func:`write_package`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Literal

from imagebridge import __version__

__all__ = ["KINDS", "Kind", "PluginNames", "ScaffoldError", "plan_package", "write_package"]

Kind = Literal["sync", "task"]
KINDS: tuple[Kind, ...] = ("sync", "task")
_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_MAX_NAME = 40
_KIND_TEXT = {
    "sync": "one request, images in the answer",
    "task": "asynchronous tasks: submit, poll, collect",
}
_TASK_HINTS = '\n[hints.task_failed]\nmarker = "#fail=generation_failed"\n'


class ScaffoldError(ValueError):
    """A package that cannot be written; the message says what to change."""


@dataclass(frozen=True)
class PluginNames:
    """Every name a plugin called ``name`` gets, derived once."""

    #: The provider name users pass, and the entry point's name: ``acme-cloud``.
    name: str
    #: The distribution: ``imagebridge-acme-cloud``.
    dist: str
    #: The import package: ``imagebridge_acme_cloud``.
    module: str
    #: For prose and class names: ``AcmeCloud``.
    title: str
    #: The adapter class: ``AcmeCloudAdapter``.
    cls: str
    #: The environment variables' prefix: ``ACME_CLOUD`` (``ACME_CLOUD_API_KEY``).
    env: str

    @classmethod
    def of(cls, name: str) -> PluginNames:
        """The names of a plugin, or a :class:`ScaffoldError` that says which names work."""
        if len(name) > _MAX_NAME or not _NAME.fullmatch(name):
            raise ScaffoldError(
                f"{name!r} is not a provider name: use lowercase letters and digits, starting"
                f" with a letter, words joined by '-' or '_', at most {_MAX_NAME} characters"
                " (e.g. 'acme' or 'acme-cloud')"
            )
        snake = name.replace("-", "_")
        title = "".join(part.capitalize() for part in snake.split("_"))
        return cls(
            name=name,
            dist=f"imagebridge-{snake.replace('_', '-')}",
            module=f"imagebridge_{snake}",
            title=title,
            cls=f"{title}Adapter",
            env=snake.upper(),
        )


def _template(name: str) -> Template:
    text = (resources.files("imagebridge._cli") / "templates" / name).read_text("utf-8")
    return Template(text)


def plan_package(names: PluginNames, kind: Kind) -> dict[str, str]:
    """The package's files (relative path -> text) for a ``kind`` dialect."""
    values = {
        "name": names.name,
        "dist": names.dist,
        "module": names.module,
        "module_tail": names.module.removeprefix("imagebridge_"),
        "title": names.title,
        "cls": names.cls,
        "env": names.env,
        "version": __version__,
        "kind_text": _KIND_TEXT[kind],
        "task_hints": _TASK_HINTS if kind == "task" else "",
    }
    files = {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"src/{names.module}/__init__.py": "plugin_init.py.tmpl",
        f"src/{names.module}/adapter.py": f"adapter_{kind}.py.tmpl",
        f"tests/test_{values['module_tail']}_conformance.py": "test_conformance.py.tmpl",
        "tests/fake_server.py": f"fake_{kind}.py.tmpl",
        "tests/imagebridge-record.toml": "record.toml.tmpl",
        ".github/workflows/conformance.yml": "conformance.yml.tmpl",
    }
    planned = {path: _template(name).substitute(values) for path, name in files.items()}
    planned[f"src/{names.module}/py.typed"] = ""
    return planned


def write_package(root: Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` under ``root``, which must not exist or be an empty folder: nothing is
    ever overwritten. Returns the paths written."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ScaffoldError(
            f"{root} already exists and is not an empty folder; nothing was written (give"
            " another folder with --dir, or remove that one)"
        )
    written = []
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
