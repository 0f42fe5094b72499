"""Making faults happen: an ASGI middleware in front of every dialect.

:class:`FaultInjector` finds out what a request is (a submit, a poll or a download, of which
dialect), counts it, takes its faults from the state's :class:`~._faults.FaultSet` (after the
request's own ``X-Emulator-Fault`` header) and then either lets the dialect answer (maybe late,
or with its task held or failed), answers in the dialect's place (``429``, ``5xx``,
``html502``, ``expired``), or breaks the connection:

- ``drop-before`` reads the request and closes the connection without a byte of answer;
- ``drop`` lets the dialect answer, sends the status line, the headers and half of the body,
  then closes the connection;
- ``cut`` lets the dialect answer as it goes (a stream is not held back) and closes the
  connection after ``ARG`` server-sent events (a one-piece answer: after half its body);
- ``timeout-after-accept`` lets the dialect answer (so the task exists), throws the answer
  away, waits ``ARG`` seconds or until the client gives up, then closes the connection;
- ``trickle``, ``endless``, ``oversize``, ``deepjson`` and ``link-local`` let the dialect
  answer too, then send that answer slowly or changed, or a hostile one in its place
  (:mod:`._hostile`); ``retry-after-zero`` holds the task and adds its header;
  ``redirect-foreign`` answers a 302 and serves the hop to the other origin without faults.

Closing needs the server's transport, which uvicorn's ``receive`` callable carries; under any
other server (or an in-process ASGI transport) the kinds that close it raise
:class:`ConnectionResetError` from the app instead, and the server decides what the client
sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import _hostile as hostile
from ._config import DEFAULT_DIALECTS
from ._dialects import spec_for
from ._dimilinks import error_style
from ._errors import ApiError, render_error
from ._faults import Fault, parse_faults
from ._http import FAULTS_KEY, FOREIGN_KEY, HELD_KEY, base_entry, clip
from ._store import EmulatorState

HEADER = "x-emulator-fault"

_API_PATH = re.compile(r"^/(?:(?P<dialect>[a-z]+)/)?v1/(?P<rest>.*)$")
_COUNTERS = {"submit": "submits", "poll": "polls", "download": "downloads", "cancel": "cancels"}
#: Kinds that run the dialect, then send its answer in a hostile way or another in its place.
_CAPTURED = frozenset({"trickle", "endless", "oversize", "deepjson", "link-local"})

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
EXPIRED_BLOB = (
    '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
    "<Message>Server failed to authenticate the request. Signed expiry time has passed."
    "</Message></Error>"
)


@dataclass(frozen=True)
class Target:
    """What a request is, for fault injection."""

    phase: str
    dialect: str
    #: The error style of answers made in the dialect's place.
    style: str
    task_id: str | None = None
    #: ``signed`` (``/p/img``), ``file`` (``/files``) or ``api``.
    route: str = "api"


def locate(scope: Scope, state: EmulatorState) -> Target | None:
    """The phase and dialect of a request, or None when faults do not apply to it."""
    method: str = scope["method"]
    path: str = scope["path"]
    if method == "GET" and path.startswith("/p/img/"):
        task_id = unquote(path.split("/")[3]) if path.count("/") >= 4 else ""
        task = state.tasks.get(task_id)
        dialect = task.dialect if task is not None else "dimilinks"
        return Target("download", dialect, "dimilinks", task_id or None, "signed")
    if method == "GET" and path.startswith("/files/"):
        dialect = state.file_dialects.get(path[len("/files/") :], "openai")
        return Target("download", dialect, dialect, None, "file")
    added = spec_for(path)
    if added is not None:
        spec, rest = added
        found = spec.locate(method, rest, Request(scope).query_params)
        return None if found is None else Target(found[0], spec.name, spec.name, found[1])
    match = _API_PATH.match(path)
    if match is None or (match["dialect"] or state.config.default_dialect) not in DEFAULT_DIALECTS:
        return None
    dialect = match["dialect"] or state.config.default_dialect
    style = error_style(Request(scope)) if dialect == "dimilinks" else dialect
    rest = match["rest"].rstrip("/")
    if method == "POST" and rest in ("images/generations", "images/edits"):
        return Target("submit", dialect, style)
    if method == "POST" and rest == "images/variations" and dialect == "openai":
        return Target("submit", dialect, style)
    tasks = dialect in ("dimilinks", "apimart")
    if method == "GET" and tasks and rest.startswith("tasks/") and rest.count("/") == 1:
        return Target("poll", dialect, style, unquote(rest[len("tasks/") :]))
    return None


class FaultInjector:
    """ASGI middleware: counts API requests and applies their faults."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = locate(scope, self.state) if scope["type"] == "http" else None
        if target is None:
            await self.app(scope, receive, send)
            return
        self.state.count(_COUNTERS[target.phase], target.dialect)
        if target.phase == "download" and Request(scope).url.netloc.lower() in self.state.foreign:
            # The second hop of a redirect-foreign: served as is, and marked in the log.
            scope[FOREIGN_KEY] = True
            await self.app(scope, receive, send)
            return
        wait = None if target.phase == "download" else self.state.rate.admit(target.dialect)
        if wait is not None:
            self.state.count("rate_limited", target.dialect)
            await self._answer(scope, receive, send, _over_limit(target, wait, self.state))
            return
        try:
            own = parse_faults(_header(scope))
        except ValueError as exc:
            error = ApiError(400, "invalid_fault", f"bad {HEADER} header: {exc}")
            await self._answer(scope, receive, send, render_error(target.style, error))
            return
        faults = self.state.faults.take(target.phase, target.dialect, own)
        if faults:
            scope[FAULTS_KEY] = [fault.spec for fault in faults]
        server = receive  # uvicorn's, which knows the connection (see hang_up)
        final: Fault | None = None
        for fault in faults:
            if fault.kind == "slow":
                # The request arrived whole; the answer is late (the job is done even if the
                # client stops waiting, as on a slow server).
                receive = _replay(await _drain(receive), server)
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "never":
                scope[HELD_KEY] = True
            elif fault.kind == "fail":
                self._fail(target, fault.code)
            else:
                final = fault
        if final is None:
            await self.app(scope, receive, self._observer(target, send))
        elif final.kind == "drop":
            messages = await self._capture(scope, receive, target)
            await _send_half(messages, send)
            await hang_up(server)
        elif final.kind == "timeout-after-accept":
            await self._capture(scope, receive, target)
            await _wait_for_disconnect(receive, final.seconds)
            await hang_up(server)
        elif final.kind == "cut":
            await self.app(scope, receive, self._cut(target, send, final.number, server))
        elif final.kind == "drop-before":
            await self._answer(scope, receive, send, None, server)
        elif final.kind in _CAPTURED:
            messages = await self._capture(scope, receive, target)
            await self._hostile(final, target, messages, scope, receive, send, server)
        elif final.kind == "retry-after-zero":
            scope[HELD_KEY] = True
            header = hostile.retry_after_header(final)
            await self.app(
                scope, receive, hostile.with_header(self._observer(target, send), header)
            )
        elif final.kind == "redirect-foreign":
            scheme, netloc = hostile.foreign_netloc(Request(scope), final)
            self.state.foreign.add(netloc)
            redirect = hostile.redirect(Request(scope), scheme, netloc)
            await self._answer(scope, receive, send, redirect, server)
        else:
            await self._answer(scope, receive, send, _response(final, target), server)

    # -- the dialect answers -----------------------------------------------------------------
    def _observer(self, target: Target, send: Send) -> Send:
        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._accepted(target, int(message["status"]))
            await send(message)

        return observe

    def _cut(self, target: Target, send: Send, events: int, server: Receive) -> Send:
        """A ``send`` that lets the status line, the headers and the first ``events`` body
        chunks through (a streamed answer sends one server-sent event per chunk), then closes
        the connection; a stream with fewer events loses its end, a one-piece answer half its
        body (as ``drop``)."""
        sent = 0
        cut = False

        async def forward(message: Message) -> None:
            nonlocal sent, cut
            if cut:
                return  # the connection is closed: the rest of the answer is thrown away
            if message["type"] != "http.response.body":
                if message["type"] == "http.response.start":
                    self._accepted(target, int(message["status"]))
                await send(message)
                return
            body: bytes = message.get("body", b"")
            if message.get("more_body", False):
                await send(message)
                sent += 1 if body else 0
                if sent < events:
                    return
            elif sent == 0:
                await send(
                    {
                        "type": "http.response.body",
                        "body": body[: len(body) // 2],
                        "more_body": True,
                    }
                )
            cut = True
            await hang_up(server)

        return forward

    async def _capture(self, scope: Scope, receive: Receive, target: Target) -> list[Message]:
        """Run the dialect and keep its answer (the client does not get it)."""
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._accepted(target, int(message["status"]))
            messages.append(message)

        await self.app(scope, receive, keep)
        return messages

    async def _hostile(
        self,
        fault: Fault,
        target: Target,
        messages: list[Message],
        scope: Scope,
        receive: Receive,
        send: Send,
        server: Receive,
    ) -> None:
        """Send a captured answer the way ``fault`` says, or a hostile one in its place."""
        if fault.kind == "deepjson":
            await hostile.deep_json(fault.number)(scope, receive, send)
            return
        if fault.kind == "link-local":
            for message in hostile.link_local(messages, Request(scope), fault):
                await send(message)
            return
        hangup = hostile.Hangup(receive)
        self.state.streaming(+1)
        try:
            if fault.kind == "trickle":
                await hostile.trickle(messages, send, hangup, fault.seconds)
                return
            length = fault.number if fault.kind == "oversize" else None
            limit = hostile.stream_limit(fault)
            whole = await hostile.pour(send, hangup, target.phase, limit, length)
            if not whole and not hangup.gone:
                await hang_up(server)
        finally:
            self.state.streaming(-1)
            await hangup.close()

    def _accepted(self, target: Target, status: int) -> None:
        if target.phase == "submit" and 200 <= status < 300:
            self.state.count("accepted", target.dialect)

    def _fail(self, target: Target, code: str) -> None:
        task = self.state.get_task(target.task_id or "", target.dialect)
        if task is not None:
            task.fail_code = code
            task.forced_done = True

    # -- answered in the dialect's place ---------------------------------------------------------
    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        response: Response | None,
        server: Receive | None = None,
    ) -> None:
        """Log the request (its JSON body too), then answer it, or hang up when None."""
        entry = base_entry(scope)
        body = await _drain(receive)
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            if body.strip() and "json" in Request(scope).headers.get("content-type", ""):
                entry["json"] = clip(json.loads(body))
        entry["status"] = response.status_code if response is not None else None
        self.state.record(entry)
        if response is None:
            await hang_up(server or receive)
        else:
            await response(scope, receive, send)


