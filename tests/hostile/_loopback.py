"""A hostile server of the tests' own: any ASGI handler, run by uvicorn on 127.0.0.1, port 0,
and one client API for ImageClient ("sync") and AsyncImageClient ("async").

The handler is one coroutine ``answer(request) -> Response``; every request it gets is
recorded (method, path, arrival time) so that tests can count polls and downloads.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from imagebridge import AsyncImageClient, ImageClient, ImageResult, TaskHandle

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    at: float


class Loopback:
    """``with Loopback(answer) as server: server.url("/v1")``."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.seen: list[Seen] = []
        self.origin = ""
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

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

    def __enter__(self) -> Loopback:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            interface="asgi3",
            http="h11",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="hostile-loopback", daemon=True
        )
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self._stop()
                raise RuntimeError("the loopback server did not start")
            time.sleep(0.005)
        self.origin = f"http://127.0.0.1:{port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None


#: The API key of these tests: it never shows up anywhere but on the wire to the API.
KEY = "sk-HOSTILE-0123456789abcdef"


class Bridge:
    """The same calls through an ImageClient ("sync") or an AsyncImageClient ("async")."""

    def __init__(self, client: ImageClient | AsyncImageClient) -> None:
        self.client = client

    async def generate(self, prompt: str = "a lighthouse", **fields: Any) -> ImageResult:
        if isinstance(self.client, ImageClient):
            return self.client.generate(prompt, **fields)
        return await self.client.generate(prompt, **fields)

    async def submit(self, prompt: str = "a lighthouse", **fields: Any) -> TaskHandle:
        if isinstance(self.client, ImageClient):
            return self.client.submit(prompt, **fields)
        return await self.client.submit(prompt, **fields)

    async def wait(self, task: TaskHandle | str, **options: Any) -> ImageResult:
        if isinstance(self.client, ImageClient):
            return self.client.wait(task, **options)
        return await self.client.wait(task, **options)

    async def save(self, result: ImageResult, folder: Path) -> list[Path]:
        if isinstance(self.client, ImageClient):
            return result.save(folder)
        return await result.asave(folder)


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
            yield Bridge(client)
    else:
        async with AsyncImageClient(provider, base_url=base_url, **options) as aclient:
            yield Bridge(aclient)
