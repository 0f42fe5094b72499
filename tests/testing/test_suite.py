"""The suite as a whole: cases, skips and rejections from capabilities, known gaps, the
in-process runner and its table, the pytest plugin, the schema and the public names."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import imagebridge.testing as kit
from imagebridge.testing import Suite, cassette_schema, format_table, run_conformance

from .conftest import BUILTIN, ROOT


def test_the_committed_schema_is_generated_from_the_models() -> None:
    schema = "src/imagebridge/testing/cassette.schema.json"
    committed = json.loads((ROOT / schema).read_text())
    assert committed == cassette_schema(), (
        f"{schema} is stale: regenerate it with `python -m imagebridge.testing schema > {schema}`"
    )


def test_every_built_in_cassette_is_valid_and_named_after_its_file() -> None:
    paths = sorted(BUILTIN.glob("*/*.json"))
    assert len(paths) > 80
    for path in paths:
        cassette = kit.load_cassette(path)
        assert (cassette.name, cassette.provider) == (path.stem, path.parent.name)


def test_the_public_names_are_sorted_and_importable() -> None:
    assert kit.__all__ == sorted(kit.__all__, key=lambda name: (not name.isupper(), name))
    for name in kit.__all__:
        assert getattr(kit, name) is not None


def test_the_pytest_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, imagebridge.testing.pytest_plugin;"
        "print(sorted(m for m in ('respx', 'imagebridge.testing._runner') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_capabilities_drive_skips_and_rejections() -> None:
    apimart = {case.id: case for case in Suite("apimart", BUILTIN).cases()}
    assert apimart["edit_one_image-sync"].skip_reason() == (
        "apimart declares no edits for gpt-image-2"
    )
    assert apimart["result_b64-async"].skip_reason() == (
        "APIMart always answers with image URLs (docs/dialects/apimart.md, 'Task statuses')"
    )
    assert "reject_edits-sync" in apimart
    assert "reject_submit-sync" not in apimart
    openai = {case.name for case in Suite("openai", BUILTIN).cases()}
    assert {"reject_submit", "reject_reference_images", "reject_prompt_length"} <= openai
    assert "reject_edits" not in openai


def test_run_conformance_and_its_table() -> None:
    outcomes = run_conformance(None, BUILTIN)
    nine = ["apimart", "bfl", "dimilinks", "fal", "geeknow", "google", "openai", "replicate"]
    nine.append("stability")
    assert {o.provider for o in outcomes} == set(nine)
    assert all(o.status in ("pass", "skip") for o in outcomes), [
        (o.provider, o.scenario, o.mode, o.reason) for o in outcomes if not o.ok
    ]
    table = format_table(outcomes)
    header, rule, first = table.splitlines()[:3]
    assert header.split() == ["scenario", *nine]
    assert set(rule.replace(" ", "")) == {"-"}
    assert first.split() == ["text_to_image"] + ["pass"] * len(nine)
    assert "openai task_statuses: openai declares no asynchronous tasks" in table
    assert table.splitlines()[-1].endswith("skipped")


def broken_suite(tmp_path: Path, **options: Any) -> Suite:
    """A copy of the geeknow cassettes in which one recorded request no longer matches."""
    folder = tmp_path / "cassettes" / "geeknow"
    folder.parent.mkdir()
    subprocess.run(["cp", "-r", str(BUILTIN / "geeknow"), str(folder)], check=True)
    path = folder / "size_auto.json"
    data = json.loads(path.read_text())
    data["interactions"][0]["request"]["body"]["json"]["size"] = "1024x1024"
    path.write_text(json.dumps(data))
    return Suite("geeknow", tmp_path / "cassettes", **options)


def test_known_gaps_are_xfail_and_a_fixed_gap_is_xpass(tmp_path: Path) -> None:
    suite = broken_suite(
        tmp_path,
        expected_failures={"size sent wrong": {"size_auto"}, "fixed already": {"size_ratio"}},
        modes=("sync",),
    )
    outcomes = {case.name: case.run() for case in suite.cases()}
    assert outcomes["size_auto"].status == "xfail"
    assert outcomes["size_auto"].reason.startswith("size sent wrong\n")
    assert outcomes["size_ratio"].status == "xpass"
    assert "FAIL" not in format_table(list(outcomes.values()))
    assert "XPASS" in format_table(list(outcomes.values()))


def test_a_typo_in_expected_failures_is_an_error(tmp_path: Path) -> None:
    suite = Suite("geeknow", BUILTIN, expected_failures={"reason": {"size_autoo"}})
    with pytest.raises(ValueError, match="names no scenario of geeknow: size_autoo"):
        suite.check_expected_failures()


def test_the_pytest_plugin_parametrizes_a_one_file_suite(tmp_path: Path) -> None:
    broken_suite(tmp_path)
    test = tmp_path / "test_geeknow_kit.py"
    test.write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from imagebridge.testing import AdapterConformance

            class TestGeeknow(AdapterConformance):
                provider = "geeknow"
                cassettes = Path(__file__).parent / "cassettes"
                expected_failures = {"a known gap": {"size_auto"}}

            def test_plain():
                assert True
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         "-m", "imagebridge_conformance or not imagebridge_conformance", str(test)],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 xfailed" in summary
    assert " failed" not in summary
    assert "skipped" in summary
