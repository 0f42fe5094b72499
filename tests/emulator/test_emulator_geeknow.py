"""The geeknow dialect: OpenAI shape behind a new-api gateway."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest

from imagebridge._emulator import EmulatorServer

from .conftest import image_size, png_bytes

REQUEST_ID = re.compile(r" \(request id: [0-9a-f]+\)$")


def generate(client: httpx.Client, server: EmulatorServer, **body: Any) -> httpx.Response:
    return client.post(server.url("geeknow") + "/images/generations", json=body)


def assert_new_api_error(response: httpx.Response, status: int, code: str, type_: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"], error["code"]) == (type_, "", code)
    assert REQUEST_ID.search(error["message"]), error["message"]
    assert response.headers["x-oneapi-request-id"] in error["message"]
    message: str = error["message"]
    return message


def test_model_is_required(client: httpx.Client, server: EmulatorServer) -> None:
    response = generate(client, server, prompt="a cat")
    message = assert_new_api_error(response, 400, "invalid_request", "new_api_error")
    assert message.startswith("model is required")


@pytest.mark.parametrize("n", [None, 0])
def test_missing_or_zero_n_is_one(
    anon: httpx.Client, client: httpx.Client, server: EmulatorServer, n: Any
) -> None:
    body: dict[str, Any] = {"prompt": "a cat", "model": "gpt-image-1"}
    if n is not None:
        body["n"] = n
    response = generate(client, server, **body)
    assert response.status_code == 200, response.text
    (item,) = response.json()["data"]
    assert image_size(anon.get(item["url"]).content) == (1024, 1024)  # url is the default


@pytest.mark.parametrize("response_format", ["b64_json", "base64"])
def test_base64_formats(client: httpx.Client, server: EmulatorServer, response_format: str) -> None:
    response = generate(
        client, server, prompt="x", model="dall-e-3", response_format=response_format
    )
    item = response.json()["data"][0]
    assert image_size(base64.b64decode(item["b64_json"])) == (1024, 1024)
    assert item["revised_prompt"]


@pytest.mark.parametrize(
    ("model", "size", "message"),
    [
        ("dall-e-2", "1792x1024", "size must be one of 256x256, 512x512, or 1024x1024"),
        ("dall-e-3", "512x512", "size must be one of 1024x1024, 1024x1792 or 1792x1024"),
    ],
)
def test_gateway_validates_dall_e_sizes(
    client: httpx.Client, server: EmulatorServer, model: str, size: str, message: str
) -> None:
    response = generate(client, server, prompt="x", model=model, size=size)
    assert message in assert_new_api_error(response, 400, "invalid_request", "new_api_error")


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("16:9", (1920, 1080)),
        ("9:16", (1080, 1920)),
        ("4:3", (1536, 1152)),
        ("1920x1080", (1920, 1080)),
        ("2048x1152", (2048, 1152)),
    ],
)
def test_gpt_image_2_presets(
    client: httpx.Client, server: EmulatorServer, size: str, expected: tuple[int, int]
) -> None:
    response = generate(
        client, server, prompt="x", model="gpt-image-2", size=size, response_format="b64_json"
    )
    assert response.status_code == 200, response.text
    assert image_size(base64.b64decode(response.json()["data"][0]["b64_json"])) == expected


def test_upstream_errors_keep_their_type(client: httpx.Client, server: EmulatorServer) -> None:
    response = generate(client, server, prompt="x", model="gpt-image-2", size="1000x1000")
    assert_new_api_error(response, 400, "invalid_size", "invalid_request_error")


def test_unknown_model_has_no_channel(client: httpx.Client, server: EmulatorServer) -> None:
    response = generate(client, server, prompt="x", model="flux-pro")
    assert_new_api_error(response, 503, "model_not_found", "new_api_error")


def test_pass_through_fields_are_accepted_and_recorded(
    client: httpx.Client, server: EmulatorServer
) -> None:
    response = generate(
        client,
        server,
        prompt="x",
        model="dall-e-2",
        style={"preset": "anime"},
        background="transparent",
        watermark=False,
    )
    assert response.status_code == 200, response.text
    recorded = server.app_state.requests[-1]["json"]
    assert recorded["watermark"] is False
    assert recorded["style"] == {"preset": "anime"}


def test_error_marker_and_auth(
    anon: httpx.Client, client: httpx.Client, server: EmulatorServer
) -> None:
    response = generate(client, server, prompt="#error=402:insufficient_user_quota", model="x")
    assert_new_api_error(response, 402, "insufficient_user_quota", "invalid_request_error")
    unauthorised = anon.post(
        server.url("geeknow") + "/images/generations", json={"prompt": "x", "model": "dall-e-3"}
    )
    assert_new_api_error(unauthorised, 401, "invalid_api_key", "new_api_error")


def test_edits_without_model_use_the_default(
    anon: httpx.Client, client: httpx.Client, server: EmulatorServer
) -> None:
    # new-api does not require a model on multipart edits: the upstream's default applies,
    # gpt-image-1.5 (CreateImageEditRequest.model); the gateway answers a url for every model.
    response = client.post(
        server.url("geeknow") + "/images/edits",
        data={"prompt": "x"},
        files={"image": ("a.png", png_bytes(), "image/png")},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["quality"], body["background"], body["size"]) == ("high", "opaque", "1024x1024")
    assert image_size(anon.get(body["data"][0]["url"]).content) == (1024, 1024)
    unsized = client.post(
        server.url("geeknow") + "/images/edits",
        data={"prompt": "x", "size": "256x256"},
        files={"image": ("a.png", png_bytes(), "image/png")},
    )
    assert_new_api_error(unsized, 400, "invalid_size", "invalid_request_error")


def test_edits_with_several_images(client: httpx.Client, server: EmulatorServer) -> None:
    response = client.post(
        server.url("geeknow") + "/images/edits",
        data={"prompt": "x", "model": "gpt-image-1", "response_format": "b64_json"},
        files=[
            ("image[]", ("a.png", png_bytes(), "image/png")),
            ("image[]", ("b.png", png_bytes(), "image/png")),
            ("mask", ("m.png", png_bytes(), "image/png")),
        ],
    )
    assert response.status_code == 200, response.text
    assert "b64_json" in response.json()["data"][0]


def test_json_edits_need_a_model_and_answer_a_url(
    anon: httpx.Client, client: httpx.Client, server: EmulatorServer
) -> None:
    target = server.url("geeknow") + "/images/edits"
    body: dict[str, Any] = {"prompt": "x", "images": [{"image_url": "https://example.com/a.png"}]}
    message = assert_new_api_error(
        client.post(target, json=body), 400, "invalid_request", "new_api_error"
    )
    assert message.startswith("model is required")
    response = client.post(target, json={**body, "model": "gpt-image-2", "watermark": False})
    assert response.status_code == 200, response.text
    assert image_size(anon.get(response.json()["data"][0]["url"]).content) == (1024, 1024)
