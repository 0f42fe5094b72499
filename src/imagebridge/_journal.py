"""The task journal: every accepted task is written down before it is waited on.

An accepted task is paid for. The journal (SQLite, in the user data directory by default)
records its handle the moment the provider accepts it, and marks it when its result was
fetched and when its images were saved. A process that is killed mid-poll loses nothing:
``imagebridge tasks`` lists what is unfinished and ``imagebridge task ID`` resumes it with no
new submit. Batches use the journal to resume without re-submitting. The same file holds
the spend ledger, what each call cost (:mod:`imagebridge._ledger`).

Location: ``IMAGEBRIDGE_JOURNAL`` (a file path, a ``postgresql://`` URL, or ``off``), else
``journal.sqlite3`` in the user data directory platformdirs gives
(``user_data_path("imagebridge", appauthor=False)``): ``$XDG_DATA_HOME/imagebridge`` or
``~/.local/share/imagebridge`` on Linux,
``~/Library/Application Support/imagebridge`` on macOS, ``%LOCALAPPDATA%\\imagebridge`` (the
shell's Local AppData folder) on Windows: the folders this module chose itself before. Two
edge cases differ (checked in platformdirs 4.14's source): a relative ``$XDG_DATA_HOME`` is
ignored, as the XDG spec says, and on macOS an absolute ``$XDG_DATA_HOME`` is honoured.
The journal holds task handles and file paths, never an API key.

Where the rows are kept is a :class:`~imagebridge._journal_store.JournalStore`: an SQLite
file (:mod:`imagebridge._journal_sqlite`), or a PostgreSQL database that many machines share
(:mod:`imagebridge._journal_pg`) when the location is a ``postgresql://`` or ``postgres://``
URL. Both have the same tables and schema versions (:mod:`imagebridge._journal_schema`).

A journal that cannot be used (a corrupt file, a path that is a folder or lies under a file,
a folder that cannot be written, a database that cannot be reached or whose schema is newer
than this library's) is a :class:`ConfigurationError` naming the path or DSN, raised
when the :class:`TaskJournal` is made (so at client construction), before any task is paid
for: an existing journal is opened then, a new one only when its first task is recorded.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal, cast

from ._journal_sqlite import SqliteStore
from ._journal_store import JournalStore, is_dsn
from ._ledger import (
    Since,
    SpendCall,
    SpendRow,
    SpendSummary,
    read_decimal,
    since_epoch,
    summarize,
    to_text,
)
from ._redact import Redactor
from ._tasks import TaskHandle

JournalState = Literal["accepted", "fetched", "saved", "failed", "cancelled"]
UNFINISHED: tuple[JournalState, ...] = ("accepted", "fetched")


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled task."""

    task: TaskHandle
    state: JournalState
    label: str | None
    paths: tuple[str, ...]
    error: str | None
    created_at: float
    updated_at: float


def default_journal_path() -> Path | None:
    """The journal file from ``IMAGEBRIDGE_JOURNAL`` or the user data directory (platformdirs;
    see the module's docstring); None when the journal is switched off or is a PostgreSQL
    database (see :func:`default_journal_location`)."""
    location = default_journal_location()
    return location if isinstance(location, Path) else None


def default_journal_location() -> Path | str | None:
    """The journal from ``IMAGEBRIDGE_JOURNAL`` (a file, or a ``postgresql://`` URL kept as
    the string it is) or the user data directory; None when it is switched off."""
    configured = os.environ.get("IMAGEBRIDGE_JOURNAL")
    if configured is not None:
        if configured.strip().lower() in ("", "off", "0", "false", "no"):
            return None
        if is_dsn(configured):
            return configured.strip()
        return Path(configured).expanduser()
    import platformdirs  # imported when first needed: ``import imagebridge`` stays light

    return platformdirs.user_data_path("imagebridge", appauthor=False) / "journal.sqlite3"


