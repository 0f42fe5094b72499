"""Fixtures for the journal on both backends: one throwaway PostgreSQL server for the
session (skipped with the reason :func:`tests.pgserver.available` gives, unless CI requires
it, where it fails), a fresh database per test, and ``location``: a journal location on
SQLite or on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from imagebridge import TaskJournal
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from pgserver import PostgresServer, available, required

KEY = "sk-PGJOURNAL-0123456789abcdef"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    why = available()
    if why is not None:
        if required():
            pytest.fail(f"PostgreSQL is required here but cannot be started: {why}")
        pytest.skip(why)
    with PostgresServer() as server:
        yield server


def fresh_database(server: PostgresServer) -> str:
    """A new, empty database on ``server``; its DSN."""
    name = f"journal_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return server.dsn.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def dsn(postgres: PostgresServer) -> str:
    """The DSN of a new, empty database."""
    return fresh_database(postgres)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a journal goes: a file not made yet, or an empty PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "journal.sqlite3")
    return fresh_database(request.getfixturevalue("postgres"))


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.2)) as running:
        yield running


@pytest.fixture
def server(emulator: EmulatorServer) -> EmulatorServer:
    emulator.app_state.reset()
    return emulator


@pytest.fixture
def opened() -> Iterator[Callable[[str], TaskJournal]]:
    """Open journals that are closed when the test ends, whatever it asserted."""
    journals: list[TaskJournal] = []

    def open_journal(where: str) -> TaskJournal:
        journals.append(TaskJournal(where))
        return journals[-1]

    yield open_journal
    for journal in journals:
        journal.close()
