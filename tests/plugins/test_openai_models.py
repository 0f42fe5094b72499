"""The OpenAI model table and the rules of each request, as the OpenAPI spec states them.

The expectations are written out here from the spec's descriptions (CreateImageRequest,
CreateImageEditRequest, EditImageBodyJsonParam, CreateImageVariationRequest, InputFidelity),
not read from the adapter's tables, so a table that drifts fails. Pre-flight is driven
through ``ImageClient.plan()`` and the clients; what is sent is captured by a mock
transport, and generations run against the emulator over loopback HTTP.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from helpers import (
    API_KEY,
    emulated_generate,
    form_fields,
    form_parts,
    images_body,
    open_client,
    png,
    router,
)
from imagebridge import ImageClient, InvalidRequestError
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from imagebridge.adapter import Plan

pytestmark = pytest.mark.anyio

STANDARD = ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "chatgpt-image-latest")
GPT_IMAGE_2 = ("gpt-image-2", "gpt-image-2-2026-04-21")
GPT = (*STANDARD, *GPT_IMAGE_2)
DALL_E = ("dall-e-2", "dall-e-3")
EVERY_MODEL = (*GPT, *DALL_E)
URL = "https://cdn.example/in.png"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


def plan(operation: str = "generate", provider: str = "openai", **fields: Any) -> Plan:
    """The plan of a request; nothing may be sent while planning."""
    sent: list[httpx.Request] = []
    with ImageClient(
        provider, api_key=API_KEY, transport=httpx.MockTransport(sent.append), journal=False
    ) as client:
        prompt = "" if operation == "vary" else fields.pop("prompt", "a lighthouse")
        result = client.plan(prompt, operation=operation, **fields)  # type: ignore[arg-type]
    assert sent == []
    return result


def refused(operation: str = "generate", provider: str = "openai", **fields: Any) -> str:
    """The problems of a refused request, as one text (field, value, rule)."""
    with pytest.raises(InvalidRequestError) as info:
        plan(operation, provider, **fields)
    return "\n".join(str(problem) for problem in info.value.problems)


# -- the model table -----------------------------------------------------------------------------
@pytest.mark.parametrize("model", EVERY_MODEL)
def test_every_model_of_the_spec_is_checked_before_sending(model: str) -> None:
    planned = plan(model=model)
    assert planned.capabilities.known
    assert [w.code for w in planned.warnings] == []


SIZES = [
    *[(m, s, True) for m in STANDARD for s in ("1024x1024", "1536x1024", "1024x1536", "auto")],
    *[(m, s, False) for m in STANDARD for s in ("1536x864", "256x256", "1792x1024")],
    *[(m, s, True) for m in GPT_IMAGE_2 for s in ("1536x864", "2560x1440", "3840x2160", "auto")],
    *[(m, s, False) for m in GPT_IMAGE_2 for s in ("1000x1000", "3200x992", "4000x1008")],
    *[("dall-e-2", s, True) for s in ("256x256", "512x512", "1024x1024")],
    *[("dall-e-2", s, False) for s in ("auto", "1536x1024", "1792x1024")],
    *[("dall-e-3", s, True) for s in ("1024x1024", "1792x1024", "1024x1792")],
    *[("dall-e-3", s, False) for s in ("auto", "512x512", "1536x1024")],
]


@pytest.mark.parametrize(("model", "size", "accepted"), SIZES)
def test_sizes_per_model(model: str, size: str, accepted: bool) -> None:
    if accepted:
        assert plan(model=model, size=size).wire_size == size
    else:
        assert f"size={size!r}" in refused(model=model, size=size)


QUALITIES = {
    **{m: ("auto", "low", "medium", "high") for m in GPT},
    "dall-e-2": ("standard",),
    "dall-e-3": ("standard", "hd"),
}


@pytest.mark.parametrize("model", EVERY_MODEL)
@pytest.mark.parametrize("quality", ["auto", "low", "medium", "high", "standard", "hd"])
def test_qualities_per_model(model: str, quality: str) -> None:
    if quality in QUALITIES[model]:
        assert plan(model=model, quality=quality).request.quality == quality
    else:
        text = refused(model=model, quality=quality)
        assert f"quality={quality!r}: not a value {model} accepts" in text
        assert ", ".join(QUALITIES[model]) in text


GPT_ONLY = [
    {"output_format": "webp", "output_compression": 40},
    {"output_format": "jpeg"},
    {"background": "transparent", "output_format": "png"},
    {"moderation": "low"},
]


@pytest.mark.parametrize("model", EVERY_MODEL)
@pytest.mark.parametrize("fields", GPT_ONLY, ids=lambda f: "+".join(f))
def test_gpt_image_options_are_refused_for_dall_e(model: str, fields: dict[str, Any]) -> None:
    if model in GPT:
        assert plan(model=model, **fields).request.option_values() == fields
    else:
        text = refused(model=model, **fields)
        assert all(f"{name}=" in text for name in fields)


@pytest.mark.parametrize("model", EVERY_MODEL)
def test_style_is_dall_e_3_only(model: str) -> None:
    if model == "dall-e-3":
        assert plan(model=model, style="natural").request.style == "natural"
        assert "vivid, natural" in refused(model=model, style="bold")
    else:
        assert f"{model} does not support style" in refused(model=model, style="vivid")


@pytest.mark.parametrize(
    ("model", "limit"), [*[(m, 32000) for m in GPT], ("dall-e-2", 1000), ("dall-e-3", 4000)]
)
def test_prompt_length_per_model(model: str, limit: int) -> None:
    assert len(plan(model=model, prompt="x" * limit).request.prompt) == limit
    text = refused(model=model, prompt="x" * (limit + 1))
    assert f"longer than the {limit} characters {model} accepts" in text


@pytest.mark.parametrize("model", EVERY_MODEL)
def test_n_up_to_10_in_one_call_but_dall_e_3(model: str) -> None:
    expected = (1,) * 10 if model == "dall-e-3" else (10,)
    assert plan(model=model, n=10).batches == expected


@pytest.mark.parametrize("model", EVERY_MODEL)
def test_response_format_is_for_dall_e_only(model: str) -> None:
    options = {"openai": {"response_format": "b64_json"}}
    if model in DALL_E:
        assert plan(model=model, provider_options=options).options is not None
    else:
        text = refused(model=model, provider_options=options)
        assert f"{model} always returns base64; response_format is for dall-e models" in text


# -- edits ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", EVERY_MODEL)
def test_edits_per_model(model: str) -> None:
    if model == "dall-e-3":
        assert "cannot edit with dall-e-3" in refused("edit", model=model, reference_images=[png()])
        return
    limit = 1 if model == "dall-e-2" else 16
    images = [png(4, 4)] * limit
    planned = plan("edit", model=model, reference_images=images, mask=png(4, 4))
    assert len(planned.request.reference_images) == limit
    text = refused("edit", model=model, reference_images=[*images, png(4, 4)])
    assert f"{model} edits at most {limit}" in text


@pytest.mark.parametrize("model", EVERY_MODEL)
def test_url_references_are_taken_by_gpt_image_edits(model: str) -> None:
    if model in GPT:
        assert plan(
            "edit", model=model, reference_images=[URL], mask=URL
        ).capabilities.edit_image_urls
    elif model == "dall-e-2":
        assert "edits uploaded files only" in refused("edit", model=model, reference_images=[URL])


@pytest.mark.parametrize("model", EVERY_MODEL)
def test_variations_are_dall_e_2_only(model: str) -> None:
    if model == "dall-e-2":
        planned = plan("vary", model=model, reference_images=[png(8, 8)], n=10, size="512x512")
        assert (planned.operation, planned.batches, planned.wire_size) == ("vary", (10,), "512x512")
        assert "size='1536x1024'" in refused(
            "vary", model=model, reference_images=[png(8, 8)], size="1536x1024"
        )
    else:
        text = refused("vary", model=model, reference_images=[png(8, 8)])
        assert f"openai makes no variations with {model}" in text


def test_geeknow_makes_no_variations_and_no_url_edits() -> None:
    text = refused("vary", "geeknow", model="dall-e-2", reference_images=[png(8, 8)])
    assert "geeknow makes no variations with dall-e-2" in text
    assert "edits uploaded files only" in refused(
        "edit", "geeknow", model="gpt-image-1", reference_images=[URL]
    )


FIDELITY = ("gpt-image-1", "gpt-image-1.5", *GPT_IMAGE_2, "chatgpt-image-latest")


@pytest.mark.parametrize("model", ["gpt-image-1-mini", "dall-e-2", *FIDELITY])
@pytest.mark.parametrize("value", ["high", "low"])
def test_input_fidelity_per_model_on_edits(model: str, value: str) -> None:
    options = {"openai": {"input_fidelity": value}}
    fields = {"model": model, "reference_images": [png(4, 4)], "provider_options": options}
    if model in FIDELITY:
        assert plan("edit", **fields).options is not None
        return
    text = refused("edit", **fields)
    assert (
        f"provider_options.openai.input_fidelity={value!r}: {model} takes no input_fidelity" in text
    )
    assert "gpt-image-1-mini and dall-e-2 do not" in text


def test_input_fidelity_is_refused_on_generations_and_variations() -> None:
    options = {"openai": {"input_fidelity": "high"}}
    text = refused(model="gpt-image-1.5", provider_options=options)
    assert "input_fidelity is an edit parameter; generations take none" in text
    text = refused("vary", model="dall-e-2", reference_images=[png(4, 4)], provider_options=options)
    assert "variations take none" in text
    text = refused(
        "edit", reference_images=[png()], provider_options={"openai": {"input_fidelity": "bogus"}}
    )
    assert "provider_options.openai.input_fidelity='bogus'" in text
    assert "'high' or 'low'" in text


@pytest.mark.parametrize("provider", ["openai", "geeknow"])
def test_moderation_is_refused_on_multipart_edits(provider: str) -> None:
    text = refused("edit", provider, reference_images=[png()], moderation="low")
    assert "moderation='low': multipart edits (CreateImageEditRequest) take no moderation" in text
    if provider == "openai":
        assert "sent with generations and with JSON edits" in text
    planned = plan("edit", provider, reference_images=[png()], quality="low", user="u")
    assert planned.request.option_values() == {"quality": "low", "user": "u"}


@pytest.mark.parametrize("provider", ["openai", "geeknow"])
def test_compression_needs_an_output_format_that_takes_it(provider: str) -> None:
    text = refused(provider=provider, model="gpt-image-1", output_compression=50)
    assert "output_format defaults to png" in text
    assert plan(provider=provider, output_format="jpeg", output_compression=50).request


def test_json_edits_take_the_standard_sizes_only() -> None:
    fields = {"model": "gpt-image-2", "reference_images": [URL]}
    assert plan("edit", size="1536x1024", **fields).wire_size == "1536x1024"
    text = refused("edit", size="16:9", **fields)
    assert "size='16:9': is sent as 1536x864, which JSON edits" in text
    assert "1024x1024, 1536x1024, 1024x1536" in text
    # Uploaded, the same edit takes any size of the pixel rule.
    assert plan("edit", model="gpt-image-2", reference_images=[png()], size="16:9").wire_size


def test_a_file_in_a_json_edit_fits_in_a_data_url() -> None:
    big = png(1, 1) + bytes(16 * 1024 * 1024)
    text = refused("edit", model="gpt-image-1", reference_images=[URL, big])
    assert "images[1]=" in text
    assert "data URL of at most 20971520 characters" in text
    assert plan("edit", model="gpt-image-1", reference_images=[png(1, 1), big]).request


@pytest.mark.parametrize(
    ("mask", "rule"),
    [
        (GIF, "a mask must be a PNG file"),
        (png(5, 5), "is 5x5; a mask must have the size of the first image, 4x4"),
        (png(4, 4) + bytes(4 * 1024 * 1024), "a mask is at most 4194304"),
    ],
)
def test_mask_rules(mask: bytes, rule: str) -> None:
    assert rule in refused("edit", reference_images=[png(4, 4)], mask=mask)


def test_input_formats_per_model() -> None:
    assert "images[1]=" in refused("edit", reference_images=[png(), GIF])
    text = refused("edit", model="dall-e-2", reference_images=[png(4, 3)])
    assert "is 4x3; dall-e-2 takes a square image" in text
    text = refused("vary", model="dall-e-2", reference_images=[GIF])
    assert "image=" in text
    assert "dall-e-2 takes png" in text


# -- what is sent --------------------------------------------------------------------------------
def answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=images_body())


async def sent(mode: str, call: str, *args: Any, provider: str = "openai", **fields: Any) -> Any:
    """The one request sent for ``client.<call>(*args, **fields)``."""
    api = router(provider)
    api.route().mock(side_effect=answer)
    async with open_client(mode, provider, api) as bridge:
        method = getattr(bridge.client, call)
        outcome = method(*args, **fields)
        if mode == "async":
            await outcome
    assert len(api.calls) == 1
    return api.calls.last.request


async def test_an_edit_with_a_url_goes_as_json(mode: str) -> None:
    request = await sent(
        mode,
        "edit",
        "make it blue",
        [URL, png(2, 2)],
        mask="https://cdn.example/mask.png",
        model="gpt-image-1.5",
        size="1024x1536",
        moderation="low",
        output_format="webp",
        provider_options={"openai": {"input_fidelity": "high"}},
    )
    assert request.url == "https://api.openai.com/v1/images/edits"
    assert request.headers["content-type"] == "application/json"
    data_url = "data:image/png;base64," + base64.b64encode(png(2, 2)).decode()
    assert json.loads(request.content) == {
        "model": "gpt-image-1.5",
        "prompt": "make it blue",
        "n": 1,
        "size": "1024x1536",
        "moderation": "low",
        "output_format": "webp",
        "input_fidelity": "high",
        "images": [{"image_url": URL}, {"image_url": data_url}],
        "mask": {"image_url": "https://cdn.example/mask.png"},
    }


async def test_an_edit_of_files_goes_as_multipart_with_input_fidelity(mode: str) -> None:
    request = await sent(
        mode,
        "edit",
        "make it blue",
        [png(2, 2)],
        model="gpt-image-1",
        provider_options={"openai": {"input_fidelity": "low"}},
    )
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert form_fields(request) == {
        "model": "gpt-image-1",
        "prompt": "make it blue",
        "n": "1",
        "input_fidelity": "low",
    }


async def test_a_variation_is_a_multipart_upload_without_a_prompt(mode: str) -> None:
    image = png(8, 8)
    request = await sent(
        mode,
        "vary",
        image,
        model="dall-e-2",
        n=3,
        size="256x256",
        user="u-1",
        provider_options={"openai": {"response_format": "b64_json"}},
    )
    assert request.url == "https://api.openai.com/v1/images/variations"
    assert form_fields(request) == {
        "model": "dall-e-2",
        "n": "3",
        "size": "256x256",
        "user": "u-1",
        "response_format": "b64_json",
    }
    (part,) = [p for p in form_parts(request) if p.filename is not None]
    assert (part.name, part.content_type, part.data) == ("image", "image/png", image)


# -- against the emulator ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(api_key=API_KEY)) as running:
        yield running


@pytest.mark.parametrize("model", EVERY_MODEL)
async def test_each_model_generates_on_the_emulator(
    mode: str, server: EmulatorServer, model: str
) -> None:
    size = {"dall-e-2": "512x512", "dall-e-3": "1792x1024"}.get(model, "1536x1024")
    # dall-e answers URLs unless asked for base64 (the pixel size is then read at once).
    base64_result = {"openai": {"response_format": "b64_json"}} if model in DALL_E else {}
    async with emulated_generate(mode, server, "openai") as generate:
        result = await generate(
            "a lighthouse", model=model, size=size, provider_options=base64_result
        )
    assert [(i.width, i.height) for i in result.images] == [tuple(map(int, size.split("x")))]
    assert result.warnings == []


async def test_a_refused_request_never_reaches_the_emulator(
    mode: str, server: EmulatorServer
) -> None:
    before = len(server.app_state.requests)
    async with emulated_generate(mode, server, "openai") as generate:
        with pytest.raises(InvalidRequestError, match="output_format defaults to png"):
            await generate("a lighthouse", model="gpt-image-1", output_compression=10)
    assert len(server.app_state.requests) == before


def emulated_client(server: EmulatorServer) -> ImageClient:
    return ImageClient(
        "openai", api_key=API_KEY, base_url=server.url("openai"), journal=False, timeout=20
    )


def test_a_json_edit_and_a_variation_on_the_emulator(server: EmulatorServer) -> None:
    before = len(server.app_state.requests)
    with emulated_client(server) as client:
        edited = client.edit("bluer", [URL, png(4, 4)], model="gpt-image-1.5", moderation="low")
        varied = client.vary(
            png(8, 8),
            model="dall-e-2",
            n=2,
            provider_options={"openai": {"response_format": "b64_json"}},
        )
    assert len(edited.images) == 1
    assert [(i.width, i.height) for i in varied.images] == [(1024, 1024)] * 2
    edit, variation = server.app_state.requests[before:]
    assert [ref["image_url"][:22] for ref in edit["json"]["images"]] == [
        URL[:22],
        "data:image/png;base64,",
    ]
    assert edit["json"]["moderation"] == "low"
    assert variation["path"].endswith("/images/variations")
    assert "prompt" not in variation["form"]
    assert variation["form"]["image"]["content_type"] == "image/png"
