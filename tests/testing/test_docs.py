"""docs/plugins.md quotes the example plugin's real files: every code block titled with a
file name must be an excerpt of that file, so the guide cannot drift from what CI runs."""

from __future__ import annotations

import re
import textwrap

from imagebridge.testing import SCENARIOS

from .conftest import ROOT

GUIDE = ROOT / "docs" / "plugins.md"
_TITLED = re.compile(r'^```\w+ title="([^"]+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def is_excerpt(block: str, text: str) -> bool:
    """Whether ``block`` is a run of whole lines of ``text``, up to indentation and blank
    lines (``ruff format`` formats the guide's blocks, and a method quoted out of its class
    is formatted as a module-level function)."""
    wanted = _lines(textwrap.dedent(block))
    lines = _lines(text)
    return any(
        _lines(textwrap.dedent("\n".join(lines[i : i + len(wanted)]))) == wanted
        for i in range(len(lines) - len(wanted) + 1)
    )


def test_every_titled_block_is_an_excerpt_of_its_file() -> None:
    blocks = _TITLED.findall(GUIDE.read_text())
    assert len(blocks) >= 10
    quoted = set()
    for path, block in blocks:
        text = (ROOT / path).read_text()
        assert is_excerpt(block, text), f"docs/plugins.md quotes {path}, now changed:\n{block}"
        quoted.add(path)
    example = "examples/imagebridge-pixelforge/"
    assert {
        example + "pyproject.toml",
        example + "src/imagebridge_pixelforge/__init__.py",
        example + "src/imagebridge_pixelforge/adapter.py",
        example + "tests/test_pixelforge_conformance.py",
        example + "tests/record_cassettes.py",
    } <= quoted


def test_the_guide_lists_every_shared_scenario() -> None:
    guide = GUIDE.read_text()
    missing = [s.name for s in SCENARIOS if f"`{s.name}`" not in guide]
    assert not missing, f"docs/plugins.md does not describe {missing}"
