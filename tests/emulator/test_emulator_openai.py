"""The openai dialect over loopback HTTP, with raw httpx and with the official SDK."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .conftest import image_size, png_bytes


def generate(client: httpx.Client, server: EmulatorServer, **body: Any) -> httpx.Response:
    return client.post(server.url("openai") + "/images/generations", json=body)


def test_dall_e_2_is_the_default_and_answers_a_url(
    anon: httpx.Client, client: httpx.Client, server: EmulatorServer
) -> None:
    response = generate(client, server, prompt="a red fox")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"created", "data"}
    (item,) = body["data"]
    assert set(item) == {"url"}
    assert item["url"].startswith(server.origin + "/files/")
    image = anon.get(item["url"])  # no API key needed
    assert image.headers["content-type"] == "image/png"
    assert image_size(image.content) == (1024, 1024)


def test_dall_e_3_revises_the_prompt(
    anon: httpx.Client, client: httpx.Client, server: EmulatorServer
) -> None:
    response = generate(
        client, server, prompt="a lighthouse", model="dall-e-3", size="1024x1792", quality="hd"
    )
    item = response.json()["data"][0]
    assert "a lighthouse" in item["revised_prompt"]
    assert image_size(anon.get(item["url"]).content) == (1024, 1792)


def test_dall_e_2_b64_json(client: httpx.Client, server: EmulatorServer) -> None:
    response = generate(
        client, server, prompt="tiny", size="256x256", n=3, response_format="b64_json"
    )
    data = response.json()["data"]
    assert len(data) == 3
    sizes = {image_size(base64.b64decode(item["b64_json"])) for item in data}
    assert sizes == {(256, 256)}


def test_gpt_image_1_returns_b64_and_usage(client: httpx.Client, server: EmulatorServer) -> None:
    response = generate(
        client,
        server,
        prompt="a poster",
        model="gpt-image-1",
        size="1536x1024",
        output_format="jpeg",
        output_compression=60,
        quality="low",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert image_size(base64.b64decode(body["data"][0]["b64_json"]), "JPEG") == (1536, 1024)
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert set(usage["input_tokens_details"]) == {"text_tokens", "image_tokens"}
    assert body["output_format"] == "jpeg"
    assert body["size"] == "1536x1024"
    assert body["quality"] == "low"


def test_gpt_image_auto_size_is_1024_square(client: httpx.Client, server: EmulatorServer) -> None:
    response = generate(client, server, prompt="auto", model="gpt-image-1-mini", size="auto")
    assert image_size(base64.b64decode(response.json()["data"][0]["b64_json"])) == (1024, 1024)


def test_gpt_image_2_accepts_any_multiple_of_16(
    client: httpx.Client, server: EmulatorServer
) -> None:
    response = generate(
        client, server, prompt="wide", model="gpt-image-2", size="3840x2160", output_format="webp"
    )
    assert response.status_code == 200, response.text
    content = base64.b64decode(response.json()["data"][0]["b64_json"])
    assert image_size(content, "WEBP") == (3840, 2160)


def test_transparent_background_is_an_alpha_png(
    client: httpx.Client, server: EmulatorServer
) -> None:
    response = generate(
        client, server, prompt="sticker", model="gpt-image-1.5", background="transparent"
    )
    assert response.json()["background"] == "transparent"
    content = base64.b64decode(response.json()["data"][0]["b64_json"])
    assert image_size(content) == (1024, 1024)


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"model": "dall-e-2", "size": "1792x1024"}, "invalid_size", "size"),
        ({"model": "dall-e-3", "size": "512x512"}, "invalid_size", "size"),
        ({"model": "gpt-image-1", "size": "1792x1024"}, "invalid_size", "size"),
        ({"model": "gpt-image-2", "size": "1000x1000"}, "invalid_size", "size"),
        ({"model": "gpt-image-2", "size": "3840x1024"}, "invalid_size", "size"),
        ({"model": "gpt-image-2", "size": "3840x2176"}, "invalid_size", "size"),
        ({"model": "gpt-image-2", "size": "square"}, "invalid_size", "size"),
        ({"model": "dall-e-3", "n": 2}, "invalid_value", "n"),
        ({"n": 11}, "integer_above_max_value", "n"),
        ({"n": 0}, "integer_below_min_value", "n"),
        ({"n": "two"}, "invalid_type", "n"),
        ({"model": "gpt-image-1", "quality": "hd"}, "invalid_value", "quality"),
        ({"model": "dall-e-2", "quality": "hd"}, "invalid_value", "quality"),
        ({"model": "dall-e-3", "quality": "high"}, "invalid_value", "quality"),
        ({"model": "gpt-image-1", "style": "vivid"}, "unsupported_parameter", "style"),
        ({"model": "dall-e-3", "style": "moody"}, "invalid_value", "style"),
        ({"model": "dall-e-3", "output_format": "png"}, "unsupported_parameter", "output_format"),
        ({"model": "dall-e-2", "background": "opaque"}, "unsupported_parameter", "background"),
        (
            {"model": "gpt-image-1", "background": "transparent", "output_format": "jpeg"},
            "invalid_value",
            "background",
        ),
        ({"model": "gpt-image-1", "output_format": "gif"}, "invalid_value", "output_format"),
        ({"model": "gpt-image-1", "output_compression": 50}, "invalid_value", "output_compression"),
        ({"model": "gpt-image-1", "moderation": "none"}, "invalid_value", "moderation"),
        (
            {"model": "gpt-image-1", "response_format": "url"},
            "unsupported_parameter",
            "response_format",
        ),
        ({"model": "dall-e-2", "response_format": "base64"}, "invalid_value", "response_format"),
        ({"model": "dall-e-2", "prompt": "x" * 1001}, "string_above_max_length", "prompt"),
        ({"model": "dall-e-3", "prompt": "x" * 4001}, "string_above_max_length", "prompt"),
        ({"prompt": None}, "missing_required_parameter", "prompt"),
        ({"model": "stable-diffusion"}, "invalid_value", "model"),
    ],
)
def test_validation_errors(
    client: httpx.Client, server: EmulatorServer, body: dict[str, Any], code: str, param: str
) -> None:
    payload = {"prompt": "a cat", **body}
    if payload["prompt"] is None:
        del payload["prompt"]
    response = generate(client, server, **payload)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["code"], error["param"], error["type"]) == (code, param, "invalid_request_error")


def test_long_prompts_are_fine_for_gpt_image(client: httpx.Client, server: EmulatorServer) -> None:
    response = generate(client, server, prompt="x" * 32000, model="gpt-image-1", quality="low")
    assert response.status_code == 200


def test_invalid_json_is_a_400(client: httpx.Client, server: EmulatorServer) -> None:
    response = client.post(
        server.url("openai") + "/images/generations",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}]
)
def test_missing_or_malformed_key_is_401(
    anon: httpx.Client, server: EmulatorServer, headers: dict[str, str]
) -> None:
    response = anon.post(
        server.url("openai") + "/images/generations", json={"prompt": "x"}, headers=headers
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": response.json()["error"]["message"],
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


def test_error_marker(client: httpx.Client, server: EmulatorServer) -> None:
    response = generate(client, server, prompt="x #error=429:rate_limit_exceeded")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    quota = generate(client, server, prompt="x #error=429:insufficient_quota")
    assert quota.json()["error"]["type"] == "insufficient_quota"


@pytest.mark.parametrize(
    ("code", "status"), [("content_policy_violation", 400), ("upstream_error", 502)]
)
def test_fail_marker_in_a_sync_call(
    client: httpx.Client, server: EmulatorServer, code: str, status: int
) -> None:
    response = generate(client, server, prompt=f"x #fail={code}", model="dall-e-3")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_edit_with_one_image(client: httpx.Client, server: EmulatorServer) -> None:
    # dall-e-2 named: an edit without a model is gpt-image-1.5 (CreateImageEditRequest.model).
    response = client.post(
        server.url("openai") + "/images/edits",
        data={
            "prompt": "add a hat",
            "model": "dall-e-2",
            "size": "512x512",
            "response_format": "b64_json",
        },
        files={"image": ("in.png", png_bytes(), "image/png")},
    )
    assert response.status_code == 200, response.text
    assert image_size(base64.b64decode(response.json()["data"][0]["b64_json"])) == (512, 512)
    form = server.app_state.requests[-1]["form"]
    assert form["image"] == {
        "filename": "in.png",
        "content_type": "image/png",
        "size": len(png_bytes()),
    }
    assert form["prompt"] == "add a hat"


def test_edit_with_several_images_and_a_mask(client: httpx.Client, server: EmulatorServer) -> None:
    files = [
        ("image[]", ("a.png", png_bytes(), "image/png")),
        ("image[]", ("b.png", png_bytes(32, 32), "image/png")),
        ("mask", ("mask.png", png_bytes(), "image/png")),
    ]
    response = client.post(
        server.url("openai") + "/images/edits",
        data={"prompt": "merge", "model": "gpt-image-1", "n": "2", "size": "1024x1536"},
        files=files,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["data"]) == 2
    assert body["usage"]["input_tokens_details"]["image_tokens"] > 0
    form = server.app_state.requests[-1]["form"]
    assert [item["filename"] for item in form["image[]"]] == ["a.png", "b.png"]
    assert form["mask"]["filename"] == "mask.png"


@pytest.mark.parametrize(
    ("data", "files", "code"),
    [
        ({"prompt": "x"}, [], "missing_required_parameter"),
        (
            {"prompt": "x", "model": "dall-e-2"},
            [("image", ("a.png", b"1", "image/png")), ("image", ("b.png", b"2", "image/png"))],
            "invalid_value",
        ),
        (
            {"prompt": "x", "model": "dall-e-3"},
            [("image", ("a.png", b"1", "image/png"))],
            "invalid_value",
        ),
    ],
)
def test_edit_errors(
    client: httpx.Client,
    server: EmulatorServer,
    data: dict[str, str],
    files: list[Any],
    code: str,
) -> None:
    response = client.post(
        server.url("openai") + "/images/edits",
        data=data,
        # Without files httpx would not send multipart: a lone mask stands in (an unrelated
        # file field would be refused: CreateImageEditRequest has no such field).
        files=files or {"mask": ("m.png", png_bytes(), "image/png")},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


# -- the official SDK ---------------------------------------------------------------------------


@pytest.fixture
def sdk(server: EmulatorServer) -> Iterator[Any]:
    with openai.OpenAI(api_key="sk-test", base_url=server.url("openai"), max_retries=0) as sdk:
        yield sdk


def test_sdk_dall_e_3_url(anon: httpx.Client, sdk: Any, server: EmulatorServer) -> None:
    result = sdk.images.generate(model="dall-e-3", prompt="a harbour at dusk", size="1792x1024")
    assert result.data[0].revised_prompt
    url = result.data[0].url
    assert url.startswith(server.origin)
    assert image_size(anon.get(url).content) == (1792, 1024)
    record = server.app_state.requests[-2]
    assert record["path"] == "/openai/v1/images/generations"
    assert record["headers"]["authorization"] == "[redacted]"
    assert record["json"]["model"] == "dall-e-3"


def test_sdk_gpt_image_1_b64(sdk: Any) -> None:
    result = sdk.images.generate(model="gpt-image-1", prompt="an icon", quality="low")
    assert image_size(base64.b64decode(result.data[0].b64_json)) == (1024, 1024)
    assert result.usage.total_tokens > 0


def test_sdk_edit(sdk: Any) -> None:
    result = sdk.images.edit(
        model="gpt-image-1",
        image=("photo.png", png_bytes(), "image/png"),
        prompt="make it snow",
        size="1024x1024",
    )
    assert image_size(base64.b64decode(result.data[0].b64_json)) == (1024, 1024)


def test_sdk_edit_several_images(sdk: Any, server: EmulatorServer) -> None:
    result = sdk.images.edit(
        model="gpt-image-1",
        image=[("a.png", png_bytes(), "image/png"), ("b.png", png_bytes(), "image/png")],
        mask=("m.png", png_bytes(), "image/png"),
        prompt="blend",
    )
    assert len(result.data) == 1
    form = server.app_state.requests[-1]["form"]
    assert len(form["image[]"]) == 2


def test_sdk_bad_size_raises_bad_request(sdk: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.generate(model="dall-e-3", prompt="x", size="512x512")
    assert caught.value.status_code == 400
    assert caught.value.code == "invalid_size"


def test_sdk_wrong_key_raises_authentication_error() -> None:
    with (
        EmulatorServer(EmulatorConfig(api_key="sk-right")) as keyed,
        openai.OpenAI(api_key="sk-wrong", base_url=keyed.url("openai"), max_retries=0) as sdk,
        pytest.raises(openai.AuthenticationError),
    ):
        sdk.images.generate(prompt="x")
