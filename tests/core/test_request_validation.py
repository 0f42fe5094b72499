"""Canonical request validation: every field, through both clients, before any HTTP request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from helpers import open_client
from imagebridge import ImageRequest, InvalidRequestError

pytestmark = pytest.mark.anyio


class NoNetwork:
    """A handler that records any request (there must be none)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(500)


async def rejected(mode: str, prompt: str = "a red cube", **fields: Any) -> InvalidRequestError:
    network = NoNetwork()
    async with open_client(mode, "openai", network) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate(prompt, **fields)
    assert network.requests == []
    assert info.value.provider == "openai"
    return info.value


# (fields, field named by the problem, what the message says is wrong or allowed)
BAD_FIELDS = [
    ({"model": "  "}, "model", "model name is blank"),
    ({"n": 0}, "n", "greater than or equal to 1"),
    ({"n": 11}, "n", "less than or equal to 10"),
    ({"n": "many"}, "n", "valid integer"),
    ({"size": "bad"}, "size", "is not 'auto', an aspect ratio 'W:H' (e.g. '16:9') or pixels 'WxH'"),
    ({"size": "16x"}, "size", "an aspect ratio 'W:H'"),
    ({"size": "1:2:3"}, "size", "an aspect ratio 'W:H'"),
    ({"size": "1024*1024"}, "size", "pixels 'WxH'"),
    ({"size": "0:1"}, "size", "has a zero side"),
    ({"size": "1024x0"}, "size", "has a zero side"),
    ({"size": 1024}, "size", "expected a string such as '16:9', '1024x1024' or 'auto'"),
    ({"resolution": "8k"}, "resolution", "'1k', '2k' or '4k'"),
    ({"resolution": "2K"}, "resolution", "'1k', '2k' or '4k'"),
    ({"quality": "ultra"}, "quality", "'auto', 'low', 'medium', 'high', 'standard' or 'hd'"),
    ({"output_format": "gif"}, "output_format", "'png', 'jpeg' or 'webp'"),
    ({"output_compression": 101}, "output_compression", "less than or equal to 100"),
    ({"output_compression": -1}, "output_compression", "greater than or equal to 0"),
    ({"background": "clear"}, "background", "'auto', 'transparent' or 'opaque'"),
    ({"moderation": "strict"}, "moderation", "'auto' or 'low'"),
    ({"style": ""}, "style", "at least 1 character"),
    ({"user": 5}, "user", "valid string"),
    ({"provider_options": 3}, "provider_options", "valid dictionary"),
    ({"provider_options": {"geeknow": 3}}, "provider_options.geeknow", "valid dictionary"),
    ({"reference_images": [42]}, "reference_images", "item 0: expected a pathlib.Path, bytes"),
    ({"reference_images": [b""]}, "reference_images", "item 0: image bytes are empty"),
    ({"mask": 42}, "mask", "expected a pathlib.Path, bytes, an http(s) URL, a data URL or base64"),
    ({"mask": "data:image/png,abc"}, "mask", "data URL must be of the form"),
]


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    BAD_FIELDS,
    ids=[f"{c[1]}={c[0][c[1].split('.')[0]]!r}" for c in BAD_FIELDS],
)
async def test_a_bad_field_is_named_with_its_value_and_what_is_allowed(
    mode: str, fields: dict[str, Any], field: str, reason: str
) -> None:
    error = await rejected(mode, **fields)
    assert [p.field for p in error.problems] == [field]
    value = next(iter(fields.values()))
    if field == "provider_options.geeknow":
        value = 3
    assert error.problems[0].value == value
    assert reason in error.problems[0].reason
    assert f"{field}={value!r}" in str(error)
    assert reason in str(error)
    assert error.field == field


@pytest.mark.parametrize(("prompt", "reason"), [("", "at least 1 character"), ("  \n", "blank")])
async def test_an_empty_or_blank_prompt_is_rejected(mode: str, prompt: str, reason: str) -> None:
    error = await rejected(mode, prompt=prompt)
    assert [p.field for p in error.problems] == ["prompt"]
    assert reason in str(error)


@pytest.mark.parametrize("field", ["n", "output_compression"])
async def test_a_bool_is_not_taken_for_a_number(mode: str, field: str) -> None:
    error = await rejected(mode, **{field: True})
    assert [p.field for p in error.problems] == [field]


async def test_resolution_with_a_pixel_size_is_rejected_and_says_what_to_do(mode: str) -> None:
    error = await rejected(mode, size="1024x1024", resolution="2k")
    (problem,) = error.problems
    assert (problem.field, problem.value) == ("resolution", "2k")
    assert "pixel size '1024x1024'" in problem.reason
    assert "'16:9'" in problem.reason


async def test_an_unknown_field_is_rejected_listing_the_canonical_fields(mode: str) -> None:
    error = await rejected(mode, sizee="16:9")
    (problem,) = error.problems
    assert (problem.field, problem.value) == ("sizee", "16:9")
    assert "not a canonical field" in problem.reason
    assert problem.allowed is not None
    assert set(problem.allowed) == set(ImageRequest.model_fields)
    assert "size, style, user" in str(error)


