"""The PostgreSQL side of a shared batch (:mod:`imagebridge._shared_batch`): the schema, and
every statement the workers run, each one atomic on its own.

The tables live in the schema ``imagebridge_batch`` (made by the library, idempotently,
under an advisory lock so that two workers starting together do not race), with a version
table ``imagebridge_batch_version``:

* ``batches(batch_id, created_at, total, items_key)``: ``items_key`` is the hash of the
  batch file's items, so a different file under the same id is refused;
* ``batch_items(batch_id, item_id, position, payload, state, worker, lease_until, task,
  paths, error, attempts, updated_at)``: one row per request, its ``state`` one of
  :data:`STATES`; ``lease_until`` is on the database's clock;
* ``workers(worker_id, batch_id, host, pid, heartbeat_at, started_at, stopped_at)``.

Every statement is a single autocommit statement (the claim is one ``UPDATE ... WHERE (...)
IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT k)``), so the many tasks of one worker can share
one connection, and each is written so that running it twice does what running it once did:
a statement whose answer was lost with the connection is simply sent again. While the server
cannot be reached, :meth:`Store.run` retries with backoff for ``patience`` seconds.

psycopg is imported here only, and only when a shared batch runs.
"""

# S608: the only text put into statements is the module's own table names (constants) and
# fixed SET clauses; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._errors import ConfigurationError, ImageBridgeError
from ._journal_store import shown_dsn

if TYPE_CHECKING:
    import asyncio

    import psycopg

#: Every state of an item. ``pending``: nobody holds it; ``claimed``: a worker holds it and
#: has sent nothing; ``submitting``: committed before its submit goes out; ``accepted``: its
#: task handle is recorded (``worker`` NULL: released, another worker may resume it);
#: ``saved``, ``failed`` and ``unknown`` (sent, unanswered: never resent) are final.
STATES = ("pending", "claimed", "submitting", "accepted", "saved", "failed", "unknown")
OPEN_STATES = ("pending", "claimed", "submitting", "accepted")
SCHEMA_VERSION = 1
_LOCK_ID = 0x1B_BA7C  # the advisory lock under which the schema is made
#: SQLSTATE classes worth sending again: connection exceptions, a rollback (deadlock,
#: serialization), an operator intervention (the server shutting down or starting).
_TRANSIENT = ("08", "40", "57")

_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS imagebridge_batch;
CREATE TABLE IF NOT EXISTS imagebridge_batch.imagebridge_batch_version (
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS imagebridge_batch.batches (
    batch_id text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    total integer NOT NULL,
    items_key text NOT NULL
);
CREATE TABLE IF NOT EXISTS imagebridge_batch.batch_items (
    batch_id text NOT NULL REFERENCES imagebridge_batch.batches ON DELETE CASCADE,
    item_id text NOT NULL,
    position integer NOT NULL,
    payload jsonb NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN
        ('pending', 'claimed', 'submitting', 'accepted', 'saved', 'failed', 'unknown')),
    worker text,
    lease_until timestamptz,
    task jsonb,
    paths jsonb,
    error jsonb,
    attempts integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, item_id)
);
CREATE INDEX IF NOT EXISTS batch_items_open
    ON imagebridge_batch.batch_items (batch_id, state, position);
