"""What the dimilinks adapter sends and how it reads submit answers: the JSON body, the four
async triggers, sync mode, APIMart compat mode, task ids and submit errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from imagebridge import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ImageBridgeError,
    InsufficientBalanceError,
    InvalidRequestError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    ServerError,
)

from .fakes import (
    API_KEY,
    BASE,
    ORIGIN,
    SIGNED,
    TASK,
    FakeClock,
    body_of,
    dimilinks_routes,
    open_client,
    succeeded,
    task,
)

pytestmark = pytest.mark.anyio

GENERATIONS = f"{BASE}/images/generations"


async def test_default_submit_wire(mode: str, api: respx.Router, clock: FakeClock) -> None:
    submit, poll, _ = dimilinks_routes(api, task("queued", 0), succeeded())
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        await client.generate(
            "a neon cat",
            size="16:9",
            resolution="2k",
            output_format="png",
            reference_images=["https://example.com/ref.png"],
        )
    auth = [h.get("authorization") for h in client.headers_of(BASE)]
    assert auth == [f"Bearer {API_KEY}"] * 3  # submit and both polls
    request = submit.calls.last.request
    assert request.method == "POST"
    assert request.url.path == "/v1/images/generations"
    assert dict(request.url.params) == {"async": "true"}
    assert request.headers["content-type"] == "application/json"
    assert "prefer" not in request.headers
    assert body_of(request) == {
        "model": "gpt-image-2",
        "prompt": "a neon cat",
        "n": 1,
        "size": "16:9",
        "resolution": "2k",
        "output_format": "png",
        "image_urls": ["https://example.com/ref.png"],
    }
    for call in poll.calls:
        assert call.request.method == "GET"
        assert call.request.content == b""
        # Credentials are dropped from the request object once it is sent.
        assert "authorization" not in call.request.headers


async def test_minimal_body_sends_only_what_was_set(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    submit, _, _ = dimilinks_routes(api, succeeded())
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        await client.generate("a cat")
    assert body_of(submit.calls.last.request) == {"model": "gpt-image-2", "prompt": "a cat", "n": 1}


@pytest.mark.parametrize(
    ("trigger", "params", "header", "in_body"),
    [
        ("query", {"async": "true"}, None, False),
        ("wait_for_result_query", {"wait_for_result": "false"}, None, False),
        ("prefer_header", {}, "respond-async", False),
        ("body", {}, None, True),
    ],
)
async def test_async_triggers(
    mode: str,
    api: respx.Router,
    clock: FakeClock,
    trigger: str,
    params: dict[str, str],
    header: str | None,
    in_body: bool,
) -> None:
    submit, poll, _ = dimilinks_routes(api, task("in_progress", 50), succeeded())
    options = {"dimilinks": {"async_trigger": trigger}}
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat", provider_options=options)
    request = submit.calls.last.request
    assert dict(request.url.params) == params
    assert request.headers.get("prefer") == header
    body = body_of(request)
    if in_body:
        assert body["wait_for_result"] is False
    else:
        assert "wait_for_result" not in body
    assert poll.call_count == 2
    assert result.task_ids == [TASK]


async def test_sync_mode_is_one_request(mode: str, api: respx.Router, clock: FakeClock) -> None:
    answer = {"created": 1777080000, "task_id": "img_s", "data": [{"url": SIGNED, "file_id": "f1"}]}
    submit = api.post(GENERATIONS).mock(return_value=httpx.Response(200, json=answer))
    options = {"dimilinks": {"mode": "sync"}}
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat", size="1:1", provider_options=options)
    assert len(api.calls) == 1
    request = submit.calls.last.request
    assert dict(request.url.params) == {}
    assert "prefer" not in request.headers
    assert "wait_for_result" not in body_of(request)
    assert clock.sleeps == []
    assert result.task_ids == ["img_s"]
    assert result.created == 1777080000
    [image] = result.images
    assert image.url == ORIGIN + SIGNED
    assert image.file_id == "f1"


async def test_sync_mode_never_returns_an_empty_result(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    dimilinks_routes(api, succeeded())
    options = {"dimilinks": {"mode": "sync"}}
    failure: ImageBridgeError | None = None
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        try:
            result = await client.generate("a cat", provider_options=options)
        except ImageBridgeError as error:
            failure = error
    if failure is not None:  # refusing is fine, if the accepted task is named
        assert failure.task_id == TASK
    else:
        assert len(result.images) == 1


async def test_images_in_the_submit_answer_need_no_polling(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    """A gateway that ignores async mode answers with the images at once."""
    answer = {"created": 1, "task_id": TASK, "data": [{"url": SIGNED}]}
    api.post(GENERATIONS).mock(return_value=httpx.Response(200, json=answer))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat")
    assert len(api.calls) == 1
    assert result.images[0].url == ORIGIN + SIGNED


async def test_compat_mode(mode: str, api: respx.Router, clock: FakeClock) -> None:
    submit, poll, _ = dimilinks_routes(api, task("in_progress", 50), succeeded())
    submit.mock(
        return_value=httpx.Response(
            200, json={"code": 200, "data": [{"status": "submitted", "task_id": TASK}]}
        )
    )
    options = {"dimilinks": {"compat": "apimart"}}
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat", size="16:9", provider_options=options)
    request = submit.calls.last.request
    assert dict(request.url.params) == {"compat": "apimart"}
    assert "wait_for_result" not in body_of(request)
    assert poll.call_count == 2
    assert poll.calls.last.request.url.path == f"/v1/tasks/{TASK}"
    assert result.task_ids == [TASK]


async def test_compat_mode_cannot_be_sync(mode: str, api: respx.Router) -> None:
    options = {"dimilinks": {"compat": "apimart", "mode": "sync"}}
    async with open_client(mode, "dimilinks", api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate("a cat", provider_options=options)
    assert len(api.calls) == 0
    assert info.value.field.startswith("provider_options.dimilinks")
    assert "compat" in str(info.value)


async def test_unknown_provider_option_is_rejected(mode: str, api: respx.Router) -> None:
    options = {"dimilinks": {"async_trigger": "header"}}
    async with open_client(mode, "dimilinks", api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate("a cat", provider_options=options)
    assert len(api.calls) == 0
    assert info.value.field == "provider_options.dimilinks.async_trigger"


@pytest.mark.parametrize(
    ("answer", "task_id"),
    [
        ({"task_id": "task_01HX9ZQ", "data": []}, "task_01HX9ZQ"),
        ({"task_id": 123456, "data": []}, "123456"),
        ({"id": "gw-7f3a9c", "data": []}, "gw-7f3a9c"),
        ({"code": 200, "data": {"id": "abc", "status": "pending"}}, "abc"),
    ],
)
async def test_task_ids_are_not_validated(
    mode: str, api: respx.Router, clock: FakeClock, answer: dict[str, Any], task_id: str
) -> None:
    api.post(GENERATIONS).mock(return_value=httpx.Response(200, json=answer))
    poll = api.get(f"{BASE}/tasks/{task_id}").mock(
        return_value=succeeded("https://cdn.example/x.png", task_id=task_id)
    )
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat")
    assert poll.call_count == 1
    assert result.task_ids == [task_id]


async def test_submit_answer_without_task_id(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    api.post(GENERATIONS).mock(return_value=httpx.Response(200, json={"created": 1, "data": []}))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(ServerError) as info:
            await client.generate("a cat")
    assert len(api.calls) == 1
    assert info.value.code == "unexpected_response"
    assert info.value.task_id is None


def dimilinks_type(status: int) -> str:
    types = {401: "authentication_error", 402: "payment_required", 429: "rate_limit_error"}
    if status in (502, 503):
        return "service_unavailable"
    return types.get(status, "server_error" if status >= 500 else "invalid_request_error")


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "invalid_request_error", BadRequestError),
        (400, "invalid_reference_image", BadRequestError),
        (400, "model_not_found", BadRequestError),
        (400, "content_moderation", ContentPolicyError),
        (401, "missing_api_key", AuthenticationError),
        (401, "invalid_api_key", AuthenticationError),
        (402, "insufficient_balance", InsufficientBalanceError),
        (403, "model_not_allowed", PermissionDeniedError),
        (429, "rate_limit_rpm", RateLimitError),
        (502, "upstream_error", ServerError),
        (503, "no_available_account", ServerError),
        (500, "internal_error", ServerError),
    ],
)
async def test_submit_errors(
    mode: str, api: respx.Router, clock: FakeClock, status: int, code: str, cls: type
) -> None:
    body = {"error": {"message": f"msg {code}", "type": dimilinks_type(status), "code": code}}
    headers = {"Retry-After": "7"} if status == 429 else {}
    api.post(GENERATIONS).mock(return_value=httpx.Response(status, json=body, headers=headers))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(ProviderError) as info:
            await client.generate("a cat")
    error = info.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.code == code
    assert error.message == f"msg {code}"
    assert error.task_id is None  # nothing was accepted
    assert len(api.calls) == 1  # a submit is never retried
    assert clock.sleeps == []
    if status == 429:
        assert isinstance(error, RateLimitError)
        assert error.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, InsufficientBalanceError),
        (403, PermissionDeniedError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
    ],
)
async def test_compat_mode_integer_error_codes(
    mode: str, api: respx.Router, clock: FakeClock, status: int, cls: type
) -> None:
    body = {"error": {"message": "compat error", "type": dimilinks_type(status), "code": status}}
    submit = api.post(GENERATIONS).mock(return_value=httpx.Response(status, json=body))
    options = {"dimilinks": {"compat": "apimart"}}
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(ProviderError) as info:
            await client.generate("a cat", provider_options=options)
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert info.value.code == str(status)
    assert info.value.message == "compat error"
    assert dict(submit.calls.last.request.url.params) == {"compat": "apimart"}
    assert len(api.calls) == 1


@pytest.mark.parametrize(
    ("size", "resolution", "expected"),
    [
        ("16:9", "4k", (3840, 2160)),
        ("9:16", "1k", (864, 1536)),
        ("2:1", "2k", (2048, 1024)),
        ("5:4", None, (1600, 1280)),
        ("auto", "2k", (2048, 2048)),
        ("21:9", "2k", (2016, 864)),
        ("9:21", "1k", (672, 1568)),
    ],
)
async def test_ratio_and_tier_go_on_the_wire_as_given(
    mode: str,
    api: respx.Router,
    clock: FakeClock,
    size: str,
    resolution: str | None,
    expected: tuple[int, int],
) -> None:
    submit, _, _ = dimilinks_routes(api)
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        handle = await client.submit("a cat", size=size, resolution=resolution)
    body = body_of(submit.calls.last.request)
    assert body["size"] == size
    assert body.get("resolution") == resolution
    assert handle.expected_size == expected
