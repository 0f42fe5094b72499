"""Task results: relative signed URLs resolved against the API origin, downloads without the
API key off-origin, data: URLs, read()/save(), media type and size, size_mismatch warnings."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
import respx

from imagebridge import ProviderError

from .fakes import (
    BASE,
    ORIGIN,
    SIGNED,
    TASK,
    FakeClock,
    dimilinks_routes,
    open_client,
    pixel_size,
    png,
    succeeded,
)

pytestmark = pytest.mark.anyio


async def test_relative_url_resolves_against_the_origin(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    picture = png(64, 36)
    _, _, download = dimilinks_routes(api, succeeded(SIGNED), image=picture)
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat")
        [image] = result.images
        assert image.url == "https://dimilinks.test/p/img/img_x/0?exp=1777166400000&sig=abc"
        assert image.file_id == "file_0"
        assert (image.data, image.media_type, image.width) == (None, None, None)
        assert download.call_count == 0  # nothing is downloaded until asked
        assert await client.read(image) == picture
        assert await client.read(image) == picture
        # The signed link needs no key: the key is not sent, even to the API's own origin.
        [headers] = client.headers_of(f"{ORIGIN}/p/img/")
        assert "authorization" not in headers
    assert download.call_count == 1
    assert image.media_type == "image/png"
    assert (image.width, image.height) == (64, 36)
    assert image.extension == "png"


@pytest.mark.parametrize(
    "query",
    [
        "exp=1777166400000&sig=abc",
        "exp=1777166400000&sig=ab%2Bc%2F%3D%3D",
        "sig=Zm9v+YmFy&exp=1777166400000&x=",
    ],
)
async def test_signed_query_is_kept_byte_for_byte(
    mode: str, api: respx.Router, clock: FakeClock, query: str
) -> None:
    _, _, download = dimilinks_routes(api, succeeded(f"/p/img/{TASK}/0?{query}"))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        [image] = (await client.generate("a cat")).images
        assert image.url == f"{ORIGIN}/p/img/{TASK}/0?{query}"
        await client.read(image)
    assert download.calls.last.request.url.raw_path == f"/p/img/{TASK}/0?{query}".encode()


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://gw.test/dimilinks/v1", "https://gw.test/p/img/img_x/0?exp=1&sig=s"),
        ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/p/img/img_x/0?exp=1&sig=s"),
    ],
)
async def test_origin_of_a_base_url_with_a_path_or_port(
    mode: str, api: respx.Router, clock: FakeClock, base_url: str, expected: str
) -> None:
    root = base_url.rstrip("/")
    api.post(f"{root}/images/generations").mock(
        return_value=httpx.Response(200, json={"task_id": TASK, "data": []})
    )
    api.get(f"{root}/tasks/{TASK}").mock(return_value=succeeded("/p/img/img_x/0?exp=1&sig=s"))
    async with open_client(mode, "dimilinks", api, clock=clock, base_url=base_url) as client:
        result = await client.generate("a cat")
    assert result.images[0].url == expected


async def test_absolute_url_on_another_host_gets_no_api_key(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    picture = png(16, 16)
    cdn = "https://cdn.example.com/i/img_x.png?token=t1"
    dimilinks_routes(api, succeeded(cdn))
    download = api.get("https://cdn.example.com/i/img_x.png").mock(
        return_value=httpx.Response(200, content=picture)
    )
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        [image] = (await client.generate("a cat")).images
        assert image.url == cdn
        assert await client.read(image) == picture
        [headers] = client.headers_of("https://cdn.example.com/")
        assert "authorization" not in headers
        # ...while every request to the API itself carried it.
        assert all("authorization" in h for h in client.headers_of(BASE))
    assert download.call_count == 1


async def test_data_url_needs_no_request(mode: str, api: respx.Router, clock: FakeClock) -> None:
    picture = png(24, 12)
    data_url = "data:image/png;base64," + base64.b64encode(picture).decode()
    _, poll, download = dimilinks_routes(api, succeeded(data_url))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        [image] = (await client.generate("a cat")).images
        calls = len(api.calls)
        assert image.url is None
        assert image.data == picture
        assert (image.width, image.height) == (24, 12)
        assert image.media_type == "image/png"
        assert await client.read(image) == picture
    assert len(api.calls) == calls == 1 + poll.call_count
    assert download.call_count == 0


async def test_save_to_a_file_and_to_a_directory(
    mode: str, api: respx.Router, clock: FakeClock, tmp_path: Path
) -> None:
    picture = png(40, 30)
    dimilinks_routes(api, succeeded(SIGNED), image=picture)
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat")
        [image] = result.images
        target = await client.save(image, tmp_path / "out" / "cat.png")
        assert target == tmp_path / "out" / "cat.png"
        assert target.read_bytes() == picture
        assert image.path == target
        assert (image.width, image.height) == (40, 30)
        assert image.media_type == "image/png"
        [named] = await client.save(result, tmp_path / "all")
    assert named == tmp_path / "all" / f"{TASK}-0.png"
    assert named.read_bytes() == picture
    assert not list(tmp_path.glob("**/*.part"))


async def test_size_mismatch_is_warned_after_reading(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    dimilinks_routes(api, succeeded(SIGNED), image=png(1024, 1024))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat", size="16:9", resolution="2k")
        assert [w.code for w in result.warnings] == []
        data = await client.read(result.images[0])
    assert pixel_size(data) == (1024, 1024)
    [warning] = result.warnings
    assert warning.code == "size_mismatch"
    assert warning.field == "size"
    assert warning.message == "image 0 is 1024x1024, not the 2048x1152 requested"


async def test_size_mismatch_is_warned_after_a_streamed_save(
    mode: str, api: respx.Router, clock: FakeClock, tmp_path: Path
) -> None:
    dimilinks_routes(api, succeeded(SIGNED), image=png(1024, 1024))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat", size="16:9", resolution="2k")
        await client.save(result, tmp_path)
    assert [w.code for w in result.warnings] == ["size_mismatch"]


async def test_expected_size_gives_no_warning(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    dimilinks_routes(api, succeeded(SIGNED), image=png(2048, 1152))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat", size="16:9", resolution="2k")
        await client.read(result.images[0])
    assert result.warnings == []
    assert (result.images[0].width, result.images[0].height) == (2048, 1152)


async def test_failed_download_is_a_provider_error(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    _, _, download = dimilinks_routes(api, succeeded(SIGNED))
    expired = {"error": {"code": "url_expired", "message": "this image URL has expired"}}
    download.mock(return_value=httpx.Response(410, json=expired))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        [image] = (await client.generate("a cat")).images
        with pytest.raises(ProviderError) as info:
            await client.read(image)
    assert info.value.status_code == 410
    assert info.value.code == "url_expired"
    assert "downloading the image failed" in str(info.value)
