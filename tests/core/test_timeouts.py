"""The overall deadline of a job (``timeout=``, per client and per call) and per-request
timeouts, on a fake clock: nothing here really waits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from helpers import FakeClock, images_body, open_client
from imagebridge import APIConnectionError, ImageTimeoutError, SubmitOutcomeUnknownError

pytestmark = pytest.mark.anyio


class Recorder:
    """Answers with one image and notes the timeouts each request was sent with."""

    def __init__(self) -> None:
        self.timeouts: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(dict(request.extensions["timeout"]))
        return httpx.Response(200, json=images_body())


@pytest.mark.parametrize(
    ("client_options", "call_options", "expected"),
    [
        ({"timeout": 30}, {}, {"connect": 10, "read": 30, "write": 30, "pool": 30}),
        ({"timeout": 30}, {"timeout": 5}, {"connect": 5, "read": 5, "write": 5, "pool": 5}),
        (
            {"timeout": 30},
            {"timeout": None},
            {"connect": 10, "read": 120, "write": 120, "pool": 120},
        ),
        ({"timeout": None}, {}, {"connect": 10, "read": 120, "write": 120, "pool": 120}),
        ({"request_timeout": 7}, {}, {"connect": 7, "read": 7, "write": 7, "pool": 7}),
        (
            {"request_timeout": 7, "timeout": 3},
            {},
            {"connect": 3, "read": 3, "write": 3, "pool": 3},
        ),
    ],
)
async def test_request_timeouts_are_cut_to_the_deadline(
    mode: str, client_options: dict[str, Any], call_options: dict[str, Any], expected: Any
) -> None:
    recorder = Recorder()
    async with open_client(mode, "openai", recorder, clock=FakeClock(), **client_options) as client:
        await client.generate("a cube", **call_options)
    assert recorder.timeouts == [expected]


async def test_the_remaining_time_shrinks_from_call_to_call(mode: str) -> None:
    clock = FakeClock()
    timeouts: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        clock.now += 4
        return httpx.Response(200, json=images_body())

    async with open_client(mode, "openai", handler, clock=clock, timeout=30) as client:
        await client.generate("a cube")
        await client.generate("a cube", timeout=10)
    # Each job has its own deadline, counted from its start.
    assert timeouts == [30, 10]


async def test_a_submit_unanswered_at_the_deadline_may_have_made_a_task(mode: str) -> None:
    """A generation request that left and got no answer before the deadline is not a plain
    timeout: the provider may be making (and charging for) the image."""
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        clock.now += 6
        raise httpx.ReadTimeout("read timed out", request=request)

    async with open_client(mode, "openai", handler, clock=clock, timeout=60) as client:
        with pytest.raises(SubmitOutcomeUnknownError) as info:
            await client.generate("a cube", timeout=5)
    assert "5 s deadline" in str(info.value)
    assert "may have created a task" in str(info.value)


async def test_a_poll_timeout_after_the_deadline_is_an_image_timeout(mode: str) -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"created": 1, "task_id": "img_1", "data": []})
        clock.now += 60
        raise httpx.ReadTimeout("read timed out", request=request)

    async with open_client(mode, "dimilinks", handler, clock=clock, timeout=60) as client:
        with pytest.raises(ImageTimeoutError) as info:
            await client.generate("a cube", timeout=5)
    error = info.value
    assert isinstance(error, TimeoutError)
    assert error.timeout == 5
    assert error.provider == "dimilinks"
    assert error.task_id == "img_1"
    assert "5 s deadline" in str(error)


async def test_a_transport_timeout_before_the_deadline_is_a_connection_error(mode: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    async with open_client(mode, "openai", handler, clock=FakeClock(), timeout=60) as client:
        with pytest.raises(APIConnectionError, match="timed out") as info:
            await client.generate("a cube")
    assert not isinstance(info.value, TimeoutError)
    assert info.value.sent is True


async def test_a_connect_timeout_was_not_sent(mode: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("connect timed out", request=request)

    async with open_client(mode, "openai", handler, clock=FakeClock()) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.generate("a cube")
    assert info.value.sent is False


async def test_a_spent_deadline_sends_nothing(mode: str) -> None:
    recorder = Recorder()
    async with open_client(mode, "openai", recorder, clock=FakeClock()) as client:
        with pytest.raises(ImageTimeoutError) as info:
            await client.generate("a cube", timeout=0)
    assert recorder.timeouts == []
    assert info.value.timeout == 0


def test_image_timeout_error_is_a_builtin_timeout_error() -> None:
    error = ImageTimeoutError("too slow", provider="openai", timeout=1.5)
    assert isinstance(error, TimeoutError)
    with pytest.raises(TimeoutError):
        raise error
