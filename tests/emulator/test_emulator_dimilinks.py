"""The dimilinks dialect: sync and async generations, task polling, compat mode, edits."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer, create_app

from .conftest import AUTH, FakeClock, image_size, png_bytes, poll


def url(server: EmulatorServer, path: str) -> str:
    return server.url("dimilinks") + path


def submit(client: httpx.Client, server: EmulatorServer, **body: Any) -> str:
    response = client.post(url(server, "/images/generations?async=true"), json=body)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def finished_task(client: httpx.Client, server: EmulatorServer, task_id: str) -> dict[str, Any]:
    return poll(client, url(server, f"/tasks/{task_id}"), ("succeeded", "failed"))[-1]


def assert_error(response: httpx.Response, status: int, code: Any, type_: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code"}
    assert (error["code"], error["type"]) == (code, type_)


# -- sync ---------------------------------------------------------------------------------------


def test_sync_generation_answers_signed_relative_urls(
    anon: httpx.Client, client: httpx.Client, server: EmulatorServer
) -> None:
    started = time.monotonic()
    response = client.post(url(server, "/images/generations"), json={"prompt": "a cat"})
    assert time.monotonic() - started >= 0.15  # it waited for the task
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"created", "task_id", "data"}
    (item,) = body["data"]
    assert item["file_id"].startswith("file_")
    assert item["url"].startswith(f"/p/img/{body['task_id']}/0?exp=")
    image = anon.get(server.origin + item["url"])  # resolved against the origin, no key
    assert image_size(image.content) == (1024, 1024)


@pytest.mark.parametrize(
    ("size", "resolution", "expected"),
    [
        ("16:9", "2k", (2048, 1152)),
        ("9:16", "1k", (864, 1536)),
        ("3:2", "2K", (2016, 1344)),
        ("2:3", "4k", (2336, 3504)),
        ("21:9", "1k", (1568, 672)),
        ("auto", "4k", (2880, 2880)),
        ("1:1", "8k", (1024, 1024)),
        ("5:4", None, (1600, 1280)),
        (None, None, (1024, 1024)),
        ("1280x720", "4k", (1280, 720)),
    ],
)
def test_sizes_follow_the_tier_table(
    anon: httpx.Client,
    client: httpx.Client,
    instant: EmulatorServer,
    size: str | None,
    resolution: str | None,
    expected: tuple[int, int],
) -> None:
    body: dict[str, Any] = {"prompt": f"size {size} {resolution}", "wait_for_result": False}
    if size is not None:
        body["size"] = size
    if resolution is not None:
        body["resolution"] = resolution
    task_id = client.post(url(instant, "/images/generations"), json=body).json()["task_id"]
    task = finished_task(client, instant, task_id)
    image = anon.get(instant.origin + task["result"]["data"][0]["url"])
    assert image_size(image.content) == expected


def test_4k_16_9(anon: httpx.Client, client: httpx.Client, instant: EmulatorServer) -> None:
    task = finished_task(
        client,
        instant,
        submit(client, instant, prompt="4k", size="16:9", resolution="4k", output_format="jpeg"),
    )
    image = anon.get(instant.origin + task["result"]["data"][0]["url"])
    assert image.headers["content-type"] == "image/jpeg"
    assert image_size(image.content, "JPEG") == (3840, 2160)


@pytest.mark.parametrize(("n", "count"), [(0, 1), (-3, 1), (2, 2), (9, 4)])
def test_n_is_clamped(client: httpx.Client, instant: EmulatorServer, n: int, count: int) -> None:
    task = finished_task(client, instant, submit(client, instant, prompt="n", n=n))
    data = task["result"]["data"]
    assert len(data) == count
    assert len({item["file_id"] for item in data}) == count


# -- async triggers and compat mode -------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "headers", "body"),
    [
        ("?async=true", {}, {}),
        ("?async=1", {}, {}),
        ("?wait_for_result=false", {}, {}),
        ("", {"Prefer": "respond-async"}, {}),
        ("", {"Prefer": "return=minimal, Respond-Async"}, {}),
        ("", {}, {"wait_for_result": False}),
        ("?async=true", {}, {"wait_for_result": True}),
    ],
)
def test_async_triggers(
    client: httpx.Client,
    server: EmulatorServer,
    query: str,
    headers: dict[str, str],
    body: dict[str, Any],
) -> None:
    response = client.post(
        url(server, "/images/generations" + query),
        json={"prompt": "async", **body},
        headers=headers,
    )
    assert response.status_code == 200
    payload = response.json()
    assert set(payload) == {"created", "task_id", "data"}
    assert payload["data"] == []
    assert payload["task_id"].startswith("img_")


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("?compat=apimart", {}),
        ("?compat=APIMart", {}),
        ("?response_schema=apimart", {}),
        ("?schema=apimart-compatible", {}),
        ("?format=apimart", {}),
        ("?apimart=1", {}),
        ("?apimart=true", {}),
        ("", {"X-Response-Format": "apimart"}),
        ("", {"X-API-Format": "APIMART"}),
        ("", {"X-Compat-Mode": "apimart"}),
    ],
)
def test_apimart_compat_mode(
    client: httpx.Client, instant: EmulatorServer, query: str, headers: dict[str, str]
) -> None:
    response = client.post(
        url(instant, "/images/generations" + query), json={"prompt": "compat"}, headers=headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 200
    (entry,) = body["data"]
    assert entry["status"] == "submitted"
    task = finished_task(client, instant, entry["task_id"])  # polled in the dimilinks shape
    assert task["status"] == "succeeded"
    bad = client.post(url(instant, "/images/generations" + query), json={}, headers=headers)
    assert_error(bad, 400, 400, "invalid_request_error")


# -- polling ------------------------------------------------------------------------------------


def test_task_reaches_success_over_http(
    anon: httpx.Client, client: httpx.Client, server: EmulatorServer
) -> None:
    task_id = submit(client, server, prompt="poll me", size="16:9", resolution="2k")
    seen = poll(client, url(server, f"/tasks/{task_id}"), ("succeeded",))
    last = seen[-1]
    assert {body["status"] for body in seen} <= {"queued", "in_progress", "succeeded"}
    assert last["id"] == last["task_id"] == task_id
    assert last["object"] == "image.task"
    assert last["progress"] == 100
    assert last["completed_at"] >= last["created_at"]
    assert last["result"]["created"] == last["created_at"]
    assert image_size(anon.get(server.origin + last["result"]["data"][0]["url"]).content) == (
        2048,
        1152,
    )


def test_failed_task(client: httpx.Client, server: EmulatorServer) -> None:
    task = finished_task(
        client, server, submit(client, server, prompt="x #fail=content_moderation")
    )
    assert task["status"] == "failed"
    assert task["error"]["code"] == "content_moderation"
    assert task["error"]["message"]
    assert task["fail_reason"] == task["error_message"] == task["error"]["message"]
    assert "result" not in task


def test_unknown_task_is_404(client: httpx.Client, server: EmulatorServer) -> None:
    assert_error(
        client.get(url(server, "/tasks/img_nope")), 404, "not_found", "invalid_request_error"
    )


@pytest.fixture
async def clocked(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(EmulatorConfig(task_duration=10, clock=clock))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emulator.test/dimilinks/v1", headers=AUTH
    ) as http:
        yield http


@pytest.mark.anyio
async def test_status_progression_follows_the_clock(
    clocked: httpx.AsyncClient, clock: FakeClock
) -> None:
    submitted = await clocked.post("/images/generations?async=true", json={"prompt": "clock"})
    task_url = f"/tasks/{submitted.json()['task_id']}"
    seen = []
    for _ in range(12):
        body = (await clocked.get(task_url)).json()
        seen.append((body["status"], body["progress"]))
        clock.advance(1)
    assert seen[0] == ("queued", 0)
    assert seen[1] == ("queued", 0)
    assert seen[2] == ("in_progress", 20)
    assert seen[5] == ("in_progress", 50)
    assert seen[9] == ("in_progress", 90)
    assert seen[10] == ("succeeded", 100)
    assert seen[11] == ("succeeded", 100)


@pytest.mark.anyio
async def test_pending_marker(clocked: httpx.AsyncClient, clock: FakeClock) -> None:
    submitted = await clocked.post(
        "/images/generations", json={"prompt": "#pending", "wait_for_result": False}
    )
    task_url = f"/tasks/{submitted.json()['task_id']}"
    statuses = []
    for _ in range(11):
        statuses.append((await clocked.get(task_url)).json()["status"])
        clock.advance(1)
    assert statuses[:5] == ["pending"] * 5
    assert statuses[5:10] == ["in_progress"] * 5
    assert statuses[10] == "succeeded"


# -- signed URLs --------------------------------------------------------------------------------


def test_signed_url_checks(
    anon: httpx.Client, client: httpx.Client, instant: EmulatorServer
) -> None:
    task = finished_task(client, instant, submit(client, instant, prompt="signed"))
    good = task["result"]["data"][0]["url"]
    assert anon.get(instant.origin + good, headers=AUTH).status_code == 200  # a key is harmless
    tampered = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    forbidden = anon.get(instant.origin + tampered)
    assert_error(forbidden, 403, "invalid_signature", "invalid_request_error")
    task_id = task["id"]
    past = int(time.time() * 1000) - 1000
    expired_sig = instant.app_state.sign(task_id, 0, past)
    expired = anon.get(f"{instant.origin}/p/img/{task_id}/0?exp={past}&sig={expired_sig}")
    assert_error(expired, 410, "url_expired", "invalid_request_error")
    assert anon.get(instant.origin + good.replace("?exp=abc", "?exp=")).status_code == 200
    not_under_dialect = anon.get(instant.url("dimilinks") + good)
    assert not_under_dialect.status_code in (401, 404)


@pytest.mark.parametrize("style", ["absolute", "data"])
def test_result_url_styles(anon: httpx.Client, style: str) -> None:
    config = EmulatorConfig(task_duration=0, result_url_style=style)
    with EmulatorServer(config) as server, httpx.Client(headers=AUTH) as client:
        response = client.post(
            url(server, "/images/generations"), json={"prompt": "styles", "output_format": "webp"}
        )
        item = response.json()["data"][0]
        if style == "absolute":
            assert item["url"].startswith(server.origin + "/p/img/")
            content = anon.get(item["url"]).content
        else:
            prefix = "data:image/webp;base64,"
            assert item["url"].startswith(prefix)
            content = base64.b64decode(item["url"][len(prefix) :])
        assert image_size(content, "WEBP") == (1024, 1024)


# -- errors -------------------------------------------------------------------------------------


def test_auth_errors(
    anon: httpx.Client,
) -> None:
    with EmulatorServer(EmulatorConfig(api_key="sk-right")) as server:
        target = url(server, "/images/generations")
        missing = anon.post(target, json={"prompt": "x"})
        assert_error(missing, 401, "missing_api_key", "authentication_error")
        wrong = anon.post(target, json={"prompt": "x"}, headers={"Authorization": "Bearer no"})
        assert_error(wrong, 401, "invalid_api_key", "authentication_error")
        compat = anon.post(target + "?compat=apimart", json={"prompt": "x"})
        assert_error(compat, 401, 401, "authentication_error")
        ok = anon.post(
            target + "?async=true",
            json={"prompt": "x"},
            headers={"Authorization": "Bearer sk-right"},
        )
        assert ok.status_code == 200


@pytest.mark.parametrize(
    ("marker", "status", "type_"),
    [
        ("#error=402:insufficient_balance", 402, "payment_required"),
        ("#error=403:model_not_allowed", 403, "invalid_request_error"),
        ("#error=429:rate_limit_rpm", 429, "rate_limit_error"),
        ("#error=503:no_available_account", 503, "service_unavailable"),
        ("#error=500:internal_error", 500, "server_error"),
    ],
)
def test_error_marker(
    client: httpx.Client, instant: EmulatorServer, marker: str, status: int, type_: str
) -> None:
    response = client.post(url(instant, "/images/generations"), json={"prompt": f"x {marker}"})
    code = marker.split(":")[1]
    assert_error(response, status, code, type_)
    if status == 429:
        assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("code", "status", "type_"),
    [
        ("content_moderation", 400, "invalid_request_error"),
        ("poll_timeout", 502, "service_unavailable"),
    ],
)
def test_fail_marker_in_sync_mode(
    client: httpx.Client, instant: EmulatorServer, code: str, status: int, type_: str
) -> None:
    response = client.post(url(instant, "/images/generations"), json={"prompt": f"#fail={code}"})
    assert_error(response, status, code, type_)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"prompt": ""}, "invalid_request_error"),
        ({"prompt": "   "}, "invalid_request_error"),
        ({}, "invalid_request_error"),
        ({"prompt": "x", "size": "7:5"}, "invalid_request_error"),
        ({"prompt": "x", "size": "5000x100"}, "invalid_request_error"),
        ({"prompt": "x", "output_format": "gif"}, "invalid_request_error"),
        ({"prompt": "x", "n": "many"}, "invalid_request_error"),
        (
            {
                "prompt": "x",
                "image_urls": ["https://a.example/1.png"] * 1
                + [f"https://a.example/{i}.png" for i in range(2, 6)],
            },
            "invalid_reference_image",
        ),
        ({"prompt": "x", "image_urls": "blob:https://app.example/123"}, "invalid_reference_image"),
        ({"prompt": "x", "image_urls": ["not base64 !!"]}, "invalid_reference_image"),
        ({"prompt": "x", "image_urls": "data:image/png,rawbytes"}, "invalid_reference_image"),
        ({"prompt": "x", "image_urls": [{"nope": 1}]}, "invalid_reference_image"),
    ],
)
def test_bad_requests(
    client: httpx.Client, instant: EmulatorServer, body: dict[str, Any], code: str
) -> None:
    response = client.post(url(instant, "/images/generations?async=true"), json=body)
    assert_error(response, 400, code, "invalid_request_error")


def test_reference_image_aliases(client: httpx.Client, instant: EmulatorServer) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    bare = base64.b64encode(png_bytes(8, 8)).decode()
    response = client.post(
        url(instant, "/images/generations?async=true"),
        json={
            "prompt": "refs",
            "image_urls": {"url": "https://example.com/a.png"},
            "reference_images": [data_url],
            "input_images": [{"url": bare}, {"url": "https://example.com/a.png"}],
            "image": "http://example.com/b.png",
        },
    )
    assert response.status_code == 200, response.text
    task = instant.app_state.tasks[response.json()["task_id"]]
    kinds = [ref["kind"] for ref in task.extra["references"]]
    assert sorted(kinds) == ["base64", "data", "url", "url"]


@pytest.mark.anyio
async def test_reference_image_too_large(clocked: httpx.AsyncClient) -> None:
    big = base64.b64encode(bytes(20 * 1024 * 1024 + 10)).decode()
    response = await clocked.post(
        "/images/generations?async=true",
        json={"prompt": "big", "image_urls": [f"data:image/png;base64,{big}"]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "reference_image_too_large"


# -- edits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        ["image"],
        ["image[]", "image[]"],
        ["images", "images"],
        ["images[]"],
        ["image_1", "image_2", "mask"],
        ["image", "mask"],
    ],
)
def test_edits(
    anon: httpx.Client, client: httpx.Client, instant: EmulatorServer, fields: list[str]
) -> None:
    files = [(name, (f"{i}.png", png_bytes(), "image/png")) for i, name in enumerate(fields)]
    response = client.post(
        url(instant, "/images/edits?async=true"),  # edits are sync only: the flag is ignored
        data={"prompt": "edit", "model": "gpt-image-2", "size": "16:9", "resolution": "2k"},
        files=files,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    (item,) = body["data"]
    assert image_size(anon.get(instant.origin + item["url"]).content) == (2048, 1152)
    (record,) = [
        entry for entry in instant.app_state.requests[-3:] if entry["path"].endswith("/edits")
    ]
    form = record["form"]
    for name in set(fields):
        logged = form[name] if isinstance(form[name], list) else [form[name]]
        assert all(entry["content_type"] == "image/png" for entry in logged)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ([], "invalid_request_error"),
        (["mask"], "invalid_request_error"),
        (["image[]"] * 5, "invalid_reference_image"),
        (["image", "image_1", "image_2", "image_3", "mask"], "invalid_reference_image"),
    ],
)
def test_edit_errors(
    client: httpx.Client, instant: EmulatorServer, fields: list[str], code: str
) -> None:
    files = [(name, (f"{i}.png", b"x", "image/png")) for i, name in enumerate(fields)]
    files.append(("note", ("n.txt", b"x", "text/plain")))
    response = client.post(url(instant, "/images/edits"), data={"prompt": "edit"}, files=files)
    assert_error(response, 400, code, "invalid_request_error")


def test_edit_fail_marker(client: httpx.Client, instant: EmulatorServer) -> None:
    response = client.post(
        url(instant, "/images/edits"),
        data={"prompt": "#fail=download_failed"},
        files={"image": ("a.png", png_bytes(), "image/png")},
    )
    assert_error(response, 502, "download_failed", "service_unavailable")
