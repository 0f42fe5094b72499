"""Where the task journal keeps its rows: one small storage interface, two backends.

:class:`~imagebridge.TaskJournal` decides what is written (the redactor's scrubbing, the
timestamps, the JSON of a handle and its paths) and turns rows back into entries; a
:class:`JournalStore` only stores and queries them. Two implement it: SQLite, a file
(:mod:`imagebridge._journal_sqlite`, the default), and PostgreSQL, a database many machines
share (:mod:`imagebridge._journal_pg`, for a location that is a ``postgresql://`` or
``postgres://`` URL). Both keep the same tables at the same schema versions
(:mod:`imagebridge._journal_schema`) and give the same guarantees: a write is committed
before it returns, writers in many threads and processes are safe, tasks are upserted by
(provider, base URL, task id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._errors import ConfigurationError

__all__ = [
    "JournalStore",
    "SpendUpdate",
    "SpendValues",
    "TaskRow",
    "TaskValues",
    "is_dsn",
    "shown_dsn",
    "task_filter",
]

#: A task to upsert: provider, base_url, task_id, handle JSON, state, label, paths JSON,
#: error, created_at, updated_at (the ``tasks`` table's columns, in order).
TaskValues = tuple[str, str, str, str, str, str | None, str | None, str | None, float, float]
#: A task read back: handle JSON, state, label, paths JSON, error, created_at, updated_at.
TaskRow = tuple[str, str, str | None, str | None, str | None, float, float]
#: A ledger row written: provider, model, task_id, label, estimate, actual (TEXT decimals),
#: created_at, updated_at.
SpendValues = tuple[str, str, str | None, str | None, str | None, str | None, float, float]
#: A ledger row's update: its id, the actual cost (TEXT decimal; None leaves it), updated_at.
SpendUpdate = tuple[int, str | None, float]
#: A ledger row read back: id, then :data:`SpendValues`.
SpendRecord = tuple[int, str, str, str | None, str | None, str | None, str | None, float, float]

_FIX = (
    "point IMAGEBRIDGE_JOURNAL (or journal=) at another file or database,"
    " or turn the journal off (IMAGEBRIDGE_JOURNAL=off, journal=False)"
)


class JournalStore(Protocol):
    """The operations the task journal needs from its storage. Each write is committed
    before it returns; a store is safe to share between threads."""

    #: Where it is, for messages: a file path, or a DSN with its password removed.
    location: str

    def exists(self) -> bool:
        """Whether there is a journal to read (a file not made yet has no entries)."""
        ...

    def open(self) -> None:
        """Connect (once) and bring the schema up to date; a :class:`ConfigurationError`
        when it cannot be used."""
        ...

    def record_task(self, values: TaskValues, spend: SpendValues | None = None) -> int | None:
        """Insert an accepted task, or on a known one update its handle, its label (unless
        None) and ``updated_at``. With ``spend``, also write that ledger row, committed with
        the task (one commit, one round trip): its id."""
        ...

    def mark_task(self, values: TaskValues, spend: SpendUpdate | None = None) -> None:
        """Insert a task in ``values``' state, or on a known one update its state, its paths
        (unless None), its error and ``updated_at``. With ``spend``, also update that ledger
        row as :meth:`update_spend` does, committed with the task."""
        ...

    def select_tasks(
        self,
        states: Sequence[str] | None,
        filters: Sequence[tuple[str, str]],
    ) -> list[TaskRow]:
        """Tasks oldest first, in one of ``states`` (None: any) and matching each
        (column, value) of ``filters`` (columns: provider, task_id, label)."""
        ...

    def insert_spend(self, values: SpendValues) -> int:
        """Write a ledger row; its id."""
        ...

    def update_spend(self, row: int, actual: str | None, now: float) -> None:
        """Set ``actual`` (unless None) and ``updated_at`` of ledger row ``row``."""
        ...

    def select_spend(self, since: float) -> list[SpendRecord]:
        """The ledger rows created at or after ``since``, oldest first."""
        ...

    def close(self) -> None:
        """Release the connections (the store reopens on its next use)."""
        ...


#: Columns a filter may name: only these are ever formatted into SQL.
FILTER_COLUMNS = frozenset({"provider", "task_id", "label"})


def task_filter(
    states: Sequence[str] | None, filters: Sequence[tuple[str, str]], mark: str
) -> tuple[str, list[str]]:
    """The ``WHERE`` clause of a tasks query (empty for none) and its parameters, with
    ``mark`` as the placeholder (SQLite's ``?``, psycopg's ``%s``). Only the fixed column
    names of :data:`FILTER_COLUMNS` are formatted in; every value is a bound parameter."""
    clauses: list[str] = []
    args: list[str] = []
    if states:
        clauses.append(f"state IN ({', '.join([mark] * len(states))})")
        args.extend(states)
    for column, value in filters:
        if column not in FILTER_COLUMNS:
            raise ValueError(f"cannot filter tasks by {column!r}")
        clauses.append(f"{column} = {mark}")
        args.append(value)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), args


def is_dsn(location: object) -> bool:
    """Whether a journal location is a PostgreSQL URL (``postgresql://``, ``postgres://``)."""
    return isinstance(location, str) and location.strip().lower().startswith(
        ("postgresql://", "postgres://")
    )


def shown_dsn(dsn: str) -> str:
    """``dsn`` without its password (a URL's ``user:secret@`` or ``password=`` parameter; a
    ``key=value`` string's ``password``, quoted or not): what messages, ``repr`` and
    ``location`` show."""
    dsn = dsn.strip()
    if "://" not in dsn:
        return re.sub(r"(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)\s*", "", dsn).strip()
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"]
    )
    shown = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return re.sub(r"(?i)password=[^&\s]*&?", "", shown).rstrip("?&")


def unusable(location: str, problem: str) -> ConfigurationError:
    """The one-line error of a journal that cannot be used: where it is, why, what to do."""
    return ConfigurationError(f"task journal {location!r} cannot be used: {problem}; {_FIX}")
