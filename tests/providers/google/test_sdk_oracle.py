"""google-genai 3.6.1 as the oracle of the ``google`` adapter and the emulator's dialect.

(a) The SDK drives the emulator over loopback HTTP and gets images. (b) For canonical
requests, what imagebridge sends equals what the SDK sends for the same call, captured through
``httpx.MockTransport`` (the SDK's ``HttpOptions(httpx_client=...)``): method, path, query, the
key's header and the JSON body, field by field. Documented adaptations (docs/dialects/google.md,
'Adaptations') are asserted explicitly:

- google-genai 3.x refuses ``generate_images`` in Gemini Developer API mode (Imagen was shut
  down there on 2026-08-17), so for Imagen the oracle is the SDK's own ``:predict`` body
  converter, ``_GenerateImagesParameters_to_vertex``, which builds the same ``instances`` /
  ``parameters`` body the Developer-API converter built until 2.19.0 for every field the
  Developer API takes; the path and header are the Developer API's (as 2.19.0 sent them).
- imagebridge always sends ``responseModalities`` (default ``["TEXT", "IMAGE"]``); the SDK
  sends it only when asked, so every SDK call here asks for it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import models as genai_models
from google.genai import types

from helpers import png
from imagebridge import ImageClient, RetryPolicy
from imagebridge._emulator import EmulatorConfig, EmulatorServer

KEY = "AIza-oracle-key-0123456789"
BASE = "https://generativelanguage.googleapis.com"
IMAGE = png(8, 6)
IMAGE_2 = png(4, 4)
GEMINI_ANSWER = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {
                        "inlineData": {
                            "mimeType": "image/png",
                            "data": base64.b64encode(IMAGE).decode(),
                        }
                    }
                ],
            },
            "finishReason": "STOP",
        }
    ]
}
IMAGEN_ANSWER = {
    "predictions": [
        {"bytesBase64Encoded": base64.b64encode(IMAGE).decode(), "mimeType": "image/png"}
    ]
}


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(api_key=KEY)) as running:
        yield running


# -- (a) the SDK drives the emulator ------------------------------------------------------------
def test_sdk_generate_content_gets_an_image_from_the_emulator(server: EmulatorServer) -> None:
    client = genai.Client(
        api_key=KEY,
        http_options=types.HttpOptions(base_url=f"{server.origin}/google", api_version="v1beta"),
    )
    response = client.models.generate_content(
        model="gemini-3-pro-image-preview",
        contents="a red cube",
        config=types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio="16:9", image_size="2K"),
        ),
    )
    parts = response.candidates[0].content.parts  # type: ignore[index,union-attr]
    images = [part.inline_data for part in parts if part.inline_data]  # type: ignore[union-attr]
    assert len(images) == 1
    data = images[0].data
    assert data is not None
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (2752, 1536)
    assert response.candidates[0].finish_reason == types.FinishReason.STOP  # type: ignore[index]


def test_sdk_edit_with_a_reference_image_keeps_its_size(server: EmulatorServer) -> None:
    client = genai.Client(
        api_key=KEY,
        http_options=types.HttpOptions(base_url=f"{server.origin}/google", api_version="v1beta"),
    )
    response = client.models.generate_content(
        model="gemini-2.5-flash-image",
        contents=["make it blue", types.Part.from_bytes(data=png(40, 30), mime_type="image/png")],
    )
    data = response.candidates[0].content.parts[1].inline_data.data  # type: ignore[index,union-attr]
    assert data is not None
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (40, 30)


def test_sdk_sees_the_emulators_errors_as_google_errors(server: EmulatorServer) -> None:
    from google.genai import errors

    bad = genai.Client(
        api_key="wrong",
        http_options=types.HttpOptions(base_url=f"{server.origin}/google", api_version="v1beta"),
    )
    with pytest.raises(errors.ClientError) as caught:
        bad.models.generate_content(model="gemini-2.5-flash-image", contents="x")
    assert caught.value.code == 400
    assert caught.value.status == "INVALID_ARGUMENT"
    assert "API key not valid" in str(caught.value.message)
    good = genai.Client(
        api_key=KEY,
        http_options=types.HttpOptions(base_url=f"{server.origin}/google", api_version="v1beta"),
    )
    with pytest.raises(errors.ClientError) as limited:
        good.models.generate_content(
            model="gemini-2.5-flash-image", contents="x #error=429:RESOURCE_EXHAUSTED"
        )
    assert (limited.value.code, limited.value.status) == (429, "RESOURCE_EXHAUSTED")


@pytest.mark.filterwarnings("ignore:The generate_images method is deprecated")
def test_sdk_3x_refuses_imagen_on_the_developer_api() -> None:
    """The adaptation's reason: the installed SDK sends no Imagen request at all."""
    sent: list[httpx.Request] = []
    client = _sdk(sent, IMAGEN_ANSWER)
    with pytest.raises(ValueError, match="only supported in Gemini Enterprise Agent Platform"):
        client.models.generate_images(model="imagen-4.0-generate-001", prompt="a cube")
    assert sent == []


