"""The spend ledger's rows and schema, kept in the task journal's SQLite file.

One row per provider call that was sent and answered or accepted: its provider, model, task
id (none for a call answered at once), label (a batch item's), estimate and actual cost in
US dollars (TEXT decimals, never floats; NULL is "not known", never 0). A call is written
when it is accepted or answered, with its estimate, so a crash mid-batch loses nothing, and
updated with its actual cost once known. :class:`~imagebridge.TaskJournal` reads and writes
it (``spend()``, ``spend_summary()``); the client's task recorder is its only writer.

The journal's schema is versioned (the ``schema_version`` table): a file without it is
version 0 (the ``tasks`` table alone) and is migrated, step by step, when it is opened.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["MIGRATIONS", "SpendCall", "SpendRow", "SpendSummary", "summarize"]

#: ``since=``: seconds since the epoch, a datetime (naive: UTC), or a date (its midnight UTC).
Since = float | datetime.datetime | datetime.date | None

#: The ledger's steps of the journal's schema (SQLite's; :mod:`imagebridge._journal_schema`
#: numbers and runs them with the PostgreSQL ones: a journal without the ledger is version 0).
MIGRATIONS = {
    # 1: the spend ledger, one row per provider call sent and answered or accepted. Dollars
    # are TEXT decimals (never floats); NULL is "not known", never 0.
    1: """
CREATE TABLE IF NOT EXISTS spend (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    provider   TEXT NOT NULL,
    model      TEXT NOT NULL,
    task_id    TEXT,
    label      TEXT,
    estimate   TEXT,
    actual     TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_created ON spend (created_at);
""",
}


@dataclass(frozen=True, slots=True)
class SpendCall:
    """A call to write to the ledger with the task it made: the provider, the model and the
    estimate (US dollars; None: not known). The task gives the row its task id and label."""

    provider: str
    model: str
    estimate: Decimal | None


@dataclass(frozen=True, slots=True)
class SpendRow:
    """One provider call of the spend ledger: its estimate and, once known, its actual cost
    (US dollars; None: not known)."""

    id: int
    provider: str
    model: str
    task_id: str | None
    label: str | None
    estimate: Decimal | None
    actual: Decimal | None
    created_at: float
    updated_at: float

    @property
    def usd(self) -> Decimal | None:
        """The call's figure: its actual cost if known, else its estimate."""
        return self.actual if self.actual is not None else self.estimate


@dataclass(frozen=True, slots=True)
class SpendSummary:
    """The ledger's calls of one provider and model on one day (UTC, ``YYYY-MM-DD``):
    ``usd`` sums each call's figure (actual, else estimate); ``unknown`` counts calls with
    neither."""

    provider: str
    model: str
    day: str
    calls: int
    usd: Decimal
    actual: Decimal
    estimated: Decimal
    unknown: int


def to_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def read_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def since_epoch(value: Since) -> float:
    """``since`` as seconds since the epoch (a date is its midnight UTC)."""
    if value is None:
        return float("-inf")
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, datetime.date):
        midnight = datetime.datetime(value.year, value.month, value.day)
        return midnight.replace(tzinfo=datetime.timezone.utc).timestamp()
    return float(value)


def summarize(rows: list[SpendRow]) -> list[SpendSummary]:
    """``rows`` summed by provider, model and day (UTC), oldest day first."""
    groups: dict[tuple[str, str, str], list[SpendRow]] = {}
    for row in rows:
        day = datetime.datetime.fromtimestamp(row.created_at, datetime.timezone.utc)
        groups.setdefault((day.date().isoformat(), row.provider, row.model), []).append(row)
    zero = Decimal(0)
    return [
        SpendSummary(
            provider=provider,
            model=model,
            day=day,
            calls=len(group),
            usd=sum((r.usd for r in group if r.usd is not None), zero),
            actual=sum((r.actual for r in group if r.actual is not None), zero),
            estimated=sum(
                (r.estimate for r in group if r.actual is None and r.estimate is not None), zero
            ),
            unknown=sum(1 for r in group if r.usd is None),
        )
        for (day, provider, model), group in sorted(groups.items())
    ]
