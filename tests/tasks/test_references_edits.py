"""Reference images on dimilinks generations (image_urls) and multipart edits: what goes on the
wire, and what is refused before any HTTP request."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
import respx

from imagebridge import InvalidRequestError

from .fakes import (
    API_KEY,
    BASE,
    ORIGIN,
    SIGNED,
    FakeClock,
    body_of,
    dimilinks_routes,
    form_parts,
    open_client,
    png,
    succeeded,
)

pytestmark = pytest.mark.anyio

EDITS = f"{BASE}/images/edits"
MB = 1024 * 1024


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


@pytest.fixture
def ref_png(tmp_path: Path) -> Path:
    path = tmp_path / "ref.png"
    path.write_bytes(png(32, 32, (1, 2, 3)))
    return path


async def sent_references(mode: str, api: respx.Router, clock: FakeClock, refs: list) -> list:
    submit, _, _ = dimilinks_routes(api, succeeded())
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        await client.generate("a cat", reference_images=refs)
    return list(body_of(submit.calls.last.request)["image_urls"])


async def test_paths_and_bytes_become_data_urls(
    mode: str, api: respx.Router, clock: FakeClock, ref_png: Path
) -> None:
    raw = png(8, 4, (9, 9, 9))
    sent = await sent_references(mode, api, clock, [ref_png, raw])
    assert sent == [data_url(ref_png.read_bytes()), data_url(raw)]


async def test_urls_and_data_urls_are_sent_as_given(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    refs = ["https://example.com/a.png?sig=x%2By", data_url(png(4, 4)), "http://example.com/b.jpg"]
    assert await sent_references(mode, api, clock, refs) == refs


async def test_bare_base64_is_sent_as_given(mode: str, api: respx.Router, clock: FakeClock) -> None:
    bare = base64.b64encode(png(4, 4)).decode()
    assert await sent_references(mode, api, clock, [bare]) == [bare]


async def test_four_references_is_the_limit(mode: str, api: respx.Router, clock: FakeClock) -> None:
    refs = [f"https://example.com/{i}.png" for i in range(4)]
    assert await sent_references(mode, api, clock, refs) == refs


async def test_five_references_are_refused_before_any_request(mode: str, api: respx.Router) -> None:
    refs = [f"https://example.com/{i}.png" for i in range(5)]
    async with open_client(mode, "dimilinks", api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate("a cat", reference_images=refs)
    assert len(api.calls) == 0
    assert info.value.field == "reference_images"
    assert "reference_images" in str(info.value)
    assert "4" in str(info.value)


async def test_blob_url_is_refused_naming_the_item(mode: str, api: respx.Router) -> None:
    refs = ["https://example.com/ok.png", "blob:https://app.example.com/5f0c-77aa"]
    async with open_client(mode, "dimilinks", api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate("a cat", reference_images=refs)
    assert len(api.calls) == 0
    assert info.value.field == "reference_images"
    assert "item 1" in str(info.value)
    assert "blob:" in str(info.value)


async def test_oversized_file_is_refused_naming_the_item(
    mode: str, api: respx.Router, tmp_path: Path, ref_png: Path
) -> None:
    big = tmp_path / "huge.png"
    with big.open("wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")  # local files must start like an image
        handle.truncate(21 * MB)  # sparse: 21 MB without writing them
    async with open_client(mode, "dimilinks", api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate("a cat", reference_images=[ref_png, big])
    assert len(api.calls) == 0
    assert info.value.field == "reference_images[1]"
    assert str(big) in str(info.value)
    assert str(21 * MB) in str(info.value)


async def test_oversized_bytes_are_refused(mode: str, api: respx.Router) -> None:
    async with open_client(mode, "dimilinks", api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate("a cat", reference_images=[b"\x89PNG" + bytes(21 * MB)])
    assert len(api.calls) == 0
    assert info.value.field == "reference_images[0]"


# -- edits ----------------------------------------------------------------------------------------
def edit_route(api: respx.Router) -> respx.Route:
    answer = {"created": 1777080000, "task_id": "img_e", "data": [{"url": SIGNED, "file_id": "f"}]}
    return api.post(EDITS).mock(return_value=httpx.Response(200, json=answer))


async def test_edit_with_one_file(
    mode: str, api: respx.Router, clock: FakeClock, ref_png: Path
) -> None:
    route = edit_route(api)
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.edit(
            "make it retro", [ref_png], size="16:9", resolution="2k", output_format="png"
        )
        [headers] = client.headers_of(EDITS)
    assert headers["authorization"] == f"Bearer {API_KEY}"
    request = route.calls.last.request
    assert dict(request.url.params) == {}
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = form_parts(request)
    fields = {p.name: p.data.decode() for p in parts if p.filename is None}
    assert fields == {
        "model": "gpt-image-2",
        "prompt": "make it retro",
        "n": "1",
        "size": "16:9",
        "output_format": "png",
        "resolution": "2k",
    }
    [upload] = [p for p in parts if p.filename is not None]
    assert (upload.name, upload.filename, upload.content_type) == ("image", "ref.png", "image/png")
    assert upload.data == ref_png.read_bytes()
    assert (len(api.calls), clock.sleeps) == (1, [])  # edits are synchronous
    assert result.task_ids == ["img_e"]
    assert result.images[0].url == ORIGIN + SIGNED


async def test_edit_with_several_files_and_a_mask(
    mode: str, api: respx.Router, clock: FakeClock, ref_png: Path
) -> None:
    route = edit_route(api)
    second = png(16, 16, (5, 5, 5))
    mask = png(32, 32, (0, 0, 0))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        await client.edit(
            "merge them",
            [ref_png, second, data_url(png(2, 2))],
            mask=mask,
            n=2,
            size="1:1",
            resolution="4k",
            output_format="webp",
            output_compression=80,
            background="opaque",
            moderation="low",
            user="u-1",
        )
    parts = form_parts(route.calls.last.request)
    fields = {p.name: p.data.decode() for p in parts if p.filename is None}
    assert fields == {
        "model": "gpt-image-2",
        "prompt": "merge them",
        "n": "2",
        "size": "1:1",
        "resolution": "4k",
        "output_format": "webp",
        "output_compression": "80",
        "background": "opaque",
        "moderation": "low",
        "user": "u-1",
    }
    files = [(p.name, p.content_type, p.data) for p in parts if p.filename is not None]
    assert files == [
        ("image[]", "image/png", ref_png.read_bytes()),
        ("image[]", "image/png", second),
        ("image[]", "image/png", png(2, 2)),
        ("mask", "image/png", mask),
    ]


async def test_edit_refuses_remote_urls(mode: str, api: respx.Router) -> None:
    async with open_client(mode, "dimilinks", api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.edit("x", ["https://example.com/a.png"])
    assert len(api.calls) == 0
    assert info.value.field == "images[0]"


async def test_edit_refuses_five_images(mode: str, api: respx.Router) -> None:
    async with open_client(mode, "dimilinks", api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.edit("x", [png(2, 2)] * 5)
    assert len(api.calls) == 0
    assert info.value.field == "images"
