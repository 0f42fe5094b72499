"""The API key never leaks: not in exceptions (str, repr, args, body, traceback), not in task
handles, not in logs."""

from __future__ import annotations

import json
import logging
import traceback

import httpx
import pytest
import respx

from imagebridge import (
    APIConnectionError,
    AuthenticationError,
    ImageBridgeError,
    ImageTimeoutError,
    ProviderError,
    ServerError,
    TaskFailedError,
)

from .fakes import API_KEY, BASE, FakeClock, dimilinks_routes, failed, open_client, task

pytestmark = pytest.mark.anyio


def assert_clean(error: BaseException) -> None:
    texts = [str(error), repr(error), *map(str, error.args)]
    texts.append("".join(traceback.format_exception(error)))
    if isinstance(error, ProviderError):
        texts.append(json.dumps(error.body))
    if isinstance(error, ImageBridgeError) and error.task is not None:
        texts.append(error.task.to_json())
        texts.append(repr(error.task))
    for text in texts:
        assert API_KEY not in text


def echo(status: int, code: str) -> httpx.Response:
    message = f"Incorrect API key provided: {API_KEY}"
    body = {"error": {"message": message, "code": code, "key": API_KEY}}
    return httpx.Response(status, json=body)


async def test_key_echoed_by_a_submit_error(
    mode: str, api: respx.Router, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.post(f"{BASE}/images/generations").mock(return_value=echo(401, "invalid_api_key"))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.generate("a cat")
        assert API_KEY not in repr(client.client)
    assert "Incorrect API key provided" in info.value.message
    assert_clean(info.value)
    assert info.value.body["error"]["key"] != API_KEY
    assert API_KEY not in caplog.text


async def test_key_echoed_by_a_failed_task(
    mode: str, api: respx.Router, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dimilinks_routes(api, task("queued", 0), failed("task_failed", f"bad key {API_KEY}"))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(TaskFailedError) as info:
            await client.generate("a cat")
    assert_clean(info.value)
    assert info.value.task is not None
    assert API_KEY not in caplog.text


async def test_key_echoed_by_failing_polls(
    mode: str, api: respx.Router, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dimilinks_routes(api, *[echo(503, "service_unavailable") for _ in range(6)])
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(ServerError) as info:
            await client.generate("a cat")
    assert_clean(info.value)
    assert API_KEY not in caplog.text


async def test_key_in_a_transport_error_message(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    api.post(f"{BASE}/images/generations").mock(
        side_effect=httpx.ConnectError(f"proxy refused Bearer {API_KEY}")
    )
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.generate("a cat")
    assert "proxy refused" in str(info.value)
    for text in (str(info.value), repr(info.value), *map(str, info.value.args)):
        assert API_KEY not in text


async def test_timeout_and_debug_log_of_a_whole_job(
    mode: str, api: respx.Router, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="imagebridge")
    dimilinks_routes(api, *[task("in_progress", 10) for _ in range(9)])
    async with open_client(mode, "dimilinks", api, clock=clock, timeout=8) as client:
        with pytest.raises(ImageTimeoutError) as info:
            await client.generate("a cat")
    assert_clean(info.value)
    # The debug log shows the exchange, without credentials.
    assert "/images/generations" in caplog.text
    assert "/tasks/img_x" in caplog.text
    assert API_KEY not in caplog.text
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
