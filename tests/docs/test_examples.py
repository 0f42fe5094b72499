"""Every Python example in the docs and the README runs, against the local emulator.

Examples are written the way users write them (``ImageClient("dimilinks")``, keys and base
URLs from the environment); here the environment points every provider at the emulator.
The provider pages are generated at build time, so their examples are generated here too.
A block preceded by ``<!-- no-test: reason -->`` is skipped, with the reason.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
BLOCK = re.compile(r"(<!-- no-test: (?P<reason>.*?) -->\s*\n)?```python\n(?P<code>.*?)```", re.S)
PROVIDERS = ("openai", "geeknow", "dimilinks", "apimart")


def _gen_pages() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_pages", DOCS / "gen_pages.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Pages whose code blocks quote files that are tested where they live: the plugin guide
#: quotes the example plugin package, whose own conformance suite runs in CI.
QUOTING = {"docs/plugins.md"}


def _examples() -> Iterator[object]:
    pages = [
        (page, path.read_text())
        for path in sorted(DOCS.rglob("*.md"))
        if (page := path.relative_to(ROOT).as_posix()) not in QUOTING
    ]
    pages.append(("README.md", (ROOT / "README.md").read_text()))
    generator = _gen_pages()
    pages += [(f"docs/providers/{name}.md", generator.provider_page(name)) for name in PROVIDERS]
    for page, text in pages:
        for number, match in enumerate(BLOCK.finditer(text)):
            marks = []
            if match.group("reason"):
                marks.append(pytest.mark.skip(reason=match.group("reason")))
            yield pytest.param(match.group("code"), id=f"{page}#{number}", marks=marks)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.2)) as server:
        yield server


@pytest.mark.parametrize("code", list(_examples()))
def test_example_runs(
    code: str,
    emulator: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for provider in PROVIDERS:
        monkeypatch.setenv(f"{provider.upper()}_BASE_URL", emulator.url(provider))
        monkeypatch.setenv(f"{provider.upper()}_API_KEY", "sk-docs-example")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<docs example>", "exec"), {"__name__": "__docs__"})  # noqa: S102
    capsys.readouterr()


def test_every_page_has_an_example_checked() -> None:
    """The generated provider pages each carry a runnable example."""
    generator = _gen_pages()
    for name in PROVIDERS:
        assert "```python" in generator.provider_page(name)


def _reference_members(page: str) -> set[str]:
    text = (ROOT / "docs" / "reference" / page).read_text(encoding="utf-8")
    return set(re.findall(r"^\s+- (\w+)$", text, re.MULTILINE))


def test_the_reference_pages_document_every_public_name() -> None:
    import imagebridge
    import imagebridge.adapter

    top = _reference_members("imagebridge.md")
    assert set(imagebridge.__all__) - {"__version__"} <= top
    adapter = _reference_members("adapter.md")
    # Names both modules export are documented once, on the imagebridge page.
    assert set(imagebridge.adapter.__all__) - set(imagebridge.__all__) <= adapter
