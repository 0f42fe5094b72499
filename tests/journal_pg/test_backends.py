"""The journal behaves the same on SQLite and PostgreSQL: tasks are recorded, upserted by
(provider, base URL, task id), marked, listed by state, provider, id and label, scrubbed of
secrets, and the spend ledger adds up; writers in many threads lose nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from imagebridge import ConfigurationError, TaskHandle, TaskJournal
from imagebridge._ledger import SpendCall
from imagebridge._redact import Redactor

from .conftest import KEY

Opener = Callable[[str], TaskJournal]


def handle(task_id: str, provider: str = "dimilinks", base_url: str = "http://x/v1") -> TaskHandle:
    return TaskHandle(provider=provider, base_url=base_url, task_id=task_id)


def test_record_mark_and_entries(location: str, opened: Opener) -> None:
    journal = opened(location)
    journal.record(handle("a"), label="batch:1")
    journal.record(handle("b"), label="batch:2")
    journal.record(handle("c", provider="apimart"))
    journal.mark(handle("a"), "saved", paths=["out/a.png", "out/a-1.png"])
    journal.mark(handle("b"), "fetched")
    journal.mark(handle("c", provider="apimart"), "failed", error="content_moderation")

    assert [e.task.task_id for e in journal.entries()] == ["a", "b", "c"]  # oldest first
    [a] = journal.entries(task_id="a")
    assert (a.state, a.label, a.paths, a.error) == (
        "saved", "batch:1", ("out/a.png", "out/a-1.png"), None,
    )  # fmt: skip
    assert a.updated_at >= a.created_at
    assert [e.task.task_id for e in journal.unfinished()] == ["b"]
    assert [e.task.task_id for e in journal.entries(states=["failed"])] == ["c"]
    assert journal.entries(task_id="c")[0].error == "content_moderation"
    assert [e.task.task_id for e in journal.entries(provider="apimart")] == ["c"]
    assert [e.task.task_id for e in journal.entries(label="batch:2")] == ["b"]
    assert journal.entries(label="batch:3") == []

    reopened = opened(location)  # what was written is there for the next process
    assert [e.state for e in reopened.entries()] == ["saved", "fetched", "failed"]


def test_a_task_is_upserted_by_provider_base_url_and_id(location: str, opened: Opener) -> None:
    journal = opened(location)
    journal.record(handle("t"), label="mine")
    journal.record(handle("t"))  # again, without a label: the label stays
    journal.record(handle("t", base_url="http://other/v1"))  # another endpoint: another task
    journal.mark(handle("t"), "saved", paths=["a.png"])
    journal.mark(handle("t"), "saved")  # no paths: the paths stay
    entries = journal.entries(task_id="t")
    assert [(e.task.base_url, e.state, e.label, e.paths) for e in entries] == [
        ("http://x/v1", "saved", "mine", ("a.png",)),
        ("http://other/v1", "accepted", None, ()),
    ]
    journal.mark(handle("new"), "fetched")  # marking an unknown task records it
    assert journal.entries(task_id="new")[0].state == "fetched"


def test_the_redactor_keeps_the_key_out_and_lookups_still_match(
    location: str, opened: Opener
) -> None:
    journal = opened(location)
    journal.scrub_with(Redactor([KEY]))
    journal.record(handle(f"task-{KEY}"), label=f"label {KEY}")
    journal.mark(handle(f"task-{KEY}"), "failed", error=f"refused {KEY}", paths=[f"/{KEY}.png"])
    [entry] = journal.entries(task_id=f"task-{KEY}", label=f"label {KEY}")
    written = [entry.task.to_json(), entry.label, entry.error, *entry.paths]
    assert all(KEY not in str(text) for text in written)
    assert entry.error is not None
    assert entry.error.startswith("refused ")


def test_the_spend_ledger(location: str, opened: Opener) -> None:
    journal = opened(location)
    assert journal.spend() == []
    first = journal.record_spend(
        provider="dimilinks", model="gpt-image-2", task_id="a", label="x", estimate=Decimal("0.03")
    )
    second = journal.record_spend(
        provider="dimilinks", model="gpt-image-2", task_id=None, label=None, estimate=None
    )
    assert first != second
    journal.update_spend(first, actual=Decimal("0.029"))
    journal.update_spend(second, actual=None)  # still unknown
    rows = journal.spend()
    assert [(r.id, r.estimate, r.actual, r.usd) for r in rows] == [
        (first, Decimal("0.03"), Decimal("0.029"), Decimal("0.029")),
        (second, None, None, None),
    ]
    assert journal.spend(since=rows[1].created_at + 3600) == []
    [day] = journal.spend_summary()
    assert (day.calls, day.usd, day.actual, day.unknown) == (
        2,
        Decimal("0.029"),
        Decimal("0.029"),
        1,
    )


def test_many_threads_writing_at_once_lose_nothing(location: str, opened: Opener) -> None:
    journal = opened(location)

    def write(worker: int) -> None:
        for number in range(25):
            task = handle(f"w{worker}-{number}")
            journal.record(task, label=f"w{worker}")
            journal.mark(task, "saved", paths=[f"{worker}/{number}.png"])

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = journal.entries()
    assert len(entries) == 16 * 25
    assert {e.state for e in entries} == {"saved"}
    assert len(journal.entries(label="w7")) == 25


def test_location_and_path(location: str, opened: Opener) -> None:
    journal = opened(location)
    if location.startswith("postgresql://"):
        assert journal.path is None
        assert journal.exists()
    else:
        assert str(journal.path) == location
        assert not journal.exists()  # a file is made with its first task
    assert journal.location == location
    assert repr(journal) == f"TaskJournal({location!r})"


def test_psycopg_is_imported_only_when_a_postgresql_journal_is_opened(tmp_path: Path) -> None:
    code = (
        "import sys, imagebridge\n"
        "journal = imagebridge.TaskJournal(sys.argv[1])\n"
        "journal.record(imagebridge.TaskHandle(provider='p', base_url='http://x', task_id='t'))\n"
        "journal.close()\n"
        "print('psycopg' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "journal.sqlite3")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"


def test_a_password_anywhere_in_the_dsn_is_kept_out_of_the_location_and_errors() -> None:
    for dsn, shown in (
        ("postgresql://app:s3cr3t@127.0.0.1:1/db?password=s3cr3t&connect_timeout=5",
         "postgresql://app@127.0.0.1:1/db?connect_timeout=5"),
        ("postgres://app:s3cr3t@127.0.0.1:1/db", "postgres://app@127.0.0.1:1/db"),
    ):  # fmt: skip
        with pytest.raises(ConfigurationError) as caught:
            TaskJournal(dsn)
        assert str(caught.value).startswith(f"task journal {shown!r} cannot be used: ")
        assert "s3cr3t" not in str(caught.value)


def test_without_psycopg_a_postgresql_journal_says_which_extra_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['psycopg'] = None  # as if it were not installed\n"
        "import imagebridge\n"
        "try:\n"
        "    imagebridge.TaskJournal('postgresql://app:s3cr3t@127.0.0.1:1/db')\n"
        "except imagebridge.ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == (
        "task journal 'postgresql://app@127.0.0.1:1/db' is a PostgreSQL database, which needs"
        " psycopg: pip install 'imagebridge[postgres]'"
    )


def _drop_the_ledger(location: str) -> None:
    """Drop the spend table behind the journal's back (another program, a bad migration)."""
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as db:
            db.execute("DROP TABLE imagebridge_journal.spend")
    else:
        with sqlite3.connect(location) as db:
            db.execute("DROP TABLE spend")


