"""Rule 7 of issue 10: absurd results are not trusted.

A loopback server answers ``n=1`` with 10,000 images: one is kept, with an ``extra_images``
warning, and saving downloads one image. Result URLs with another scheme than http, https or
data, and link-local or cloud-metadata addresses in any spelling, are a ServerError
(``invalid_result_url``) when the result is parsed: nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from helpers import b64png, png
from imagebridge import PollPolicy, ServerError, TaskHandle

from ._loopback import Bridge, Loopback, open_client

pytestmark = pytest.mark.anyio

TASK = "task-absurd-1"
MANY = 10_000
FIELDS: dict[str, dict[str, Any]] = {
    "openai": {"model": "dall-e-2", "size": "256x256"},
    "dimilinks": {},
    "apimart": {},
}

BAD_SCHEMES = [
    "file:///etc/passwd",
    "ftp://example.com/image.png",
    "gopher://example.com/_image",
    "javascript:alert(1)",
    "FILE:///etc/passwd",
]
METADATA = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://2852039166/latest/meta-data/",
    "http://0xa9fea9fe/latest/meta-data/",
    "http://0251.0376.0251.0376/latest/meta-data/",
    "http://169.254.43518/latest/meta-data/",
    "http://0xA9.0xFE.0xA9.0xFE/",
    "http://169.254.169.254./",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[fe80::1]/image.png",
    "http://[fe80::a9fe:a9fe%25eth0]/image.png",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "https://169.254.170.2/v2/credentials",
    "http://metadata.google.internal/computeMetadata/v1/",
]


def result_server(provider: str, urls: list[str] | None = None) -> Loopback:
    """``provider`` answers with ``urls`` as its images (default: 10,000 links to itself)."""

    async def answer(request: Request) -> Response:
        origin = str(request.base_url).rstrip("/")
        links = urls if urls is not None else [f"{origin}/img/{i}.png" for i in range(MANY)]
        if request.url.path.startswith("/img/"):
            return Response(png(4, 4), media_type="image/png")
        if provider == "openai":
            return JSONResponse({"created": 1, "data": [{"url": u} for u in links]})
        if provider == "dimilinks" and request.method == "POST":
            return JSONResponse({"task_id": TASK, "status": "queued", "data": []})
        if provider == "dimilinks":
            result = {"created": 1, "data": [{"url": u} for u in links]}
            return JSONResponse({"id": TASK, "status": "succeeded", "result": result})
        if request.method == "POST":
            return JSONResponse({"code": 200, "data": [{"status": "submitted", "task_id": TASK}]})
        data = {"id": TASK, "status": "completed", "result": {"images": [{"url": links}]}}
        return JSONResponse({"code": 200, "data": data})

    return Loopback(answer)


def client_of(mode: str, provider: str, server: Loopback, **options: Any) -> Any:
    options.setdefault("poll_policy", PollPolicy(interval=0.02))
    return open_client(mode, provider, server.url("/v1"), **options)


@pytest.mark.parametrize("provider", ["openai", "dimilinks", "apimart"])
async def test_ten_thousand_images_for_one(mode: str, provider: str, tmp_path: Path) -> None:
    with result_server(provider) as server:
        async with client_of(mode, provider, server) as client:
            result = await client.generate(n=1, **FIELDS[provider])
            assert len(result.images) == 1
            [warning] = [w for w in result.warnings if w.code == "extra_images"]
            assert "10000 came back" in warning.message
            assert "9999 extra were dropped" in warning.message
            paths = await client.save(result, tmp_path)
        downloads = server.requests("GET", "/img/")
    assert len(paths) == 1
    assert len(downloads) == 1
    assert [p.name for p in tmp_path.iterdir()] == [paths[0].name]


async def test_inline_images_beyond_n_are_dropped(mode: str) -> None:
    async def answer(request: Request) -> Response:
        return JSONResponse({"created": 1, "data": [{"b64_json": b64png(2, 2)}] * 50})

    with Loopback(answer) as server:
        async with open_client(mode, "openai", server.url("/v1")) as client:
            result = await client.generate(n=2, model="dall-e-2", size="256x256")
    assert len(result.images) == 2
    assert [w.code for w in result.warnings].count("extra_images") == 1


async def test_a_task_waited_for_by_id_keeps_what_one_task_makes(mode: str) -> None:
    """``wait("id")`` does not know the task's n: it keeps at most the model's images per
    task (4 for gpt-image-2 on dimilinks), never the 10,000 the server lists."""
    with result_server("dimilinks") as server:
        async with client_of(mode, "dimilinks", server) as client:
            result = await client.wait(TASK)
            handle = TaskHandle(provider="dimilinks", base_url=server.url("/v1"), task_id=TASK, n=2)
            resumed = await client.wait(handle)
    assert len(result.images) == 4
    assert any("at most 4 per task" in w.message for w in result.warnings)
    assert len(resumed.images) == 2
    assert server.requests("GET", "/img/") == []


async def refused(bridge: Bridge, provider: str) -> ServerError:
    with pytest.raises(ServerError) as info:
        await bridge.generate(**FIELDS[provider])
    return info.value


def only_api_requests(server: Loopback) -> bool:
    """Nothing but the submit (and polls) reached the server: no download was tried."""
    return all(seen.path.startswith("/v1/") for seen in server.requests())


@pytest.mark.parametrize("provider", ["dimilinks", "apimart"])
@pytest.mark.parametrize("url", [BAD_SCHEMES[0], BAD_SCHEMES[3], METADATA[1], METADATA[7]])
async def test_a_task_result_url_that_may_not_be_fetched(
    mode: str, provider: str, url: str
) -> None:
    with result_server(provider, [url]) as server:
        async with client_of(mode, provider, server) as client:
            error = await refused(client, provider)
        assert only_api_requests(server)
    assert error.code == "invalid_result_url"
    assert error.task_id == TASK


@pytest.mark.parametrize("url", BAD_SCHEMES)
async def test_a_bad_scheme_says_what_is_allowed(mode: str, url: str) -> None:
    with result_server("openai", [url]) as server:
        async with client_of(mode, "openai", server) as client:
            error = await refused(client, "openai")
        assert only_api_requests(server)
    assert error.code == "invalid_result_url"
    assert "only http, https and data URLs are accepted" in error.message
    assert url.partition(":")[0].lower() in error.message


@pytest.mark.parametrize("url", METADATA)
async def test_a_metadata_address_says_how_to_allow_it(mode: str, url: str) -> None:
    with result_server("openai", [url]) as server:
        async with client_of(mode, "openai", server) as client:
            error = await refused(client, "openai")
            assert only_api_requests(server)
            assert error.code == "invalid_result_url"
        async with client_of(mode, "openai", server, allow_link_local_urls=True) as allowed:
            result = await allowed.generate(**FIELDS["openai"])
            assert len(result.images) == 1  # allowed: kept (and not fetched here)
    assert "link-local or cloud-metadata" in error.message
    assert "allow_link_local_urls=True" in error.message


async def test_a_signed_query_string_is_not_shown(mode: str) -> None:
    url = "http://169.254.169.254/img.png?sig=SECRET-SIGNATURE&exp=1"
    with result_server("openai", [url]) as server:
        async with client_of(mode, "openai", server) as client:
            error = await refused(client, "openai")
    assert "SECRET-SIGNATURE" not in str(error)
    assert "169.254.169.254/img.png" in str(error)


async def test_data_urls_and_the_apis_own_origin_are_accepted(mode: str) -> None:
    async def answer(request: Request) -> Response:
        if request.url.path.startswith("/img/"):
            return Response(png(3, 3), media_type="image/png")
        items = [{"url": f"data:image/png;base64,{b64png(3, 3)}"}, {"url": "/img/0.png"}]
        return JSONResponse({"created": 1, "data": items})

    with Loopback(answer) as server:
        async with open_client(mode, "openai", server.url("/v1")) as client:
            result = await client.generate(n=2, model="dall-e-2", size="256x256")
            assert result.images[1].url == server.url("/img/0.png")
            if mode == "sync":
                sizes = [(image.read(), image.width) for image in result.images]
            else:
                sizes = [(await image.aread(), image.width) for image in result.images]
    assert [width for _, width in sizes] == [3, 3]
