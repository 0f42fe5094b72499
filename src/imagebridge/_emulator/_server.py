"""Running the emulator: :func:`serve` (blocking) and :class:`EmulatorServer` (a background
uvicorn thread on a free port, for tests).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import uvicorn

from ._app import create_app, get_state
from ._config import EmulatorConfig
from ._names import MOUNTS
from ._store import EmulatorState

if TYPE_CHECKING:
    from starlette.types import ASGIApp

_Server = TypeVar("_Server", bound="BackgroundServer")


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: a free one; ``getsockname()`` tells which)
    and listening: a client that connects as soon as the address is announced waits in the
    backlog until the server accepts, rather than being refused.

    Raises :class:`OSError` when the address is taken or not allowed, before anything runs.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto is TCP, and without it keep-alive requests stall ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except BaseException:
        sock.close()
        raise
    return sock


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    config: EmulatorConfig | None = None,
    *,
    sock: socket.socket | None = None,
) -> None:
    """Serve an emulator app with uvicorn until interrupted, on ``sock`` (from :func:`bind`)
    if given, else on ``host:port``."""
    sock = sock if sock is not None else bind(host, port)
    # Access logs would go to stdout; the emulator's own request log is /_emulator/requests.
    options = uvicorn.Config(create_app(config), log_level="warning", access_log=False)
    try:
        uvicorn.Server(options).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C is how it is stopped
        pass
    finally:
        sock.close()


class BackgroundServer:
    """A context manager serving an ASGI app with uvicorn in a background thread, on a free
    port of ``host``; ``origin`` is ``http://host:port`` while it runs."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", name: str = "asgi") -> None:
        self.app = app
        self.host = host
        self.origin = ""
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def __enter__(self: _Server) -> _Server:
        sock = bind(self.host, 0)
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            interface="asgi3",  # also for a bound method, which uvicorn would take for ASGI 2
            http="h11",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self._name, daemon=True
        )
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self._stop()
                raise RuntimeError(f"the {self._name} server did not start")
            time.sleep(0.005)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.origin = f"http://{host}:{port}"
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


class EmulatorServer(BackgroundServer):
    """A context manager running the emulator in a background thread on a free port.

    >>> with EmulatorServer(EmulatorConfig(task_duration=0.2)) as server:  # doctest: +SKIP
    ...     base_url = server.url("dimilinks")  # http://127.0.0.1:<port>/dimilinks/v1
    """

    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1") -> None:
        self.config = config or EmulatorConfig()
        app = create_app(self.config)
        super().__init__(app, host, "imagebridge-emulator")
        self.app_state: EmulatorState = get_state(app)

    def url(self, dialect: str | None = None) -> str:
        """Base URL of a dialect (``{origin}/{dialect}/v1``, or the dialect's own mount:
        :data:`._names.MOUNTS`), or ``{origin}/v1``."""
        if not self.origin:
            raise RuntimeError("the server is not running; use it as a context manager")
        return f"{self.origin}{MOUNTS[dialect]}" if dialect else f"{self.origin}/v1"
