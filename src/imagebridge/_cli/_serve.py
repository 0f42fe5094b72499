"""``imagebridge serve``: run the local provider emulator (the ``server`` extra)."""

from __future__ import annotations

import click

from ._errors import CliError, ExitCode
from ._terminal import echo

#: The emulator's default-able dialects and every dialect's mount
#: (``imagebridge._emulator._names``), listed here so that ``--help`` does not import the
#: server stack (a test keeps them equal).
DIALECTS = ("openai", "geeknow", "dimilinks", "apimart")
MOUNTS = (
    *(f"/{name}/v1" for name in DIALECTS),
    "/fal",
    "/replicate/v1",
    "/google/v1beta",
    "/stability/v2beta",
    "/bfl/v1",
)

MISSING_SERVER_EXTRA = "the emulator needs the 'server' extra: pip install 'imagebridge[server]'"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="TCP port (0: any free one, shown in the first line printed).",
)
@click.option(
    "--dialect",
    type=click.Choice(DIALECTS),
    default="openai",
    show_default=True,
    help="Dialect also served at the bare /v1 prefix.",
)
@click.option(
    "--task-duration",
    type=click.FloatRange(min=0),
    default=3.0,
    show_default=True,
    metavar="SECONDS",
    help="How long an asynchronous task (dimilinks, apimart) takes to succeed.",
)
@click.option(
    "--api-key",
    metavar="KEY",
    help="Require this bearer key (default: any non-empty key is accepted).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="Inject a fault (repeatable): `[DIALECT/]PHASE:KIND[:COUNT][:ARG]`, e.g."
    " `submit:429:1:2` or `poll:html502:2`.",
)
def serve(
    host: str,
    port: int,
    dialect: str,
    task_duration: float,
    api_key: str | None,
    faults: tuple[str, ...],
) -> None:
    """Run a local emulator of the providers' HTTP APIs (for trying things out and tests).

    Every dialect is served under /{dialect}/v1 and the --dialect one also under /v1.
    Markers in a prompt drive the error paths: '#error=402:insufficient_balance' answers
    that error, '#fail=<code>' makes an asynchronous task fail. The request log is at
    GET /_emulator/requests, the request counters at GET /_emulator/stats. Stop it with
    Ctrl-C.

    --fault SPEC injects failures: PHASE is submit, poll or download; KIND one of 429
    (ARG: Retry-After seconds), 500, 502, 503 (ARG: error code), html502, slow (ARG: delay
    seconds), drop, drop-before, timeout-after-accept (submit), never and fail (poll; ARG:
    failure code) or expired (download); COUNT is how many matching requests get it
    (default: all). A request can ask for its own with an X-Emulator-Fault header, and
    POST /_emulator/faults with a JSON list of specs replaces the active ones.

    \b
    Examples:
      imagebridge serve --port 8000 --dialect dimilinks --task-duration 1 &
      DIMILINKS_API_KEY=test imagebridge generate "a red cube" -p dimilinks \\
          --base-url http://127.0.0.1:8000/v1
      imagebridge serve --fault submit:429:1 --fault poll:html502:2
    """
    try:
        from imagebridge._emulator import EmulatorConfig
        from imagebridge._emulator import serve as run_server
        from imagebridge._emulator._server import bind
    except ImportError:
        raise CliError(MISSING_SERVER_EXTRA, ExitCode.INVALID) from None
    try:
        config = EmulatorConfig(
            task_duration=task_duration, default_dialect=dialect, api_key=api_key, faults=faults
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--fault'") from None
    shown_host = f"[{host}]" if ":" in host else host
    try:
        # Bound before the banner: a busy port is one error line, and port 0 a real one.
        sock = bind(host, port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CliError(f"cannot listen on {shown_host}:{port}: {reason}", ExitCode.ERROR) from None
    port = sock.getsockname()[1]
    others = ", ".join(MOUNTS)
    echo(
        f"imagebridge emulator on http://{shown_host}:{port}/v1 (dialect {dialect}; also {others})",
        err=True,
    )
    for spec in faults:
        echo(f"imagebridge emulator: fault {spec}", err=True)
    run_server(host, port, config, sock=sock)
