"""Rule 6 of issue 10: malformed replies are library errors.

A loopback server answers a submit, a poll or an error with a body no JSON decoder should be
trusted with: nested 100,000 levels deep (a raw RecursionError before), nested just under
the decoder's own limit (so that any later walk over it, such as redaction, recursed), not
UTF-8, or holding a lone surrogate (a task id that cannot be put in a URL). Each must end as
a ServerError (``unexpected_response``), or the error class of the HTTP status, and on a
poll it carries the task id.
"""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imagebridge import (
    BadRequestError,
    ImageBridgeError,
    PollPolicy,
    RateLimitError,
    RetryPolicy,
    ServerError,
)

from ._loopback import KEY, Loopback, open_client

pytestmark = pytest.mark.anyio

TASK = "task-malformed-1"
DEEP = 100_000

BODIES: dict[str, bytes] = {
    "deep-array": b"[" * DEEP + b"]" * DEEP,
    "deep-object": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "deep-error-object": b'{"error":' * DEEP + b"{}" + b"}" * DEEP,
    "just-decodable": b'{"error":' * 900 + b'"x"' + b"}" * 900,
    "not-utf8": b'{"status": "\xff\xfe\xfd"}',
    "huge-integer": b'{"status": ' + b"9" * 5000 + b"}",
}
POLICY = PollPolicy(interval=0.02, max_interval=0.02, max_transient_failures=1)
RETRY = RetryPolicy(max_retries=0)


def json_body(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def task_server(provider: str, poll: bytes, status: int = 200) -> Loopback:
    """``provider`` accepts the task, then every poll answers ``poll`` with ``status``."""

    async def answer(request: Request) -> Response:
        if request.method == "POST" and provider == "apimart":
            return JSONResponse({"code": 200, "data": [{"status": "submitted", "task_id": TASK}]})
        if request.method == "POST":
            return JSONResponse({"task_id": TASK, "status": "queued", "data": []})
        return json_body(poll, status)

    return Loopback(answer)


def assert_clean(error: BaseException) -> None:
    """A library error, with no RecursionError or decode error behind it, and no key."""
    assert isinstance(error, ImageBridgeError)
    assert not isinstance(error.__cause__, RecursionError | UnicodeError)
    assert KEY not in str(error)
    assert KEY not in repr(error)
    assert len(str(error)) < 2000


@pytest.mark.parametrize("case", sorted(BODIES))
async def test_a_malformed_submit_answer(mode: str, case: str) -> None:
    async def answer(request: Request) -> Response:
        return json_body(BODIES[case])

    with Loopback(answer) as server:
        async with open_client(mode, "openai", server.url("/v1"), retry=RETRY) as client:
            with pytest.raises(ImageBridgeError) as info:
                await client.generate(model="dall-e-2", size="256x256")
    assert_clean(info.value)
    assert isinstance(info.value, ServerError)
    assert info.value.code == "unexpected_response"


@pytest.mark.parametrize("provider", ["dimilinks", "apimart"])
@pytest.mark.parametrize("case", sorted(BODIES))
async def test_a_malformed_poll_answer_names_the_task(mode: str, provider: str, case: str) -> None:
    with task_server(provider, BODIES[case]) as server:
        async with open_client(
            mode, provider, server.url("/v1"), poll_policy=POLICY, retry=RETRY
        ) as client:
            with pytest.raises(ImageBridgeError) as info:
                await client.generate()
        polls = server.requests("GET")
    assert_clean(info.value)
    assert isinstance(info.value, ServerError)
    assert info.value.code == "unexpected_response"
    assert info.value.task_id == TASK
    assert TASK in str(info.value)
    assert info.value.task is not None
    assert info.value.task.task_id == TASK
    assert len(polls) == 2  # a malformed poll is transient: retried max_transient_failures times


@pytest.mark.parametrize("case", ["deep-array", "deep-error-object", "just-decodable"])
@pytest.mark.parametrize(("status", "cls"), [(400, BadRequestError), (429, RateLimitError)])
async def test_a_malformed_error_body(
    mode: str, case: str, status: int, cls: type[ImageBridgeError]
) -> None:
    """A 429 body is read to decide whether waiting helps; a 400 body for its message."""

    async def answer(request: Request) -> Response:
        return json_body(BODIES[case], status)

    # One retry: a 429's body is read to decide whether it may be resent.
    retry = RetryPolicy(max_retries=1, backoff=0.01)
    with Loopback(answer) as server:
        async with open_client(mode, "openai", server.url("/v1"), retry=retry) as client:
            with pytest.raises(ImageBridgeError) as info:
                await client.generate(model="dall-e-2", size="256x256")
    assert_clean(info.value)
    assert isinstance(info.value, cls)
    assert info.value.status_code == status


@pytest.mark.parametrize("case", ["deep-array", "deep-error-object", "just-decodable"])
async def test_a_malformed_poll_error_names_the_task(mode: str, case: str) -> None:
    with task_server("dimilinks", BODIES[case], status=500) as server:
        async with open_client(
            mode, "dimilinks", server.url("/v1"), poll_policy=POLICY, retry=RETRY
        ) as client:
            with pytest.raises(ImageBridgeError) as info:
                await client.generate()
    assert_clean(info.value)
    assert isinstance(info.value, ServerError)
    assert info.value.status_code == 500
    assert info.value.task_id == TASK
    assert TASK in str(info.value)


async def test_a_task_id_that_is_not_text(mode: str) -> None:
    """A submit answer whose task id holds a lone surrogate: it could never be polled (or
    journaled); the submit's answer is the provider's error, not a UnicodeEncodeError."""

    async def answer(request: Request) -> Response:
        return json_body(b'{"task_id": "t-\\ud800", "status": "queued", "data": []}')

    with Loopback(answer) as server:
        async with open_client(mode, "dimilinks", server.url("/v1"), retry=RETRY) as client:
            with pytest.raises(ImageBridgeError) as info:
                await client.generate()
        assert server.requests("GET") == []
    assert_clean(info.value)
    assert isinstance(info.value, ServerError)
    assert info.value.code == "unexpected_response"
    assert "surrogate" in str(info.value)


async def test_absurd_numbers_in_a_task_are_not_trusted(mode: str) -> None:
    """A progress of 400 digits or NaN, an expiry of 400 digits: ignored, not an
    OverflowError; the task still delivers its image."""
    huge = "9" * 400
    polls: list[int] = []

    async def answer(request: Request) -> Response:
        if request.method == "POST":
            return JSONResponse({"code": 200, "data": [{"status": "submitted", "task_id": TASK}]})
        polls.append(1)
        if len(polls) == 1:
            return json_body(
                f'{{"code": 200, "data": {{"status": "processing", "progress": {huge}}}}}'.encode()
            )
        if len(polls) == 2:
            return json_body(b'{"code": 200, "data": {"status": "processing", "progress": NaN}}')
        origin = str(request.base_url).rstrip("/")
        image = f'{{"url": ["{origin}/img/1.png"], "expires_at": {huge}}}'
        body = (
            f'{{"code": 200, "data": {{"status": "completed", "result": {{"images": [{image}]}}}}}}'
        )
        return json_body(body.encode())

    seen: list[float | None] = []
    with Loopback(answer) as server:
        async with open_client(mode, "apimart", server.url("/v1"), poll_policy=POLICY) as client:
            result = await client.generate(on_progress=lambda p: seen.append(p.percent))
    assert len(result.images) == 1
    assert result.images[0].expires_at is None
    assert all(p is None or 0 <= p <= 100 for p in seen)
