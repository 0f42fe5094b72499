"""Exit codes and the one-line error reports of the command line.

Every failure ends as a :class:`CliError`: one line ``imagebridge: error: <message>`` on
stderr (a traceback only with ``--verbose``), with ``--json`` also an ``{"error": {...}}``
object on stdout (with ``--json-lines`` as the last line, ``{"type": "error", "error":
{...}}``), and an exit code from :class:`ExitCode` that tells invalid input apart from a
provider failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import click

from imagebridge import (
    APIConnectionError,
    BadRequestError,
    ConfigurationError,
    ContentPolicyError,
    ImageBridgeError,
    ImageTimeoutError,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    RoutesExhaustedError,
    TaskFailedError,
)
from imagebridge._redact import Redactor

from ._output import scrubbing
from ._terminal import echo, traceback_text

PREFIX = "imagebridge: error: "


class ExitCode(IntEnum):
    """The exit status of ``imagebridge``."""

    OK = 0
    #: Any other imagebridge error (or an unexpected failure).
    ERROR = 1
    #: Invalid input: a usage error, an invalid request, or configuration (unknown provider,
    #: missing API key or base URL). Nothing was sent to the provider.
    INVALID = 2
    #: The provider answered with an error (the message includes its code).
    PROVIDER = 3
    #: The overall ``--timeout`` deadline passed.
    TIMEOUT = 4
    #: No response from the provider (connection refused, reset, DNS failure).
    CONNECTION = 5
    #: Interrupted (Ctrl-C).
    INTERRUPTED = 130


EXIT_CODE_HELP: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.ERROR: "other error",
    ExitCode.INVALID: "invalid input (usage, invalid request, unknown provider, missing key,"
    " no route can honour the request)",
    ExitCode.PROVIDER: "the provider answered with an error",
    ExitCode.TIMEOUT: "the --timeout deadline passed (a task id is printed to resume)",
    ExitCode.CONNECTION: "no response from the provider (connection failed)",
    ExitCode.INTERRUPTED: "interrupted (an accepted task's id is printed to resume)",
}


def exit_codes_epilog() -> str:
    """The exit-code table for ``imagebridge --help`` (``\\b`` keeps click from rewrapping)."""
    rows = [f"  {int(code):>3}  {text}" for code, text in EXIT_CODE_HELP.items()]
    return "\b\nExit codes:\n" + "\n".join(rows)


class CliError(Exception):
    """A failure reported as one line on stderr (and an error object on stdout with --json).

    The group's ``main`` shows it and exits with ``exit_code``.
    """

    def __init__(
        self,
        message: str,
        exit_code: int,
        *,
        payload: dict[str, Any] | None = None,
        details: str | None = None,
        event: bool = False,
        notes: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.payload = payload
        self.details = details
        #: Lines printed under the error line, each escaped to one line (e.g. what each
        #: route did, for :class:`~imagebridge.RoutesExhaustedError`).
        self.notes = list(notes or [])
        #: The payload is the last of --json-lines' events (``"type": "error"``).
        self.event = event

    def show(self) -> None:
        if self.details:
            echo(self.details.rstrip(), err=True, keep_lines=True)
        echo(PREFIX + self.message, err=True)
        for note in self.notes:
            echo(note, err=True)
        if self.payload is not None:
            click.echo(json.dumps(error_object(self.payload, self.event)))


def error_object(payload: dict[str, Any], event: bool) -> dict[str, Any]:
    """``{"error": payload}``, or as a --json-lines event ``{"type": "error", "error": ...}``."""
    return {"type": "error", "error": payload} if event else {"error": payload}


@dataclass
class ErrorContext:
    """What the error report needs to know about the running command."""

    #: An error object on stdout (--json or --json-lines).
    json_mode: bool = False
    #: ... as the last event of --json-lines.
    json_lines: bool = False
    verbose: bool = False
    provider: str | None = None
    secrets: list[str] = field(default_factory=list)
    #: Extra keys for the JSON error object (e.g. the images saved before a failure).
    extra: dict[str, Any] = field(default_factory=dict)
    _redactor: Redactor | None = field(default=None, init=False, repr=False)

    @property
    def redactor(self) -> Redactor:
        """The run's keys, in every spelling (see :mod:`imagebridge._redact`)."""
        if self._redactor is None:
            self._redactor = Redactor(self.secrets)
        return self._redactor

    def scrub(self, text: str) -> str:
        return self.redactor.text(text)


def exit_code_for(error: BaseException) -> ExitCode:
    if isinstance(error, RoutesExhaustedError):
        # Every route skipped before sending: the request is invalid everywhere.
        return ExitCode.INVALID if error.refused else ExitCode.PROVIDER
    if isinstance(error, InvalidRequestError | ConfigurationError):
        return ExitCode.INVALID
    if isinstance(error, ProviderError):
        return ExitCode.PROVIDER
    if isinstance(error, ImageTimeoutError):
        return ExitCode.TIMEOUT
    if isinstance(error, APIConnectionError):
        return ExitCode.CONNECTION
    return ExitCode.ERROR