CREATE TABLE IF NOT EXISTS imagebridge_batch.workers (
    worker_id text NOT NULL,
    batch_id text NOT NULL REFERENCES imagebridge_batch.batches ON DELETE CASCADE,
    host text,
    pid integer,
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz,
    PRIMARY KEY (batch_id, worker_id)
);
"""

ITEMS = _T = "imagebridge_batch.batch_items"
_LEASE = "now() + make_interval(secs => %(lease)s)"


class SharedJournalError(ImageBridgeError):
    """The shared batch's database stayed unreachable longer than the worker's patience."""


class Store:
    """One worker's connection to the shared batch's database, remade when it breaks."""

    def __init__(self, dsn: str, *, patience: float = 300.0, connect_timeout: float = 5.0):
        self.dsn = dsn
        self.shown = shown_dsn(dsn)
        self.patience = patience
        self.connect_timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock: asyncio.Lock | None = None
        #: Seconds the database was unreachable so far (for the status line and tests).
        self.outages = 0

    async def open(self) -> None:
        """Connect now: a DSN that cannot connect is a one-line :class:`ConfigurationError`."""
        try:
            import psycopg
        except ImportError:
            raise ConfigurationError(
                "a PostgreSQL journal needs psycopg: pip install 'imagebridge[postgres]'"
            ) from None
        try:
            self._conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, connect_timeout=int(max(1, self.connect_timeout))
            )
        except psycopg.Error as error:
            why = " ".join(str(error).split()) or type(error).__name__
            why = why.replace(self.dsn, self.shown)
            raise ConfigurationError(
                f"journal={self.shown!r}: cannot connect to the PostgreSQL server ({why})"
            ) from None

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        import asyncio

        import psycopg

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one reconnect for all the tasks that saw the break
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, connect_timeout=int(max(1, self.connect_timeout))
                )
            return self._conn

    async def run(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (none for a statement without). While the server is
        unreachable it is sent again with backoff, for at most ``patience`` seconds."""
        import asyncio

        import psycopg

        deadline = time.monotonic() + self.patience
        delay = 0.05
        while True:
            conn = None
            try:
                conn = await self._connection()
                cursor = await conn.execute(sql, params)
                return list(await cursor.fetchall()) if cursor.description else []
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                state = getattr(error, "sqlstate", None) or ""
                healthy = conn is not None and not (conn.closed or conn.broken)
                if healthy and not state.startswith(_TRANSIENT):
                    raise  # a real failure on a working connection, not an outage
                if time.monotonic() + delay > deadline:
                    raise SharedJournalError(
                        f"the shared batch database {self.shown} has not answered for"
                        f" {self.patience:g} s: {' '.join(str(error).split())}"
                    ) from None
                self.outages += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- schema and loading ----------------------------------------------------------------

    async def ensure_schema(self) -> None:
        """Make the schema if missing (idempotent; concurrent workers wait on one lock)."""
        conn = await self._connection()
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            await conn.execute(_SCHEMA)
            cursor = await conn.execute(
                "SELECT max(version) FROM imagebridge_batch.imagebridge_batch_version"
            )
            row = await cursor.fetchone()
            version = row[0] if row else None
            if version is None:
                await conn.execute(
                    "INSERT INTO imagebridge_batch.imagebridge_batch_version VALUES (%s)",
                    (SCHEMA_VERSION,),
                )
            elif version > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"journal={self.shown!r}: its shared batch tables are version {version},"
                    f" written by a newer imagebridge (this one reads version {SCHEMA_VERSION})"
                )

    async def load(self, batch_id: str, items_key: str, rows: Sequence[tuple[str, str]]) -> bool:
        """Insert the batch and its items unless there (``rows``: item id, payload JSON).
        True when this call created the batch; a different file under ``batch_id`` is a
        :class:`ConfigurationError`."""
        created = await self.run(
            "INSERT INTO imagebridge_batch.batches (batch_id, total, items_key)"
            " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING batch_id",
            (batch_id, len(rows), items_key),
        )
        [(key, total)] = await self.run(
            "SELECT items_key, total FROM imagebridge_batch.batches WHERE batch_id = %s",
            (batch_id,),
        )
        if key != items_key:
            raise ConfigurationError(
                f"batch id {batch_id!r} already holds a different batch ({total} items, key"
                f" {key}; this file's key is {items_key}): give another --batch-id, or run"
                " the same file"
            )
        await self.run(
            f"INSERT INTO {_T} (batch_id, item_id, position, payload)"
            " SELECT %s, i, p, j::jsonb FROM unnest(%s::text[], %s::integer[], %s::text[])"
            " AS t(i, p, j) ON CONFLICT DO NOTHING",
            (
                batch_id,
                [item_id for item_id, _ in rows],
                list(range(len(rows))),
                [payload for _, payload in rows],
            ),
        )
        return bool(created)

    async def retry_failed(self, batch_id: str) -> int:
        rows = await self.run(
            f"UPDATE {_T} SET state = 'pending', worker = NULL, lease_until = NULL,"
            " error = NULL, task = NULL, updated_at = now()"
            " WHERE batch_id = %s AND state = 'failed'"
            # An item whose task was accepted goes back only when the task itself ended
            # failed; one that failed to be resumed (its task may have made its images)
            # stays failed, with its task id, and is never submitted again.
            " AND (task IS NULL OR error->>'type' IN ('TaskFailedError', 'ContentPolicyError'))"
            " RETURNING item_id",
            (batch_id,),
        )
        return len(rows)

    # -- workers ----------------------------------------------------------------------------

    async def register(self, batch_id: str, worker: str, host: str, pid: int) -> None:
        """Record the worker, and take back what an earlier process of this worker id held:
        an item it claimed goes back to pending, an accepted one is released for anyone to
        resume, one it was submitting is ``unknown`` (the submit may have been sent)."""
        await self.run(
            "INSERT INTO imagebridge_batch.workers (worker_id, batch_id, host, pid)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (batch_id, worker_id) DO UPDATE SET"
            " host = excluded.host, pid = excluded.pid, heartbeat_at = now(),"
            " started_at = now(), stopped_at = NULL",
            (worker, batch_id, host, pid),
        )
        await self.run(
            f"UPDATE {_T} SET"
            " state = CASE state WHEN 'claimed' THEN 'pending' WHEN 'submitting' THEN 'unknown'"
            " ELSE state END,"
            " worker = CASE state WHEN 'submitting' THEN worker ELSE NULL END,"
            " error = CASE state WHEN 'submitting' THEN %s::jsonb ELSE error END,"
            " lease_until = NULL, updated_at = now()"
            " WHERE batch_id = %s AND worker = %s"
            " AND state IN ('claimed', 'submitting', 'accepted')",
            (json.dumps(_lost("an earlier process of this worker")), batch_id, worker),
        )

    async def heartbeat(
        self, batch_id: str, worker: str, lease: float, held: Sequence[str] = ()
    ) -> int:
        """Renew the leases of the items the worker runs (``held``: only those, so that an
        item claimed by a statement whose answer was lost expires and is taken again) and
        its heartbeat; the number of live workers (heartbeat within one lease, not stopped)."""
        if held:
            await self.run(
                f"UPDATE {_T} SET lease_until = {_LEASE} WHERE batch_id = %(batch)s AND worker"
                " = %(worker)s AND item_id = ANY(%(held)s)"
                " AND state IN ('claimed', 'submitting', 'accepted') AND lease_until IS NOT NULL",
                {"batch": batch_id, "worker": worker, "lease": lease, "held": list(held)},
            )
        [(live,)] = await self.run(
            "WITH beat AS (UPDATE imagebridge_batch.workers SET heartbeat_at = now()"
            " WHERE batch_id = %(batch)s AND worker_id = %(worker)s)"
            " SELECT count(*) FROM imagebridge_batch.workers WHERE batch_id = %(batch)s"
            " AND stopped_at IS NULL AND (worker_id = %(worker)s"
            " OR heartbeat_at > now() - make_interval(secs => %(lease)s))",
            {"batch": batch_id, "worker": worker, "lease": lease},
        )
        return int(live)

    async def stopped(self, batch_id: str, worker: str) -> None:
        await self.run(
            "UPDATE imagebridge_batch.workers SET stopped_at = now()"
            " WHERE batch_id = %s AND worker_id = %s",
            (batch_id, worker),
        )

    # -- claims and transitions -------------------------------------------------------------

    async def expire(self, batch_id: str) -> int:
        """Make ``unknown`` every item whose lease expired while ``submitting`` (its worker
        died or lost the database after it may have sent the submit: never resent)."""
        rows = await self.run(
            f"UPDATE {_T} SET state = 'unknown', error = %s::jsonb, lease_until = NULL,"
            " updated_at = now() WHERE (batch_id, item_id) IN (SELECT batch_id, item_id"
            f" FROM {_T} WHERE batch_id = %s AND state = 'submitting' AND lease_until < now()"
            " FOR UPDATE SKIP LOCKED) RETURNING item_id",
            (json.dumps(_lost("its worker's lease expired")), batch_id),
        )
        return len(rows)

    async def claim(
        self, batch_id: str, worker: str, count: int, lease: float
    ) -> list[tuple[str, str, Any]]:
        """Lease up to ``count`` items to ``worker``: pending ones, and claimed or accepted
        ones whose lease expired or was released. Rows: item id, state, task JSON."""
        rows = await self.run(
            f"UPDATE {_T} SET state = CASE WHEN state = 'accepted' THEN 'accepted'"
            f" ELSE 'claimed' END, worker = %(worker)s, lease_until = {_LEASE},"
            " attempts = attempts + 1, updated_at = now()"
            " WHERE (batch_id, item_id) IN ("
            f"SELECT batch_id, item_id FROM {_T} WHERE batch_id = %(batch)s"
            " AND (state = 'pending' OR (state IN ('claimed', 'accepted')"
            " AND (worker IS NULL OR lease_until IS NULL OR lease_until < now())))"
            " ORDER BY position FOR UPDATE SKIP LOCKED LIMIT %(count)s)"
            " RETURNING item_id, state, task",
            {"batch": batch_id, "worker": worker, "count": count, "lease": lease},
        )
        return [(str(r[0]), str(r[1]), r[2]) for r in rows]

    async def move(
        self,
        batch_id: str,
        item_id: str,
        worker: str,
        to: str,
        *,
        frm: Sequence[str],
        lease: float | None = None,
        task: str | None = None,
        paths: list[str] | None = None,
        error: dict[str, Any] | None = None,
        release: bool = False,
    ) -> bool:
        """Move an item the worker holds from one of ``frm`` to ``to`` (True if it did; the
        same call made twice succeeds twice when ``to`` is in ``frm``). ``release`` gives
        up the lease (NULL worker) so that another worker may take the item at once."""
        sets = ["state = %(to)s", "updated_at = now()"]
        if release:
            sets += ["worker = NULL", "lease_until = NULL"]
        elif lease is not None:
            sets.append(f"lease_until = {_LEASE}")
        elif to in ("saved", "failed", "unknown"):
            sets.append("lease_until = NULL")
        if task is not None:
            sets.append("task = %(task)s::jsonb")
        if paths is not None:
            sets.append("paths = %(paths)s::jsonb")
        if error is not None:
            sets.append("error = %(error)s::jsonb")
        rows = await self.run(
            f"UPDATE {_T} SET {', '.join(sets)} WHERE batch_id = %(batch)s"
            " AND item_id = %(item)s AND worker = %(worker)s AND state = ANY(%(frm)s)"
            " RETURNING 1",
            {
                "to": to,
                "lease": lease,
                "task": task,
                "paths": json.dumps(paths),
                "error": json.dumps(error),
                "batch": batch_id,
                "item": item_id,
                "worker": worker,
                "frm": list(frm),
            },
        )
        return bool(rows)

    async def saved(self, batch_id: str, item_id: str, worker: str, paths: list[str]) -> None:
        """Record the item saved (whoever holds it now: its images are in place)."""
        await self.run(
            f"UPDATE {_T} SET state = 'saved', paths = %s::jsonb, worker = %s,"
            " lease_until = NULL, error = NULL, updated_at = now()"
            " WHERE batch_id = %s AND item_id = %s AND state <> 'saved'",
            (json.dumps(paths), worker, batch_id, item_id),
        )

    async def open_items(self, batch_id: str) -> int:
        [(count,)] = await self.run(
            f"SELECT count(*) FROM {_T} WHERE batch_id = %s AND state = ANY(%s)",
            (batch_id, list(OPEN_STATES)),
        )
        return int(count)

    async def items(self, batch_id: str) -> list[tuple[Any, ...]]:
        """Every item: id, state, worker, task, paths, error, in the file's order."""
        return await self.run(
            f"SELECT item_id, state, worker, task, paths, error FROM {_T}"
            " WHERE batch_id = %s ORDER BY position",
            (batch_id,),
        )


def _lost(why: str) -> dict[str, Any]:
    return {
        "type": "SubmitOutcomeUnknownError",
        "message": f"{why} while its submit may have been sent: the task may exist and is"
        " never resent (check the provider before sending it again)",
    }