def _header(scope: Scope) -> str:
    """Every ``X-Emulator-Fault`` header of the request, as one comma-separated list."""
    return ",".join(
        value.decode("latin-1")
        for name, value in scope.get("headers", [])
        if name.decode("latin-1").lower() == HEADER
    )


def _response(fault: Fault, target: Target) -> Response:
    kind = fault.kind
    if kind == "html502":
        return HTMLResponse(NGINX_502, status_code=502)
    if kind == "expired":
        if target.route == "file":
            return Response(EXPIRED_BLOB, status_code=403, media_type="application/xml")
        return render_error(target.style, ApiError(410, "url_expired", "this URL has expired"))
    if kind == "429":
        retry_after = fault.arg or "1"
        error = ApiError(
            429,
            "rate_limit_exceeded",
            "emulated rate limit, please retry later",
            headers={"Retry-After": retry_after},
        )
        return render_error(target.style, error)
    status = int(kind)
    return render_error(target.style, ApiError(status, fault.code, f"emulated HTTP {status}"))


def _over_limit(target: Target, wait: int, state: EmulatorState) -> Response:
    """The 429 of a request above ``EmulatorConfig.requests_per_minute``."""
    error = ApiError(
        429,
        "rate_limit_exceeded",
        f"Rate limit reached: {state.rate.per_minute} requests per minute; retry in {wait} s",
        headers={"Retry-After": str(wait)},
    )
    return render_error(target.style, error)


async def _drain(receive: Receive) -> bytes:
    """The whole request body."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands out an already read body, then waits on the real one."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _send_half(messages: list[Message], send: Send) -> None:
    """The status line, headers and half of the body of a captured answer."""
    if not messages:
        return
    body = b"".join(m.get("body", b"") for m in messages[1:] if m["type"] == "http.response.body")
    await send(messages[0])
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})


async def _wait_for_disconnect(receive: Receive, seconds: float) -> None:
    """Hold the connection open for ``seconds`` or until the client hangs up."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(disconnected(), seconds)


async def hang_up(receive: Receive) -> None:
    """Close the client's connection now, whatever was sent on it so far."""
    cycle: Any = getattr(receive, "__self__", None)
    transport: Any = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "close"):
        raise ConnectionResetError("emulated broken connection")
    transport.close()
    # Let the server notice, so it does not answer 500 or log an incomplete response.
    for _ in range(500):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.001)
