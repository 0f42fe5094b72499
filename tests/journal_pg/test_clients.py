"""The clients and the CLI with a PostgreSQL journal, over real loopback HTTP against the
emulator: tasks are recorded in the database and resumed from it by ``imagebridge tasks``
and ``imagebridge task ID``; an unreachable database is one line at construction, without
the password, before anything is sent; a database that restarts loses no task, and one
that stays away is logged while the call still returns its task."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import imagebridge._journal_pg
from imagebridge import (
    AsyncImageClient,
    ConfigurationError,
    ImageClient,
    ImageTimeoutError,
    Route,
    TaskHandle,
    TaskJournal,
)
from imagebridge._cli._app import cli
from imagebridge._emulator import EmulatorServer
from pgserver import PostgresServer

from .conftest import KEY

PASSWORD = "hunter2-not-shown"  # trust authentication takes any password: it must never show


def with_password(dsn: str) -> str:
    return dsn.replace("postgresql://imagebridge@", f"postgresql://imagebridge:{PASSWORD}@")


def invoke(args: list[str], journal: str) -> Result:
    env = {"IMAGEBRIDGE_JOURNAL": journal, "DIMILINKS_API_KEY": KEY}
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    for text in (result.stdout, result.stderr):
        assert KEY not in text
        assert PASSWORD not in text
    return result


def posts(server: EmulatorServer) -> int:
    return sum(1 for r in server.app_state.requests if r["method"] == "POST")


def test_tasks_are_journaled_in_postgresql_and_resumed_by_the_cli(
    dsn: str, server: EmulatorServer, tmp_path: Path
) -> None:
    journal_dsn = with_password(dsn)
    base = server.url("dimilinks")
    with ImageClient("dimilinks", api_key=KEY, base_url=base, journal=journal_dsn) as client:
        assert client.journal is not None
        assert client.journal.location == dsn  # the password removed
        generated = client.generate("a cat")
        submitted = client.submit("a dog")  # accepted, never waited on: resumable
    [done] = generated.tasks

    journal = TaskJournal(dsn)
    try:
        assert [(e.task.task_id, e.state) for e in journal.entries()] == [
            (done.task_id, "fetched"),
            (submitted.task_id, "accepted"),
        ]
        assert all(KEY not in e.task.to_json() for e in journal.entries())
    finally:
        journal.close()

    listed = invoke(["tasks", "--json"], journal_dsn)
    assert listed.exit_code == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["journal"] == dsn
    assert [t["task_id"] for t in data["tasks"]] == [done.task_id, submitted.task_id]

    before = posts(server)
    out = tmp_path / "out"
    fetched = invoke(
        ["task", submitted.task_id, "--wait", "--output", str(out), "--json"], journal_dsn
    )
    assert fetched.exit_code == 0, fetched.stderr
    [image] = json.loads(fetched.stdout)["images"]
    assert Path(image["path"]).read_bytes()[:4] == b"\x89PNG"
    assert posts(server) == before  # provider and base URL from the journal; no new submit

    remaining = json.loads(invoke(["tasks", "--json"], journal_dsn).stdout)["tasks"]
    assert [t["task_id"] for t in remaining] == [done.task_id]
    every = json.loads(invoke(["tasks", "--all", "--json"], journal_dsn).stdout)["tasks"]
    assert {t["task_id"]: t["state"] for t in every}[submitted.task_id] == "saved"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_unreachable_database_is_one_line_at_construction(
    server: EmulatorServer, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _closed_port()
    dsn = f"postgresql://app:{PASSWORD}@127.0.0.1:{port}/journal"
    client_class = ImageClient if mode == "sync" else AsyncImageClient
    for how in ("argument", "environment"):
        options: dict[str, object] = {"api_key": KEY, "base_url": server.url("dimilinks")}
        if how == "argument":
            options["journal"] = dsn
        else:
            monkeypatch.setenv("IMAGEBRIDGE_JOURNAL", dsn)
        with pytest.raises(ConfigurationError) as caught:
            client_class("dimilinks", **options)  # type: ignore[arg-type]
        message = str(caught.value)
        shown = f"postgresql://app@127.0.0.1:{port}/journal"
        assert message.startswith(f"task journal {shown!r} cannot be used: connection refused")
        assert "\n" not in message
        assert PASSWORD not in message
        assert KEY not in message
    assert server.app_state.requests == []


def test_the_cli_shows_an_unreachable_or_missing_database_like_other_configuration_errors(
    postgres: PostgresServer, server: EmulatorServer, tmp_path: Path
) -> None:
    missing = with_password(postgres.dsn.rsplit("/", 1)[0] + "/no_such_db")
    refused = f"postgresql://app:{PASSWORD}@127.0.0.1:{_closed_port()}/journal"
    base = ["-p", "dimilinks", "--base-url", server.url("dimilinks")]
    for journal, reason in ((missing, "no such database"), (refused, "connection refused")):
        for args in (["tasks"], ["generate", "a cat", *base, "--output", str(tmp_path)]):
            result = invoke(args, journal)
            assert result.exit_code == 2, result.stderr
            [line] = result.stderr.splitlines()
            assert line.startswith("imagebridge: error: task journal 'postgresql://"), line
            assert reason in line
            assert result.stdout == ""
        as_json = invoke(["tasks", "--json"], journal)
        assert json.loads(as_json.stdout)["error"]["type"] == "ConfigurationError"
    assert server.app_state.requests == []


def test_a_record_after_a_restart_succeeds_after_a_retry(
    postgres: PostgresServer, dsn: str
) -> None:
    journal = TaskJournal(dsn)
    try:
        journal.record(TaskHandle(provider="dimilinks", base_url="http://x/v1", task_id="before"))
        postgres.restart()  # the pooled connection is gone
        journal.record(TaskHandle(provider="dimilinks", base_url="http://x/v1", task_id="after"))

        postgres.stop()  # down while the next record is made: it waits for the database
        threading.Timer(1.0, postgres.start).start()
        began = time.monotonic()
        journal.record(TaskHandle(provider="dimilinks", base_url="http://x/v1", task_id="during"))
        assert time.monotonic() - began >= 0.9
        assert [e.task.task_id for e in journal.entries()] == ["before", "after", "during"]
    finally:
        journal.close()


def test_a_database_away_longer_than_the_retries_is_logged_and_the_task_kept(
    postgres: PostgresServer,
    dsn: str,
    server: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(imagebridge._journal_pg, "RETRY_FOR", 0.5)
    base = server.url("dimilinks")
    client = ImageClient("dimilinks", api_key=KEY, base_url=base, journal=with_password(dsn))
    postgres.stop()
    try:
        with caplog.at_level(logging.WARNING, logger="imagebridge"):
            result = client.generate("a cat")
    finally:
        client.close()
        postgres.start()
    [task] = result.tasks  # the task is on the result, never abandoned
    assert result.images
    logged = [r.getMessage() for r in caplog.records if "could not journal task" in r.getMessage()]
    assert logged
    assert all(task.task_id in text for text in logged)
    assert all(PASSWORD not in text and KEY not in text for text in caplog.messages)


def test_routed_clients_share_one_postgresql_journal(dsn: str, server: EmulatorServer) -> None:
    routes = [
        Route(name=name, provider="dimilinks", base_url=server.url("dimilinks"), api_key=KEY)
        for name in ("first", "second")
    ]
    with ImageClient.from_routes(routes, journal=with_password(dsn)) as client:
        handle = client.submit("a fox")
    journal = TaskJournal(dsn)
    try:
        assert [(e.task.task_id, e.state) for e in journal.entries()] == [
            (handle.task_id, "accepted")
        ]
    finally:
        journal.close()


def test_a_ledger_that_cannot_be_written_never_costs_a_task_its_record(
    location: str, server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The task and its ledger row go in one commit at acceptance; when the ledger part
    fails, the task is written on its own, there and then (a call that times out next
    leaves it journaled, resumable), and the ledger's failure is logged."""
    from .test_backends import _drop_the_ledger

    setup = TaskJournal(location)  # made (a new SQLite file waits for its first task)
    setup.record(TaskHandle(provider="other", base_url="http://x/v1", task_id="setup"))
    setup.close()
    _drop_the_ledger(location)
    base = server.url("dimilinks")
    with ImageClient("dimilinks", api_key=KEY, base_url=base, journal=location) as client:
        assert client.journal is not None
        with (
            caplog.at_level(logging.WARNING, logger="imagebridge"),
            pytest.raises(ImageTimeoutError) as info,
        ):
            client.generate("a lighthouse", timeout=0.15)  # the task takes 0.2 s
        [entry] = client.journal.entries(provider="dimilinks")
    assert entry.task.task_id == info.value.task_id
    assert entry.state == "accepted"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("could not write the spend ledger" in w for w in warnings), warnings
    assert not any("could not journal task" in w for w in warnings), warnings
