"""The task journal: every accepted task is written down before it is waited on.

An accepted task is paid for. The journal (SQLite, in the user data directory by default)
records its handle the moment the provider accepts it, and marks it when its result was
fetched and when its images were saved. A process that is killed mid-poll loses nothing:
``imagebridge tasks`` lists what is unfinished and ``imagebridge task ID`` resumes it with no
new submit. Batches use the journal to resume without re-submitting.

Location: ``IMAGEBRIDGE_JOURNAL`` (a file path, or ``off``), else ``journal.sqlite3`` in the
user data directory platformdirs gives (``user_data_path("imagebridge", appauthor=False)``):
``$XDG_DATA_HOME/imagebridge`` or ``~/.local/share/imagebridge`` on Linux,
``~/Library/Application Support/imagebridge`` on macOS, ``%LOCALAPPDATA%\\imagebridge`` (the
shell's Local AppData folder) on Windows: the folders this module chose itself before. Two
edge cases differ (checked in platformdirs 4.14's source): a relative ``$XDG_DATA_HOME`` is
ignored, as the XDG spec says, and on macOS an absolute ``$XDG_DATA_HOME`` is honoured.
The journal holds task handles and file paths, never an API key.

A journal that cannot be used (a corrupt file, a path that is a folder or lies under a file,
a folder that cannot be written) is a :class:`ConfigurationError` naming the path, raised
when the :class:`TaskJournal` is made (so at client construction), before any task is paid
for: an existing journal is opened then, a new one only when its first task is recorded.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ._errors import ConfigurationError
from ._redact import Redactor
from ._tasks import TaskHandle

if TYPE_CHECKING:
    import sqlite3

JournalState = Literal["accepted", "fetched", "saved", "failed"]
UNFINISHED: tuple[JournalState, ...] = ("accepted", "fetched")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    provider   TEXT NOT NULL,
    base_url   TEXT NOT NULL,
    task_id    TEXT NOT NULL,
    handle     TEXT NOT NULL,
    state      TEXT NOT NULL,
    label      TEXT,
    paths      TEXT,
    error      TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (provider, base_url, task_id)
);
CREATE INDEX IF NOT EXISTS tasks_label ON tasks (label);
"""
#: The columns of ``tasks``: a file whose ``tasks`` table lacks one is not a task journal.
_COLUMNS = frozenset(
    {
        *("provider", "base_url", "task_id", "handle", "state"),
        *("label", "paths", "error", "created_at", "updated_at"),
    }
)
_FIX = (
    "point IMAGEBRIDGE_JOURNAL (or journal=) at another file,"
    " or turn the journal off (IMAGEBRIDGE_JOURNAL=off, journal=False)"
)


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
    see the module's docstring); None when the journal is switched off."""
    configured = os.environ.get("IMAGEBRIDGE_JOURNAL")
    if configured is not None:
        if configured.strip().lower() in ("", "off", "0", "false", "no"):
            return None
        return Path(configured).expanduser()
    import platformdirs  # imported when first needed: ``import imagebridge`` stays light

    return platformdirs.user_data_path("imagebridge", appauthor=False) / "journal.sqlite3"


