"""The job's deadline as a wall-clock bound on every socket operation.

httpx's timeouts bound each socket operation, not an exchange: a server that sends one byte
a second (in the status line, the headers or the body) never trips a read timeout, however
short, and keeps a request alive for as long as it likes. urllib3 solves this with a
``total`` timeout that cuts every read to what is left; httpcore has no such setting, so
this module adds it.

The driver puts the job's deadline (on :func:`time.monotonic`) in a context variable while
it sends a request and reads its body; ``DeadlineBackend``
(:mod:`imagebridge._deadline_backend`) wraps httpcore's network backend so that every
connect, read and write is given at most the time left, and fails with httpcore's own
timeout error once none is left. That makes the bound hold in every
phase of every request on the sync transport, which cannot be cancelled from outside. The
async driver does not need it: it cancels the whole exchange at the deadline (a cancel
scope works with any async transport); the context variable still lets the readers of
:mod:`imagebridge._reading` check the deadline between body chunks there.

:class:`~imagebridge._deadline_backend.DeadlineBackend` and its ``install`` live in
:mod:`imagebridge._deadline_backend`, the one module that imports httpcore: httpx (0.28 on)
imports httpcore only when it builds its own transport, and so does imagebridge.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Any, Final, TypeVar

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
