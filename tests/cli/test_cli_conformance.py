"""``imagebridge conformance``: the built-in providers' cassettes ship as package data, so the
command replays them from any working folder; a folder it is given is used instead, and one
that does not exist is answered with what to point it at."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from .conftest import Invoke

BUILTINS = (
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


def builtin_cassettes() -> Path:
    """Where the installed imagebridge_plugins package keeps its cassettes."""
    return Path(str(files("imagebridge_plugins") / "cassettes"))


def console_script() -> str:
    beside = Path(sys.executable).parent / "imagebridge"
    found = str(beside) if beside.is_file() else shutil.which("imagebridge")
    if found is None:
        pytest.skip("the imagebridge console script is not installed")
    return found


def table_providers(stdout: str) -> list[str]:
    """The provider columns of the printed table's header line."""
    header = stdout.splitlines()[0].split()
    assert header[0] == "scenario", stdout[:500]
    return header[1:]


def test_it_replays_the_built_in_cassettes_from_an_empty_folder(tmp_path: Path) -> None:
    empty = tmp_path / "anywhere"
    empty.mkdir()
    result = subprocess.run(
        [console_script(), "conformance"],
        cwd=empty,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert table_providers(result.stdout) == list(BUILTINS)
    summary = result.stdout.strip().splitlines()[-1]
    assert "passed" in summary
    assert "failed" not in summary
    assert "FAIL" not in result.stdout
    assert list(empty.iterdir()) == []  # it read the package's cassettes, wrote nothing here


def test_the_built_in_cassettes_are_package_data_of_the_plugins() -> None:
    folder = builtin_cassettes()
    assert folder.parent.name == "imagebridge_plugins"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == list(BUILTINS)
    for provider in BUILTINS:
        assert (folder / provider / "text_to_image.json").is_file()


def test_a_folder_it_is_given_is_the_one_it_replays(run: Invoke, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    shutil.copytree(builtin_cassettes() / "openai", mine / "openai")
    result = run("conformance", "--cassettes", str(mine))
    assert result.exit_code == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert table_providers(result.stdout) == ["openai"]


def test_a_missing_folder_is_answered_with_what_to_point_it_at(run: Invoke, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-cassettes"
    result = run("conformance", "--cassettes", str(missing))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert str(missing) in result.stderr
    assert "point it at a folder holding <provider>/<scenario>.json" in result.stderr
    assert "leave it out to replay the built-in providers' cassettes" in result.stderr


def test_a_provider_without_built_in_cassettes_is_told_to_give_its_folder(run: Invoke) -> None:
    # pixelforge (the example plugin) is installed, but its cassettes are not built in.
    result = run("conformance", "--provider", "pixelforge")
    assert result.exit_code == 2
    assert "no cassettes of pixelforge in" in result.stderr
    assert str(builtin_cassettes()) in result.stderr
    assert "point cassettes at the folder of its cassettes" in result.stderr
