"""``python -m imagebridge.testing scenarios``: every scenario's call, marker, expected outcome
and what a fake must answer, without printing SCENARIOS; the docs' scenario page is the same
table (``docs/gen_pages.py``)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import ModuleType

import pytest

from imagebridge.testing import SCENARIOS
from imagebridge.testing.__main__ import main

from .conftest import ROOT


def gen_pages() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_pages", ROOT / "docs" / "gen_pages.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def blocks(text: str) -> dict[str, dict[str, str]]:
    found = {}
    for block in text.strip().split("\n\n"):
        head, *lines = block.splitlines()
        name, _, expects = head.partition("  ->  ")
        fields = {line.split()[0]: line.split(maxsplit=1)[1] for line in lines}
        found[name] = {"expects": expects, **fields}
    return found


def test_scenarios_prints_every_scenario_with_its_marker_and_the_answer_it_needs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["scenarios"]) == 0
    table = blocks(capsys.readouterr().out)
    assert list(table) == [scenario.name for scenario in SCENARIOS]
    for scenario in SCENARIOS:
        row = table[scenario.name]
        assert row["checks"] == scenario.description
        assert row["expects"].startswith(scenario.expect)
        if scenario.marker:
            assert row["marker"] == scenario.marker
    policy = table["content_policy"]
    assert policy["marker"] == "#fail=content_policy_violation"
    assert policy["expects"] == "ContentPolicyError"
    assert "the provider's own ContentPolicyError" in policy["answer"]
    assert "--marker content_policy='#fail=<code>'" in policy["answer"]
    limited = table["rate_limited"]
    assert limited["answer"].startswith("HTTP 429, with a Retry-After header")
    assert "(the marker's default: rate_limit_exceeded;" in limited["answer"]
    assert "sk-imagebridge-conformance-wrong-key" in table["auth_invalid"]["answer"]
    assert table["task_unknown"]["answer"].startswith("HTTP 404")
    assert table["task_unknown"]["call"] == 'wait("task-unknown-000000")'
    assert table["result_url"]["expects"] == "success, images as URLs"
    assert table["stream_interrupted"]["marker"].startswith("header X-Emulator-Fault: ")
    assert "the kit then edits the recording" in table["html_error_page"]["answer"]


def test_the_markdown_table_is_the_docs_scenario_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "--markdown"]) == 0
    markdown = capsys.readouterr().out
    lines = markdown.splitlines()
    assert lines[0] == "| scenario | needs | call | marker | expects | the fake must answer |"
    rows = [line for line in lines[2:] if line.startswith("| `")]
    assert len(rows) == len(SCENARIOS)
    for row, scenario in zip(rows, SCENARIOS, strict=True):
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        assert len(cells) == 6, row
        assert cells[0] == f"`{scenario.name}`"
        fault = f"`header X-Emulator-Fault: {scenario.fault}`" if scenario.fault else "-"
        assert cells[3] == (f"`{scenario.marker}`" if scenario.marker else fault)
    assert markdown in gen_pages().scenarios_page()


def test_the_command_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "imagebridge.testing", "scenarios"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.startswith("text_to_image  ->  success\n")
