"""``imagebridge spend``: what the calls in the journal's spend ledger cost, by provider,
model and day."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import click

from imagebridge._journal import open_default_journal
from imagebridge._prices import plain_usd

from ._errors import ErrorContext, report_errors
from ._terminal import echo


def _day(value: str | None) -> datetime.date | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date: use YYYY-MM-DD", param_hint="'--since'"
        ) from None


@click.command("spend")
@click.option("--since", metavar="YYYY-MM-DD", help="Only calls from that day on (UTC).")
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object.")
def spend(since: str | None, json_mode: bool) -> None:
    """Report what the calls recorded in the journal's spend ledger cost, by provider, model
    and day (UTC): each call counts its actual cost where the response reported usage, else
    its estimate; calls with neither are counted as unknown, never as 0.

    The ledger is kept in the task journal (IMAGEBRIDGE_JOURNAL sets another one).

    \b
    Examples:
      imagebridge spend
      imagebridge spend --since 2026-12-01 --json
    """
    with report_errors(ErrorContext(json_mode=json_mode)):
        start = _day(since)
        journal = open_default_journal()
        try:
            rows = [] if journal is None else journal.spend_summary(start)
        finally:
            if journal is not None:
                journal.close()
    total = sum((row.usd for row in rows), Decimal(0))
    unknown = sum(row.unknown for row in rows)
    if json_mode:
        click.echo(
            json.dumps(
                {
                    "journal": None if journal is None else str(journal.location),
                    "since": since,
                    "total_usd": plain_usd(total),
                    "unknown_calls": unknown,
                    "rows": [
                        {
                            "day": row.day,
                            "provider": row.provider,
                            "model": row.model,
                            "calls": row.calls,
                            "usd": plain_usd(row.usd),
                            "actual_usd": plain_usd(row.actual),
                            "estimated_usd": plain_usd(row.estimated),
                            "unknown_calls": row.unknown,
                        }
                        for row in rows
                    ],
                }
            )
        )
        return
    if journal is None:
        echo("the journal is off (IMAGEBRIDGE_JOURNAL=off): no spend is recorded", err=True)
        return
    if not rows:
        echo("no calls recorded" + (f" since {since}" if since else ""), err=True)
        return
    width = max(len(f"{row.provider} {row.model}") for row in rows)
    for row in rows:
        what = f"{row.provider} {row.model}".ljust(width)
        line = f"{row.day}  {what}  {row.calls:>5} calls  ${plain_usd(row.usd)}"
        if row.unknown:
            line += f"  ({row.unknown} of unknown price)"
        echo(line)
    note = f", {unknown} calls of unknown price" if unknown else ""
    echo(f"total: ${plain_usd(total)}{note}")