def describe(error: ImageBridgeError, provider: str | None = None) -> str:
    """A one-line message for a library error, with a resume hint for an accepted task."""
    if isinstance(error, InvalidRequestError) and error.problems:
        where = f" for provider {error.provider!r}" if error.provider else ""
        return f"invalid request{where}: " + "; ".join(str(p) for p in error.problems)
    if isinstance(error, RoutesExhaustedError):
        # What each route did follows on lines of its own (see route_notes).
        why = "none can honour the request" if error.refused else "none could serve it"
        return f"no route could serve the request ({len(error.outcomes)} routes: {why}):"
    text = error.message
    if isinstance(error, ConfigurationError):
        # The library speaks of keyword arguments; on the command line they are options.
        text = text.replace("pass api_key=", "pass --api-key").replace(
            "pass base_url=", "pass --base-url"
        )
        text = text.replace("the API key from api_key=", "the API key from --api-key")
    if isinstance(error, ProviderError):
        bits = [error.provider]
        if error.status_code is not None:
            bits.append(f"HTTP {error.status_code}")
        if error.code:
            bits.append(error.code)
        text = f"[{' '.join(bits)}] {text}"
    task_id = error.task_id
    if task_id:
        accepted = error.task.provider if error.task is not None else None
        name = getattr(error, "provider", None) or accepted or provider or "PROVIDER"
        if task_is_over(error):
            if f"task {task_id}" not in text:
                text += f" (task {task_id})"
        else:
            text += (
                f" (task {task_id} was accepted and may still finish; resume it with:"
                f" imagebridge task {task_id} --provider {name})"
            )
    return " ".join(text.split())


def task_is_over(error: ImageBridgeError) -> bool:
    """Whether the accepted task behind ``error`` can no longer give images, so resuming it
    is pointless: it failed or was refused, or the provider does not know it (404) or
    rejects asking for it (400). A timeout, a lost connection, a 5xx or a 429 leave it
    running: those get the resume hint."""
    if isinstance(error, TaskFailedError | ContentPolicyError | NotFoundError | BadRequestError):
        return True
    # A task that ended for want of balance has no HTTP status; a 402 on a poll does not end it.
    return isinstance(error, InsufficientBalanceError) and error.status_code is None


def payload_for(error: BaseException, message: str) -> dict[str, Any]:
    """The ``{"error": ...}`` object of ``--json`` output."""
    out: dict[str, Any] = {
        "type": type(error).__name__,
        "message": message,
        "code": getattr(error, "code", None) or None,
        "task_id": getattr(error, "task_id", None),
        "exit_code": int(exit_code_for(error)),
    }
    for key in ("provider", "status_code"):
        value = getattr(error, key, None)
        if value is not None:
            out[key] = value
    if isinstance(error, InvalidRequestError):
        out["problems"] = [
            {"field": p.field, "reason": p.reason, "allowed": p.allowed} for p in error.problems
        ]
    if isinstance(error, RoutesExhaustedError):
        out["outcomes"] = dict(error.outcomes)
    return out


def route_notes(error: BaseException) -> list[str]:
    """One line per route of a :class:`~imagebridge.RoutesExhaustedError`, in the routes'
    order: ``  - NAME: skipped: ...`` or ``  - NAME: failed: ...``."""
    if not isinstance(error, RoutesExhaustedError):
        return []
    return [f"  - {name}: {' '.join(what.split())}" for name, what in error.outcomes.items()]


@contextmanager
def report_errors(context: ErrorContext) -> Iterator[ErrorContext]:
    """Turn any failure in the block into a :class:`CliError` (no traceback unless verbose).

    What the block prints, and any error it reports, is scrubbed of the run's keys."""
    try:
        with scrubbing(context.redactor):
            yield context
    except CliError as error:
        raise _scrubbed(error, context) from None
    except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
        raise
    except ImageBridgeError as error:
        error.scrub(context.redactor)
        raise _cli_error(error, describe(error, context.provider), context) from None
    except OSError as error:
        raise _cli_error(error, _os_message(error), context) from None
    except Exception as error:  # an unexpected failure: still one line, still no key
        raise _cli_error(error, f"unexpected {type(error).__name__}: {error}", context) from None


def _cli_error(error: BaseException, message: str, context: ErrorContext) -> CliError:
    payload = None
    if context.json_mode:
        payload = {**payload_for(error, message), **context.extra}
    details = None
    if context.verbose:
        details = traceback_text(error)
    failure = CliError(
        message,
        exit_code_for(error),
        payload=payload,
        details=details,
        event=context.json_lines,
        notes=route_notes(error),
    )
    return _scrubbed(failure, context)


def _scrubbed(error: CliError, context: ErrorContext) -> CliError:
    """``error`` with the run's keys taken out of its message, JSON object and traceback."""
    error.message = context.scrub(error.message)
    error.args = (error.message,)
    if error.payload is not None:
        error.payload = context.redactor.obj(json.loads(json.dumps(error.payload, default=str)))
    if error.details is not None:
        error.details = context.scrub(error.details)
    error.notes = [context.scrub(note) for note in error.notes]
    return error


def _os_message(error: OSError) -> str:
    if error.filename is not None:
        return f"{error.strerror or error}: {error.filename}"
    return str(error)


def usage_payload(error: click.ClickException, message: str) -> dict[str, Any]:
    return {
        "type": type(error).__name__,
        "message": message,
        "code": None,
        "task_id": None,
        "exit_code": int(ExitCode.INVALID),
    }


def json_requested(args: Iterable[str]) -> bool:
    """Whether ``--json`` or ``--json-lines`` is among the options (before a ``--``)."""
    return bool(_json_flags(args))


def json_lines_requested(args: Iterable[str]) -> bool:
    """Whether ``--json-lines`` (and not ``--json``) is among the options."""
    return _json_flags(args) == {"--json-lines"}


def _json_flags(args: Iterable[str]) -> set[str]:
    found = set()
    for arg in args:
        if arg == "--":
            break
        if arg in ("--json", "--json-lines"):
            found.add(arg)
    return found
