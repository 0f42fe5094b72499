"""What the commands print: saved paths or one JSON object on stdout; progress, logs and
warnings on stderr. Nothing here ever writes progress or logs to stdout.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click

from imagebridge import ImageResult, Progress, TaskHandle


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


@contextmanager
def verbose_logging(enabled: bool) -> Iterator[None]:
    """Log the library's requests and responses (keys redacted) to stderr at DEBUG."""
    if not enabled:
        yield
        return
    logger = logging.getLogger("imagebridge")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
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
        if label == self._last:
            return
        self._last = label
        if self._status is not None:
            self._status.update(self._text(label))  # plain text: "[task x]" is not markup
        elif self.verbose:
            click.echo(f"imagebridge: {label}", err=True)


def save_images(result: ImageResult, folder: Path) -> list[dict[str, Any]]:
    """Save every image into ``folder``; one ``{"path": ..., **image.to_dict()}`` per image."""
    paths = result.save(folder)  # also marks the tasks as saved in the journal
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
        click.echo(json.dumps(result_object(result, entries), default=str))
        return
    for warning in result.warnings:
        click.echo(f"warning: {warning.message}", err=True)
    for entry in entries:
        click.echo(entry["path"])


def emit_task(handle: TaskHandle, json_mode: bool) -> None:
    if json_mode:
        task = json.loads(handle.to_json())
        data = {"task_id": handle.task_id, "provider": handle.provider, "task": task}
        click.echo(json.dumps(data))
        return
    click.echo(handle.task_id)
    click.echo(
        f"imagebridge: task accepted; fetch it later with:"
        f" imagebridge task {handle.task_id} --provider {handle.provider}",
        err=True,
    )