# -- (b) the same requests ----------------------------------------------------------------------
def _sdk(sent: list[httpx.Request], answer: dict[str, Any]) -> genai.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        sent.append(request)
        return httpx.Response(200, json=answer)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return genai.Client(
        api_key=KEY,
        http_options=types.HttpOptions(base_url=BASE, api_version="v1beta", httpx_client=http),
    )


def _ours(answer: dict[str, Any], operation: str, prompt: str, **fields: Any) -> httpx.Request:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        # A copy: the client takes the key off its request once it is sent.
        copy = httpx.Request(
            request.method, request.url, headers=dict(request.headers), content=request.read()
        )
        sent.append(copy)
        return httpx.Response(200, json=answer)

    with ImageClient(
        "google",
        api_key=KEY,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_retries=0),
        journal=False,
    ) as client:
        if operation == "edit":
            images = fields.pop("images")
            client.edit(prompt, images=images, **fields)
        else:
            client.generate(prompt, **fields)
    [request] = sent
    return request


def _same_request(ours: httpx.Request, theirs: httpx.Request) -> None:
    assert ours.method == theirs.method == "POST"
    assert ours.url.path == theirs.url.path
    assert ours.url.host == theirs.url.host == "generativelanguage.googleapis.com"
    assert ours.url.query == theirs.url.query == b""  # the key is never in the URL
    assert ours.headers["x-goog-api-key"] == theirs.headers["x-goog-api-key"] == KEY
    assert "authorization" not in ours.headers
    assert ours.headers["content-type"].startswith("application/json")
    assert json.loads(ours.content) == _camel_mime(json.loads(theirs.content))


def _camel_mime(body: dict[str, Any]) -> dict[str, Any]:
    """The spelling differences: the SDK sends ``inlineData.mime_type`` (proto3 JSON takes
    both names), imagebridge the documented ``mimeType``."""
    for content in body.get("contents", []):
        for part in content.get("parts", []):
            inline = part.get("inlineData")
            if inline is not None:
                assert set(inline) == {"data", "mime_type"}
                inline["mimeType"] = inline.pop("mime_type")
                # ... and URL-safe base64 (proto3 JSON takes both), imagebridge the standard.
                inline["data"] = base64.b64encode(base64.urlsafe_b64decode(inline["data"])).decode()
    return body


GEMINI_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("text_only", {}, {}),
    ("ratio", {"size": "16:9"}, {"image_config": types.ImageConfig(aspect_ratio="16:9")}),
    (
        "ratio_tier",
        {"model": "gemini-3-pro-image-preview", "size": "9:16", "resolution": "4k"},
        {"image_config": types.ImageConfig(aspect_ratio="9:16", image_size="4K")},
    ),
    (
        "tier_alone",
        {"model": "gemini-3.1-flash-image-preview", "resolution": "2k"},
        {"image_config": types.ImageConfig(image_size="2K")},
    ),
    ("seed", {"seed": 1234}, {"seed": 1234}),
    (
        "image_only",
        {"provider_options": {"google": {"response_modalities": ["IMAGE"]}}},
        {"response_modalities": ["IMAGE"]},
    ),
    (
        "reference_image",
        {"reference_images": [IMAGE], "size": "21:9"},
        {"image_config": types.ImageConfig(aspect_ratio="21:9"), "_images": [IMAGE]},
    ),
]


