"""``imagebridge batch``: many requests from a JSONL file, bounded concurrency, resumable."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import click

from imagebridge import (
    AsyncImageClient,
    BatchItem,
    BatchOutcome,
    Cost,
    DryRun,
    InvalidRequestError,
    Problem,
    RoutesExhaustedError,
)

from ._connect import AsyncClient, Target, open_async_client, resolve, run_secrets
from ._errors import ErrorContext, ExitCode, report_errors
from ._options import client_costs, connection_of, connection_options, cost_flags
from ._output import print_json, verbose_logging
from ._progress import stderr_is_tty
from ._shared import SharedRun, finish_shared, run_shared, shared_of, shared_options
from ._terminal import echo


@click.command("batch")
@click.argument("requests", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@connection_options
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the images and the report.",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Requests in flight at most.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSONL report (default: OUTPUT/batch-report.jsonl).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Overall deadline of each request.",
)
@shared_options
@cost_flags
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check every request and print what the batch would send and cost (per request,"
    " then the total), and exit: nothing is sent, no folder is made.",
)
@click.option("--json", "json_mode", is_flag=True, help="Print a JSON summary.")
@click.option("--verbose", "-v", is_flag=True, help="Log requests and responses (keys redacted).")
def batch(
    requests: Path,
    output: Path,
    concurrency: int,
    report: Path | None,
    timeout: float | None,
    json_mode: bool,
    verbose: bool,
    dry_run: bool,
    **params: Any,
) -> None:
    """Run every request of REQUESTS (JSONL: one {"prompt": ..., "id"?: ..., fields...} per
    line) with at most --concurrency in flight, saving images under --output and one
    report line per request.

    Run the same command again to resume: finished requests are skipped, and tasks that
    were accepted but not saved are fetched without being submitted again. Reference
    images and masks in a line that are not URLs are image files, relative to the
    REQUESTS file's folder (absolute paths are taken as written); a file that is not an
    image is refused before anything is sent.

    With --provider a,b or --profile NAME the requests run over routes: each goes to the
    first route that can honour it, and a resumed request goes back to the route that
    accepted its task. A line no route can honour is refused before anything is sent.
    The summary counts the requests per route ("routes" with --json).

    \b
    Example requests.jsonl:
      {"id": "cat", "prompt": "a cat", "size": "16:9", "resolution": "2k"}
      {"id": "dog", "prompt": "a dog", "n": 2}

    With --journal postgresql://... (or IMAGEBRIDGE_JOURNAL=postgresql://...) the batch is
    shared: run the same command on every machine, with the same database and an --output
    folder they all see; each worker claims requests under leases, none is sent twice, and
    a worker that dies leaves its accepted tasks to the others (see 'imagebridge
    batch-status'). SIGTERM stops a worker cleanly (exit 0).
    """
    shared = shared_of(params, report)
    costs = client_costs(params)
    for name in ("budget", "allow_unknown_prices", "prices"):
        params.pop(name, None)
    if shared is not None and "budget" in costs:
        raise click.UsageError("--budget is not used with --journal (a shared batch)")
    connection = connection_of(params)
    context = ErrorContext(json_mode=json_mode, verbose=verbose, provider=connection.provider)
    with report_errors(context):  # unknown providers, a bad profile: nothing sent yet
        target = resolve(connection)
    context = ErrorContext(
        json_mode=json_mode, verbose=verbose, provider=target.provider, secrets=run_secrets(target)
    )
    with verbose_logging(verbose), report_errors(context):
        numbered = read_items(requests)
        if dry_run:
            _dry_run(target, numbered, costs, json_mode)
            return
        outcomes = asyncio.run(
            _run(target, numbered, output, concurrency, report, timeout, verbose, shared, costs)
        )
    if shared is not None:
        finish_shared(shared, outcomes, len(numbered), json_mode)
        return
    counts = {
        status: sum(o.status == status for o in outcomes)
        for status in ("saved", "skipped", "failed", "unknown")
    }
    routes = dict(Counter(o.route for o in outcomes if o.route is not None))
    where = str(report or output / "batch-report.jsonl")
    if json_mode:
        summary: dict[str, Any] = {"counts": counts, "report": where}
        if target.routed:
            summary["routes"] = routes
        click.echo(json.dumps(summary))
    else:
        per_route = ""
        if target.routed:
            shown = ", ".join(f"{name} {count}" for name, count in routes.items()) or "none"
            per_route = f"; per route: {shown}"
        echo(
            f"{counts['saved']} saved, {counts['skipped']} skipped (done before),"
            f" {counts['failed']} failed, {counts['unknown']} unknown (submitted, unanswered:"
            f" not resent){per_route}; report: {where}",
            err=True,
        )
    if counts["failed"] or counts["unknown"]:
        raise SystemExit(int(ExitCode.PROVIDER))  # details per item are in the report


def read_items(path: Path) -> list[tuple[int, BatchItem]]:
    """The batch file's requests with their line numbers; local reference and mask paths
    resolved next to the file and checked to be images. Two lines with one id (an id
    ``"2"`` beside an id-less line 2) are refused, naming both lines."""
    items: list[tuple[int, BatchItem]] = []
    lines: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data: Any = json.loads(line)
        except ValueError as exc:
            raise click.BadParameter(f"line {number} is not JSON: {exc}") from None
        try:
            item = BatchItem.from_json(data, number, folder=path.parent)
        except InvalidRequestError:
            raise  # a file that is missing or not an image, named with its line and field
        except ValueError as exc:
            raise click.BadParameter(f"line {number}: {exc}") from None
        if item.id in lines:
            raise click.BadParameter(
                f"line {number}: id {item.id!r} is already the id of line {lines[item.id]}"
                " (a line without an id takes its line number): ids must be unique"
            )
        lines[item.id] = number
        items.append((number, item))
    return items


async def _run(
    target: Target,
    numbered: list[tuple[int, BatchItem]],
    output: Path,
    concurrency: int,
    report: Path | None,
    timeout: float | None,
    verbose: bool,
    shared: SharedRun | None = None,
    costs: dict[str, Any] | None = None,
) -> list[BatchOutcome]:
    # A shared batch keeps its records in PostgreSQL: the local task journal is not used.
    options: dict[str, Any] = {**(costs or {})} if shared is None else {"journal": False}
    async with open_async_client(target, timeout, **options) as client:
        _preflight(client, numbered)
        budget = options.get("budget")
        if budget is not None:
            # The whole file's estimate, before any request (each item still reserves its
            # own as it goes): over the budget, nothing is sent.
            budget.check(_total(client, numbered)[1], what="batch")
        items = [item for _, item in numbered]
        with _Bar(len(items), verbose) as bar:
            if shared is not None:
                return await run_shared(client, items, output, concurrency, shared, bar.advance)
            return await client.batch(
                items, output, concurrency=concurrency, report=report, on_outcome=bar.advance
            )


def _total(client: AsyncClient, numbered: list[tuple[int, BatchItem]]) -> tuple[list[DryRun], Cost]:
    """Each request's dry run (on routes: of the route it would go to first) and the sum of
    their estimates (unknown if any is)."""
    dry = [client.dry_run(item.prompt, **dict(item.fields)) for _, item in numbered]
    return dry, Cost.total(run.estimate or Cost.unknown("not priced") for run in dry)


def _dry_run(
    target: Target, numbered: list[tuple[int, BatchItem]], costs: dict[str, Any], json_mode: bool
) -> None:
    """``--dry-run``: every line checked, then what each would send and cost, and the total;
    nothing sent, nothing made. Over a ``--budget``, exit 2 as the real run would."""

    async def plan() -> tuple[list[DryRun], Cost]:
        async with open_async_client(target, None, **{**costs, "journal": False}) as client:
            _preflight(client, numbered)
            return _total(client, numbered)

    runs, total = asyncio.run(plan())
    calls = sum(run.calls for run in runs)
    unknown = sum(1 for run in runs if run.estimate is None or run.estimate.usd is None)
    if json_mode:
        rows = [
            {
                "id": item.id,
                "line": number,
                "provider": run.provider,
                "model": run.model,
                "route": run.route,
                "calls": run.calls,
                "estimate_usd": None
                if run.estimate is None or run.estimate.usd is None
                else str(run.estimate.usd),
            }
            for (number, item), run in zip(numbered, runs, strict=True)
        ]
        print_json(
            {
                "dry_run": True,
                "requests": len(runs),
                "calls": calls,
                "total_usd": None if total.usd is None else str(total.usd),
                "unknown": unknown,
                "items": rows,
            }
        )
    else:
        for (number, item), run in zip(numbered, runs, strict=True):
            via = f" via {run.route}" if run.route else ""
            echo(
                f"line {number} ({item.id}): {run.provider} {run.model}{via},"
                f" {run.calls} call{'s' if run.calls != 1 else ''}, {run.estimate or 'unknown'}"
            )
        note = f" ({unknown} of unknown price)" if unknown else ""
        echo(f"total: {len(runs)} requests, {calls} calls, {total}{note}; nothing was sent")
    budget = costs.get("budget")
    if budget is not None:
        budget.check(total, what="batch")


def _preflight(client: AsyncClient, numbered: list[tuple[int, BatchItem]]) -> None:
    """Check every request before any is sent: one invalid line is invalid input (exit 2,
    every bad line named), not a provider failure found half-way through the batch. On
    routes, a line is invalid when no route can honour it (each route's reason given)."""
    problems: list[Problem] = []
    for number, item in numbered:
        try:
            client.plan(item.prompt, **dict(item.fields))
        except InvalidRequestError as error:
            found = error.problems or [Problem("request", item.prompt, error.message)]
            problems.extend(
                Problem(f"line {number}: {p.field}", p.value, p.reason, p.allowed) for p in found
            )
        except RoutesExhaustedError as error:
            why = "; ".join(f"{name}: {what}" for name, what in error.outcomes.items())
            problems.append(Problem(f"line {number}", item.id, f"no route can honour it ({why})"))
    if problems:
        provider = client.provider if isinstance(client, AsyncImageClient) else None
        raise InvalidRequestError(problems, provider=provider)


class _Bar:
    """A rich progress bar on a terminal; plain lines with --verbose; else silent."""

    def __init__(self, total: int, verbose: bool) -> None:
        self.total = total
        self.verbose = verbose
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Bar:
        if stderr_is_tty():
            from rich.progress import Progress  # imported only when shown

            self._progress = Progress(transient=False)
            self._progress.start()
            self._task = self._progress.add_task("batch", total=self.total)
        return self

    def advance(self, outcome: BatchOutcome) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1)
        elif self.verbose:
            echo(f"imagebridge: {outcome.id}: {outcome.status}", err=True)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
