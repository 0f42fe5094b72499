"""Hostile event streams: a loopback server (``tests/hostile/_loopback.py``, 127.0.0.1 only)
answers the openai dialect's ``stream: true`` with a ``text/event-stream`` 200 that

(a) never ends a line, (b) streams events forever: both end at ``max_response_bytes``,
    with the client's memory bounded (measured in a process of its own);
(c) trickles one byte a second: the job's deadline ends it, keeping the last partial;
(d) sends event data that is not a JSON object, (e) JSON nested 10,000 deep: a ServerError
    ``unexpected_response``, never a RecursionError;
(f) ends cleanly without a completed image: ``StreamInterruptedError``;
(g) sends an ``error`` event echoing the API key: the raised error holds no key anywhere,
    and is classified by its code;
(h) sends event types the spec does not have: they are skipped.

Every server answer stops by itself (a byte or time limit) or when the client hangs up.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from helpers import png
from hostile._loopback import KEY, Loopback, open_client
from imagebridge import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ImageTimeoutError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from reliability.support import exception_texts

from .conftest import Run, collect, pixels

pytestmark = pytest.mark.anyio

CAP = 1024 * 1024
#: What the server offers at most in an endless answer.
OFFER = 64 * CAP
#: Room for what the kernel's socket buffers hold when the client hangs up.
BUFFERS = 16 * 1024 * 1024
FIELDS: dict[str, Any] = {"model": "gpt-image-1", "partial_images": 2}
PARTIAL = png(32, 16)
FINAL = png(32, 32)

Body = Callable[[], AsyncIterator[bytes]]


def sse(kind: str, data: Any) -> bytes:
    """One server-sent event (``data`` as JSON, or as it is when bytes)."""
    payload = data if isinstance(data, bytes) else json.dumps(data).encode()
    return f"event: {kind}\n".encode() + b"data: " + payload + b"\n\n"


def partial(index: int = 0) -> bytes:
    image = base64.b64encode(PARTIAL).decode()
    return sse(
        "image_generation.partial_image",
        {"type": "image_generation.partial_image", "b64_json": image, "partial_image_index": index},
    )


def completed() -> bytes:
    image = base64.b64encode(FINAL).decode()
    usage = {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8}
    return sse(
        "image_generation.completed",
        {"type": "image_generation.completed", "b64_json": image, "usage": usage},
    )


class Server(Loopback):
    """Answers every request with the event stream ``body()``, counting the bytes sent."""

    def __init__(self, body: Body) -> None:
        self.sent = 0
        self.body = body
        super().__init__(self._answer)

    async def _answer(self, request: Request) -> Response:
        await request.body()

        async def counted() -> AsyncIterator[bytes]:
            async for chunk in self.body():
                self.sent += len(chunk)
                yield chunk

        return StreamingResponse(counted(), media_type="text/event-stream")


def endless(head: bytes, piece: bytes) -> Body:
    """``head``, then ``piece`` over and over, up to :data:`OFFER` bytes."""

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(OFFER // len(piece)):
            yield piece
            await asyncio.sleep(0)

    return body


def events(*chunks: bytes) -> Body:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return body


#: (a) one line that never ends; (b) well-formed events (of a type to skip) forever.
NO_LINE_END = endless(b"event: image_generation.partial_image\ndata: ", b"A" * 65536)
PAD = "A" * 60000
FOREVER = endless(partial(), sse("image_generation.heartbeat", {"type": "x", "pad": PAD}))


async def stream(mode: str, server: Server, run: Run, **options: Any) -> Run:
    async with open_client(mode, "openai", server.url("/v1"), **options) as opened:
        return await collect(opened.client, "a fox", into=run, **FIELDS)


# -- (a) (b) the response limit --------------------------------------------------------------------


@pytest.mark.parametrize("body", [NO_LINE_END, FOREVER], ids=["no-line-end", "forever"])
async def test_an_endless_stream_ends_at_max_response_bytes(mode: str, body: Body) -> None:
    run = Run()
    with Server(body) as server, pytest.raises(ServerError) as caught:
        await stream(mode, server, run, max_response_bytes=CAP)
    error = caught.value
    assert error.code == "response_too_large"
    assert f"{CAP}-byte response limit (max_response_bytes)" in str(error)
    assert server.sent <= CAP + BUFFERS  # the client hung up at its cap
    if body is FOREVER:
        assert [p.index for p in run.partials] == [0]
        assert error.last_partial is not None


_MEASURE = """
import resource, sys
from imagebridge import ImageClient, ServerError
url, key, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with ImageClient("openai", api_key=key, base_url=url, max_response_bytes=cap,
                 journal=False) as client:
    try:
        with client.stream("a fox", model="gpt-image-1", partial_images=2) as events:
            for _ in events:
                pass
    except ServerError as error:
        print(error.code)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
