"""What the commands print: saved paths, one JSON object or JSON lines on stdout; logs and
warnings on stderr (progress too: :mod:`._progress`). Nothing here ever writes progress or
logs to stdout.

Everything printed here is scrubbed of the run's API keys (:func:`scrub`), whatever a server
echoed into it: task ids, revised prompts, file ids, statuses, log lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import click

from imagebridge import DryRun, ImageResult, Progress, TaskHandle
from imagebridge._redact import Redactor

from ._terminal import SafeFormatter, echo

#: What stdout gets: saved paths (``human``), one JSON object (``--json``) or one per event
#: (``--json-lines``).
OutputMode = Literal["human", "json", "lines"]

_NOTHING = Redactor()
_REDACTOR: ContextVar[Redactor | None] = ContextVar("imagebridge_cli_redactor", default=None)


@contextmanager
def scrubbing(redactor: Redactor) -> Iterator[None]:
    """Keep ``redactor``'s secrets out of everything printed in the block (the commands'
    :func:`~imagebridge._cli._errors.report_errors` does this with the run's keys)."""
    token = _REDACTOR.set(redactor)
    try:
        yield
    finally:
        _REDACTOR.reset(token)


def scrub(text: str) -> str:
    """``text`` without the run's API keys, in any spelling."""
    return (_REDACTOR.get() or _NOTHING).text(text)


def scrub_obj(value: Any) -> Any:
    """A JSON-like value without the run's API keys."""
    return (_REDACTOR.get() or _NOTHING).obj(value)


class _ScrubbingFormatter(SafeFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


@contextmanager
def verbose_logging(enabled: bool) -> Iterator[None]:
    """Log the library's requests and responses (keys redacted) to stderr at DEBUG; when not
    ``enabled`` only its warnings, as Python would print them. Either way escaped for a
    terminal (:class:`SafeFormatter`): a logged URL or task id comes from a server."""
    logger = logging.getLogger("imagebridge")
    handler = logging.StreamHandler(sys.stderr)
    layout = "%(levelname)s %(name)s: %(message)s" if enabled else "%(message)s"
    handler.setFormatter(_ScrubbingFormatter(layout))
    handler.setLevel(logging.DEBUG if enabled else logging.WARNING)
    level = logger.level
    logger.addHandler(handler)
    if enabled:
        logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def progress_label(progress: Progress) -> str:
    """``geeknow: running (in_progress) 40% [task abc]``."""
    label = str(progress)
    if progress.provider:
        label = f"{progress.provider}: {label}"
    if progress.task_id:
        label += f" [task {progress.task_id}]"
    return label


def save_images(
    result: ImageResult, folder: Path, *, began: float | None = None, timeout: float | None = None
) -> list[dict[str, Any]]:
    """Save every image into ``folder``; one ``{"path": ..., **image.to_dict()}`` per image.

    The downloads get what is left of the job's ``timeout`` that ``began`` at that
    ``time.monotonic()``: ``--timeout`` bounds the whole command, saving included."""
    left = None if timeout is None or began is None else timeout - (time.monotonic() - began)
    # Also marks the tasks as saved in the journal.
    paths = result.save(folder, timeout=None if left is None else max(0.0, left))
    return [
        {"path": str(path), **image.to_dict()}
        for path, image in zip(paths, result.images, strict=True)
    ]


def result_object(result: ImageResult, entries: list[dict[str, Any]]) -> dict[str, Any]:
    data = result.to_dict()
    data["images"] = entries
    return data


def print_json(data: dict[str, Any]) -> None:
    """``data`` as one JSON object on one line of stdout, without the run's keys."""
    click.echo(json.dumps(scrub_obj(json.loads(json.dumps(data, default=str)))))


def emit_result(
    result: ImageResult,
    entries: list[dict[str, Any]],
    mode: OutputMode,
    extra: dict[str, Any] | None = None,
) -> None:
    """The end of a job on stdout: the saved paths, one per line (warnings on stderr); with
    ``--json`` one object (``extra`` keys added); with ``--json-lines`` the same object as
    the ``completed`` event."""
    if mode != "human":
        data = {**result_object(result, entries), **(extra or {})}
        print_json({"type": "completed", **data} if mode == "lines" else data)
        return
    for warning in result.warnings:
        echo(scrub(f"warning: {warning.message}"), err=True)
    for entry in entries:
        echo(scrub(entry["path"]))


def emit_dry_run(dry: DryRun, mode: OutputMode) -> None:
    """A dry run on stdout: what the call would send, in words, or with ``--json`` its
    :meth:`~imagebridge.DryRun.to_dict` object."""
    if mode != "human":
        print_json({"dry_run": True, **dry.to_dict()})
        return
    for line in str(dry).splitlines():
        echo(scrub(line))


def task_object(handle: TaskHandle) -> dict[str, Any]:
    """An accepted task as ``--json`` prints it: its id, provider and resumable handle."""
    task = json.loads(handle.to_json())
    return {"task_id": handle.task_id, "provider": handle.provider, "task": task}


def emit_task(handle: TaskHandle, mode: OutputMode) -> None:
    """A task submitted with ``--no-wait``: its id on stdout and how to fetch it on stderr;
    with ``--json`` one object; with ``--json-lines`` the ``accepted`` event."""
    if mode != "human":
        data = task_object(handle)
        print_json({"type": "accepted", **data} if mode == "lines" else data)
        return
    echo(scrub(handle.task_id))
    echo(
        scrub(
            f"imagebridge: task accepted; fetch it later with:"
            f" imagebridge task {handle.task_id} --provider {handle.provider}"
        ),
        err=True,
    )