class TaskJournal:
    """A small journal of accepted tasks: an SQLite file, or a PostgreSQL database for a
    ``postgresql://`` (or ``postgres://``) location. Safe to share between threads and
    processes.

    ``path`` is the SQLite file (None for PostgreSQL); ``location`` is where the journal is
    for messages: the file, or the DSN without its password.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path: Path | None
        self._store: JournalStore
        if is_dsn(path):
            from ._journal_pg import PostgresStore  # psycopg only for a PostgreSQL journal

            self.path = None
            self._store = PostgresStore(str(path))
        else:
            self.path = Path(path)
            self._store = SqliteStore(self.path)
        self.location: str = self._store.location
        if self._store.exists():
            # Opened now: a corrupt or foreign file, or a database that cannot be reached,
            # fails here, before a task is paid for.
            self._store.open()

    def __repr__(self) -> str:
        return f"TaskJournal({self.location!r})"

    def exists(self) -> bool:
        """Whether there is a journal to read (False for a file no task was written to yet)."""
        return self._store.exists()

    def close(self) -> None:
        """Release the file or the database connections (reopened on the next use)."""
        self._store.close()

    #: The secrets kept out of what is written (see :meth:`scrub_with`).
    _redactor = Redactor()

    def scrub_with(self, redactor: Redactor) -> None:
        """Keep ``redactor``'s secrets out of every task, label, path and error written from
        now on (each client does this with its key). A task id a server made out of the key
        is written with the key redacted; the client that holds the key puts it back when
        the task is resumed, so it stays resumable."""
        self._redactor = self._redactor | redactor

    def record(
        self, task: TaskHandle, *, label: str | None = None, spend: SpendCall | None = None
    ) -> int | None:
        """Write an accepted task (before anything waits on it). With ``spend``, the call
        that made it goes to the spend ledger in the same commit: the ledger row's id."""
        task, label = task.scrubbed(self._redactor), self._redactor.obj(label)
        now = time.time()
        ledger = None
        if spend is not None:
            ledger = (
                *(spend.provider, spend.model, task.task_id, label),
                *(to_text(spend.estimate), None, now, now),
            )
        return self._store.record_task(
            (
                *(task.provider, task.base_url, task.task_id, task.to_json(), "accepted"),
                *(label, None, None, now, now),
            ),
            ledger,
        )

    def mark(
        self,
        task: TaskHandle,
        state: JournalState,
        *,
        paths: Sequence[str | os.PathLike[str]] = (),
        error: str | None = None,
        spend_row: int | None = None,
        actual: Decimal | None = None,
    ) -> None:
        """Move a task to ``fetched``, ``saved``, ``failed`` or ``cancelled`` (recording it if
        unknown). With ``spend_row``, that ledger row's actual cost is set to ``actual`` in
        the same commit (as :meth:`update_spend` does)."""
        task, error = task.scrubbed(self._redactor), self._redactor.obj(error)
        paths = [self._redactor.text(str(p)) for p in paths]
        now = time.time()
        self._store.mark_task(
            (
                *(task.provider, task.base_url, task.task_id, task.to_json(), state, None),
                json.dumps([str(p) for p in paths]) if paths else None,
                *(error, now, now),
            ),
            None if spend_row is None else (spend_row, to_text(actual), now),
        )

    def entries(
        self,
        *,
        states: Sequence[JournalState] | None = None,
        provider: str | None = None,
        task_id: str | None = None,
        label: str | None = None,
    ) -> list[JournalEntry]:
        """Journaled tasks, oldest first, filtered by state, provider, id or label."""
        # Looked up as they were written.
        task_id = None if task_id is None else self._redactor.text(task_id)
        label = None if label is None else self._redactor.text(label)
        filters = [
            (column, value)
            for column, value in (("provider", provider), ("task_id", task_id), ("label", label))
            if value is not None
        ]
        rows = self._store.select_tasks(states, filters)
        return [
            JournalEntry(
                task=TaskHandle.from_json(handle),
                state=cast("JournalState", state),
                label=row_label,
                paths=tuple(json.loads(paths)) if paths else (),
                error=error,
                created_at=created,
                updated_at=updated,
            )
            for handle, state, row_label, paths, error, created, updated in rows
        ]

    def unfinished(self, *, provider: str | None = None) -> list[JournalEntry]:
        """Tasks accepted (or fetched) whose images were not saved yet."""
        return self.entries(states=UNFINISHED, provider=provider)

    # -- the spend ledger ---------------------------------------------------------------------
    def record_spend(
        self,
        *,
        provider: str,
        model: str,
        task_id: str | None,
        label: str | None,
        estimate: Decimal | None,
        actual: Decimal | None = None,
    ) -> int:
        """Write a provider call that was accepted or answered; its row id."""
        task_id, label = self._redactor.obj(task_id), self._redactor.obj(label)
        now = time.time()
        return self._store.insert_spend(
            (provider, model, task_id, label, to_text(estimate), to_text(actual), now, now)
        )

    def update_spend(self, row: int, *, actual: Decimal | None) -> None:
        """Set the actual cost of the call in ``row`` (None leaves it unknown)."""
        self._store.update_spend(row, to_text(actual), time.time())

    def spend(self, since: Since = None) -> list[SpendRow]:
        """The ledger's calls, oldest first; ``since``: from that time (seconds since the
        epoch, a datetime, or a date: from its midnight UTC)."""
        if not self._store.exists():
            return []
        rows = self._store.select_spend(since_epoch(since))
        return [
            SpendRow(
                id=row_id,
                provider=provider,
                model=model,
                task_id=task_id,
                label=label,
                estimate=read_decimal(estimate),
                actual=read_decimal(actual),
                created_at=created,
                updated_at=updated,
            )
            for row_id, provider, model, task_id, label, estimate, actual, created, updated in rows
        ]

    def spend_summary(self, since: Since = None) -> list[SpendSummary]:
        """The ledger summed by provider, model and day (UTC), oldest day first."""
        return summarize(self.spend(since))


def open_default_journal() -> TaskJournal | None:
    location = default_journal_location()
    return TaskJournal(location) if location is not None else None
