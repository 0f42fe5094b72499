"""The APIMart dialect: both submit shapes, every status, url as a list or a string,
expires_at, error bodies under HTTP 200 and failed or cancelled tasks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from imagebridge import (
    AuthenticationError,
    ContentPolicyError,
    ImageBridgeError,
    InsufficientBalanceError,
    NotFoundError,
    Progress,
    ServerError,
    TaskFailedError,
)

from .fakes import APIMART_BASE, FakeClock, body_of, open_client, png

pytestmark = pytest.mark.anyio

GENERATIONS = f"{APIMART_BASE}/images/generations"
ID = "task_01JABC"
CDN = "https://upload.apimart.test/f/"


def envelope(data: Any, code: int = 200, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "data": data})


def state(status: str, progress: int | None = None, **extra: Any) -> httpx.Response:
    data: dict[str, Any] = {"id": ID, "status": status, "created": 1777080000, **extra}
    if progress is not None:
        data["progress"] = progress
    return envelope(data)


def completed(*entries: dict[str, Any]) -> httpx.Response:
    entries = entries or ({"url": [CDN + "a.png"], "expires_at": 1777166400},)
    return state("completed", 100, result={"images": list(entries)}, actual_time=12)


def routes(
    api: respx.Router, *polls: httpx.Response, submit: httpx.Response | None = None
) -> tuple[respx.Route, respx.Route]:
    accepted = envelope([{"status": "submitted", "task_id": ID}])
    post = api.post(GENERATIONS).mock(return_value=submit or accepted)
    poll = api.get(f"{APIMART_BASE}/tasks/{ID}").mock(side_effect=list(polls))
    api.get(url__startswith=CDN).mock(return_value=httpx.Response(200, content=png(16, 9)))
    return post, poll


async def failure(mode: str, api: respx.Router, clock: FakeClock, *polls: Any) -> Any:
    routes(api, *polls)
    async with open_client(mode, "apimart", api, clock=clock) as client:
        with pytest.raises(ImageBridgeError) as info:
            await client.generate("a cat")
    return info.value


async def test_statuses_until_completed(mode: str, api: respx.Router, clock: FakeClock) -> None:
    post, poll = routes(
        api,
        state("pending", 0),
        state("processing", 30),
        state("submitted", 30),
        state("in_progress", 60),
        completed(),
    )
    seen: list[Progress] = []
    async with open_client(mode, "apimart", api, clock=clock) as client:
        result = await client.generate(
            "a cat", size="16:9", resolution="2k", on_progress=seen.append
        )
        data = await client.read(result.images[0])
    assert body_of(post.calls.last.request) == {
        "model": "gpt-image-2",
        "prompt": "a cat",
        "n": 1,
        "size": "16:9",
        "resolution": "2k",
    }
    assert poll.call_count == 5
    assert all(dict(c.request.url.params) == {"language": "en"} for c in poll.calls)
    # PollPolicy(interval=2.0, backoff=1.25, max_interval=5.0), paced by the percentages:
    # 0 % -> the interval (2.0); 30 % after 4 s -> done in 9.3 s, capped at max_interval
    # (5.0); 30 % again -> no rate, the interval (3.125); 60 % 3.125 s later (9.6 %/s) ->
    # done in 4.17 s, aimed 5 % + 0.05 s past it.
    assert clock.sleeps == pytest.approx([2.0, 2.0, 5.0, 3.125, 40 / 9.6 * 1.05 + 0.05])
    assert [(p.stage, p.status, p.percent) for p in seen if p.status] == [
        ("queued", "pending", 0.0),
        ("running", "processing", 30.0),
        ("queued", "submitted", 30.0),
        ("running", "in_progress", 60.0),
        ("done", "completed", 100.0),
    ]
    assert result.task_ids == [ID]
    assert result.provider == "apimart"
    [image] = result.images
    assert image.url == CDN + "a.png"
    assert image.expires_at == 1777166400.0
    assert data == png(16, 9)


async def test_submit_data_as_an_object(mode: str, api: respx.Router, clock: FakeClock) -> None:
    old = envelope({"id": ID, "status": "pending", "created": 1777080000})
    routes(api, completed(), submit=old)
    async with open_client(mode, "apimart", api, clock=clock) as client:
        result = await client.generate("a cat")
    assert result.task_ids == [ID]


async def test_url_as_a_list_and_as_a_string(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    routes(
        api,
        completed(
            {"url": [CDN + "1.png", CDN + "2.png"], "expires_at": 1777166400},
            {"url": CDN + "3.png"},
        ),
    )
    async with open_client(mode, "apimart", api, clock=clock) as client:
        result = await client.generate("a cat", n=3)
    assert [i.url for i in result.images] == [CDN + "1.png", CDN + "2.png", CDN + "3.png"]
    assert [i.expires_at for i in result.images] == [1777166400.0, 1777166400.0, None]
    assert [i.index for i in result.images] == [0, 1, 2]


async def test_references_and_mask_are_urls(mode: str, api: respx.Router, clock: FakeClock) -> None:
    post, _ = routes(api, completed())
    async with open_client(mode, "apimart", api, clock=clock) as client:
        await client.generate(
            "a cat", reference_images=["https://example.com/r.png"], mask=png(2, 2)
        )
    body = body_of(post.calls.last.request)
    assert body["image_urls"] == ["https://example.com/r.png"]
    assert body["mask_url"].startswith("data:image/png;base64,")


async def test_failed_with_an_error_object(mode: str, api: respx.Router, clock: FakeClock) -> None:
    error = await failure(
        mode,
        api,
        clock,
        state("processing", 50),
        state("failed", error={"code": "content_moderation", "message": "blocked", "type": "x"}),
    )
    assert type(error) is ContentPolicyError
    assert (error.code, error.message, error.task_id) == ("content_moderation", "blocked", ID)


async def test_failed_with_an_error_string(mode: str, api: respx.Router, clock: FakeClock) -> None:
    error = await failure(mode, api, clock, state("failed", error="upstream exploded"))
    assert type(error) is TaskFailedError
    assert error.message == "upstream exploded"
    assert error.code == "failed"
    assert error.task_id == ID


async def test_cancelled_is_a_failure(mode: str, api: respx.Router, clock: FakeClock) -> None:
    error = await failure(mode, api, clock, state("pending", 0), state("cancelled"), completed())
    assert type(error) is TaskFailedError
    assert error.code == "cancelled"
    assert error.task_id == ID


async def test_code_401_under_http_200_on_submit(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    body = {"code": 401, "msg": "invalid token"}
    post, poll = routes(api, completed(), submit=httpx.Response(200, json=body))
    async with open_client(mode, "apimart", api, clock=clock) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.generate("a cat")
    assert info.value.message == "invalid token"
    assert info.value.task_id is None
    assert (post.call_count, poll.call_count) == (1, 0)


async def test_code_401_under_http_200_on_poll(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    denied = httpx.Response(200, json={"code": 401, "error": {"message": "token revoked"}})
    error = await failure(mode, api, clock, denied, completed())
    assert type(error) is AuthenticationError
    assert error.message == "token revoked"
    assert error.task_id == ID


async def test_code_500_under_http_200_on_poll_is_retried(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    busy = httpx.Response(200, json={"code": 500, "error": "busy"})
    _, poll = routes(api, busy, completed())
    async with open_client(mode, "apimart", api, clock=clock) as client:
        result = await client.generate("a cat")
    assert poll.call_count == 2
    assert result.task_ids == [ID]


async def test_http_error_envelope_on_submit(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    body = {"code": 402, "error": {"code": "insufficient_balance", "message": "top up"}}
    routes(api, submit=httpx.Response(402, json=body))
    async with open_client(mode, "apimart", api, clock=clock) as client:
        with pytest.raises(InsufficientBalanceError) as info:
            await client.generate("a cat")
    assert (info.value.status_code, info.value.code) == (402, "insufficient_balance")


async def test_404_on_poll(mode: str, api: respx.Router, clock: FakeClock) -> None:
    gone = httpx.Response(404, json={"code": 404, "error": {"code": "not_found", "message": "?"}})
    _, poll = routes(api, state("pending", 0), gone, completed())
    async with open_client(mode, "apimart", api, clock=clock) as client:
        with pytest.raises(NotFoundError) as info:
            await client.generate("a cat")
    assert poll.call_count == 2
    assert info.value.task_id == ID


async def test_completed_without_images(mode: str, api: respx.Router, clock: FakeClock) -> None:
    error = await failure(mode, api, clock, state("completed", 100, result={"images": []}))
    assert type(error) is ServerError
    assert error.code == "empty_result"
    assert error.task_id == ID
