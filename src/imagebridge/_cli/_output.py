"""What the commands print: saved paths or one JSON object on stdout; progress, logs and
warnings on stderr. Nothing here ever writes progress or logs to stdout.

Everything printed here is scrubbed of the run's API keys (:func:`scrub`), whatever a server
echoed into it: task ids, revised prompts, file ids, statuses, log lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import click

from imagebridge import ImageResult, Progress, TaskHandle
from imagebridge._redact import Redactor

from ._terminal import SafeFormatter, echo, terminal_safe

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


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


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


class ProgressReporter:
    """Follows a job's progress: shown on stderr as a rich spinner on a terminal, as plain
    lines with --verbose, not at all otherwise. It always remembers the accepted task's id,
    so an interrupted job can still name the task it paid for."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.spinner = not verbose and stderr_is_tty()
        self.task_id: str | None = None
        self._status: Any = None
        self._text: Any = None
        self._last: str | None = None
        self._stack = ExitStack()

    def __enter__(self) -> ProgressReporter:
        if self.spinner:
            # Imported here, so that --help and non-terminal runs stay fast.
            from rich.console import Console
            from rich.text import Text

            self._text = Text
            console = Console(stderr=True)
            self._status = self._stack.enter_context(console.status("starting"))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self._status = None

    def __call__(self, progress: Progress) -> None:
        self.task_id = progress.task_id or self.task_id
        self.note(progress_label(progress))

    def note(self, label: str) -> None:
        label = scrub(label)
        if label == self._last:
            return
        self._last = label
        if self._status is not None:
            # Plain text ("[task x]" is not markup), with what the server sent escaped.
            self._status.update(self._text(terminal_safe(label)))
        elif self.verbose:
            echo(f"imagebridge: {label}", err=True)


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


def emit_result(result: ImageResult, entries: list[dict[str, Any]], json_mode: bool) -> None:
    if json_mode:
        data = json.loads(json.dumps(result_object(result, entries), default=str))
        click.echo(json.dumps(scrub_obj(data)))
        return
    for warning in result.warnings:
        echo(scrub(f"warning: {warning.message}"), err=True)
    for entry in entries:
        echo(scrub(entry["path"]))


def emit_task(handle: TaskHandle, json_mode: bool) -> None:
    if json_mode:
        task = json.loads(handle.to_json())
        data = {"task_id": handle.task_id, "provider": handle.provider, "task": task}
        click.echo(json.dumps(scrub_obj(data)))
        return
    echo(scrub(handle.task_id))
    echo(
        scrub(
            f"imagebridge: task accepted; fetch it later with:"
            f" imagebridge task {handle.task_id} --provider {handle.provider}"
        ),
        err=True,
    )
