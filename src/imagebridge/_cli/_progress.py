"""The progress of one job on stderr, while it runs: a live display on a terminal, plain lines
elsewhere, never anything on stdout.

``--progress auto`` (the default) shows a rich display when stderr is a terminal: a spinner,
the provider's status, a bar with the percent when the provider reports one (task dialects do
on every poll) and the time elapsed; it is erased when the job ends. Not on a terminal (a log,
a pipe) it shows nothing, unless ``--verbose``: then one plain line per change. ``--progress
plain`` gives those lines anywhere (a CI log: no control codes), ``--progress off`` nothing.

The display remembers the accepted task's id, so an interrupted job can still name the task it
paid for. What it shows comes from servers: it is scrubbed of the run's keys and escaped
(:func:`~imagebridge._cli._terminal.terminal_safe`), and given to rich as plain text, never as
markup.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from imagebridge import Progress, TaskHandle

from ._output import progress_label, scrub
from ._terminal import echo, terminal_safe

if TYPE_CHECKING:
    from rich.console import Console

#: The choices of ``--progress``.
PROGRESS_MODES = ("auto", "plain", "off")


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def live_console() -> Console:
    """The console the live display draws on: stderr. Looked up when a display starts, so the
    docs build (docs/gen_terminal.py) can record what the display shows, as tests swap
    :func:`stderr_is_tty`."""
    from rich.console import Console  # imported here: --help and plain runs stay fast

    return Console(stderr=True)


def _same_file(a: Any, b: Any) -> bool:
    """Whether two streams write to the same file (stdout and stderr on one terminal)."""
    try:
        return os.path.sameopenfile(a.fileno(), b.fileno())
    except (AttributeError, OSError, ValueError):
        return False


class ProgressDisplay:
    """Follows a job: ``display(progress)`` as an ``on_progress`` callback, :meth:`accepted`
    for a stream's acceptance, :meth:`note` for the command's own steps (saving), and
    :meth:`say` to print a line on stdout without breaking the display."""

    def __init__(self, mode: str = "auto", *, verbose: bool = False, quiet: bool = False) -> None:
        """``quiet``: nothing in ``auto`` mode (``--json-lines``, whose events are the
        progress); ``plain`` still prints its lines."""
        if mode == "off" or (mode == "auto" and quiet):
            self.kind = "off"
        elif mode == "plain" or verbose:
            self.kind = "plain"
        else:
            self.kind = "live" if stderr_is_tty() else "off"
        self.task_id: str | None = None
        self._began = time.monotonic()
        self._last: tuple[str, float | None] | None = None
        self._bar: Any = None
        self._row: Any = None
        self._row_known = False

    def __enter__(self) -> ProgressDisplay:
        self._began = time.monotonic()
        if self.kind == "live":
            self._start()
        return self

    def _start(self) -> None:
        # Imported here, so that --help and runs without a display stay fast.
        from rich.progress import (
            BarColumn,
            ProgressColumn,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
        )
        from rich.progress import Progress as Bar
        from rich.text import Text

        console = live_console()
        if not console.is_interactive:  # TERM=dumb, TTY_INTERACTIVE=0: lines, not a display
            self.kind = "plain"
            return
        display = self

        class Elapsed(ProgressColumn):
            """The time since the command began (rich's own column stops at 100 %)."""

            def render(self, task: Any) -> Text:
                return Text(_clock(display.elapsed), style="progress.elapsed")

        self._bar = Bar(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(bar_width=24),
            TaskProgressColumn(),
            Elapsed(),
            console=console,
            transient=True,
            # stdout stays stdout: the saved paths must not move to stderr.
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._bar.start()
        self._row = self._bar.add_task("starting", total=None)
        self._row_known = False

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    @property
    def elapsed(self) -> float:
        """Seconds since the display began."""
        return time.monotonic() - self._began

    def __call__(self, progress: Progress) -> None:
        self.task_id = progress.task_id or self.task_id
        if self.kind == "live":
            self._show(_status(progress), progress.percent)
        else:
            self._show(progress_label(progress), progress.percent)

    def accepted(self, task: TaskHandle) -> None:
        self.task_id = task.task_id
        self._show(f"{task.provider}: accepted [task {task.task_id}]", None)

    def note(self, label: str) -> None:
        self._show(label, None)

    def _show(self, label: str, percent: float | None) -> None:
        label = terminal_safe(scrub(label))
        if (label, percent) == self._last:
            return
        self._last = (label, percent)
        if self._bar is not None:
            known = percent is not None
            if known != self._row_known:
                # A row's total cannot go back to "unknown" (a pulsing bar): a new row.
                self._bar.remove_task(self._row)
                self._row = self._bar.add_task(label, total=100 if known else None)
                self._row_known = known
            self._bar.update(self._row, description=label, completed=percent or 0, refresh=True)
        elif self.kind == "plain":
            echo(f"imagebridge: {label} ({self.elapsed:.1f}s)", err=True)

    def say(self, line: str) -> None:
        """Print ``line`` on stdout; while the live display runs on the same terminal,
        above it (through its console), so that neither garbles the other."""
        line = scrub(line)
        if self._bar is not None and _same_file(sys.stdout, sys.stderr):
            self._bar.console.out(terminal_safe(line), highlight=False)
        else:
            echo(line)


def _status(progress: Progress) -> str:
    """:func:`progress_label` without the percent, which the display shows in its column."""
    text: str = progress.stage
    if progress.status and progress.status != progress.stage:
        text += f" ({progress.status})"
    if progress.provider:
        text = f"{progress.provider}: {text}"
    if progress.task_id:
        text += f" [task {progress.task_id}]"
    return text


def _clock(seconds: float) -> str:
    """``0:01:05``, as rich's elapsed column shows time."""
    return str(datetime.timedelta(seconds=int(seconds)))