def test_a_task_and_its_ledger_row_are_written_in_one_commit(location: str, opened: Opener) -> None:
    journal = opened(location)
    journal.scrub_with(Redactor([KEY]))
    task = handle(f"t-{KEY}")
    call = SpendCall(provider="dimilinks", model="gpt-image-2", estimate=Decimal("0.03"))
    row = journal.record(task, label=f"item {KEY}", spend=call)
    assert row is not None
    [spent] = journal.spend()
    assert (spent.id, spent.provider, spent.model, spent.estimate, spent.actual) == (
        row,
        "dimilinks",
        "gpt-image-2",
        Decimal("0.03"),
        None,
    )
    assert (spent.task_id, spent.label) == ("t-[REDACTED]", "item [REDACTED]")
    journal.mark(task, "fetched", spend_row=row, actual=Decimal("0.029"))
    journal.mark(task, "saved", spend_row=row, actual=None)  # None leaves the actual cost
    [entry] = journal.entries()
    assert entry.state == "saved"
    [spent] = journal.spend()
    assert spent.actual == Decimal("0.029")


def test_when_the_ledger_cannot_be_written_neither_row_is(location: str, opened: Opener) -> None:
    """One commit: a task written with its ledger row is written whole or not at all (the
    client then writes the task alone, see test_clients)."""
    journal = opened(location)
    journal.record(handle("first"))
    _drop_the_ledger(location)
    call = SpendCall(provider="dimilinks", model="gpt-image-2", estimate=None)
    with pytest.raises(ConfigurationError, match="cannot be used"):
        journal.record(handle("second"), spend=call)
    assert [e.task.task_id for e in journal.entries()] == ["first"]
    with pytest.raises(ConfigurationError, match="cannot be used"):
        journal.mark(handle("first"), "fetched", spend_row=1, actual=Decimal(1))
    assert [e.state for e in journal.entries()] == ["accepted"]