@pytest.mark.parametrize(
    ("fields", "config"), [c[1:] for c in GEMINI_CASES], ids=[c[0] for c in GEMINI_CASES]
)
def test_generate_content_requests_equal_the_sdks(
    fields: dict[str, Any], config: dict[str, Any]
) -> None:
    fields = dict(fields)
    config = dict(config)
    model = fields.get("model", "gemini-2.5-flash-image")
    images = config.pop("_images", [])
    config.setdefault("response_modalities", ["TEXT", "IMAGE"])
    sent: list[httpx.Request] = []
    contents: list[Any] = ["a red cube"]
    contents += [types.Part.from_bytes(data=image, mime_type="image/png") for image in images]
    _sdk(sent, GEMINI_ANSWER).models.generate_content(
        model=model, contents=contents, config=types.GenerateContentConfig(**config)
    )
    _same_request(_ours(GEMINI_ANSWER, "generate", "a red cube", **fields), sent[0])


EDIT_CASES: list[tuple[str, str, list[bytes], dict[str, Any], dict[str, Any]]] = [
    ("edit_one", "gemini-2.5-flash-image", [IMAGE], {}, {}),
    (
        "edit_two_ratio",
        "gemini-3-pro-image-preview",
        [IMAGE, IMAGE_2],
        {"size": "4:3", "resolution": "2k"},
        {"image_config": types.ImageConfig(aspect_ratio="4:3", image_size="2K")},
    ),
    (
        "edit_three_seed",
        "gemini-2.5-flash-image",
        [IMAGE, IMAGE_2, IMAGE],
        {"seed": 7},
        {"seed": 7},
    ),
]


@pytest.mark.parametrize(
    ("model", "images", "fields", "config"),
    [c[1:] for c in EDIT_CASES],
    ids=[c[0] for c in EDIT_CASES],
)
def test_edit_requests_equal_the_sdks(
    model: str, images: list[bytes], fields: dict[str, Any], config: dict[str, Any]
) -> None:
    sent: list[httpx.Request] = []
    contents: list[Any] = ["put a hat on it"]
    contents += [types.Part.from_bytes(data=image, mime_type="image/png") for image in images]
    _sdk(sent, GEMINI_ANSWER).models.generate_content(
        model=model,
        contents=contents,
        config=types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"], **config),
    )
    ours = _ours(GEMINI_ANSWER, "edit", "put a hat on it", model=model, images=images, **fields)
    _same_request(ours, sent[0])
    parts = json.loads(ours.content)["contents"][0]["parts"]
    assert [base64.b64decode(p["inlineData"]["data"]) for p in parts[1:]] == images


IMAGEN_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("one", {"model": "imagen-4.0-generate-001"}, {"number_of_images": 1}),
    (
        "four_ratio_2k",
        {"model": "imagen-4.0-ultra-generate-001", "n": 4, "size": "3:4", "resolution": "2k"},
        {"number_of_images": 4, "aspect_ratio": "3:4", "image_size": "2K"},
    ),
    (
        "jpeg",
        {
            "model": "imagen-4.0-fast-generate-001",
            "n": 2,
            "output_format": "jpeg",
            "output_compression": 70,
        },
        {"number_of_images": 2, "output_mime_type": "image/jpeg", "output_compression_quality": 70},
    ),
    (
        "options",
        {
            "model": "imagen-4.0-generate-001",
            "size": "16:9",
            "provider_options": {
                "google": {"person_generation": "dont_allow", "include_rai_reason": True}
            },
        },
        {
            "number_of_images": 1,
            "aspect_ratio": "16:9",
            "person_generation": "dont_allow",
            "include_rai_reason": True,
        },
    ),
]


@pytest.mark.parametrize(
    ("fields", "config"), [c[1:] for c in IMAGEN_CASES], ids=[c[0] for c in IMAGEN_CASES]
)
def test_predict_bodies_equal_the_sdks_converter(
    fields: dict[str, Any], config: dict[str, Any]
) -> None:
    sdk = genai.Client(vertexai=True, project="p", location="us-central1")
    params = types._GenerateImagesParameters(
        model=fields["model"], prompt="a red cube", config=types.GenerateImagesConfig(**config)
    )
    body = genai_models._GenerateImagesParameters_to_vertex(sdk._api_client, params)
    body.pop("_url")
    ours = _ours(
        IMAGEN_ANSWER | {"predictions": IMAGEN_ANSWER["predictions"] * 4},
        "generate",
        "a red cube",
        **fields,
    )
    assert ours.method == "POST"
    # The Developer API's path, as google-genai 2.19.0 sent it (docs/dialects/google.md).
    assert ours.url.path == f"/v1beta/models/{fields['model']}:predict"
    assert ours.url.query == b""
    assert ours.headers["x-goog-api-key"] == KEY
    assert json.loads(ours.content) == body
