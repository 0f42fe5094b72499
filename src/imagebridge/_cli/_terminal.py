"""Human-readable output that is safe for a terminal.

Task ids, statuses, messages and URLs come from servers. Printed raw, a newline in a task id
forges a second output line, ``ESC ] 52`` writes the clipboard and a bidi override reorders
what is shown. Every human-readable line the commands print goes through :func:`echo`, which
escapes C0 and C1 controls, DEL and the bidi controls the way ``repr`` would (``\\n``,
``\\x1b``, ``\\u202e``). ``--json`` output is left alone: ``json.dumps`` already escapes every
control character and, with its default ``ensure_ascii``, every non-ASCII one.
"""

from __future__ import annotations

import logging
import traceback
from types import TracebackType

import click

#: What logging hands to formatException (its own alias for it is private).
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BIDI = [0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_UNSAFE = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI]


def _escape(code: int) -> str:
    char = chr(code)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_TABLE = {code: _escape(code) for code in _UNSAFE}
#: The same, keeping line breaks (for text that is several lines by design).
_TABLE_KEEP_LINES = {code: text for code, text in _TABLE.items() if code != ord("\n")}


def terminal_safe(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every control and bidi character escaped (``keep_lines``: not ``\\n``)."""
    return text.translate(_TABLE_KEEP_LINES if keep_lines else _TABLE)


#: How the chunks of a formatted traceback that are not an exception's own text begin.
_TRACEBACK_FRAMES = (
    "Traceback (most recent call last):",
    "  File ",
    "  [Previous line repeated",
    "\nThe above exception was the direct cause",
    "\nDuring handling of the above exception",
)


def traceback_text(error: BaseException) -> str:
    """A traceback (for --verbose) with its frames on their lines as Python prints them, and
    each exception's own text, which may be a server's, escaped to one line."""
    parts = []
    for chunk in traceback.TracebackException.from_exception(error).format():
        if chunk.startswith(_TRACEBACK_FRAMES):
            parts.append(terminal_safe(chunk, keep_lines=True))
        else:
            parts.append(terminal_safe(chunk.rstrip("\n")) + "\n")
    return "".join(parts)


def echo(text: str, *, err: bool = False, keep_lines: bool = False) -> None:
    """Print ``text`` (one line unless ``keep_lines``) with control characters escaped."""
    click.echo(terminal_safe(text, keep_lines=keep_lines), err=err)


class SafeFormatter(logging.Formatter):
    """Log records for a terminal: the message escaped to one line (a logged URL or task id
    is server data), a traceback kept on its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return terminal_safe(super().formatMessage(record))

    def formatException(self, ei: _ExcInfo) -> str:
        if ei[1] is not None:
            return traceback_text(ei[1]).rstrip("\n")
        return terminal_safe(super().formatException(ei), keep_lines=True)

    def formatStack(self, stack_info: str) -> str:
        return terminal_safe(super().formatStack(stack_info), keep_lines=True)
