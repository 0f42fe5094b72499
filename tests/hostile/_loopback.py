"""A hostile server of the tests' own: any ASGI handler, run by uvicorn on 127.0.0.1, port 0,
and one client API for ImageClient ("sync") and AsyncImageClient ("async").

The handler is one coroutine ``answer(request) -> Response``; every request it gets is
recorded (method, path, arrival time) so that tests can count polls and downloads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from imagebridge import AsyncImageClient, ImageClient
from imagebridge._emulator._server import BackgroundServer
from reliability.support import Bridge

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    at: float


class Loopback(BackgroundServer):
    """``with Loopback(answer) as server: server.url("/v1")``."""

    def __init__(self, answer: Handler) -> None:
        super().__init__(self._app, name="hostile-loopback")
        self.answer = answer
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def url(self, path: str = "") -> str:
        return f"{self.origin}{path}"

    def requests(self, method: str | None = None, prefix: str = "") -> list[Seen]:
        with self._lock:
            return [
                s
                for s in self.seen
                if (method is None or s.method == method) and s.path.startswith(prefix)
            ]

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        with self._lock:
            self.seen.append(Seen(request.method, request.url.path, time.monotonic()))
        response = await self.answer(request)
        await response(scope, receive, send)


#: The API key of these tests: it never shows up anywhere but on the wire to the API.
KEY = "sk-HOSTILE-0123456789abcdef"


@contextlib.asynccontextmanager
async def open_client(
    mode: str, provider: str, base_url: str, **options: Any
) -> AsyncIterator[Bridge]:
    """A real client of ``mode`` for ``provider`` at ``base_url`` (a loopback server)."""
    options.setdefault("api_key", KEY)
    options.setdefault("journal", False)
    options.setdefault("timeout", 20)
    if mode == "sync":
        with ImageClient(provider, base_url=base_url, **options) as client:
            yield Bridge(mode, client)
    else:
        async with AsyncImageClient(provider, base_url=base_url, **options) as aclient:
            yield Bridge(mode, aclient)
