"""The task journal in an SQLite file: the default
:class:`~imagebridge._journal_store.JournalStore`.

One connection per journal, kept open (opening one per write dominated the cost of a
thousand concurrent tasks); writes are serialised by a lock and each commits before it
returns. WAL with ``synchronous=NORMAL``: a committed row survives a crash of the process
(what the journal is for); only a power loss may lose the last writes. Other processes
share the file through SQLite's own locking (a 30 s busy timeout).

A file that cannot be used (corrupt, another program's database, a folder, under a file, in
a folder this user cannot write) is a :class:`~imagebridge.ConfigurationError` naming the
path, and is left as it was: nothing is written before the checks pass.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ._errors import ConfigurationError
from ._journal_schema import SCHEMA_VERSION, SQLITE_MIGRATIONS, steps_after
from ._journal_store import (
    SpendRecord,
    SpendUpdate,
    SpendValues,
    TaskRow,
    TaskValues,
    task_filter,
    unusable,
)

if TYPE_CHECKING:
    import sqlite3

__all__ = ["SqliteStore"]

#: The columns of ``tasks``: a file whose ``tasks`` table lacks one is not a task journal.
_COLUMNS = frozenset(
    {
        *("provider", "base_url", "task_id", "handle", "state"),
        *("label", "paths", "error", "created_at", "updated_at"),
    }
)


#: The writes (see :class:`~imagebridge._journal_store.JournalStore`): tasks are upserted.
_RECORD = (
    "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (provider, base_url, task_id) DO UPDATE SET"
    " handle = excluded.handle, label = COALESCE(excluded.label, tasks.label),"
    " updated_at = excluded.updated_at"
)
_MARK = (
    "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (provider, base_url, task_id) DO UPDATE SET"
    " state = excluded.state, paths = COALESCE(excluded.paths, tasks.paths),"
    " error = excluded.error, updated_at = excluded.updated_at"
)
_SPEND = (
    "INSERT INTO spend (provider, model, task_id, label, estimate, actual, created_at,"
    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
#: Parameters in :data:`~imagebridge._journal_store.SpendUpdate`'s order: id, actual, now.
_UPDATE_SPEND = "UPDATE spend SET actual = COALESCE(?2, actual), updated_at = ?3 WHERE id = ?1"


class SqliteStore:
    """The journal's rows in the SQLite file ``path`` (made when its first task is written)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        _check_location(path)

    def exists(self) -> bool:
        return self.path.exists()

    def open(self) -> None:
        with self._lock:
            self._open()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """The connection, with the lock held, in a transaction that commits on exit."""
        import sqlite3

        with self._lock:
            connection = self._open()
            try:
                with connection:
                    yield connection
            except sqlite3.DatabaseError as exc:  # e.g. a page found corrupt only now
                raise unusable(self.location, str(exc)) from None

    def _open(self) -> sqlite3.Connection:
        """The connection, opened (and the schema migrated) on first use; with the lock held."""
        import sqlite3  # on first use: most programs import imagebridge and never journal

        if self._connection is not None:
            return self._connection
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise unusable(self.location, _reason(exc)) from None
        try:
            # Before anything is written: another program's database is left as it was.
            columns = {row[1] for row in connection.execute("PRAGMA table_info(tasks)")}
            if columns and not columns >= _COLUMNS:
                found = ", ".join(sorted(columns))
                raise unusable(
                    self.location,
                    f"it is not an imagebridge task journal (table tasks has: {found})",
                )
            _when_unlocked(lambda: connection.execute("PRAGMA journal_mode=WAL"))
            connection.execute("PRAGMA synchronous=NORMAL")
            _when_unlocked(lambda: self._migrate(connection))
        except (sqlite3.Error, OSError) as exc:
            connection.close()
            raise unusable(self.location, _reason(exc)) from None
        except ConfigurationError:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _migrate(self, connection: sqlite3.Connection) -> None:
        """Bring the file up to :data:`SCHEMA_VERSION` (see :mod:`imagebridge._journal_schema`).
        Under ``BEGIN IMMEDIATE``: a second process opening the file at once waits, then
        finds the steps done."""
        if _version(connection) == SCHEMA_VERSION:
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            for step in steps_after(self.location, _version(connection)):
                for statement in SQLITE_MIGRATIONS[step]:
                    connection.execute(statement)
                connection.execute("DELETE FROM schema_version")
                connection.execute("INSERT INTO schema_version VALUES (?)", (step,))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def record_task(self, values: TaskValues, spend: SpendValues | None = None) -> int | None:
        with self._connect() as db:
            db.execute(_RECORD, values)
            return None if spend is None else int(db.execute(_SPEND, spend).lastrowid or 0)

    def mark_task(self, values: TaskValues, spend: SpendUpdate | None = None) -> None:
        with self._connect() as db:
            db.execute(_MARK, values)
            if spend is not None:
                db.execute(_UPDATE_SPEND, spend)

    def select_tasks(
        self, states: Sequence[str] | None, filters: Sequence[tuple[str, str]]
    ) -> list[TaskRow]:
        where, args = task_filter(states, filters, "?")
        query = (
            "SELECT handle, state, label, paths, error, created_at, updated_at FROM tasks"  # noqa: S608
            f"{where} ORDER BY created_at"
        )
        with self._connect() as db:
            return cast("list[TaskRow]", db.execute(query, args).fetchall())

    def insert_spend(self, values: SpendValues) -> int:
        with self._connect() as db:
            return int(db.execute(_SPEND, values).lastrowid or 0)

    def update_spend(self, row: int, actual: str | None, now: float) -> None:
        with self._connect() as db:
            db.execute(_UPDATE_SPEND, (row, actual, now))

    def select_spend(self, since: float) -> list[SpendRecord]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, provider, model, task_id, label, estimate, actual, created_at,"
                " updated_at FROM spend WHERE created_at >= ? ORDER BY created_at, id",
                (since,),
            ).fetchall()
        return cast("list[SpendRecord]", rows)


def _version(connection: sqlite3.Connection) -> int:
    """The file's schema version (0: none recorded)."""
    known = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if known is None:
        return 0
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _check_location(path: Path) -> None:
    """Refuse, before anything is sent, a journal path that cannot become a usable file."""
    location = str(path)
    if path.is_dir():
        raise unusable(location, "it is a folder, not a file")
    if path.exists():
        if not path.is_file():
            raise unusable(location, "it is not a regular file")
        if not os.access(path, os.R_OK | os.W_OK):
            raise unusable(location, "this user cannot read and write it")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise unusable(location, f"{str(folder)!r} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        # SQLite keeps the -wal and -shm files beside the journal: its folder must be writable.
        raise unusable(location, f"this user cannot write in its folder {str(folder)!r}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror if exc.filename is None else f"{exc.strerror}: {exc.filename}"
    text = str(exc)
    # SQLite's own words, for the two ways a file that is not a journal shows up.
    if text in ("file is not a database", "database disk image is malformed"):
        return f"it is corrupt or not an SQLite file ({text})"
    return text


def _when_unlocked(step: Callable[[], object], patience: float = 30.0) -> None:
    """Run ``step``, again while another process holds the file locked, for ``patience``
    seconds. SQLite's busy timeout covers most waits, but not all: switching a new file to
    WAL while other processes open it (and some lock upgrades) fail at once with "database is
    locked" instead of waiting, so processes opening one new journal together would fail."""
    import sqlite3

    deadline = time.monotonic() + patience
    pause = 0.01
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
