"""A batch shared by many workers through PostgreSQL, on the command line: ``imagebridge
batch FILE --journal postgresql://...`` (the options of :func:`shared_options`) and
``imagebridge batch-status BATCH_ID --journal postgresql://...``.

See :mod:`imagebridge._shared_batch` for what a worker does and guarantees.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import click

from imagebridge import BatchItem, BatchOutcome
from imagebridge._journal_store import is_dsn, shown_dsn
from imagebridge._shared_batch import SharedBatch, batch_status, run_shared_batch

from ._connect import AsyncClient
from ._errors import ErrorContext, ExitCode, report_errors
from ._terminal import echo

F = TypeVar("F", bound=Callable[..., Any])
JOURNAL_ENV = "IMAGEBRIDGE_JOURNAL"
_OPTIONS = ("journal", "batch_id", "worker_id", "lease", "retry_failed")


def _journal_option() -> Callable[[F], F]:
    return click.option(
        "--journal",
        metavar="postgresql://...",
        help="Share the batch with every worker given this PostgreSQL database (default:"
        " IMAGEBRIDGE_JOURNAL when it is a postgresql:// URL).",
    )


def shared_options(function: F) -> F:
    """--journal, --batch-id, --worker-id, --lease, --retry-failed."""
    options = [
        _journal_option(),
        click.option(
            "--batch-id",
            metavar="ID",
            help="The shared batch's id (default: a hash of the file's requests).",
        ),
        click.option(
            "--worker-id",
            metavar="ID",
            help="This worker's id (default: host, process id and a random suffix).",
        ),
        click.option(
            "--lease",
            type=click.FloatRange(min=1),
            default=30.0,
            show_default=True,
            metavar="SECONDS",
            help="How long a claimed request stays this worker's without a heartbeat.",
        ),
        click.option(
            "--retry-failed",
            is_flag=True,
            help="Put the shared batch's failed requests back to pending first.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@dataclass(frozen=True)
class SharedRun:
    """What ``batch --journal`` was given; ``stopped`` is set once SIGTERM stopped it."""

    shared: SharedBatch
    stopped: list[bool]


def journal_of(given: str | None) -> str | None:
    """The PostgreSQL journal: ``--journal``, else ``IMAGEBRIDGE_JOURNAL`` when it is a
    ``postgresql://`` URL (a file path there is the local task journal's, as before)."""
    if given is not None:
        if not is_dsn(given):
            raise click.BadParameter(
                f"{shown_dsn(given)!r} is not a PostgreSQL URL: expected"
                " postgresql://USER@HOST:PORT/DATABASE",
                param_hint="'--journal'",
            )
        return given
    configured = os.environ.get(JOURNAL_ENV, "")
    return configured if is_dsn(configured) else None


def shared_of(params: dict[str, Any], report: Path | None) -> SharedRun | None:
    """Take the shared options out of ``params``: a :class:`SharedRun`, or None for a batch
    of this process alone (where the shared-only options are refused)."""
    values = {name: params.pop(name, None) for name in _OPTIONS}
    journal = journal_of(values["journal"])
    if journal is None:
        for name in ("batch_id", "worker_id"):
            if values[name] is not None:
                flag = "--" + name.replace("_", "-")
                raise click.UsageError(f"{flag} needs --journal postgresql://...")
        if values["retry_failed"]:
            raise click.UsageError("--retry-failed needs --journal postgresql://...")
        return None
    if report is not None:
        raise click.UsageError(
            "--report is not used with --journal: the shared batch's records are in the"
            " database (see 'imagebridge batch-status')"
        )
    with report_errors(ErrorContext()):
        shared = SharedBatch(
            journal,
            batch_id=values["batch_id"],
            worker_id=values["worker_id"],
            lease=float(values["lease"] or 30.0),
            retry_failed=bool(values["retry_failed"]),
        )
    return SharedRun(shared, [])


async def run_shared(
    client: AsyncClient,
    items: list[BatchItem],
    output: Path,
    concurrency: int,
    run: SharedRun,
    on_outcome: Callable[[BatchOutcome], None],
) -> list[BatchOutcome]:
    """Run as one worker; SIGTERM stops claiming and ends the run cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping() -> None:
        run.stopped.append(True)
        stop.set()

    loop.add_signal_handler(signal.SIGTERM, stopping)
    try:
        return await run_shared_batch(
            client,
            items,
            output,
            replace(run.shared, stop=stop),
            concurrency=concurrency,
            on_outcome=on_outcome,
        )
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def finish_shared(
    run: SharedRun, outcomes: list[BatchOutcome], total: int, json_mode: bool
) -> None:
    """The summary of the whole shared batch; exit 3 when it ended with failed or unknown
    requests (0 when SIGTERM stopped this worker: the others carry on)."""
    counts = Counter(outcome.status for outcome in outcomes)
    summary = {
        status: counts.get(status, 0) for status in ("saved", "skipped", "failed", "unknown")
    }
    left = total - len(outcomes)
    stopped = bool(run.stopped)
    if json_mode:
        click.echo(json.dumps({"counts": summary, "left": left, "stopped": stopped}))
    else:
        how = "stopped (SIGTERM); " if stopped else ""
        echo(
            f"{how}{summary['saved']} saved by this worker, {summary['skipped']} saved by"
            f" others or before, {summary['failed']} failed, {summary['unknown']} unknown"
            f" (submitted, unanswered: not resent), {left} left; status: imagebridge"
            f" batch-status BATCH_ID --journal {shown_dsn(run.shared.dsn)}",
            err=True,
        )
    if not stopped and (summary["failed"] or summary["unknown"]):
        raise SystemExit(int(ExitCode.PROVIDER))


@click.command("batch-status")
@click.argument("batch_id")
@_journal_option()
@click.option("--json", "json_mode", is_flag=True, help="Print the status as JSON.")
def batch_status_command(batch_id: str, journal: str | None, json_mode: bool) -> None:
    """How the shared batch BATCH_ID is doing: requests per state and per worker, the
    lease nearest to expiry, the rate of the last minute and the estimated time left."""
    dsn = journal_of(journal)
    if dsn is None:
        raise click.UsageError("pass --journal postgresql://... (or set IMAGEBRIDGE_JOURNAL)")
    with report_errors(ErrorContext(json_mode=json_mode)):
        status = asyncio.run(batch_status(dsn, batch_id))
    if json_mode:
        click.echo(json.dumps(status))
        return
    states = status["states"]
    echo(
        f"batch {batch_id}: {status['total']} requests, {status['left']} left; "
        + ", ".join(f"{name} {count}" for name, count in states.items()),
    )
    for worker_id, worker in status["workers"].items():
        held = ", ".join(f"{name} {count}" for name, count in worker["states"].items()) or "none"
        beat = worker.get("heartbeat_age")
        alive = "stopped" if worker.get("stopped") else f"heartbeat {beat}s ago"
        where = f"{worker.get('host')}, pid {worker.get('pid')}, {alive}"
        echo(f"  worker {worker_id} ({where}): {held}")
    oldest = status["oldest_lease"]
    if oldest is not None:
        echo(
            f"oldest lease: {oldest['item']} ({oldest['state']}, worker {oldest['worker']}),"
            f" expires in {oldest['expires_in']}s"
        )
    eta = status["eta_seconds"]
    left = "unknown (nothing saved in the last minute)" if eta is None else f"{eta:g}s"
    echo(f"rate: {status['rate_per_second']:g} saved/s; estimated time left: {left}")