"""


@pytest.mark.parametrize("body", [NO_LINE_END, FOREVER], ids=["no-line-end", "forever"])
def test_memory_stays_within_the_cap_on_an_endless_stream(body: Body) -> None:
    """In a process of its own: peak RSS grows by at most the cap plus 16 MiB while the
    server offers twice the cap."""
    cap = 32 * CAP
    with Server(body) as server:
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, server.url("/v1"), KEY, str(cap)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    code, growth = done.stdout.split()
    assert code == "response_too_large"
    assert int(growth) <= cap + BUFFERS, f"peak RSS grew by {int(growth) / 2**20:.1f} MiB"


# -- (c) the deadline ------------------------------------------------------------------------------


def trickle() -> Body:
    async def body() -> AsyncIterator[bytes]:
        yield partial(0)
        for byte in partial(1)[:30]:  # one byte a second, for at most 30 s
            await asyncio.sleep(1)
            yield bytes([byte])

    return body


async def test_a_trickled_stream_ends_at_the_deadline(mode: str) -> None:
    run = Run()
    timeout = 1.5
    began = time.monotonic()
    with Server(trickle()) as server, pytest.raises(ImageTimeoutError) as caught:
        await stream(mode, server, run, timeout=timeout)
    assert time.monotonic() - began < timeout + 5.0  # the trickle would last 30 s
    kept = caught.value.last_partial
    assert kept is not None
    assert kept.index == 0
    assert kept.image.read() == PARTIAL
    assert [p.index for p in run.partials] == [0]


# -- (d) (e) bodies that are not usable ------------------------------------------------------------

DEEP = 10_000
UNUSABLE = {
    "not-json": b"this is not json",
    "not-an-object": b"[1, 2, 3]",
    "truncated": b'{"type": "image_generation.partial_image", "b64_json": "iVBO',
    "deep-array": b"[" * DEEP + b"]" * DEEP,
    "deep-object": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
}


@pytest.mark.parametrize("data", UNUSABLE.values(), ids=UNUSABLE.keys())
async def test_unusable_event_data_is_an_unexpected_response(mode: str, data: bytes) -> None:
    run = Run()
    body = events(partial(0), sse("image_generation.partial_image", data))
    with Server(body) as server, pytest.raises(ServerError) as caught:
        await stream(mode, server, run)
    error = caught.value
    assert error.code == "unexpected_response"
    assert not isinstance(error.__cause__, RecursionError)
    assert not isinstance(error.__context__, RecursionError)
    if data.startswith((b"[[", b'{"a":{')):
        assert "nested more than" in str(error)
    assert error.last_partial is not None
    assert error.last_partial.index == 0


# -- (f) an end without the image ------------------------------------------------------------------


@pytest.mark.parametrize("sent", [0, 1, 2])
async def test_a_stream_that_ends_without_its_image(mode: str, sent: int) -> None:
    run = Run()
    body = events(b": an empty stream\n\n", *(partial(i) for i in range(sent)))
    with Server(body) as server, pytest.raises(StreamInterruptedError) as caught:
        await stream(mode, server, run)
    error = caught.value
    assert f"ended after {sent} event(s) without a completed image" in str(error)
    assert [p.index for p in run.partials] == list(range(sent))
    if sent:
        assert error.last_partial is not None
        assert error.last_partial.index == sent - 1
        assert error.last_partial.image.read() == PARTIAL
    else:
        assert error.last_partial is None
    assert len(server.requests("POST")) == 1


# -- (g) an error event ----------------------------------------------------------------------------


def error_event(code: str, *, named: bool) -> bytes:
    error = {
        "message": f"rejected: the key {KEY} was used (Bearer {KEY})",
        "type": "invalid_request_error",
        "param": KEY,
        "code": code,
    }
    return sse("error" if named else "image_generation.failed", {"error": error})


CLASSES: dict[str, type[ProviderError]] = {
    "moderation_blocked": ContentPolicyError,
    "invalid_api_key": AuthenticationError,
    "rate_limit_exceeded": RateLimitError,
    "invalid_value": BadRequestError,
}


@pytest.mark.parametrize("named", [True, False], ids=["event-error", "data-error"])
@pytest.mark.parametrize("code", CLASSES)
async def test_an_error_event_is_the_providers_error_without_the_key(
    mode: str, code: str, named: bool
) -> None:
    run = Run()
    body = events(partial(0), error_event(code, named=named), completed())
    with Server(body) as server, pytest.raises(ProviderError) as caught:
        await stream(mode, server, run)
    error = caught.value
    assert type(error) is CLASSES[code]
    assert error.code == code
    assert "rejected: the key" in str(error)
    texts = list(exception_texts(error))
    assert texts
    leaked = [text for text in texts if KEY in text]
    assert not leaked, leaked
    assert KEY not in repr(vars(error))
    assert error.last_partial is not None
    assert error.last_partial.index == 0
    assert run.result is None


# -- (h) event types the spec does not have --------------------------------------------------------


async def test_unknown_events_are_skipped(mode: str) -> None:
    unknown = [
        sse("image_generation.heartbeat", {"type": "image_generation.heartbeat"}),
        sse("response.in_progress", {"type": "response.in_progress", "sequence_number": 3}),
        b": a comment\n\n",
        b'data: {"type": "image_generation.progress", "percent": 40}\n\n',
        # Blocks with no data are no events (the SSE standard dispatches none).
        b"id: 7\nretry: 10\n\n",
        b"event: ping\n\n",
    ]
    body = events(*unknown, partial(0), *unknown, partial(1), *unknown, completed(), *unknown)
    with Server(body) as server:
        run = await stream(mode, server, Run())
    assert [(p.index, p.image.read()) for p in run.partials] == [(0, PARTIAL), (1, PARTIAL)]
    assert run.finals == [FINAL]
    assert pixels(run.finals[0]) == (32, 32)
    assert run.result is not None
    assert run.result.usage is not None
    assert run.result.usage.total_tokens == 8
