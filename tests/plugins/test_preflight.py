"""Pre-flight against the declared capabilities of openai, geeknow and the dall-e rules.

A rejected request never reaches the network: every rejection asserts zero HTTP requests.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from helpers import b64png, images_body, open_client, png, router, sent_json
from imagebridge import InvalidRequestError

pytestmark = pytest.mark.anyio

BOTH = pytest.mark.parametrize("provider", ["openai", "geeknow"])


async def rejected(mode: str, provider: str, **fields: Any) -> InvalidRequestError:
    api = router(provider)
    route = api.post("/images/generations").respond(json=images_body())
    async with open_client(mode, provider, api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate(fields.pop("prompt", "a lighthouse"), **fields)
    assert route.call_count == 0
    assert len(api.calls) == 0
    assert info.value.provider == provider
    return info.value


async def accepted(mode: str, provider: str, **fields: Any) -> tuple[dict[str, Any], Any]:
    """The JSON body sent for a generation, and the result."""
    api = router(provider)
    route = api.post("/images/generations").mock(side_effect=fitting_image)
    async with open_client(mode, provider, api) as client:
        result = await client.generate(fields.pop("prompt", "a lighthouse"), **fields)
    assert route.call_count == 1
    return sent_json(route), result


def fitting_image(request: httpx.Request) -> httpx.Response:
    """An image of the size the request asked for (1x1 when it named none)."""
    width, _, height = str(sent_json(request).get("size", "1x1")).partition("x")
    size = (int(width), int(height)) if height else (1, 1)
    return httpx.Response(200, json=images_body({"b64_json": b64png(*size)}))


def codes(result: Any) -> list[str]:
    return [w.code for w in result.warnings]


@BOTH
async def test_dalle3_rejects_512_listing_the_allowed_sizes(mode: str, provider: str) -> None:
    error = await rejected(mode, provider, model="dall-e-3", size="512x512")
    (problem,) = error.problems
    assert (problem.field, problem.value) == ("size", "512x512")
    assert "dall-e-3" in problem.reason
    for size in ("1024x1024", "1792x1024", "1024x1792"):
        assert size in str(error)


@BOTH
async def test_dalle2_accepts_512(mode: str, provider: str) -> None:
    body, _ = await accepted(mode, provider, model="dall-e-2", size="512x512")
    assert body["size"] == "512x512"


@BOTH
async def test_dalle3_n3_is_split_into_three_calls_of_one(mode: str, provider: str) -> None:
    api = router(provider)
    route = api.post("/images/generations").mock(
        side_effect=[
            httpx.Response(200, json=images_body({"b64_json": b64png(1024, 1024)}))
            for _ in range(3)
        ]
    )
    async with open_client(mode, provider, api) as client:
        result = await client.generate("three cats", model="dall-e-3", n=3, size="1024x1024")
    assert route.call_count == 3
    assert [sent_json(call.request)["n"] for call in route.calls] == [1, 1, 1]
    assert len(result.images) == 3
    assert [image.index for image in result.images] == [0, 1, 2]
    (split,) = [w for w in result.warnings if w.code == "n_split"]
    assert split.field == "n"
    assert "3 calls" in split.message
    assert codes(result) == ["n_split"]


async def test_ratio_and_tier_become_pixels_on_gpt_image_2(mode: str) -> None:
    api = router("openai")
    route = api.post("/images/generations").respond(
        json=images_body({"b64_json": b64png(2048, 1152)})
    )
    async with open_client(mode, "openai", api) as client:
        result = await client.generate(
            "a wide sea", model="gpt-image-2", size="16:9", resolution="2k"
        )
    assert sent_json(route)["size"] == "2048x1152"
    assert codes(result) == ["size_mapped"]
    assert "2048x1152" in result.warnings[0].message
    assert (result.images[0].width, result.images[0].height) == (2048, 1152)


async def test_an_unreduced_ratio_maps_like_its_lowest_terms(mode: str) -> None:
    body, _ = await accepted(mode, "openai", model="gpt-image-2", size="32:18", resolution="4k")
    assert body["size"] == "3840x2160"


async def test_size_tables_are_per_provider(mode: str) -> None:
    body, result = await accepted(mode, "geeknow", model="gpt-image-2", size="16:9")
    assert body["size"] == "1920x1080"
    assert codes(result) == ["size_mapped"]
    error = await rejected(mode, "geeknow", model="gpt-image-2", size="16:9", resolution="2k")
    assert error.problems[0].field == "resolution"


@pytest.mark.parametrize(
    ("size", "reason"),
    [("1000x1000", "divisible by 16"), ("4000x1008", "longer than 3840"), ("3200x992", "aspect")],
)
async def test_gpt_image_2_pixel_rule(mode: str, size: str, reason: str) -> None:
    error = await rejected(mode, "openai", model="gpt-image-2", size=size)
    assert error.problems[0].field == "size"
    assert reason in str(error)


async def test_gpt_image_2_accepts_pixels_that_fit_the_rule(mode: str) -> None:
    body, result = await accepted(mode, "openai", model="gpt-image-2", size="3840x2160")
    assert body["size"] == "3840x2160"
    assert codes(result) == []


@BOTH
async def test_gpt_image_1_rejects_16_9(mode: str, provider: str) -> None:
    error = await rejected(mode, provider, model="gpt-image-1", size="16:9")
    (problem,) = error.problems
    assert (problem.field, problem.value) == ("size", "16:9")
    assert "1536x1024" in str(error)
    assert "auto" in str(error)


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"model": "gpt-image-1", "quality": "hd"}, "quality", "auto, low, medium, high"),
        ({"model": "dall-e-2", "quality": "hd"}, "quality", "allowed: standard"),
        ({"model": "dall-e-3", "quality": "low"}, "quality", "standard, hd"),
        ({"model": "dall-e-3", "style": "bold"}, "style", "vivid, natural"),
        ({"model": "dall-e-2", "style": "vivid"}, "style", "dall-e-2 does not support style"),
        ({"model": "gpt-image-1", "style": "vivid"}, "style", "does not support style"),
        ({"model": "dall-e-3", "output_format": "png"}, "output_format", "does not support"),
        ({"model": "dall-e-3", "background": "opaque"}, "background", "does not support"),
        ({"model": "dall-e-3", "size": "auto"}, "size", "no automatic size"),
        ({"model": "dall-e-3", "size": "1:1", "resolution": "2k"}, "resolution", "no 2k preset"),
        ({"model": "dall-e-2", "n": 1, "output_compression": 50}, "output_compression", "not"),
    ],
)
async def test_option_rules_on_openai(
    mode: str, fields: dict[str, Any], field: str, text: str
) -> None:
    error = await rejected(mode, "openai", **fields)
    assert [p.field for p in error.problems] == [field]
    assert text in str(error)


@pytest.mark.parametrize(
    ("fields", "sent"),
    [
        (
            {"model": "dall-e-3", "quality": "hd", "style": "natural"},
            {"quality": "hd", "style": "natural"},
        ),
        ({"model": "dall-e-2", "quality": "standard"}, {"quality": "standard"}),
        (
            {"model": "gpt-image-1", "output_format": "jpeg", "output_compression": 40},
            {"output_compression": 40},
        ),
        (
            {"model": "gpt-image-1", "background": "transparent", "output_format": "webp"},
            {"background": "transparent"},
        ),
    ],
)
async def test_allowed_options_are_sent(
    mode: str, fields: dict[str, Any], sent: dict[str, Any]
) -> None:
    body, _ = await accepted(mode, "openai", **fields)
    assert sent.items() <= body.items()


@pytest.mark.parametrize(("model", "limit"), [("dall-e-2", 1000), ("dall-e-3", 4000)])
async def test_prompt_length_limits_of_dalle(mode: str, model: str, limit: int) -> None:
    error = await rejected(mode, "geeknow", model=model, prompt="x" * (limit + 1))
    (problem,) = error.problems
    assert problem.field == "prompt"
    assert problem.value == f"<{limit + 1} characters>"
    assert str(limit) in problem.reason
    body, _ = await accepted(mode, "geeknow", model=model, prompt="x" * limit)
    assert len(body["prompt"]) == limit


async def test_output_compression_with_png_is_rejected(mode: str) -> None:
    error = await rejected(
        mode, "openai", model="gpt-image-1", output_format="png", output_compression=50
    )
    (problem,) = error.problems
    assert (problem.field, problem.value) == ("output_compression", 50)
    assert "png" in problem.reason


async def test_transparent_background_with_jpeg_is_rejected(mode: str) -> None:
    error = await rejected(
        mode, "openai", model="gpt-image-1", background="transparent", output_format="jpeg"
    )
    (problem,) = error.problems
    assert (problem.field, problem.value) == ("background", "transparent")
    assert "png, webp" in str(error)


async def test_an_unknown_provider_option_is_rejected(mode: str) -> None:
    error = await rejected(mode, "geeknow", provider_options={"geeknow": {"bogus": 1}})
    (problem,) = error.problems
    assert (problem.field, problem.value) == ("provider_options.geeknow.bogus", 1)


async def test_an_unknown_provider_option_lists_the_provider_options(mode: str) -> None:
    error = await rejected(mode, "geeknow", provider_options={"geeknow": {"bogus": 1}})
    (problem,) = error.problems
    assert "canonical" not in problem.reason
    assert problem.allowed is not None
    assert set(problem.allowed) == {"response_format", "watermark"}


async def test_options_for_another_provider_are_ignored(mode: str) -> None:
    body, _ = await accepted(
        mode, "openai", model="gpt-image-1", provider_options={"geeknow": {"watermark": False}}
    )
    assert "watermark" not in body


@BOTH
async def test_an_unknown_model_is_sent_with_a_warning(mode: str, provider: str) -> None:
    body, result = await accepted(
        mode, provider, model="flux-pro-9", size="1000x700", quality="high"
    )
    assert body["model"] == "flux-pro-9"
    assert body["size"] == "1000x700"
    assert codes(result) == ["unknown_model"]
    assert "flux-pro-9" in result.warnings[0].message
    assert result.model == "flux-pro-9"


async def test_dalle3_cannot_edit_and_nothing_is_sent(mode: str) -> None:
    api = router("openai")
    route = api.post("/images/edits").respond(json=images_body())
    async with open_client(mode, "openai", api) as client:
        with pytest.raises(InvalidRequestError, match="cannot edit with dall-e-3"):
            await client.edit("x", [png()], model="dall-e-3")
    assert route.call_count == 0


async def test_edits_reject_remote_urls_and_too_many_images(mode: str) -> None:
    api = router("openai")
    route = api.post("/images/edits").respond(json=images_body())
    async with open_client(mode, "openai", api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.edit("x", [png(), "https://cdn.example/a.png"], model="dall-e-2")
    assert route.call_count == 0
    assert {p.field for p in info.value.problems} == {"images", "images[1]"}
    assert "at most 1" in str(info.value)