class TaskJournal:
    """A small SQLite journal of accepted tasks. Safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        _check_location(self.path)
        if self.path.exists():
            # Opened now: a corrupt or foreign file fails here, before a task is paid for.
            with self._lock:
                self._open()

    def __repr__(self) -> str:
        return f"TaskJournal({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One connection per journal, kept open (opening one per write dominated the cost of
        a thousand concurrent tasks); writes are serialised by a lock and each commits."""
        import sqlite3

        with self._lock:
            connection = self._open()
            try:
                with connection:
                    yield connection
            except sqlite3.DatabaseError as exc:  # e.g. a page found corrupt only now
                raise _unusable(self.path, str(exc)) from None

    def _open(self) -> sqlite3.Connection:
        """The connection, opened (and the schema made) on first use; with the lock held."""
        import sqlite3  # on first use: most programs import imagebridge and never journal

        if self._connection is not None:
            return self._connection
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise _unusable(self.path, _reason(exc)) from None
        try:
            # Before anything is written: another program's database is left as it was.
            columns = {row[1] for row in connection.execute("PRAGMA table_info(tasks)")}
            if columns and not columns >= _COLUMNS:
                found = ", ".join(sorted(columns))
                raise _unusable(
                    self.path, f"it is not an imagebridge task journal (table tasks has: {found})"
                )
            connection.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a committed row survives a crash of the process (what the
            # journal is for); only a power loss may lose the last writes.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            connection.close()
            raise _unusable(self.path, _reason(exc)) from None
        except ConfigurationError:
            connection.close()
            raise
        self._connection = connection
        return connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    #: The secrets kept out of what is written (see :meth:`scrub_with`).
    _redactor = Redactor()

    def scrub_with(self, redactor: Redactor) -> None:
        """Keep ``redactor``'s secrets out of every task, label, path and error written from
        now on (each client does this with its key). A task id a server made out of the key
        is written with the key redacted; the client that holds the key puts it back when
        the task is resumed, so it stays resumable."""
        self._redactor = self._redactor | redactor

    def record(self, task: TaskHandle, *, label: str | None = None) -> None:
        """Write an accepted task (before anything waits on it)."""
        task, label = task.scrubbed(self._redactor), self._redactor.obj(label)
        now = time.time()
        with self._connect() as db:
            db.execute(
                "INSERT INTO tasks VALUES (?, ?, ?, ?, 'accepted', ?, NULL, NULL, ?, ?)"
                " ON CONFLICT (provider, base_url, task_id) DO UPDATE SET"
                " handle = excluded.handle, label = COALESCE(excluded.label, tasks.label),"
                " updated_at = excluded.updated_at",
                (task.provider, task.base_url, task.task_id, task.to_json(), label, now, now),
            )

    def mark(
        self,
        task: TaskHandle,
        state: JournalState,
        *,
        paths: Sequence[str | os.PathLike[str]] = (),
        error: str | None = None,
    ) -> None:
        """Move a task to ``fetched``, ``saved`` or ``failed`` (recording it if unknown)."""
        task, error = task.scrubbed(self._redactor), self._redactor.obj(error)
        paths = [self._redactor.text(str(p)) for p in paths]
        now = time.time()
        with self._connect() as db:
            db.execute(
                "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)"
                " ON CONFLICT (provider, base_url, task_id) DO UPDATE SET"
                " state = excluded.state, paths = COALESCE(excluded.paths, tasks.paths),"
                " error = excluded.error, updated_at = excluded.updated_at",
                (
                    task.provider,
                    task.base_url,
                    task.task_id,
                    task.to_json(),
                    state,
                    json.dumps([str(p) for p in paths]) if paths else None,
                    error,
                    now,
                    now,
                ),
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
        clauses: list[str] = []
        args: list[str] = []
        if states:
            clauses.append(f"state IN ({', '.join('?' * len(states))})")
            args.extend(states)
        # Looked up as they were written.
        task_id = None if task_id is None else self._redactor.text(task_id)
        label = None if label is None else self._redactor.text(label)
        for column, value in (("provider", provider), ("task_id", task_id), ("label", label)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        # Only fixed column names are formatted in; every value is a bound parameter.
        query = (
            "SELECT handle, state, label, paths, error, created_at, updated_at FROM tasks"  # noqa: S608
            f"{where} ORDER BY created_at"
        )
        with self._connect() as db:
            rows = db.execute(query, args).fetchall()
        return [
            JournalEntry(
                task=TaskHandle.from_json(handle),
                state=state,
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


def _check_location(path: Path) -> None:
    """Refuse, before anything is sent, a journal path that cannot become a usable file."""
    if path.is_dir():
        raise _unusable(path, "it is a folder, not a file")
    if path.exists():
        if not path.is_file():
            raise _unusable(path, "it is not a regular file")
        if not os.access(path, os.R_OK | os.W_OK):
            raise _unusable(path, "this user cannot read and write it")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise _unusable(path, f"{str(folder)!r} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        # SQLite keeps the -wal and -shm files beside the journal: its folder must be writable.
        raise _unusable(path, f"this user cannot write in its folder {str(folder)!r}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror if exc.filename is None else f"{exc.strerror}: {exc.filename}"
    text = str(exc)
    # SQLite's own words, for the two ways a file that is not a journal shows up.
    if text in ("file is not a database", "database disk image is malformed"):
        return f"it is corrupt or not an SQLite file ({text})"
    return text


def _unusable(path: Path, problem: str) -> ConfigurationError:
    return ConfigurationError(f"task journal {str(path)!r} cannot be used: {problem}; {_FIX}")


def open_default_journal() -> TaskJournal | None:
    path = default_journal_path()
    return TaskJournal(path) if path is not None else None
