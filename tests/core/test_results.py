"""Results: URL and base64 images, lazy downloads, saving, sniffing, warnings, to_dict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import CREATED, b64png, images_body, open_client, png, router
from imagebridge import ImageBridgeError, NotFoundError, ServerError

pytestmark = pytest.mark.anyio

CDN = "https://cdn.example"
USAGE = {
    "input_tokens": 50,
    "output_tokens": 4160,
    "total_tokens": 4210,
    "input_tokens_details": {"text_tokens": 50, "image_tokens": 0},
}


def api_and_cdn(*items: dict[str, Any], usage: dict[str, Any] | None = None) -> Any:
    api = router("openai")
    api.post("/images/generations").respond(json=images_body(*items, usage=usage))
    return api


async def test_a_base64_result_needs_no_download(mode: str) -> None:
    api = api_and_cdn(
        {"b64_json": b64png(1024, 1536), "revised_prompt": "a calm red cube"}, usage=USAGE
    )
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("a red cube", size="1024x1536")
        (image,) = result.images
        assert image.url is None
        assert image.data == png(1024, 1536)
        assert await client.read(image) == png(1024, 1536)
    assert len(api.calls) == 1
    assert (image.media_type, image.width, image.height) == ("image/png", 1024, 1536)
    assert image.revised_prompt == "a calm red cube"
    assert result.provider == "openai"
    assert result.model == "gpt-image-1"
    assert result.created == CREATED
    assert result.task_id is None
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (50, 4160)
    assert result.usage.total_tokens == 4210
    assert result.usage.raw["input_tokens_details"] == {"text_tokens": 50, "image_tokens": 0}
    assert result.warnings == []
    assert len(result) == 1
    assert list(result) == [image]


async def test_a_url_result_is_downloaded_lazily_and_once(mode: str) -> None:
    api = api_and_cdn({"url": f"{CDN}/img/abc.jpg?sig=1"})
    download = api.get(f"{CDN}/img/abc.jpg").respond(content=png(640, 480))
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("a red cube", model="dall-e-2")
        (image,) = result.images
        assert download.call_count == 0
        assert (image.data, image.media_type, image.width) == (None, None, None)
        assert await client.read(image) == png(640, 480)
        assert await client.read(image) == png(640, 480)
    assert download.call_count == 1
    assert download.calls.last.request.url == f"{CDN}/img/abc.jpg?sig=1"
    # Sniffed from the bytes, not from the ".jpg" in the URL.
    assert (image.media_type, image.extension) == ("image/png", "png")
    assert (image.width, image.height) == (640, 480)


async def test_save_into_a_directory_streams_and_never_overwrites(
    mode: str, tmp_path: Path
) -> None:
    api = api_and_cdn({"url": f"{CDN}/a.jpg"})
    download = api.get(f"{CDN}/a.jpg").respond(content=png(3, 2))
    existing = tmp_path / f"openai-{CREATED}-0.png"
    existing.write_bytes(b"keep me")
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("a red cube", model="dall-e-2")
        first = await client.save(result.images[0], tmp_path)
        second = await client.save(result.images[0], tmp_path)
    assert existing.read_bytes() == b"keep me"
    assert first == tmp_path / f"openai-{CREATED}-0-1.png"
    assert second == tmp_path / f"openai-{CREATED}-0-2.png"
    assert first.read_bytes() == second.read_bytes() == png(3, 2)
    # Streamed to disk: the image did not keep the bytes in memory.
    assert result.images[0].data is None
    assert download.call_count == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [existing.name, first.name, second.name]
    )


async def test_save_to_a_file_path(mode: str, tmp_path: Path) -> None:
    api = api_and_cdn({"url": f"{CDN}/a.png"}, {"b64_json": b64png(2, 2)})
    api.get(f"{CDN}/a.png").respond(content=png(1, 1))
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("two cubes", model="dall-e-2", n=2)
        url_file = await client.save(result.images[0], tmp_path / "deep" / "one.img")
        inline_file = await client.save(result.images[1], tmp_path / "two.png")
        saved = await client.save(result, tmp_path / "all")
    assert url_file == tmp_path / "deep" / "one.img"
    assert url_file.read_bytes() == png(1, 1)
    assert inline_file.read_bytes() == png(2, 2)
    assert [p.name for p in saved] == [f"openai-{CREATED}-0.png", f"openai-{CREATED}-1.png"]
    assert [p.read_bytes() for p in saved] == [png(1, 1), png(2, 2)]


async def test_a_failed_download_is_a_provider_error_and_leaves_no_file(
    mode: str, tmp_path: Path
) -> None:
    api = api_and_cdn({"url": f"{CDN}/gone.png"})
    api.get(f"{CDN}/gone.png").respond(404, text="expired")
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("a red cube", model="dall-e-2")
        with pytest.raises(NotFoundError, match="downloading the image failed") as info:
            await client.save(result.images[0], tmp_path)
        with pytest.raises(NotFoundError):
            await client.read(result.images[0])
    assert info.value.status_code == 404
    assert list(tmp_path.iterdir()) == []


async def test_size_mismatch_is_warned_for_inline_images(mode: str) -> None:
    api = api_and_cdn({"b64_json": b64png(512, 512)})
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("a red cube", size="1024x1024")
    (warning,) = result.warnings
    assert warning.code == "size_mismatch"
    assert "512x512" in warning.message
    assert "1024x1024" in warning.message


async def test_size_mismatch_is_warned_once_a_url_image_is_read(mode: str) -> None:
    api = api_and_cdn({"url": f"{CDN}/a.png"})
    api.get(f"{CDN}/a.png").respond(content=png(1024, 1024))
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("a red cube", model="dall-e-3", size="1792x1024")
        assert result.warnings == []
        await client.read(result.images[0])
        await client.read(result.images[0])
    assert [w.code for w in result.warnings] == ["size_mismatch"]


async def test_no_size_mismatch_when_the_size_matches(mode: str, tmp_path: Path) -> None:
    api = api_and_cdn({"url": f"{CDN}/a.png"})
    api.get(f"{CDN}/a.png").respond(content=png(1792, 1024))
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("a red cube", model="dall-e-3", size="1792x1024")
        await client.save(result.images[0], tmp_path)
    assert result.warnings == []


async def test_a_data_url_in_the_url_field_is_the_image_itself(mode: str) -> None:
    api = api_and_cdn({"url": "data:image/png;base64," + b64png(7, 5)})
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("a red cube")
    (image,) = result.images
    assert image.url is None
    assert (image.width, image.height) == (7, 5)
    assert len(api.calls) == 1


async def test_usage_of_split_calls_is_summed(mode: str) -> None:
    api = router("openai")
    api.post("/images/generations").mock(
        side_effect=[
            httpx.Response(200, json=images_body({"b64_json": b64png()}, usage=USAGE))
            for _ in range(2)
        ]
    )
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("two", model="dall-e-3", n=2)
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.total_tokens) == (100, 8420)


async def test_images_from_one_client_kind_refuse_the_other_kind_of_read(mode: str) -> None:
    api = api_and_cdn({"url": f"{CDN}/a.png"})
    api.get(f"{CDN}/a.png").respond(content=png())
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("a red cube", model="dall-e-2")
        image = result.images[0]
        if mode == "sync":
            with pytest.raises(ImageBridgeError, match=r"came from an ImageClient.*image\.read"):
                await image.aread()
            with pytest.raises(ImageBridgeError, match="came from an ImageClient"):
                await image.asave(Path("unused"))
        else:
            with pytest.raises(ImageBridgeError, match=r"AsyncImageClient.*await image\.aread"):
                image.read()
            with pytest.raises(ImageBridgeError, match="came from an AsyncImageClient"):
                image.save(Path("unused"))
    assert len(api.calls) == 1


async def test_to_dict(mode: str) -> None:
    api = api_and_cdn(
        {"url": f"{CDN}/a.png", "revised_prompt": "rp"},
        {"b64_json": b64png(3, 4)},
        usage={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    )
    async with open_client(mode, "openai", api) as client:
        result = await client.generate("x", model="flux-9", n=2)
    assert result.to_dict() == {
        "provider": "openai",
        "model": "flux-9",
        "task_id": None,
        "created": CREATED,
        "images": [
            {"index": 0, "url": f"{CDN}/a.png", "revised_prompt": "rp"},
            {"index": 1, "media_type": "image/png", "width": 3, "height": 4},
        ],
        "warnings": [{"code": "unknown_model", "message": result.warnings[0].message}],
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    }
    assert b64png(3, 4) not in str(result.raw)


async def test_a_split_request_that_fails_part_way_keeps_the_paid_images(mode: str) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(200, json=images_body({"b64_json": b64png()}))
        return httpx.Response(503, json={"error": {"message": "overloaded"}})

    async with open_client(mode, "openai", handler) as client:
        with pytest.raises(ServerError) as info:
            await client.generate("two", model="dall-e-3", n=2)
    assert len(calls) == 2
    partial = info.value.partial
    assert partial is not None
    assert len(partial.images) == 1
    assert partial.images[0].data == png()
