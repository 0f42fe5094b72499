"""Rule 10 of issue 10: the journal fails clearly, before anything is paid for.

A journal that cannot be used (random bytes, a truncated SQLite file, another program's
database, a path that is a folder or lies under a file) is a ``ConfigurationError`` naming the
path when the ``TaskJournal`` or the client is made, so no request is sent; on the command line
``tasks``, ``task``, ``batch`` and ``generate`` exit 2 with one line. The file itself is left as
it was.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from imagebridge import AsyncImageClient, ConfigurationError, ImageClient, TaskHandle, TaskJournal
from imagebridge._cli._app import cli
from imagebridge._emulator import EmulatorConfig, EmulatorServer

KEY = "sk-JOURNAL-0123456789abcdef"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.1)) as running:
        yield running


@pytest.fixture
def server(emulator: EmulatorServer) -> EmulatorServer:
    emulator.app_state.reset()
    return emulator


def requests_seen(server: EmulatorServer) -> int:
    return len(server.app_state.requests)


def _healthy(path: Path) -> Path:
    journal = TaskJournal(path)
    for number in range(40):
        task = TaskHandle(provider="dimilinks", base_url="http://x/v1", task_id=f"t{number}")
        journal.record(task, label=f"label {number}")
    journal.close()
    return path


def random_bytes(tmp: Path) -> Path:
    path = tmp / "journal.sqlite3"
    path.write_bytes(random.Random(10).randbytes(8192))
    return path


def truncated(tmp: Path) -> Path:
    path = _healthy(tmp / "journal.sqlite3")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def foreign_database(tmp: Path) -> Path:
    path = tmp / "journal.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE tasks (title TEXT, done INTEGER)")
    return path


def folder(tmp: Path) -> Path:
    path = tmp / "journal.sqlite3"
    path.mkdir()
    return path


def under_a_file(tmp: Path) -> Path:
    (tmp / "notes.txt").write_text("a file, not a folder")
    return tmp / "notes.txt" / "imagebridge" / "journal.sqlite3"


#: case -> (how to make the bad journal, what the error must say).
CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "random-bytes": (random_bytes, "corrupt or not an SQLite file"),
    "truncated": (truncated, "corrupt or not an SQLite file"),
    "foreign-database": (foreign_database, "not an imagebridge task journal"),
    "folder": (folder, "it is a folder, not a file"),
    "under-a-file": (under_a_file, "is a file, not a folder"),
}


@pytest.fixture(params=list(CASES))
def bad(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    make, reason = CASES[request.param]
    return make(tmp_path), reason


def expected_start(path: Path) -> str:
    return f"task journal {str(path)!r} cannot be used: "


def test_task_journal_refuses_an_unusable_file(bad: tuple[Path, str]) -> None:
    path, reason = bad
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(ConfigurationError) as caught:
        TaskJournal(path)
    message = str(caught.value)
    assert message.startswith(expected_start(path))
    assert reason in message
    assert "IMAGEBRIDGE_JOURNAL" in message  # says how to go on
    if before is not None:  # the user's file is left exactly as it was
        assert path.read_bytes() == before
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_a_client_with_an_unusable_journal_fails_at_construction(
    bad: tuple[Path, str],
    how: str,
    mode: str,
    server: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, reason = bad
    options: dict[str, object] = {"api_key": KEY, "base_url": server.url("dimilinks")}
    if how == "argument":
        options["journal"] = path
    else:
        monkeypatch.setenv("IMAGEBRIDGE_JOURNAL", str(path))
    client_class = ImageClient if mode == "sync" else AsyncImageClient
    with pytest.raises(ConfigurationError) as caught:
        client_class("dimilinks", **options)  # type: ignore[arg-type]
    assert str(caught.value).startswith(expected_start(path))
    assert reason in str(caught.value)
    assert KEY not in str(caught.value)
    assert requests_seen(server) == 0


def _invoke(args: list[str], journal: Path) -> Result:
    env = {"IMAGEBRIDGE_JOURNAL": str(journal), "DIMILINKS_API_KEY": KEY}
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    assert KEY not in result.stdout + result.stderr
    return result


def _commands(server: EmulatorServer, tmp: Path) -> dict[str, list[str]]:
    base = ["-p", "dimilinks", "--base-url", server.url("dimilinks")]
    requests = tmp / "requests.jsonl"
    requests.write_text('{"id": "a", "prompt": "a cat"}\n')
    return {
        "tasks": ["tasks"],
        "tasks --all": ["tasks", "--all"],
        "task": ["task", "t1", *base, "--output", str(tmp / "out")],
        "batch": ["batch", str(requests), *base, "--output", str(tmp / "out")],
        "generate": ["generate", "a cat", *base, "--output", str(tmp / "out")],
        "generate --no-wait": ["generate", "a cat", *base, "--no-wait"],
    }


@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
def test_the_cli_exits_2_with_one_line_and_sends_nothing(
    bad: tuple[Path, str], json_mode: bool, server: EmulatorServer, tmp_path: Path
) -> None:
    path, reason = bad
    for name, args in _commands(server, tmp_path).items():
        result = _invoke([*args, "--json"] if json_mode else args, path)
        assert result.exit_code == 2, (name, result.stderr)
        [line] = result.stderr.splitlines()
        assert line.startswith("imagebridge: error: " + expected_start(path)), (name, line)
        assert reason in line
        assert "unexpected" not in line
        if json_mode:
            error = json.loads(result.stdout)["error"]
            assert error["type"] == "ConfigurationError"
            assert error["exit_code"] == 2
        else:
            assert result.stdout == ""
    assert requests_seen(server) == 0  # nothing paid for that could not be journaled


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="as root a read-only folder is still writable: nothing to observe",
)
def test_an_existing_journal_in_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = _healthy(folder / "journal.sqlite3")
    folder.chmod(0o500)
    try:
        with pytest.raises(ConfigurationError, match="cannot write in its folder"):
            TaskJournal(path)
        result = _invoke(["tasks"], path)
        assert result.exit_code == 2
        assert len(result.stderr.splitlines()) == 1
    finally:
        folder.chmod(0o700)


def test_a_usable_journal_still_opens_and_a_new_one_waits_for_its_first_task(
    tmp_path: Path,
) -> None:
    """The control: the checks refuse only what is unusable."""
    existing = _healthy(tmp_path / "existing.sqlite3")
    assert len(TaskJournal(existing).unfinished()) == 40
    listed = _invoke(["tasks"], existing)
    assert listed.exit_code == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 40

    new = tmp_path / "not" / "yet" / "journal.sqlite3"
    journal = TaskJournal(new)
    assert not (tmp_path / "not").exists()  # nothing is created for a program that never journals
    journal.record(TaskHandle(provider="dimilinks", base_url="http://x/v1", task_id="t1"))
    assert [e.task.task_id for e in journal.entries()] == ["t1"]
    journal.close()
