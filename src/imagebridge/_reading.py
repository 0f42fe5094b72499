"""Reading response bodies into a bound: replies into memory, downloads into a file.

Every byte a server sends counts against a limit and against the job's deadline as it
arrives, so an endless chunked reply, a 5 GB ``Content-Length`` or a one-byte-a-second
trickle ends in a clear error, never in ``MemoryError``, the OOM killer or a hung job. The
excess is never buffered: the body is read chunk by chunk and dropped (the connection with
it) at the first byte over.
"""

from __future__ import annotations

from typing import IO, ClassVar

import httpx

from . import _deadline
from ._errors import ServerError
from ._imageinfo import HEADER_BYTES

# Bodies are read in the chunks the transport yields (httpcore reads at most 64 KiB from
# the socket at a time): re-chunking them (iter_bytes(n)) costs ~40 us a reply and bounds
# nothing more, since a chunk is counted before it is kept.


def too_large(provider: str, what: str, limit: int, kind: str) -> ServerError:
    """The error for a body over its limit: ``kind`` is ``"response"`` (the setting
    ``max_response_bytes``) or ``"download"`` (``max_download_bytes``)."""
    return ServerError(
        f"{what} from {provider} is larger than the {limit}-byte {kind} limit (max_{kind}_bytes)",
        provider=provider,
        code=f"{kind}_too_large",
    )


def _declared_length(response: httpx.Response) -> int | None:
    raw = response.headers.get("content-length")
    if raw is None or response.headers.get("content-encoding"):
        # A compressed body's length says nothing about its decoded size.
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _check_wall() -> None:
    """Between chunks, for transports that do not honour the deadline themselves."""
    if _deadline.passed():
        raise httpx.ReadTimeout("the job's deadline has passed")


class _Meter:
    """Counts one body's bytes, as they arrive, against its limit and the deadline."""

    __slots__ = ("limit", "provider", "size")
    #: What the body is, in messages, and which limit it counts against.
    what: ClassVar[str]
    kind: ClassVar[str]

    def __init__(self, response: httpx.Response, limit: int | None, provider: str) -> None:
        self.limit = limit
        self.provider = provider
        self.size = 0
        declared = _declared_length(response)
        if limit is not None and declared is not None and declared > limit:
            raise too_large(provider, self.what, limit, self.kind)

    def count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            raise too_large(self.provider, self.what, self.limit, self.kind)
        _check_wall()


class Body(_Meter):
    """A reply read into memory, at most ``limit`` bytes (decoded)."""

    __slots__ = ("parts",)
    what = "the response"
    kind = "response"

    def __init__(self, response: httpx.Response, limit: int | None, provider: str) -> None:
        super().__init__(response, limit, provider)
        self.parts: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self.count(chunk)
        self.parts.append(chunk)

    def finish(self, response: httpx.Response) -> None:
        """Hand the body to the response, as ``response.read()`` would have."""
        # httpx's own read() sets the same attribute; a public way to do it does not exist.
        response._content = b"".join(self.parts)
        self.parts = []


class StreamMeter(_Meter):
    """An event stream's bytes, counted as they are parsed (:mod:`imagebridge._sse`)."""

    __slots__ = ()
    what = "the event stream"
    kind = "response"


def read_body(response: httpx.Response, limit: int | None, provider: str) -> None:
    """``response.read()``, bounded (the response must have been sent with ``stream=True``)."""
    body = Body(response, limit, provider)
    for chunk in response.iter_bytes():
        body.feed(chunk)
    body.finish(response)


async def aread_body(response: httpx.Response, limit: int | None, provider: str) -> None:
    body = Body(response, limit, provider)
    async for chunk in response.aiter_bytes():
        body.feed(chunk)
    body.finish(response)


class Sink(_Meter):
    """Where a download goes: written through, counted against the cap, head kept."""

    __slots__ = ("file", "head", "start")
    what = "the image"
    kind = "download"

    def __init__(
        self, file: IO[bytes], limit: int | None, provider: str, response: httpx.Response
    ) -> None:
        super().__init__(response, limit, provider)
        self.file = file
        self.start = file.tell() if file.seekable() else 0
        self.head = b""

    def feed(self, chunk: bytes) -> None:
        self.count(chunk)
        if len(self.head) < HEADER_BYTES:
            self.head += chunk[: HEADER_BYTES - len(self.head)]
        self.file.write(chunk)

    def discard(self) -> None:
        """Forget what a failed attempt wrote, before the next one."""
        if self.file.seekable():
            self.file.seek(self.start)
            self.file.truncate()
