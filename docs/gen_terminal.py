"""Real terminal output for the CLI page, as SVG (run by mkdocs-gen-files on every build).

Each picture is a real ``imagebridge`` run, in-process, against the local emulator on
127.0.0.1 (no network, no key): the live progress display of a task while it runs, a
``--json`` run and a refused prompt (the emulator's ``#fail=`` marker). What rich draws is
recorded with ``Console(record=True)`` and exported with ``export_svg``; stdout and stderr are
shown as the CLI printed them. Nothing here is pasted by hand: a change to the CLI's output
changes the pictures on the next build.

The live display draws on :func:`imagebridge._cli._progress.live_console`; here that is a
console that keeps each frame the display drew, and the picture is the frame with the most
progress (the display erases itself when the job ends, as on a real terminal).
"""

from __future__ import annotations

import io
import os
import shlex
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from click.testing import CliRunner
from rich.console import Console, RenderableType
from rich.text import Text

from imagebridge import default_registry
from imagebridge._cli import _progress
from imagebridge._cli._app import cli
from imagebridge._emulator import EmulatorConfig, EmulatorServer

#: The terminal's width in columns.
WIDTH = 100
#: Where the pictures go in the site (docs/cli.md embeds them).
FOLDER = "assets/terminal"
PROMPT = "a lighthouse at dawn, watercolor"


@dataclass
class Run:
    """One command and what it printed."""

    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    frames: list[Text] = field(default_factory=list)


class FrameConsole(Console):
    """A terminal that keeps every frame a live display draws on it (as plain rich Text)."""

    def __init__(self) -> None:
        super().__init__(
            file=io.StringIO(),
            width=WIDTH,
            force_terminal=True,
            force_interactive=True,
            color_system="truecolor",
        )
        self.frames: list[Text] = []
        self._live: Any = None

    def set_live(self, live: Any) -> bool:
        self._live = live
        started: bool = super().set_live(live)
        return started

    def clear_live(self) -> None:
        self._live = None
        super().clear_live()

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*objects, **kwargs)
        if self._live is not None:  # a refresh of the live display: keep what it shows
            self.frames.append(self._frame(self._live.get_renderable()))

    def _frame(self, renderable: RenderableType) -> Text:
        lines = self.render_lines(renderable, self.options, pad=False)
        frame = Text()
        for number, line in enumerate(lines):
            if number:
                frame.append("\n")
            for segment in line:
                if not segment.control:
                    frame.append(segment.text, segment.style)
        return frame


@contextmanager
def _live_display(console: FrameConsole) -> Iterator[None]:
    """The CLI's live display drawn on ``console`` (as tests do, by swapping the two lookups)."""
    saved: tuple[Callable[[], bool], Callable[[], Console]]
    saved = (_progress.stderr_is_tty, _progress.live_console)
    _progress.stderr_is_tty = lambda: True
    _progress.live_console = lambda: console
    try:
        yield
    finally:
        _progress.stderr_is_tty, _progress.live_console = saved


def _env(server: EmulatorServer) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "IMAGEBRIDGE_JOURNAL": "off",
        "IMAGEBRIDGE_PROVIDER": None,
        "NO_COLOR": None,
    }
    for name, adapter_cls in default_registry().adapters.items():
        prefix = adapter_cls.env_prefix()
        env[f"{prefix}_API_KEY"] = "sk-docs-terminal"
        env[f"{prefix}_BASE_URL"] = server.url(name) if name in _DIALECTS else None
    return env


#: The emulator's dialects these pictures use.
_DIALECTS = ("dimilinks", "openai")


def run(server: EmulatorServer, args: Sequence[str], *, live: bool = False) -> Run:
    """``imagebridge ARGS`` in a fresh folder, with the live display recorded if ``live``."""
    console = FrameConsole()
    runner = CliRunner()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            if live:
                with _live_display(console):
                    result = runner.invoke(cli, list(args), env=_env(server))
            else:
                result = runner.invoke(cli, list(args), env=_env(server))
        finally:
            os.chdir(cwd)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise RuntimeError(f"imagebridge {shlex.join(args)} crashed") from result.exception
    return Run(list(args), result.exit_code, result.stdout, result.stderr, console.frames)


def _busiest(frames: Sequence[Text]) -> Text | None:
    """The frame that shows the most: the last one of a running task with its percent, else
    the last one drawn."""
    running = [f for f in frames if "running" in f.plain and "%" in f.plain]
    drawn = running or [f for f in frames if f.plain.strip()]
    return drawn[-1] if drawn else None


def picture(run: Run, title: str, *, frame: Text | None = None) -> str:
    """The terminal of one run as SVG: the command, what it drew, what it printed."""
    record = Console(
        record=True, file=io.StringIO(), width=WIDTH, force_terminal=True, color_system="truecolor"
    )
    record.print(Text.assemble(("$ ", "bold green"), "imagebridge " + shlex.join(run.args)))
    if frame is not None:
        record.print(frame)
    for line in run.stderr.splitlines():
        record.print(Text(line, style="red" if run.exit_code else "yellow"), soft_wrap=False)
    for line in run.stdout.splitlines():
        record.print(Text(line), soft_wrap=False)
    if run.exit_code:
        record.print(Text(f"(exit code {run.exit_code})", style="dim"))
    # unique_id from the content (rich's default hashes it): the same run, the same file.
    return record.export_svg(title=title)


def pictures() -> dict[str, str]:
    """``{file name: SVG}`` of every picture docs/cli.md shows."""
    with EmulatorServer(EmulatorConfig(task_duration=3.0)) as server:
        task = run(
            server,
            ["generate", PROMPT, "-p", "dimilinks", "--size", "16:9", "--output", "out"],
            live=True,
        )
        as_json = run(server, ["generate", PROMPT, "-p", "openai", "--output", "out", "--json"])
        refused = run(server, ["generate", f"{PROMPT} #fail=moderation_blocked", "-p", "openai"])
    if task.exit_code or as_json.exit_code or not refused.exit_code:
        raise RuntimeError(f"docs: an emulator run went wrong: {task}, {as_json}, {refused}")
    frame = _busiest(task.frames)
    if frame is None:
        raise RuntimeError("docs: the live display drew nothing")
    return {
        "generate.svg": picture(task, "imagebridge generate", frame=frame),
        "json.svg": picture(as_json, "imagebridge generate --json"),
        "refused.svg": picture(refused, "a refused prompt"),
    }


def main() -> None:
    import mkdocs_gen_files

    for name, svg in pictures().items():
        with mkdocs_gen_files.open(f"{FOLDER}/{name}", "w") as handle:
            handle.write(svg)


if __name__ in ("__main__", "<run_path>"):
    main()
