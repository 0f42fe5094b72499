"""``imagebridge task`` (fetch or wait for an accepted task) and ``imagebridge tasks`` (the
unfinished ones in the journal): a paid image is never lost because a terminal closed."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from imagebridge import ImageResult, TaskHandle, TaskJournal, TaskState
from imagebridge._files import usable_folder
from imagebridge._journal import open_default_journal

from ._connect import open_plain_client, run_secrets
from ._errors import CliError, ErrorContext, ExitCode, report_errors
from ._options import Connection, RunSettings, fetch_options
from ._output import (
    OutputMode,
    emit_result,
    print_json,
    save_images,
    scrub,
    verbose_logging,
)
from ._progress import ProgressDisplay
from ._terminal import echo


@click.command("task")
@click.argument("task_id")
@click.option(
    "--provider",
    "-p",
    envvar="IMAGEBRIDGE_PROVIDER",
    show_envvar=True,
    metavar="NAME",
    help="Provider of the task (default: from the journal).",
)
@click.option("--base-url", metavar="URL", help="API base URL (default: from the journal).")
@click.option("--api-key", metavar="KEY", help="API key (default: $<PROVIDER>_API_KEY).")
@click.option(
    "--wait/--no-wait",
    default=False,
    help="Poll until the task finishes, or look once (the default).",
)
@click.option(
    "--cancel",
    is_flag=True,
    help="Ask the provider to stop the task instead of fetching it (providers that can).",
)
@fetch_options
def task(
    task_id: str,
    provider: str | None,
    base_url: str | None,
    api_key: str | None,
    wait: bool,
    cancel: bool,
    **params: Any,
) -> None:
    """Fetch an accepted task (TASK_ID) and save its images.

    By default (--no-wait) it asks once: a finished task's images are saved; an unfinished
    one is reported with its status and exit code 4. With --wait it polls until the task
    ends, within --timeout. The provider and base URL are taken from the task journal when the
    task was submitted on this machine.

    \b
    Examples:
      imagebridge task img_5f0c1e --provider dimilinks --wait --output out/
      imagebridge task 9f2c1e0a --provider fal --cancel
      imagebridge tasks        # what is unfinished
    """
    settings = RunSettings(
        output=params["output"],
        json_mode=params["json_mode"],
        timeout=params["timeout"],
        no_wait=False,
        verbose=params["verbose"],
        progress=params["progress"],
    )
    with report_errors(ErrorContext(json_mode=settings.json_mode, verbose=settings.verbose)):
        handle = _journaled(task_id, provider, base_url)
    if handle is not None:
        provider = provider or handle.provider
        base_url = base_url or handle.base_url
    connection = Connection(provider, base_url, api_key)
    context = ErrorContext(
        json_mode=settings.json_mode,
        verbose=settings.verbose,
        provider=provider,
        secrets=run_secrets(connection),
    )
    with verbose_logging(settings.verbose), report_errors(context):
        with open_plain_client(connection, settings.timeout) as client:
            target: TaskHandle | str = handle if handle is not None else task_id
            if handle is not None and handle.base_url.rstrip("/") != client.base_url:
                target = task_id  # the user pointed at another endpoint on purpose
            if cancel:
                _emit_cancel(task_id, client.cancel(target), settings.mode)
                return
            usable_folder(settings.output)  # before fetching images it could not save
            began = time.monotonic()
            with ProgressDisplay(settings.progress, verbose=settings.verbose) as display:
                if wait:
                    outcome: ImageResult | TaskState = client.wait(target, on_progress=display)
                else:
                    outcome = client.check(target)
            if isinstance(outcome, TaskState):
                raise _unfinished(task_id, outcome, settings.json_mode)
            entries = save_images(outcome, settings.output, began=began, timeout=client.timeout)
        emit_result(outcome, entries, settings.mode)


def _journaled(task_id: str, provider: str | None, base_url: str | None) -> TaskHandle | None:
    journal = open_default_journal()
    if journal is None:
        return None
    try:  # read, then closed: the client opens the journal it writes to itself
        entries = journal.entries(task_id=task_id, provider=provider) if journal.exists() else []
    finally:
        journal.close()
    if base_url:
        entries = [e for e in entries if e.task.base_url.rstrip("/") == base_url.rstrip("/")]
    return entries[-1].task if entries else None


def _emit_cancel(task_id: str, cancelled: bool, mode: OutputMode) -> None:
    """What a ``--cancel`` did: stdout gets one line (or one JSON object)."""
    if mode != "human":
        print_json({"task_id": task_id, "cancelled": cancelled})
    elif cancelled:
        echo(scrub(f"task {task_id} cancelled"))
    else:
        echo(scrub(f"task {task_id} had already ended: fetch it with 'imagebridge task'"))


def _unfinished(task_id: str, state: TaskState, json_mode: bool) -> CliError:
    percent = f" {state.percent:.0f}%" if state.percent is not None else ""
    message = (
        f"task {task_id} is not finished yet ({state.status}{percent}); run again later,"
        " or with --wait"
    )
    payload = None
    if json_mode:
        payload = {
            "type": "TaskNotFinished",
            "message": message,
            "code": state.status,
            "task_id": task_id,
            "exit_code": int(ExitCode.TIMEOUT),
        }
    return CliError(message, ExitCode.TIMEOUT, payload=payload)


@click.command("tasks")
@click.option("--all", "show_all", is_flag=True, help="Also list saved and failed tasks.")
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object.")
def tasks(show_all: bool, json_mode: bool) -> None:
    """List the accepted tasks in the journal whose images were not saved yet.

    Each can be resumed with 'imagebridge task TASK_ID'. The journal is a SQLite file in the
    user data directory (IMAGEBRIDGE_JOURNAL sets another path, a postgresql:// URL, or
    'off').
    """
    with report_errors(ErrorContext(json_mode=json_mode)):
        journal = open_default_journal()
        entries = _entries(journal, show_all)
    if json_mode:
        rows = [
            {
                "task_id": e.task.task_id,
                "provider": e.task.provider,
                "base_url": e.task.base_url,
                "state": e.state,
                "paths": list(e.paths),
                "error": e.error,
                "created_at": e.created_at,
                "task": json.loads(e.task.to_json()),
            }
            for e in entries
        ]
        click.echo(json.dumps({"journal": journal.location if journal else None, "tasks": rows}))
        return
    if journal is None:
        echo("the task journal is off (IMAGEBRIDGE_JOURNAL=off)", err=True)
        return
    if not entries:
        echo("no unfinished tasks" if not show_all else "the journal is empty", err=True)
        return
    for e in entries:
        age = _age(time.time() - e.created_at)
        line = f"{e.task.task_id}  {e.task.provider}  {e.state}  {age} ago  {e.task.base_url}"
        if e.error:
            line += f"  ({e.error})"
        echo(line)
    if not show_all:
        echo("resume one with: imagebridge task TASK_ID --wait --output DIR", err=True)


def _entries(journal: TaskJournal | None, show_all: bool) -> list[Any]:
    if journal is None:
        return []
    try:
        if not journal.exists():
            return []
        return journal.entries() if show_all else journal.unfinished()
    finally:
        journal.close()  # a database connection is not left for the garbage collector


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
