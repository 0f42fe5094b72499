"""The job's deadline as a wall-clock bound on every socket operation.

httpx's timeouts bound each socket operation, not an exchange: a server that sends one byte
a second (in the status line, the headers or the body) never trips a read timeout, however
short, and keeps a request alive for as long as it likes. urllib3 solves this with a
``total`` timeout that cuts every read to what is left; httpcore has no such setting, so
this module adds it.

The driver puts the job's deadline (on :func:`time.monotonic`) in a context variable while
it sends a request and reads its body; :class:`DeadlineBackend` wraps httpcore's network
backend so that every connect, read and write is given at most the time left, and fails
with httpcore's own timeout error once none is left. That makes the bound hold in every
phase of every request on the sync transport, which cannot be cancelled from outside. The
async driver does not need it: it cancels the whole exchange at the deadline (a cancel
scope works with any async transport); the context variable still lets the readers of
:mod:`imagebridge._reading` check the deadline between body chunks there.

:func:`install` puts the backend into an httpx transport built on httpcore's connection
pool (httpx's default transports); other transports are on their own, and the driver still
checks the deadline between body chunks.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Any, Final, TypeVar

import httpcore
import httpx


class ClientDefault(enum.Enum):
    """The type of :data:`CLIENT_DEFAULT`: a per-call ``timeout=`` left to the client's own."""

    TIMEOUT = "the client's timeout"

    def __repr__(self) -> str:
        return "CLIENT_DEFAULT"


#: The default of per-call ``timeout=`` arguments: the client's ``timeout``.
CLIENT_DEFAULT: Final = ClientDefault.TIMEOUT

#: The deadline (time.monotonic()) of the request being sent in this context, or None.
io_deadline: ContextVar[float | None] = ContextVar("imagebridge_io_deadline", default=None)

#: Writes are cut into slices of this size so that a slow reader cannot stretch one write
#: past the deadline by much (each slice gets the time left).
_WRITE_SLICE = 64 * 1024


T = TypeVar("T")


async def bounded(
    seconds: float | None,
    slot: AbstractAsyncContextManager[Any],
    request: httpx.Request | None,
    exchange: Callable[[], Awaitable[T]],
) -> T:
    """Run ``exchange`` (hand ``request`` to the HTTP client, read what comes back) within
    ``slot`` and cancel it after ``seconds``, whatever the transport (also: read the next
    event of an open stream, with no request). A cancelled exchange is the timeout httpx
    would have raised: a pool timeout while it waited for a slot
    (nothing was sent), a read timeout once the request was handed over."""
    if seconds is None:
        async with slot:
            return await exchange()
    import anyio  # httpx's own dependency, already imported by httpx.AsyncClient

    handed = False
    with anyio.move_on_after(seconds) as scope:
        async with slot:
            handed = True
            return await exchange()
    assert scope.cancelled_caught
    if handed:
        raise httpx.ReadTimeout("the job's deadline has passed", request=request)
    raise httpx.PoolTimeout("the job's deadline has passed", request=request)


def time_left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to the time left before this context's deadline; ``error`` when
    none is left."""
    deadline = io_deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the job's deadline has passed")
    return left if timeout is None else min(timeout, left)


def passed() -> bool:
    """Whether this context's deadline has passed."""
    deadline = io_deadline.get()
    return deadline is not None and time.monotonic() >= deadline


class _Stream(httpcore.NetworkStream):
    __slots__ = ("_stream",)

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        for start in range(0, len(view), _WRITE_SLICE):
            piece = bytes(view[start : start + _WRITE_SLICE])
            self._stream.write(piece, time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(
            ssl_context, server_hostname, time_left(timeout, httpcore.ConnectTimeout)
        )
        return _Stream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """An httpcore network backend whose streams never outlive the context's deadline."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self.backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self.backend.connect_tcp(
            host,
            port,
            time_left(timeout, httpcore.ConnectTimeout),
            local_address,
            socket_options,
        )
        return _Stream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self.backend.connect_unix_socket(
            path, time_left(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _Stream(stream)

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)


def install(client: httpx.Client) -> bool:
    """Put :class:`DeadlineBackend` under every httpcore pool of ``client``'s transports;
    whether all of them got it (False: some transport is not httpx's own)."""
    transports: list[Any] = [client._transport, *client._mounts.values()]
    covered = True
    for transport in transports:
        if transport is None:
            continue
        pool = getattr(transport, "_pool", None)
        if not isinstance(transport, httpx.HTTPTransport) or not isinstance(
            pool, httpcore.ConnectionPool
        ):
            covered = False
            continue
        backend = pool._network_backend
        if not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend)
    return covered
