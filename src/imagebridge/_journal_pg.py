"""The task journal in a PostgreSQL database (a :class:`~imagebridge._journal_store.JournalStore`).

Chosen by a ``postgresql://`` or ``postgres://`` location (``journal=``,
``IMAGEBRIDGE_JOURNAL``): every machine that points at the database shares one journal.
psycopg 3 (the ``postgres`` extra) is imported here only when such a journal is opened.

* Opening connects once and migrates the schema (in the ``imagebridge_journal`` schema, see
  :mod:`imagebridge._journal_schema`) under an advisory lock, so two processes starting
  together do not race. A database that cannot be reached is a one-line
  :class:`~imagebridge.ConfigurationError` naming the DSN without its password and why
  (connection refused, authentication failed, no such database), before any task is paid.
* Every write is one autocommitted statement: the task is committed before ``record``
  returns. Connections come from a small pool (:data:`POOL_SIZE`), shared by threads.
* A statement that fails because the database went away (a restart, a dropped connection)
  is retried on a new connection with a short backoff for up to :data:`RETRY_FOR` seconds;
  after that it is a :class:`~imagebridge.ConfigurationError` that the task recorder logs
  (the task itself stays on the result or the error, never abandoned).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._errors import ConfigurationError
from ._journal_schema import PG_MIGRATIONS, PG_SCHEMA, steps_after
from ._journal_store import (
    SpendRecord,
    SpendUpdate,
    SpendValues,
    TaskRow,
    TaskValues,
    shown_dsn,
    task_filter,
    unusable,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["POOL_SIZE", "RETRY_FOR", "PostgresStore"]

T = TypeVar("T")

#: How long a statement is retried while the database is unreachable (seconds).
RETRY_FOR = 30.0
#: The most connections one journal holds open (threads beyond it wait their turn).
POOL_SIZE = 8
#: Seconds to wait for a connection when none is set in the DSN.
CONNECT_TIMEOUT = 10
#: The advisory lock under which the journal's schema is migrated ("ibjr").
_LOCK_KEY = 0x69_62_6A_72
_FIRST_DELAY, _MAX_DELAY = 0.1, 2.0
_S = PG_SCHEMA
#: The writes (see :class:`~imagebridge._journal_store.JournalStore`): tasks are upserted.
_RECORD: Any = (
    f"INSERT INTO {_S}.tasks AS t VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"  # noqa: S608
    " ON CONFLICT (provider, base_url, task_id) DO UPDATE SET"
    " handle = excluded.handle, label = COALESCE(excluded.label, t.label),"
    " updated_at = excluded.updated_at"
)
_MARK: Any = (
    f"INSERT INTO {_S}.tasks AS t VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"  # noqa: S608
    " ON CONFLICT (provider, base_url, task_id) DO UPDATE SET"
    " state = excluded.state, paths = COALESCE(excluded.paths, t.paths),"
    " error = excluded.error, updated_at = excluded.updated_at"
)
_SPEND: Any = (
    f"INSERT INTO {_S}.spend (provider, model, task_id, label, estimate, actual,"  # noqa: S608
    " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
)
#: Parameters: actual, updated_at, id.
_UPDATE_SPEND: Any = (
    f"UPDATE {_S}.spend SET actual = COALESCE(%s, actual), updated_at = %s"  # noqa: S608
    " WHERE id = %s"
)


class PostgresStore:
    """The journal's rows in the PostgreSQL database ``dsn``."""

    def __init__(self, dsn: str, *, retry_for: float | None = None) -> None:
        self._dsn = dsn.strip()
        self.location = shown_dsn(self._dsn)
        self._retry_for = RETRY_FOR if retry_for is None else retry_for
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(POOL_SIZE)
        #: Idle connections, each with the generation it was opened in (:meth:`close`
        #: starts a new one: connections of an older one are closed when given back).
        self._idle: list[tuple[int, psycopg.Connection[tuple[Any, ...]]]] = []
        self._generation = 0
        self._migrated = False

    def exists(self) -> bool:
        return True  # a database always has a journal to read once it opens

    def open(self) -> None:
        """Connect and migrate now, with no retry: an unreachable database is reported at
        once (client construction), before anything is paid for."""
        connection = self._connect()  # a missing psycopg is a ConfigurationError there
        try:
            self._migrate(connection)
        except BaseException:
            connection.close()
            raise
        with self._lock:
            self._idle.append((self._generation, connection))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for _, connection in idle:
            connection.close()

    # -- connections --------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:
            raise ConfigurationError(
                f"task journal {self.location!r} is a PostgreSQL database, which needs"
                " psycopg: pip install 'imagebridge[postgres]'"
            ) from None
        try:
            options: dict[str, Any] = {}
            if "connect_timeout" not in conninfo_to_dict(self._dsn):
                options["connect_timeout"] = CONNECT_TIMEOUT
            return psycopg.connect(self._dsn, autocommit=True, **options)
        except psycopg.Error as exc:
            raise unusable(self.location, self._reason(exc)) from None

    def _reason(self, exc: BaseException) -> str:
        """The database's words, on one line and without the password."""
        text = " ".join(str(exc).split())
        password = _password(self._dsn)
        if password:
            text = text.replace(password, "***")
        detail = re.sub(r"^.*failed: (FATAL: )?", "", text).strip() or text
        lowered = text.lower()
        if "connection refused" in lowered:
            return f"connection refused ({detail})"
        if (
            "authentication failed" in lowered
            or "no pg_hba.conf entry" in lowered
            or re.search(r'role ".*" does not exist', text)
        ):
            return f"authentication failed ({detail})"
        if re.search(r'database ".*" does not exist', text):
            return f"no such database ({detail})"
        if "timeout expired" in lowered:
            return f"no answer within the connect timeout ({detail})"
        return detail

    def _run(self, work: Callable[[psycopg.Connection[tuple[Any, ...]]], T]) -> T:
        """``work`` on a pooled connection; retried on a new one while the database is
        unreachable, for up to :data:`RETRY_FOR` seconds."""
        import psycopg

        if not self._migrated:
            self.open()  # a store used before it was opened
        deadline = time.monotonic() + self._retry_for
        delay = _FIRST_DELAY
        while True:
            with self._slots:
                try:
                    generation, connection = self._take()
                except ConfigurationError:
                    if time.monotonic() + delay > deadline:
                        raise
                else:
                    try:
                        return work(connection)
                    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                        connection.close()  # the database went away: the next try reconnects
                        if time.monotonic() + delay > deadline:
                            raise unusable(self.location, self._reason(exc)) from None
                    except psycopg.Error as exc:  # e.g. a table dropped by hand: not retried
                        raise unusable(self.location, self._reason(exc)) from None
                    finally:
                        self._give_back(generation, connection)
            time.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY)

    def _take(self) -> tuple[int, psycopg.Connection[tuple[Any, ...]]]:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            generation = self._generation
        return generation, self._connect()

    def _give_back(self, generation: int, connection: psycopg.Connection[tuple[Any, ...]]) -> None:
        if connection.closed or connection.broken:
            connection.close()
            return
        with self._lock:
            if generation == self._generation:
                self._idle.append((generation, connection))
                return
        connection.close()

    # -- schema -------------------------------------------------------------------------------
    def _migrate(self, connection: psycopg.Connection[tuple[Any, ...]]) -> None:
        """Bring the database up to the library's schema version, under an advisory lock
        held to the end of the transaction: a second process waits, then finds it done."""
        import psycopg

        try:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                known = connection.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (_S,)
                ).fetchone()
                if known is None:
                    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_S}")
                columns = {
                    name
                    for (name,) in connection.execute(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_schema = %s AND table_name = 'tasks'",
                        (_S,),
                    )
                }
                if columns and not columns >= _COLUMNS:
                    found = ", ".join(sorted(columns))
                    raise unusable(
                        self.location,
                        f"it is not an imagebridge task journal ({_S}.tasks has: {found})",
                    )
                connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {_S}.schema_version (version INTEGER NOT NULL)"
                )
                row = connection.execute(f"SELECT MAX(version) FROM {_S}.schema_version").fetchone()  # noqa: S608
                version = int(row[0]) if row and row[0] is not None else 0
                for step in steps_after(self.location, version):
                    for statement in PG_MIGRATIONS[step]:
                        connection.execute(cast("Any", statement))
                    connection.execute(f"DELETE FROM {_S}.schema_version")  # noqa: S608
                    connection.execute(
                        f"INSERT INTO {_S}.schema_version VALUES (%s)",  # noqa: S608
                        (step,),
                    )
        except psycopg.Error as exc:
            raise unusable(self.location, self._reason(exc)) from None
        self._migrated = True

    # -- rows ---------------------------------------------------------------------------------
    def record_task(self, values: TaskValues, spend: SpendValues | None = None) -> int | None:
        if spend is None:
            self._run(lambda db: db.execute(_RECORD, values))
            return None
        # One statement (a data-modifying WITH): one round trip, one commit for both rows.
        query = f"WITH task AS ({_RECORD}) {_SPEND}"
        row = self._run(lambda db: db.execute(cast("Any", query), (*values, *spend)).fetchone())
        return int(row[0]) if row else 0

    def mark_task(self, values: TaskValues, spend: SpendUpdate | None = None) -> None:
        if spend is None:
            self._run(lambda db: db.execute(_MARK, values))
            return
        row, actual, now = spend
        query = f"WITH task AS ({_MARK}) {_UPDATE_SPEND}"
        self._run(lambda db: db.execute(cast("Any", query), (*values, actual, now, row)))

    def select_tasks(
        self, states: Sequence[str] | None, filters: Sequence[tuple[str, str]]
    ) -> list[TaskRow]:
        where, args = task_filter(states, filters, "%s")
        query = (
            "SELECT handle, state, label, paths, error, created_at, updated_at"  # noqa: S608
            f" FROM {_S}.tasks{where} ORDER BY created_at"
        )
        rows = self._run(lambda db: db.execute(cast("Any", query), args).fetchall())
        return cast("list[TaskRow]", rows)

    def insert_spend(self, values: SpendValues) -> int:
        row = self._run(lambda db: db.execute(_SPEND, values).fetchone())
        return int(row[0]) if row else 0

    def update_spend(self, row: int, actual: str | None, now: float) -> None:
        self._run(lambda db: db.execute(_UPDATE_SPEND, (actual, now, row)))

    def select_spend(self, since: float) -> list[SpendRecord]:
        rows = self._run(
            lambda db: db.execute(
                "SELECT id, provider, model, task_id, label, estimate, actual, created_at,"  # noqa: S608
                f" updated_at FROM {_S}.spend WHERE created_at >= %s ORDER BY created_at, id",
                (since,),
            ).fetchall()
        )
        return cast("list[SpendRecord]", rows)


#: The columns of ``tasks``: a table that lacks one is not a task journal.
_COLUMNS = frozenset(
    {
        *("provider", "base_url", "task_id", "handle", "state"),
        *("label", "paths", "error", "created_at", "updated_at"),
    }
)


def _password(dsn: str) -> str | None:
    """The password in ``dsn`` (to keep it out of messages), if any."""
    from urllib.parse import parse_qs, unquote, urlsplit

    parts = urlsplit(dsn)
    if parts.password:
        return unquote(parts.password)
    found = parse_qs(parts.query).get("password")
    return found[0] if found else None
