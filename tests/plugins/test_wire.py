"""What openai and geeknow put on the wire: exact JSON bodies and multipart edits."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import (
    API_KEY,
    b64png,
    form_fields,
    form_parts,
    images_body,
    open_client,
    png,
    router,
    sent_json,
)
from imagebridge import InvalidRequestError

pytestmark = pytest.mark.anyio


def answer(request: httpx.Request) -> httpx.Response:
    # Credentials are removed from the request once it is sent: note them while in flight.
    request.extensions["sent_headers"] = httpx.Headers(request.headers)
    return httpx.Response(200, json=images_body())


async def generation(mode: str, provider: str, prompt: str = "a cat", **fields: Any) -> Any:
    """The request sent for one generation."""
    api = router(provider)
    route = api.post("/images/generations").mock(side_effect=answer)
    async with open_client(mode, provider, api) as client:
        await client.generate(prompt, **fields)
    assert route.call_count == 1
    return route.calls.last.request


async def edit_request(mode: str, provider: str, images: Any, **fields: Any) -> Any:
    api = router(provider)
    route = api.post("/images/edits").mock(side_effect=answer)
    async with open_client(mode, provider, api) as client:
        await client.edit("make it blue", images, **fields)
    assert route.call_count == 1
    return route.calls.last.request


@pytest.mark.parametrize("provider", ["openai", "geeknow"])
async def test_the_model_is_always_sent(mode: str, provider: str) -> None:
    request = await generation(mode, provider)
    assert sent_json(request) == {"model": "gpt-image-1", "prompt": "a cat", "n": 1}
    assert request.extensions["sent_headers"]["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"


async def test_openai_gpt_image_body_is_exact(mode: str) -> None:
    request = await generation(
        mode,
        "openai",
        model="gpt-image-1.5",
        n=2,
        size="1536x1024",
        quality="high",
        output_format="webp",
        output_compression=80,
        background="transparent",
        moderation="low",
        user="user-7",
    )
    assert sent_json(request) == {
        "model": "gpt-image-1.5",
        "prompt": "a cat",
        "n": 2,
        "size": "1536x1024",
        "quality": "high",
        "output_format": "webp",
        "output_compression": 80,
        "background": "transparent",
        "moderation": "low",
        "user": "user-7",
    }


async def test_openai_dalle_takes_response_format(mode: str) -> None:
    request = await generation(
        mode,
        "openai",
        model="dall-e-3",
        size="1792x1024",
        quality="hd",
        style="vivid",
        provider_options={"openai": {"response_format": "url"}},
    )
    assert sent_json(request) == {
        "model": "dall-e-3",
        "prompt": "a cat",
        "n": 1,
        "size": "1792x1024",
        "quality": "hd",
        "style": "vivid",
        "response_format": "url",
    }


async def test_openai_gpt_image_rejects_response_format(mode: str) -> None:
    api = router("openai")
    route = api.post("/images/generations").respond(json=images_body())
    async with open_client(mode, "openai", api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate(
                "a cat",
                model="gpt-image-1",
                provider_options={"openai": {"response_format": "url"}},
            )
    assert route.call_count == 0
    (problem,) = info.value.problems
    assert (problem.field, problem.value) == ("provider_options.openai.response_format", "url")
    assert "dall-e" in problem.reason


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-2", "dall-e-2"])
async def test_geeknow_takes_response_format_for_any_model(mode: str, model: str) -> None:
    request = await generation(
        mode, "geeknow", model=model, provider_options={"geeknow": {"response_format": "b64_json"}}
    )
    assert sent_json(request) == {
        "model": model,
        "prompt": "a cat",
        "n": 1,
        "response_format": "b64_json",
    }


@pytest.mark.parametrize("watermark", [False, True])
async def test_geeknow_watermark_is_sent_when_given(mode: str, watermark: bool) -> None:
    request = await generation(
        mode, "geeknow", provider_options={"geeknow": {"watermark": watermark}}
    )
    body = sent_json(request)
    assert body["watermark"] is watermark
    assert body == {"model": "gpt-image-1", "prompt": "a cat", "n": 1, "watermark": watermark}


async def test_geeknow_watermark_is_absent_when_not_given(mode: str) -> None:
    body = sent_json(await generation(mode, "geeknow", provider_options={"geeknow": {}}))
    assert "watermark" not in body


async def test_geeknow_passes_style_through_for_gpt_image(mode: str) -> None:
    body = sent_json(await generation(mode, "geeknow", model="gpt-image-1", style="anime"))
    assert body == {"model": "gpt-image-1", "prompt": "a cat", "n": 1, "style": "anime"}


async def test_an_edit_with_one_image_sends_field_image(mode: str) -> None:
    image = png(4, 3)
    request = await edit_request(
        mode, "openai", [image], size="1024x1536", quality="low", output_format="png"
    )
    assert request.url == "https://api.openai.com/v1/images/edits"
    assert request.extensions["sent_headers"]["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert form_fields(request) == {
        "model": "gpt-image-1",
        "prompt": "make it blue",
        "n": "1",
        "size": "1024x1536",
        "quality": "low",
        "output_format": "png",
    }
    (file,) = [p for p in form_parts(request) if p.filename is not None]
    assert (file.name, file.content_type, file.data) == ("image", "image/png", image)
    assert file.filename is not None
    assert file.filename.endswith(".png")


async def test_an_edit_with_several_images_and_a_mask(mode: str, tmp_path: Path) -> None:
    path = tmp_path / "first.png"
    path.write_bytes(png(1, 1))
    data_url = "data:image/png;base64," + b64png(2, 2)
    bare = b64png(3, 3)
    # CreateImageEditRequest.mask: the size of the first image (1x1 here).
    mask = png(1, 1)
    request = await edit_request(mode, "openai", [path, png(4, 4), data_url, bare], mask=mask)
    files = [p for p in form_parts(request) if p.filename is not None]
    assert [p.name for p in files] == ["image[]"] * 4 + ["mask"]
    assert [p.data for p in files] == [
        png(1, 1),
        png(4, 4),
        base64.b64decode(data_url.partition(",")[2]),
        base64.b64decode(bare),
        mask,
    ]
    assert files[0].filename == "first.png"
    assert all(p.content_type == "image/png" for p in files)
    assert "image" not in {p.name for p in form_parts(request)}


async def test_geeknow_edit_sends_its_options_as_text_fields(mode: str) -> None:
    request = await edit_request(
        mode,
        "geeknow",
        [png()],
        model="gpt-image-1",
        provider_options={"geeknow": {"watermark": False, "response_format": "url"}},
    )
    assert form_fields(request) == {
        "model": "gpt-image-1",
        "prompt": "make it blue",
        "n": "1",
        "watermark": "false",
        "response_format": "url",
    }


async def test_geeknow_edit_does_not_drop_style(mode: str) -> None:
    api = router("geeknow")
    route = api.post("/images/edits").respond(json=images_body())
    async with open_client(mode, "geeknow", api) as client:
        try:
            await client.edit("make it blue", [png()], model="gpt-image-1", style="anime")
        except InvalidRequestError:
            assert route.call_count == 0  # rejected up front: also acceptable
            return
    assert form_fields(route.calls.last.request).get("style") == "anime"
