"""The apimart dialect: always-async submit, task polling, the APIMart envelope."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer, create_app

from .conftest import AUTH, FakeClock, image_size, poll


def submit(client: httpx.Client, server: EmulatorServer, **body: Any) -> str:
    response = client.post(server.url("apimart") + "/images/generations", json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["code"] == 200
    (entry,) = payload["data"]
    assert entry["status"] == "submitted"
    task_id: str = entry["task_id"]
    assert task_id.startswith("task_")
    return task_id


def assert_error(response: httpx.Response, status: int, code: str, type_: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status
    assert set(body["error"]) == {"code", "message", "type"}
    assert (body["error"]["code"], body["error"]["type"]) == (code, type_)


def test_generation_flow(anon: httpx.Client, client: httpx.Client, server: EmulatorServer) -> None:
    task_id = submit(
        client, server, model="gpt-image-2", prompt="a fox", size="16:9", resolution="2k", n=2
    )
    seen = poll(client, server.url("apimart") + f"/tasks/{task_id}?language=en", ("completed",))
    statuses = [body["data"]["status"] for body in seen]
    assert set(statuses) <= {"pending", "processing", "completed"}
    data = seen[-1]["data"]
    assert data["id"] == task_id
    assert data["progress"] == 100
    assert data["completed"] >= data["created"]
    assert data["estimated_time"] >= 1
    assert data["actual_time"] >= 1
    images = data["result"]["images"]
    assert len(images) == 2
    for image in images:
        assert image["expires_at"] > time.time() + 23 * 3600
        (link,) = image["url"]
        assert link.startswith(server.origin + "/p/img/")
        assert image_size(anon.get(link).content) == (2048, 1152)


@pytest.mark.parametrize(
    ("size", "resolution", "expected"),
    [
        ("1:1", None, (1024, 1024)),
        ("auto", "4k", (2880, 2880)),
        ("1536x864", None, (1536, 864)),
        (None, "2k", (2048, 2048)),
        ("9:16", "4k", (2160, 3840)),
    ],
)
def test_sizes(
    anon: httpx.Client,
    client: httpx.Client,
    instant: EmulatorServer,
    size: str | None,
    resolution: str | None,
    expected: tuple[int, int],
) -> None:
    body: dict[str, Any] = {"prompt": "sizes"}
    if size:
        body["size"] = size
    if resolution:
        body["resolution"] = resolution
    task_id = submit(client, instant, **body)
    data = client.get(instant.url("apimart") + f"/tasks/{task_id}").json()["data"]
    assert image_size(anon.get(data["result"]["images"][0]["url"][0]).content) == expected


@pytest.fixture
async def clocked(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(EmulatorConfig(task_duration=5, clock=clock))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://emulator.test/apimart/v1",
        headers=AUTH,
    ) as http:
        yield http


@pytest.mark.anyio
async def test_status_progression(clocked: httpx.AsyncClient, clock: FakeClock) -> None:
    submitted = await clocked.post("/images/generations", json={"prompt": "clock"})
    task_url = f"/tasks/{submitted.json()['data'][0]['task_id']}"
    seen = []
    for _ in range(7):
        data = (await clocked.get(task_url)).json()["data"]
        seen.append((data["status"], data["progress"], "result" in data))
        clock.advance(1)
    assert seen[0] == ("pending", 0, False)
    assert seen[1] == ("processing", 20, False)
    assert seen[4] == ("processing", 80, False)
    assert seen[5] == ("completed", 100, True)
    assert seen[6] == ("completed", 100, True)
    last = (await clocked.get(task_url)).json()["data"]
    assert last["result"]["images"][0]["url"][0].startswith("http://emulator.test/p/img/")


@pytest.mark.anyio
async def test_failed_task(clocked: httpx.AsyncClient, clock: FakeClock) -> None:
    submitted = await clocked.post("/images/generations", json={"prompt": "#fail=upstream_error"})
    task_url = f"/tasks/{submitted.json()['data'][0]['task_id']}"
    assert (await clocked.get(task_url)).json()["data"]["status"] == "pending"
    clock.advance(5)
    data = (await clocked.get(task_url)).json()["data"]
    assert data["status"] == "failed"
    assert data["error"]["code"] == "upstream_error"
    assert data["error"]["message"]
    assert "result" not in data


def test_errors(anon: httpx.Client, client: httpx.Client, instant: EmulatorServer) -> None:
    base = instant.url("apimart")
    assert_error(
        client.get(base + "/tasks/task_unknown"), 404, "not_found", "invalid_request_error"
    )
    assert_error(
        client.post(base + "/images/generations", json={"prompt": ""}),
        400,
        "invalid_request_error",
        "invalid_request_error",
    )
    assert_error(
        client.post(base + "/images/generations", json={"prompt": "x", "size": "7:5"}),
        400,
        "invalid_request_error",
        "invalid_request_error",
    )
    assert_error(
        client.post(
            base + "/images/generations",
            json={"prompt": "x", "image_urls": ["blob:https://a.example/1"]},
        ),
        400,
        "invalid_reference_image",
        "invalid_request_error",
    )
    assert_error(
        anon.post(base + "/images/generations", json={"prompt": "x"}),
        401,
        "missing_api_key",
        "authentication_error",
    )
    limited = client.post(base + "/images/generations", json={"prompt": "#error=429:rate_limited"})
    assert_error(limited, 429, "rate_limited", "rate_limit_error")
    assert limited.headers["retry-after"] == "1"
    # dimilinks tasks are not visible through the apimart dialect
    dimilinks = client.post(
        instant.url("dimilinks") + "/images/generations?async=true", json={"prompt": "x"}
    )
    other = client.get(base + f"/tasks/{dimilinks.json()['task_id']}")
    assert other.status_code == 404


def test_references_and_mask_are_recorded(client: httpx.Client, instant: EmulatorServer) -> None:
    task_id = submit(
        client,
        instant,
        prompt="refs",
        image_urls=["https://example.com/a.png"],
        mask_url="https://example.com/mask.png",
        quality="high",
    )
    task = instant.app_state.tasks[task_id]
    assert [ref["url"] for ref in task.extra["references"]] == [
        "https://example.com/a.png",
        "https://example.com/mask.png",
    ]
