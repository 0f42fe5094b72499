"""The recording part of docs/plugins.md runs: its record file is the example plugin's hints
(``record_cassettes.py``) as TOML and the kit accepts it, its commands use only flags
``record`` has, and its key table lists every key of the file."""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import pytest

from imagebridge.testing import Hint, load_cassette
from imagebridge.testing.__main__ import main

from .conftest import ROOT

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
GUIDE = ROOT / "docs" / "plugins.md"
EXAMPLE_TESTS = ROOT / "examples" / "imagebridge-pixelforge" / "tests"


def section() -> str:
    text = GUIDE.read_text()
    start = text.index("### Recording cassettes\n")
    return text[start : text.index("\n### ", start + 1)]


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", section(), re.MULTILINE | re.DOTALL)


def example_script(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.syspath_prepend(str(EXAMPLE_TESTS))
    spec = importlib.util.spec_from_file_location(
        "record_cassettes", EXAMPLE_TESTS / "record_cassettes.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_guides_record_file_is_the_example_plugins_hints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (toml,) = blocks("toml")
    data = tomllib.loads(toml)
    script = example_script(monkeypatch)
    hints = {name: Hint(**table) for name, table in data["hints"].items()}
    assert hints == script.HINTS  # type: ignore[attr-defined]
    assert data["not_applicable"] == script.NOT_APPLICABLE  # type: ignore[attr-defined]
    assert data["ignore_json_paths"] == ["client_ref"]
    assert 'ignore_json_paths=["client_ref"]' in (EXAMPLE_TESTS / "record_cassettes.py").read_text()


def test_the_kit_accepts_the_guides_record_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (toml,) = blocks("toml")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "imagebridge-record.toml").write_text(toml)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIXELFORGE_API_KEY", "pf-docs-test-key-000")
    # The one scenario that sends nothing: the not-applicable stub.
    assert main(["record", "--scenario", "result_b64"]) == 0, capsys.readouterr()
    stub = load_cassette(tmp_path / "tests" / "cassettes" / "result_b64.json")
    assert stub.not_applicable == "PixelForge always answers with links to its CDN"


def test_the_guides_commands_use_only_flags_record_has(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["record", "--help"])
    flags = set(re.findall(r"--[a-z-]+", capsys.readouterr().out))
    commands = []
    for block in blocks("console"):
        for line in block.replace("\\\n", " ").splitlines():
            if "imagebridge.testing record" in line:
                commands.append(shlex.split(line.removeprefix("$ "), comments=True))
    assert len(commands) >= 2
    used = {
        arg.partition("=")[0] for command in commands for arg in command if arg.startswith("--")
    }
    assert used <= flags, used - flags
    table = "\n".join(line for line in section().splitlines() if line.startswith("| `"))
    table_flags = set(re.findall(r"`(--[a-z-]+)", table))
    assert table_flags <= flags, table_flags - flags
    assert flags - {"--help", "--config"} <= table_flags | {"--config"}


def test_the_key_table_lists_every_key_of_the_record_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "imagebridge-record.toml").write_text("no_such_key = 1\n")
    monkeypatch.chdir(tmp_path)
    assert main(["record"]) == 2
    message = capsys.readouterr().err
    keys = re.search(r"the keys: ([a-z_, ]+)\)", message)
    assert keys is not None, message
    table = [line for line in section().splitlines() if line.startswith("| `")]
    documented = {
        key for line in table for key in re.findall(r"`\[?([a-z_]+)", line.split(" | ")[0])
    }
    assert set(keys.group(1).split(", ")) <= documented, message
