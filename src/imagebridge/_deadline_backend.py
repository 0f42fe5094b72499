"""An httpcore network backend that never outlives the job's deadline (see
:mod:`imagebridge._deadline`), and :func:`install`, which puts it under a sync client.

:func:`install` puts the backend into an httpx transport built on httpcore's connection
pool (httpx's default transports); other transports are on their own, and the driver still
checks the deadline between body chunks. The only module that imports httpcore, and only
once a sync client is built: ``import imagebridge`` does not load it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from ._deadline import time_left

#: Writes are cut into slices of this size so that a slow reader cannot stretch one write
#: past the deadline by much (each slice gets the time left).
_WRITE_SLICE = 64 * 1024


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
