"""Failed dimilinks tasks and failed polls: failure codes to error classes, transient poll
failures retried on the engine's schedule, and the limit on consecutive failures."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from imagebridge import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ImageBridgeError,
    PollPolicy,
    ProviderError,
    ServerError,
    TaskFailedError,
    TaskHandle,
)

from .fakes import TASK, FakeClock, dimilinks_routes, failed, open_client, succeeded, task

pytestmark = pytest.mark.anyio


def html_502() -> httpx.Response:
    return httpx.Response(
        502,
        text="<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        headers={"content-type": "text/html"},
    )


async def failure(
    mode: str, api: respx.Router, clock: FakeClock, *polls: httpx.Response | Exception
) -> tuple[ImageBridgeError, respx.Route]:
    _, poll, _ = dimilinks_routes(api, *polls)
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(ImageBridgeError) as info:
            await client.generate("a cat")
    return info.value, poll


async def test_content_moderation_is_a_content_policy_error(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    error, poll = await failure(
        mode, api, clock, task("queued", 0), failed("content_moderation", "prompt was blocked")
    )
    assert type(error) is ContentPolicyError
    assert error.code == "content_moderation"
    assert error.message == "prompt was blocked"
    assert error.task_id == TASK
    assert isinstance(error.task, TaskHandle)
    assert error.status_code is None
    assert poll.call_count == 2


@pytest.mark.parametrize(
    "code",
    [
        "upstream_error",
        "rate_limited",
        "poll_timeout",
        "download_failed",
        "reference_image_too_large",
        "interrupted",
        "task_failed",
    ],
)
async def test_other_failure_codes_are_task_failed_errors(
    mode: str, api: respx.Router, clock: FakeClock, code: str
) -> None:
    error, poll = await failure(
        mode, api, clock, task("in_progress"), failed(code, f"failed: {code}"), succeeded()
    )
    assert type(error) is TaskFailedError
    assert isinstance(error, ProviderError)
    assert error.code == code
    assert error.message == f"failed: {code}"
    assert error.task_id == TASK
    assert error.provider == "dimilinks"
    assert TASK in str(error)
    # A failed task is final, even when its code sounds transient: no further poll.
    assert poll.call_count == 2
    assert clock.sleeps == [2.0, 2.0]


async def test_error_object_with_detail_and_no_message(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    body = task("failed", 100, error={"code": "upstream_error", "detail": "502 from upstream"})
    error, _ = await failure(mode, api, clock, body)
    assert type(error) is TaskFailedError
    assert error.code == "upstream_error"
    assert "502 from upstream" in error.message


async def test_flat_failure_fields_as_the_backend_sends_them(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    body = task(
        "failed",
        100,
        error_code="content_moderation",
        error_message="the prompt was blocked",
        fail_reason="the prompt was blocked",
    )
    error, _ = await failure(mode, api, clock, body)
    assert type(error) is ContentPolicyError
    assert error.code == "content_moderation"
    assert error.message == "the prompt was blocked"


async def test_flat_error_message_without_error_object(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    body = task("failed", 100, error_message="upstream timed out")
    error, _ = await failure(mode, api, clock, body)
    assert type(error) is TaskFailedError
    assert error.message == "upstream timed out"
    assert error.task_id == TASK


async def test_error_as_a_plain_string(mode: str, api: respx.Router, clock: FakeClock) -> None:
    error, _ = await failure(mode, api, clock, task("failed", error="generation crashed"))
    assert type(error) is TaskFailedError
    assert error.message == "generation crashed"
    assert error.task_id == TASK


async def test_transient_poll_failures_are_retried(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    limited = httpx.Response(
        429,
        json={"error": {"code": "rate_limit_rpm", "message": "slow down"}},
        headers={"Retry-After": "7"},
    )
    _, poll, _ = dimilinks_routes(
        api,
        httpx.ConnectError("connection refused"),
        html_502(),
        httpx.Response(503, json={"error": {"code": "no_available_account", "message": "busy"}}),
        limited,
        succeeded(),
    )
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat")
    assert poll.call_count == 5
    # Each failure grows the interval (2.0 -> 2.5 -> 3.0, capped); the 429 waits its Retry-After.
    assert clock.sleeps == [2.0, 2.5, 3.0, 3.0, 7.0]
    assert result.task_ids == [TASK]
    assert len(result.images) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"text": "<!DOCTYPE html><html><title>Just a moment</title></html>"},
        {"json": ["not", "an", "object"]},
        {"status_code": 500, "json": {"error": {"code": "internal_error", "message": "oops"}}},
    ],
    ids=["html-200", "json-array", "http-500"],
)
async def test_unreadable_poll_answers_are_transient(
    mode: str, api: respx.Router, clock: FakeClock, answer: dict[str, Any]
) -> None:
    _, poll, _ = dimilinks_routes(
        api, httpx.Response(**{"status_code": 200, **answer}), succeeded()
    )
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        await client.generate("a cat")
    assert poll.call_count == 2
    assert clock.sleeps == [2.0, 2.5]


async def test_too_many_server_errors_in_a_row(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    busy = [httpx.Response(503, json={"error": {"code": "service_unavailable"}}) for _ in range(9)]
    error, poll = await failure(mode, api, clock, *busy)
    # max_transient_failures=5: the 6th failure in a row is raised.
    assert poll.call_count == 6
    assert clock.sleeps == [2.0, 2.5, 3.0, 3.0, 3.0, 3.0]
    assert isinstance(error, ServerError)
    assert error.status_code == 503
    assert error.task_id == TASK
    assert isinstance(error.task, TaskHandle)
    assert TASK in str(error)


async def test_too_many_connection_failures_in_a_row(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    refused = [httpx.ConnectError("connection refused") for _ in range(9)]
    error, poll = await failure(mode, api, clock, *refused)
    assert poll.call_count == 6
    assert isinstance(error, APIConnectionError)
    assert error.task_id == TASK
    assert error.task is not None
    assert error.task.task_id == TASK
    assert TASK in str(error)


async def test_failure_count_resets_after_a_good_poll(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    def busy() -> list[httpx.Response]:
        return [httpx.Response(503) for _ in range(5)]

    _, poll, _ = dimilinks_routes(api, *busy(), task("in_progress", 50), *busy(), succeeded())
    async with open_client(mode, "dimilinks", api, clock=clock, timeout=None) as client:
        result = await client.generate("a cat")
    assert poll.call_count == 12
    assert result.task_ids == [TASK]


async def test_max_transient_failures_is_a_policy_setting(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    _, poll, _ = dimilinks_routes(api, httpx.Response(502), httpx.Response(502), succeeded())
    policy = PollPolicy(interval=1.0, backoff=1.0, max_interval=1.0, max_transient_failures=1)
    async with open_client(mode, "dimilinks", api, clock=clock, poll_policy=policy) as client:
        with pytest.raises(ServerError) as info:
            await client.generate("a cat")
    assert poll.call_count == 2
    assert clock.sleeps == [1.0, 1.0]
    assert info.value.task_id == TASK


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, "invalid_api_key", AuthenticationError),
        (400, "invalid_request_error", BadRequestError),
    ],
)
async def test_non_transient_poll_errors_are_raised_at_once(
    mode: str, api: respx.Router, clock: FakeClock, status: int, code: str, cls: type
) -> None:
    answer = httpx.Response(status, json={"error": {"code": code, "message": "no"}})
    error, poll = await failure(mode, api, clock, answer, succeeded())
    assert type(error) is cls
    assert poll.call_count == 1
    assert error.task_id == TASK
