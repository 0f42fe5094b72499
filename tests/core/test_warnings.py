"""Warning codes: one closed set, used by every warning the code makes, listed in the docs.

``ImageWarning`` refuses a code outside :data:`WARNING_CODES`; an AST walk checks that every
``ImageWarning(...)`` written in src/ and plugins/ passes a literal code from the set; the
docs' table is compared with the set, meaning for meaning; and a real generation over
loopback HTTP (both clients) comes back with documented codes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest

from helpers import API_KEY, emulated_generate
from imagebridge import ImageWarning
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from imagebridge._warnings import WARNING_CODES, WarningCode

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "src", ROOT / "plugins")
DOCS_PAGE = ROOT / "docs" / "concepts" / "results.md"


def test_the_literal_and_the_table_name_the_same_codes_in_the_same_order() -> None:
    assert get_args(WarningCode) == tuple(WARNING_CODES)
    assert "other" in WARNING_CODES
    assert all(meaning.strip() for meaning in WARNING_CODES.values())


def test_an_unknown_code_is_refused_naming_it_and_every_allowed_code() -> None:
    with pytest.raises(ValueError, match="'not_a_code'") as info:
        ImageWarning("not_a_code", "something happened")  # type: ignore[arg-type]
    for code in WARNING_CODES:
        assert code in str(info.value)


def test_a_known_code_makes_a_warning_that_prints_its_message() -> None:
    warning = ImageWarning("other", "the plugin adapted something", "style")
    assert (warning.code, warning.field, str(warning)) == (
        "other",
        "style",
        "the plugin adapted something",
    )


def _warning_calls() -> Iterator[tuple[str, ast.Call]]:
    for root in SOURCES:
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                    if name == "ImageWarning":
                        yield f"{path.relative_to(ROOT)}:{node.lineno}", node


def _code_of(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "code":
            return keyword.value
    return call.args[0] if call.args else None


def test_every_warning_made_in_src_and_plugins_uses_a_literal_code_from_the_set() -> None:
    used: dict[str, str] = {}
    bad: list[str] = []
    for where, call in _warning_calls():
        code = _code_of(call)
        if isinstance(code, ast.Constant) and code.value in WARNING_CODES:
            used[str(code.value)] = where
        else:
            bad.append(f"{where}: {ast.unparse(code) if code is not None else 'no code'}")
    assert bad == [], "ImageWarning made with a code outside WARNING_CODES"
    # Every code but ``other`` (the plugins' own) is made somewhere: none is left over.
    assert set(used) == set(WARNING_CODES) - {"other"}


def _documented_codes() -> dict[str, str]:
    text = DOCS_PAGE.read_text(encoding="utf-8")
    section = text.split("\n## Warning codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (.+?) \|$", section, re.MULTILINE)
    return dict(rows)


def test_the_docs_list_exactly_the_warning_codes_with_their_meanings() -> None:
    assert _documented_codes() == dict(WARNING_CODES)


# -- warnings of real calls -----------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(api_key=API_KEY)) as running:
        yield running


def generate_with(mode: str, server: EmulatorServer) -> Any:
    return emulated_generate(mode, server, "openai", api_key=API_KEY)


async def test_adaptations_come_back_with_documented_codes(
    mode: str, server: EmulatorServer
) -> None:
    async with generate_with(mode, server) as generate:
        result = await generate("a fox", model="dall-e-3", n=2, size="7:4")
    assert sorted(w.code for w in result.warnings) == ["n_split", "size_mapped"]
    assert {w.field for w in result.warnings} == {"n", "size"}
    assert all(w.code in WARNING_CODES for w in result.warnings)
    assert len(result.images) == 2
