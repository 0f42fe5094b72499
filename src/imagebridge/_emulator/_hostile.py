"""Hostile answers: bodies that trickle, never end, lie about their length or nest too deep,
result URLs on a link-local host, ``Retry-After: 0`` polls and redirects to another origin.

The stream answers (``trickle``, ``endless``, ``oversize``) watch for the client's disconnect
(:class:`Hangup`) and stop sending as soon as it comes, so no answer outlives its client; the
ones that could run for ever are also cut by the emulator itself (``STREAM_LIMIT`` bytes,
then it hangs up). :mod:`._inject` decides when each one applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Message, Receive, Send

from ._faults import STREAM_LIMIT, Fault

#: How much an ``endless`` or ``oversize`` answer sends per message.
CHUNK = 64 * 1024
_FILLER = b"A" * CHUNK
#: How an ``endless`` or ``oversize`` body starts, per phase: something a client would begin
#: to parse as a real answer.
JSON_START = b'{"data":[{"b64_json":"'
PNG_START = b"\x89PNG\r\n\x1a\n"
LINK_LOCAL_HOST = "169.254.169.254"
#: An HTTP date long past, for ``poll:retry-after-zero:*:past``.
_PAST = 1_000_000_000.0


class Hangup:
    """Watches ``receive`` for the client's disconnect, so a long answer stops when nobody
    reads it any more. Use it only once the request body has been read."""

    def __init__(self, receive: Receive) -> None:
        self._task = asyncio.ensure_future(_disconnected(receive))

    @property
    def gone(self) -> bool:
        return self._task.done()

    async def pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if the client hangs up first; whether it did."""
        await asyncio.wait({self._task}, timeout=seconds)
        return self._task.done()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def split(messages: list[Message]) -> tuple[Message, bytes]:
    """A captured answer's ``http.response.start`` message and its whole body."""
    body = b"".join(m.get("body", b"") for m in messages[1:] if m["type"] == "http.response.body")
    return messages[0], body


def with_body(start: Message, body: bytes) -> Message:
    """``start`` with its ``Content-Length`` set to that of ``body``."""
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    return {**start, "headers": headers}


async def trickle(messages: list[Message], send: Send, hangup: Hangup, seconds: float) -> None:
    """The captured answer, its headers at once, then its body one byte every ``seconds``."""
    start, body = split(messages)
    await send(start)
    for index in range(len(body)):
        if await hangup.pause(seconds):
            return
        last = index == len(body) - 1
        await send(
            {"type": "http.response.body", "body": body[index : index + 1], "more_body": not last}
        )
    if not body:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def pour(
    send: Send, hangup: Hangup, phase: str, limit: int, length: int | None = None
) -> bool:
    """A 200 whose body starts like a real answer and goes on with ``A``s: chunked when
    ``length`` is None, else announcing ``Content-Length: length``. Sends at most ``limit``
    bytes (and never past ``length``); whether the body was sent whole (only possible when
    ``length`` fits in ``limit``). Stops when the client hangs up."""
    media, first = (
        ("image/png", PNG_START) if phase == "download" else ("application/json", JSON_START)
    )
    headers = [(b"content-type", media.encode())]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    total = min(limit, length) if length is not None else limit
    sent = 0
    chunk = first + _FILLER[len(first) :]
    while sent < total and not hangup.gone:
        piece = chunk[: total - sent]
        sent += len(piece)
        whole = length is not None and sent == length
        await send({"type": "http.response.body", "body": piece, "more_body": not whole})
        if whole:
            return True
        chunk = _FILLER
        # A loopback client may take every byte at once: let the loop see a disconnect.
        await asyncio.sleep(0)
    return False


def stream_limit(fault: Fault) -> int:
    """How many bytes an ``endless`` answer sends before the emulator hangs up."""
    return min(fault.number, STREAM_LIMIT) if fault.kind == "endless" else STREAM_LIMIT


def deep_json(depth: int) -> Response:
    """A 200 whose JSON body is ``depth`` lists deep: ``[[[...]]]``."""
    return Response(b"[" * depth + b"]" * depth, media_type="application/json")


def retry_after_header(fault: Fault) -> tuple[bytes, bytes]:
    """The header a ``retry-after-zero`` poll answer carries: ``Retry-After: ARG`` (default
    ``0``; ``past``: an HTTP date long past), or ``retry-after-ms: VALUE`` for ``ms=VALUE``."""
    arg = fault.arg if fault.arg is not None else "0"
    name = "retry-after"
    if arg.lower().startswith("ms="):
        name, arg = "retry-after-ms", arg[3:]
    if arg.lower() == "past":
        arg = email.utils.formatdate(_PAST, usegmt=True)
    return name.encode(), arg.encode("latin-1")


def with_header(send: Send, header: tuple[bytes, bytes]) -> Send:
    """``send`` adding ``header`` to the answer (in place of one of the same name)."""

    async def add(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != header[0]]
            message = {**message, "headers": [*kept, header]}
        await send(message)

    return add


def foreign_netloc(request: Request, fault: Fault) -> tuple[str, str]:
    """The scheme and ``host:port`` a ``redirect-foreign`` download is sent to: ARG, or the
    request's port on ``localhost`` (on ``127.0.0.1`` when the request came to localhost)."""
    scheme = request.url.scheme
    port = request.url.port or request.scope["server"][1]
    if fault.arg is None:
        host = "127.0.0.1" if request.url.hostname == "localhost" else "localhost"
        return scheme, f"{host}:{port}"
    arg = fault.arg
    if "://" in arg:
        scheme, _, arg = arg.partition("://")
    has_port = not arg.endswith("]") and ":" in arg
    return scheme, (arg if has_port else f"{arg}:{port}").lower()


def redirect(request: Request, scheme: str, netloc: str) -> Response:
    """A 302 to the same path and query on ``scheme://netloc``."""
    return RedirectResponse(str(request.url.replace(scheme=scheme, netloc=netloc)), 302)


def link_local(messages: list[Message], request: Request, fault: Fault) -> list[Message]:
    """The captured answer with every result URL of this origin (absolute, or a relative
    ``/p/img/`` or ``/files/`` path) moved to ``http://ARG`` (default 169.254.169.254)."""
    start, body = split(messages)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return messages
    here = f"{request.url.scheme}://{request.url.netloc}"
    host = fault.arg or LINK_LOCAL_HOST

    def move(value: Any) -> Any:
        if isinstance(value, str):
            if value.startswith(here + "/"):
                return f"http://{host}{value[len(here) :]}"
            if value.startswith(("/p/img/", "/files/")):
                return f"http://{host}{value}"
            return value
        if isinstance(value, list):
            return [move(item) for item in value]
        if isinstance(value, dict):
            return {key: move(item) for key, item in value.items()}
        return value

    moved = json.dumps(move(data)).encode()
    return [with_body(start, moved), {"type": "http.response.body", "body": moved}]
