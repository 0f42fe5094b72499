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
    InvalidRequestError,
    Problem,
    RoutesExhaustedError,
)

from ._connect import AsyncClient, Target, open_async_client, resolve, run_secrets
from ._errors import ErrorContext, ExitCode, report_errors
from ._options import connection_of, connection_options
from ._output import verbose_logging
from ._progress import stderr_is_tty
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
    """
    connection = connection_of(params)
    context = ErrorContext(json_mode=json_mode, verbose=verbose, provider=connection.provider)
    with report_errors(context):  # unknown providers, a bad profile: nothing sent yet
        target = resolve(connection)
    context = ErrorContext(
        json_mode=json_mode, verbose=verbose, provider=target.provider, secrets=run_secrets(target)
    )
    with verbose_logging(verbose), report_errors(context):
        numbered = read_items(requests)
        outcomes = asyncio.run(
            _run(target, numbered, output, concurrency, report, timeout, verbose)
        )
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
) -> list[BatchOutcome]:
    async with open_async_client(target, timeout) as client:
        _preflight(client, numbered)
        items = [item for _, item in numbered]
        with _Bar(len(items), verbose) as bar:
            return await client.batch(
                items, output, concurrency=concurrency, report=report, on_outcome=bar.advance
            )


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