async def test_every_problem_is_reported_at_once(mode: str) -> None:
    error = await rejected(mode, n=0, size="huge", quality="ultra", bogus=1)
    assert sorted(p.field for p in error.problems) == ["bogus", "n", "quality", "size"]
    assert "4 problems" in str(error)


async def test_a_string_file_path_is_not_read_and_the_error_says_to_use_a_path(
    mode: str, tmp_path: Any
) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    error = await rejected(mode, reference_images=[str(image)])
    (problem,) = error.problems
    assert problem.field == "reference_images"
    assert "item 0" in problem.reason
    assert "pass a pathlib.Path" in problem.reason


async def test_a_string_file_path_without_extension_is_not_taken_for_base64(
    mode: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    image = tmp_path / "uploads" / "user42" / "photo0001"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    network = NoNetwork()
    async with open_client(mode, "openai", network) as client:
        with pytest.raises(InvalidRequestError, match=r"pathlib\.Path"):
            await client.edit("make it blue", ["uploads/user42/photo0001"])
    assert network.requests == []


async def test_a_missing_path_is_rejected_naming_it(mode: str, tmp_path: Any) -> None:
    error = await rejected(mode, mask=tmp_path / "nope.png")
    assert error.problems[0].field == "mask"
    assert "no such file" in str(error)
    assert "nope.png" in str(error)


async def test_a_blob_url_is_rejected_naming_the_item(mode: str) -> None:
    error = await rejected(mode, reference_images=[b"\x89PNG", "blob:https://app.example/1f2e"])
    (problem,) = error.problems
    assert problem.field == "reference_images"
    assert "item 1" in problem.reason
    assert "blob:" in problem.reason


def test_size_forms_are_parsed() -> None:
    def size(text: str) -> str:
        return str(ImageRequest(prompt="p", size=text).size)

    assert size("16:9") == "16:9"
    assert size(" 3 : 2 ") == "3:2"
    assert size("1024x1024") == "1024x1024"
    assert size("1536X1024") == "1536x1024"
    assert size("auto") == "auto"
    assert size("AUTO") == "auto"
    request = ImageRequest(prompt="p", size="32:18", resolution="2k")
    assert request.size is not None
    assert request.size.kind == "ratio"
    assert request.size.ratio_key == "16:9"
    assert ImageRequest(prompt="p", size="1536x1024").size.kind == "pixels"  # type: ignore[union-attr]


def test_an_image_request_is_frozen() -> None:
    request = ImageRequest(prompt="p", size="16:9", n=2, mask=b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="frozen"):
        request.n = 3  # type: ignore[misc]


def test_input_images_are_classified(tmp_path: Any) -> None:
    path = tmp_path / "ref.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 8)
    data_url = "data:image/png;base64,iVBORw0KGgoAAAAA"
    bare = "iVBORw0KGgoAAAANSUhEUgAAAAE="
    request = ImageRequest(
        prompt="p",
        reference_images=[path, b"\xff\xd8\xff\xe0", "https://cdn.example/a.png", data_url, bare],
        mask="HTTP://cdn.example/mask.png",
    )
    kinds = [i.kind for i in request.reference_images]
    assert kinds == ["path", "bytes", "url", "data_url", "base64"]
    assert request.reference_images[0].read() == path.read_bytes()
    assert request.reference_images[3].read().startswith(b"\x89PNG")
    assert request.reference_images[4].read().startswith(b"\x89PNG")
    assert request.mask is not None
    assert request.mask.kind == "url"
    # A single input is accepted without a list.
    assert [i.kind for i in ImageRequest(prompt="p", reference_images=path).reference_images] == [
        "path"
    ]


def test_a_path_is_checked_when_given_but_read_only_when_sent(tmp_path: Any) -> None:
    path = tmp_path / "ref.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\nfirst")
    request = ImageRequest(prompt="p", reference_images=[path])
    path.write_bytes(b"\x89PNG\r\n\x1a\nsecond")
    assert request.reference_images[0].read() == b"\x89PNG\r\n\x1a\nsecond"


@pytest.mark.parametrize(
    ("provider", "model"), [("stability", "inpaint"), ("bfl", "flux-pro-1.0-fill")]
)
async def test_an_edit_only_model_is_refused_for_generate_and_said_so_in_a_dry_run(
    mode: str, provider: str, model: str
) -> None:
    """Capabilities.generate=False (an inpainting or fill model): generate() and plan() are
    refused naming the model and what to call instead; nothing is sent."""
    network = NoNetwork()
    async with open_client(mode, provider, network) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate("a red cube", model=model)
        with pytest.raises(InvalidRequestError) as planned:
            client.client.plan("a red cube", model=model)
    assert network.requests == []
    for error in (info.value, planned.value):
        [problem] = [p for p in error.problems if p.field == "model"]
        assert problem.value == model
        assert "only edits: use edit()" in problem.reason
