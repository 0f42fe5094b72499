"""The capability matrix (docs/gen_matrix.py) is the registry's declarations, row for row."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from imagebridge import default_registry

ROOT = Path(__file__).resolve().parents[2]
#: The built-in providers (a new one is added here and to the docs' nav together).
BUILTIN = (
    "apimart",
    "bfl",
    "dimilinks",
    "fal",
    "geeknow",
    "google",
    "openai",
    "replicate",
    "stability",
)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_{name}", ROOT / "docs" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def builtin() -> list[str]:
    """The built-in providers, in the order the docs list them."""
    names: list[str] = _load("gen_matrix").builtin_providers()
    return names


def test_the_builtin_providers_are_the_nine() -> None:
    assert sorted(builtin()) == sorted(BUILTIN)
    assert builtin() == _load("gen_pages").builtin_providers()


def test_one_row_per_provider_and_model() -> None:
    matrix = _load("gen_matrix")
    registry = default_registry()
    rows = [(row.provider, row.model) for row in matrix.rows()]
    expected = [(name, model) for name in builtin() for model in registry.adapters[name].models]
    assert rows == expected
    page = matrix.matrix_page()
    body = [line for line in page.splitlines() if re.match(r"\| \[\w+\]\(\w+\.md\) `", line)]
    assert len(body) == len(expected)
    for line, (name, model) in zip(body, expected, strict=True):
        assert line.startswith(f"| [{name}]({name}.md) `{model}` |")
        assert line.count(" | ") == len(matrix.COLUMNS) - 1  # no cell broke the table


def test_the_marks_follow_the_declarations() -> None:
    matrix = _load("gen_matrix")
    registry = default_registry()
    headers = [header for header, _ in matrix.COLUMNS]
    for row in matrix.rows():
        adapter_cls = registry.adapters[row.provider]
        caps = registry.capabilities(adapter_cls(adapter_cls.default_base_url), row.model)
        cell = dict(zip(headers, row.cells, strict=True))
        for header, flag in [
            ("edit", caps.edits),
            ("var", caps.variations),
            ("task", caps.async_tasks),
            ("cancel", caps.cancel),
            ("seed", caps.seed),
            ("neg", caps.negative_prompt),
        ]:
            assert (matrix.YES in cell[header]) is flag, (row.model, header)
        assert f">{caps.max_images_per_call}/{caps.max_n}<" in cell["n"]
        assert ("$" in cell["price"]) is (caps.price is not None)
        if caps.max_reference_images:
            assert f">{caps.max_reference_images}<" in cell["refs"]


def test_the_matrix_is_in_the_nav_and_linked_from_the_providers_page() -> None:
    assert "providers/matrix.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "docs/gen_matrix.py" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "(matrix.md)" in _load("gen_pages").index_page()


def test_a_hover_title_cannot_break_a_cell() -> None:
    matrix = _load("gen_matrix")
    cell = matrix.mark("1", 'a | b "c"')
    assert "|" not in cell
    assert "&quot;c&quot;" in cell
