"""The official ``openai`` SDK as the oracle of the openai dialect: strict response validation.

Every ``client.images.*`` method (``generate``, ``edit``, ``create_variation``), and JSON edits
through the SDK's generic ``post`` (``images.edit`` has no JSON form), sync and async, with
``_strict_response_validation=True``, for every model of the spec and both result forms where
the model has them: the SDK must parse every answer, and the images must decode at the size
asked for. Invalid requests must raise ``openai.BadRequestError`` carrying the emulator's rule;
unknown routes and wrong methods must come back as JSON errors the SDK parses.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Coroutine, Iterator
from typing import Any

import httpx
import httpx2
import openai
import pytest
from openai.types import ImagesResponse
from PIL import Image

from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .conftest import image_size, png_bytes

GPT_MODELS = (
    "gpt-image-1",
    "gpt-image-1-mini",
    "gpt-image-1.5",
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "chatgpt-image-latest",
)
MODES = ("sync", "async")
PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
# The SDK marks the variations endpoint deprecated (a DeprecationWarning on every call).
VARIATIONS_DEPRECATED = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def running() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0, api_key="sk-sdk")) as server:
        yield server


def _options(emu: EmulatorServer) -> dict[str, Any]:
    return {
        "api_key": "sk-sdk",
        "base_url": emu.url("openai"),
        "max_retries": 0,
        "timeout": 20,
        "_strict_response_validation": True,
    }


class Clients:
    """A sync and an async SDK client for the module's emulator (the async one on its own
    event loop): building a client costs ~40 ms, so each test does not build its own."""

    def __init__(self, server: EmulatorServer) -> None:
        self.sync = openai.OpenAI(**_options(server))
        self.loop = asyncio.new_event_loop()
        self.async_ = self.loop.run_until_complete(self._make(server))

    @staticmethod
    async def _make(server: EmulatorServer) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(**_options(server))

    def run(self, coroutine: Coroutine[Any, Any, ImagesResponse]) -> ImagesResponse:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.sync.close()
        self.loop.run_until_complete(self.async_.close())
        self.loop.close()


@pytest.fixture(scope="module")
def sdks(running: EmulatorServer) -> Iterator[Clients]:
    clients = Clients(running)
    try:
        yield clients
    finally:
        clients.close()


def call(sdks: Clients, mode: str, method: str, **kwargs: Any) -> ImagesResponse:
    """``client.images.<method>(**kwargs)`` with the sync or the async SDK client."""
    if mode == "sync":
        result: ImagesResponse = getattr(sdks.sync.images, method)(**kwargs)
        return result
    return sdks.run(getattr(sdks.async_.images, method)(**kwargs))


def raw(sdks: Clients, mode: str, method: str, path: str, **kwargs: Any) -> ImagesResponse:
    """The SDK's generic ``get``/``post`` of ``path``, parsed as an ``ImagesResponse``."""
    if mode == "sync":
        result: ImagesResponse = getattr(sdks.sync, method)(path, cast_to=ImagesResponse, **kwargs)
        return result
    return sdks.run(getattr(sdks.async_, method)(path, cast_to=ImagesResponse, **kwargs))


def json_edit(sdks: Clients, mode: str, body: dict[str, Any]) -> ImagesResponse:
    """A JSON edit through the SDK's generic ``post`` (``images.edit`` is multipart only)."""
    return raw(sdks, mode, "post", "/images/edits", body=body)


def decoded_sizes(result: ImagesResponse, fmt: str = "png") -> set[tuple[int, int]]:
    """The pixel sizes of a result's images (downloading URL results), each fully decoded."""
    assert result.data, result
    sizes: set[tuple[int, int]] = set()
    with httpx.Client(timeout=20) as http:
        for item in result.data:
            if item.url is not None:
                assert item.b64_json is None
                response = http.get(item.url)
                assert response.status_code == 200
                content = response.content
            else:
                assert item.b64_json is not None
                content = base64.b64decode(item.b64_json)
            sizes.add(image_size(content, PIL_FORMATS[fmt]))
    return sizes


def assert_gpt_echo(result: ImagesResponse, size: str, fmt: str = "png") -> None:
    """A GPT image answer: resolved echoes only, usage, and base64 data."""
    assert result.size == size
    assert result.output_format == fmt
    assert result.quality in ("low", "medium", "high")
    assert result.background in ("transparent", "opaque")
    assert result.usage is not None
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    assert result.data is not None
    assert all(item.b64_json and item.url is None for item in result.data)


def data_url(content: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode('ascii')}"


def jpeg_bytes(width: int = 64, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, format="JPEG")
    return out.getvalue()


# -- generations --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("response_format", ["url", "b64_json"])
def test_generate_dall_e_2(
    emu: EmulatorServer, sdks: Clients, mode: str, response_format: str
) -> None:
    result = call(
        sdks,
        mode,
        "generate",
        model="dall-e-2",
        prompt="a red fox",
        n=2,
        size="256x256",
        response_format=response_format,
    )
    assert len(result.data or []) == 2
    assert decoded_sizes(result) == {(256, 256)}
    assert result.usage is None
    assert result.quality is None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("response_format", "style", "size"),
    [("url", "vivid", "1792x1024"), ("b64_json", "natural", "1024x1792")],
)
def test_generate_dall_e_3(
    emu: EmulatorServer, sdks: Clients, mode: str, response_format: str, style: str, size: str
) -> None:
    result = call(
        sdks,
        mode,
        "generate",
        model="dall-e-3",
        prompt="a harbour at dusk",
        size=size,
        quality="hd",
        style=style,
        response_format=response_format,
    )
    width, height = (int(side) for side in size.split("x"))
    assert decoded_sizes(result) == {(width, height)}
    assert result.data
    assert result.data[0].revised_prompt


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", GPT_MODELS)
def test_generate_gpt_image_models(
    emu: EmulatorServer, sdks: Clients, mode: str, model: str
) -> None:
    result = call(sdks, mode, "generate", model=model, prompt="an icon", quality="low")
    assert_gpt_echo(result, "1024x1024")  # size auto, made and reported as 1024x1024
    assert result.quality == "low"
    assert decoded_sizes(result) == {(1024, 1024)}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("model", "size", "fmt", "extra"),
    [
        ("gpt-image-1", "1536x1024", "jpeg", {"output_compression": 40, "moderation": "low"}),
        ("gpt-image-1.5", "1024x1536", "webp", {"background": "transparent"}),
        ("gpt-image-2", "1536x864", "png", {"background": "opaque", "n": 2}),
        ("gpt-image-2-2026-04-21", "2048x1152", "webp", {"output_compression": 80}),
    ],
)
def test_generate_gpt_image_sizes_and_formats(
    emu: EmulatorServer,
    sdks: Clients,
    mode: str,
    model: str,
    size: str,
    fmt: str,
    extra: dict[str, Any],
) -> None:
    result = call(
        sdks,
        mode,
        "generate",
        model=model,
        prompt="a poster",
        size=size,
        output_format=fmt,
        **extra,
    )
    assert_gpt_echo(result, size, fmt)
    assert result.background == extra.get("background", "opaque")
    width, height = (int(side) for side in size.split("x"))
    assert decoded_sizes(result, fmt) == {(width, height)}
    assert len(result.data or []) == extra.get("n", 1)


@pytest.mark.parametrize("mode", MODES)
def test_auto_values_come_back_resolved(emu: EmulatorServer, sdks: Clients, mode: str) -> None:
    result = call(
        sdks,
        mode,
        "generate",
        model="gpt-image-1",
        prompt="auto everything",
        size="auto",
        quality="auto",
        background="auto",
    )
    # "auto" selects "the best quality for the given model"; the image made is opaque.
    assert (result.size, result.quality, result.background) == ("1024x1024", "high", "opaque")


def test_generation_default_model_follows_the_spec(emu: EmulatorServer, sdks: Clients) -> None:
    plain = call(sdks, "sync", "generate", prompt="no model", size="256x256")
    assert plain.data
    assert plain.data[0].url
    assert plain.output_format is None
    gpt = call(sdks, "sync", "generate", prompt="no model", output_format="webp")
    assert_gpt_echo(gpt, "1024x1024", "webp")  # a GPT-image-only parameter: a GPT image model


# -- edits --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("response_format", ["url", "b64_json"])
def test_edit_dall_e_2(emu: EmulatorServer, sdks: Clients, mode: str, response_format: str) -> None:
    result = call(
        sdks,
        mode,
        "edit",
        model="dall-e-2",
        image=("photo.png", png_bytes(), "image/png"),
        mask=("mask.png", png_bytes(), "image/png"),
        prompt="add a hat",
        size="512x512",
        response_format=response_format,
    )
    assert decoded_sizes(result) == {(512, 512)}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", GPT_MODELS)
def test_edit_gpt_image_models(emu: EmulatorServer, sdks: Clients, mode: str, model: str) -> None:
    fidelity = {} if model == "gpt-image-1-mini" else {"input_fidelity": "high"}
    result = call(
        sdks,
        mode,
        "edit",
        model=model,
        image=[("a.png", png_bytes(), "image/png"), ("b.jpg", jpeg_bytes(32, 48), "image/jpeg")],
        mask=("m.png", png_bytes(), "image/png"),
        prompt="blend them",
        size="1536x1024",
        quality="medium",
        **fidelity,
    )
    assert_gpt_echo(result, "1536x1024")
    assert result.usage is not None
    assert result.usage.input_tokens_details.image_tokens > 0
    assert decoded_sizes(result) == {(1536, 1024)}
    form = emu.app_state.requests[-1]["form"]
    assert [part["filename"] for part in form["image[]"]] == ["a.png", "b.jpg"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", GPT_MODELS)
def test_json_edit_gpt_image_models(
    emu: EmulatorServer, sdks: Clients, mode: str, model: str
) -> None:
    body: dict[str, Any] = {
        "model": model,
        "prompt": "watercolour",
        "images": [
            {"image_url": data_url(png_bytes())},
            {"image_url": "https://example.com/source-image.png"},  # never fetched
            {"file_id": "file-abc123"},
        ],
        "mask": {"image_url": data_url(png_bytes())},
        "size": "1024x1536",
        "output_format": "jpeg",
        "output_compression": 70,
        "moderation": "auto",
    }
    result = json_edit(sdks, mode, body)
    assert_gpt_echo(result, "1024x1536", "jpeg")
    assert decoded_sizes(result, "jpeg") == {(1024, 1536)}
    record = emu.app_state.requests[-1]
    assert record["json"]["images"][2] == {"file_id": "file-abc123"}
    assert record["headers"]["content-type"].startswith("application/json")


def test_json_edit_default_model_and_size(emu: EmulatorServer, sdks: Clients) -> None:
    body = {"prompt": "x", "images": [{"file_id": "file-1"}]}
    result = json_edit(sdks, "sync", body)
    assert_gpt_echo(result, "1024x1024")  # gpt-image-1.5, size auto


# -- variations ---------------------------------------------------------------------------------


@VARIATIONS_DEPRECATED
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("response_format", "size"), [("url", "256x256"), ("b64_json", "512x512"), (None, None)]
)
def test_create_variation(
    emu: EmulatorServer, sdks: Clients, mode: str, response_format: str | None, size: str | None
) -> None:
    options: dict[str, Any] = {"response_format": response_format, "size": size}
    given = {key: value for key, value in options.items() if value is not None}
    result = call(
        sdks, mode, "create_variation", image=("otter.png", png_bytes(), "image/png"), n=2, **given
    )
    side = int((size or "1024x1024").split("x")[0])  # spec default: 1024x1024, as a url
    assert decoded_sizes(result) == {(side, side)}
    assert result.data is not None
    assert len(result.data) == 2
    assert (result.data[0].url is not None) == (response_format in (None, "url"))
    (record,) = [r for r in emu.app_state.requests if r["path"].endswith("/images/variations")]
    assert record["status"] == 200
    assert record["form"]["image"]["filename"] == "otter.png"


@VARIATIONS_DEPRECATED
def test_a_variation_is_a_submit_for_faults(emu: EmulatorServer, sdks: Clients) -> None:
    with pytest.raises(openai.RateLimitError):
        call(
            sdks,
            "sync",
            "create_variation",
            image=("a.png", png_bytes(), "image/png"),
            extra_headers={"X-Emulator-Fault": "submit:429:1:0"},
        )
    stats = emu.app_state.stats()
    assert stats["submits"]["openai"] == 1
    assert stats["accepted"].get("openai", 0) == 0
    assert stats["faults_applied"] == 1


# -- invalid requests ---------------------------------------------------------------------------

IMAGE = ("a.png", png_bytes(), "image/png")
LONG_PNG = png_bytes(96, 64)
BIG_PNG = png_bytes() + b"\0" * (4 * 1024 * 1024)
REF = {"file_id": "file-1"}


def bad(method: str, param: str, code: str, rule: str, **arguments: Any) -> Any:
    """A row: the SDK method, its arguments, the error's param and code, a fragment of the
    rule its message states."""
    return pytest.param(method, arguments, param, code, rule, id=f"{method}-{param}-{code}")


G, E, V = "generate", "edit", "create_variation"
INVALID = [
    bad(G, "size", "invalid_size", "dall-e-2 takes", model="dall-e-2", size="1792x1024"),
    bad(G, "size", "invalid_size", "'1792x1024'", model="dall-e-3", size="512x512"),
    bad(G, "size", "invalid_size", "takes 'auto'", model="gpt-image-1", size="1792x1024"),
    bad(G, "size", "invalid_size", "takes", model="chatgpt-image-latest", size="1536x864"),
    bad(G, "size", "invalid_size", "divisible by 16", model="gpt-image-2", size="1000x1000"),
    bad(G, "size", "invalid_size", "1:3 and 3:1", model="gpt-image-2", size="3840x1024"),
    bad(G, "size", "invalid_size", "3840x2160", model="gpt-image-2", size="3840x2176"),
    bad(G, "n", "invalid_value", "n=1", model="dall-e-3", n=2),
    bad(G, "n", "integer_above_max_value", "maximum of 10", model="gpt-image-1", n=11),
    bad(G, "n", "integer_below_min_value", "minimum of 1", model="dall-e-2", n=0),
    bad(G, "quality", "invalid_value", "'standard'", model="dall-e-2", quality="hd"),
    bad(G, "quality", "invalid_value", "'hd'", model="dall-e-3", quality="high"),
    bad(G, "quality", "invalid_value", "'medium'", model="gpt-image-1", quality="hd"),
    bad(
        G, "style", "unsupported_parameter", "only for dall-e-3",
        model="gpt-image-1", style="vivid",
    ),
    bad(G, "style", "invalid_value", "'natural'", model="dall-e-3", style="moody"),
    bad(
        G, "background", "unsupported_parameter", "GPT image",
        model="dall-e-2", background="opaque",
    ),
    bad(
        G, "output_format", "unsupported_parameter", "GPT image",
        model="dall-e-3", output_format="png",
    ),
    bad(
        G, "background", "invalid_value", "'png' or 'webp'",
        model="gpt-image-1", background="transparent", output_format="jpeg",
    ),
    bad(
        G, "output_compression", "invalid_value", "jpeg and webp",
        model="gpt-image-1", output_compression=50,
    ),
    bad(
        G, "output_compression", "invalid_value", "between 0 and 100",
        model="gpt-image-1.5", output_format="webp", output_compression=101,
    ),
    bad(G, "moderation", "invalid_value", "'low'", model="gpt-image-1", moderation="none"),
    bad(
        G, "response_format", "unsupported_parameter", "always return b64_json",
        model="gpt-image-1", response_format="b64_json",
    ),
    bad(G, "prompt", "string_above_max_length", "length 1000", model="dall-e-2", prompt="x" * 1001),
    bad(G, "prompt", "string_above_max_length", "length 4000", model="dall-e-3", prompt="x" * 4001),
    bad(
        G, "prompt", "string_above_max_length", "length 32000",
        model="gpt-image-1", prompt="x" * 32001,
    ),
    bad(
        G, "partial_images", "invalid_value", "between 0 and 3",
        model="gpt-image-1", partial_images=4,
    ),
    bad(G, "model", "invalid_value", "'gpt-image-2-2026-04-21'", model="gpt-image-2.5-sunburst"),
    bad(
        G, "input_fidelity", "unknown_parameter", "Image generations take",
        model="gpt-image-1", extra_body={"input_fidelity": "high"},
    ),
    bad(
        E, "moderation", "unknown_parameter", "Multipart image edits take",
        model="gpt-image-1", image=IMAGE, extra_body={"moderation": "low"},
    ),
    bad(
        E, "input_fidelity", "unsupported_parameter", "not supported for gpt-image-1-mini",
        model="gpt-image-1-mini", image=IMAGE, input_fidelity="high",
    ),
    bad(
        E, "input_fidelity", "invalid_value", "'high' and 'low'",
        model="gpt-image-1", image=IMAGE, input_fidelity="bogus",
    ),
    bad(
        E, "input_fidelity", "unsupported_parameter", "GPT image",
        model="dall-e-2", image=IMAGE, input_fidelity="low",
    ),
    bad(
        E, "response_format", "unsupported_parameter", "b64_json",
        model="gpt-image-1", image=IMAGE, response_format="url",
    ),
    bad(
        E, "partial_images", "invalid_value", "between 0 and 3",
        model="gpt-image-1", image=IMAGE, partial_images=-1,
    ),
    bad(E, "image", "invalid_value", "at most 1 image", model="dall-e-2", image=[IMAGE, IMAGE]),
    bad(E, "model", "invalid_value", "not supported by dall-e-3", model="dall-e-3", image=IMAGE),
    bad(
        E, "image", "invalid_image", "square PNG",
        model="dall-e-2", image=("a.png", LONG_PNG, "image/png"),
    ),
    bad(
        E, "image", "invalid_image_format", "square PNG",
        model="dall-e-2", image=("a.jpg", jpeg_bytes(), "image/jpeg"),
    ),
    bad(
        E, "image", "invalid_image_format", "PNG, WebP or JPEG",
        model="gpt-image-1", image=("a.gif", b"GIF89a", "image/gif"),
    ),
    bad(
        E, "mask", "invalid_value", "dimensions",
        model="gpt-image-1", image=IMAGE, mask=("m.png", LONG_PNG, "image/png"),
    ),
    bad(
        E, "prompt", "string_above_max_length", "length 1000",
        model="dall-e-2", image=IMAGE, prompt="x" * 1001,
    ),
    bad(V, "model", "invalid_value", "only 'dall-e-2'", model="gpt-image-1", image=IMAGE),
    bad(V, "n", "integer_above_max_value", "maximum of 10", image=IMAGE, n=11),
    bad(V, "size", "invalid_size", "'256x256'", image=IMAGE, extra_body={"size": "1024x1536"}),
    bad(V, "image", "invalid_image", "square PNG", image=("a.png", LONG_PNG, "image/png")),
    bad(V, "image", "image_too_large", "under 4 MB", image=("a.png", BIG_PNG, "image/png")),
    bad(
        V, "prompt", "unknown_parameter", "Image variations take",
        image=IMAGE, extra_body={"prompt": "x"},
    ),
]  # fmt: skip


def bad_json(param: str, code: str, rule: str, **body: Any) -> Any:
    """A row: a JSON edit's body (besides ``prompt``), the error's param, code and rule."""
    return pytest.param(body, param, code, rule, id=f"{param}-{code}")


JSON_INVALID = [
    bad_json("model", "invalid_value", "GPT image models only", model="dall-e-2", images=[REF]),
    bad_json(
        "images[0]", "invalid_value", "exactly one",
        images=[{"file_id": "f", "image_url": "https://e.x/a.png"}],
    ),
    bad_json("images", "invalid_value", "1 to 16", images=[REF] * 17),
    bad_json("images", "invalid_value", "1 to 16", images=[]),
    bad_json(
        "response_format", "unknown_parameter", "JSON image edits take",
        images=[REF], response_format="url",
    ),
    bad_json(
        "size", "invalid_size", "JSON image edits take",
        images=[REF], model="gpt-image-2", size="1536x864",
    ),
    bad_json(
        "images[0].image_url", "invalid_value", "http(s) URL",
        images=[{"image_url": "ftp://e.x/a.png"}],
    ),
    bad_json(
        "images[0].image_url", "invalid_value", "not base64",
        images=[{"image_url": "data:image/png;base64,!!"}],
    ),
    bad_json(
        "images[0].image_url", "invalid_image_format", "PNG, JPEG or WebP",
        images=[{"image_url": data_url(b"GIF89a", "image/gif")}],
    ),
    bad_json(
        "mask.url", "unknown_parameter", "'image_url' or 'file_id'",
        images=[REF], mask={"url": "x"},
    ),
    bad_json(
        "input_fidelity", "unsupported_parameter", "gpt-image-1-mini",
        images=[REF], model="gpt-image-1-mini", input_fidelity="low",
    ),
    bad_json("prompt", "missing_required_parameter", "'prompt'", images=[REF], prompt=None),
]  # fmt: skip


@VARIATIONS_DEPRECATED
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("method", "arguments", "param", "code", "rule"), INVALID)
def test_invalid_requests_raise_bad_request(
    emu: EmulatorServer,
    sdks: Clients,
    mode: str,
    method: str,
    arguments: dict[str, Any],
    param: str,
    code: str,
    rule: str,
) -> None:
    if method != "create_variation":
        arguments = {"prompt": "a cat", **arguments}
    with pytest.raises(openai.BadRequestError) as caught:
        call(sdks, mode, method, **arguments)
    error = caught.value
    assert (error.status_code, error.param, error.code) == (400, param, code)
    assert error.type == "invalid_request_error"
    assert isinstance(error.body, dict)
    assert set(error.body) == {"message", "type", "param", "code"}
    assert rule in error.body["message"]
    assert emu.app_state.requests[-1]["status"] == 400


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("body", "param", "code", "rule"), JSON_INVALID)
def test_invalid_json_edits_raise_bad_request(
    emu: EmulatorServer,
    sdks: Clients,
    mode: str,
    body: dict[str, Any],
    param: str,
    code: str,
    rule: str,
) -> None:
    payload = {"prompt": "a cat", **body}
    with pytest.raises(openai.BadRequestError) as caught:
        json_edit(sdks, mode, {key: value for key, value in payload.items() if value is not None})
    error = caught.value
    assert (error.param, error.code, error.type) == (param, code, "invalid_request_error")
    assert isinstance(error.body, dict)
    assert rule in error.body["message"]


# -- routes and methods -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_unknown_route_is_a_not_found_error(emu: EmulatorServer, sdks: Clients, mode: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        raw(sdks, mode, "post", "/images/nope", body={})
    assert caught.value.code == "not_found"
    assert caught.value.body == {
        "message": "Unknown route: POST /openai/v1/images/nope",
        "type": "invalid_request_error",
        "param": None,
        "code": "not_found",
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", ["/images/generations", "/images/edits", "/images/variations"])
def test_wrong_method_is_a_json_405(
    emu: EmulatorServer, sdks: Clients, mode: str, path: str
) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        raw(sdks, mode, "get", path)
    error = caught.value
    assert error.status_code == 405
    assert error.response.headers["allow"] == "POST"
    assert error.code == "method_not_allowed"
    assert isinstance(error.body, dict)
    assert "takes POST" in error.body["message"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/openai/v1/nope", 404),
        ("DELETE", "/openai/v1/images/generations", 405),
        ("POST", "/nope", 404),
        ("POST", "/files/img-x.png", 405),
        ("PUT", "/_emulator/requests", 405),
    ],
)
def test_routes_outside_the_sdk_answer_json_too(
    emu: EmulatorServer, method: str, path: str, status: int
) -> None:
    response = httpx.request(
        method, emu.origin + path, headers={"Authorization": "Bearer sk-sdk"}, timeout=10
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == ("not_found" if status == 404 else "method_not_allowed")


@pytest.mark.parametrize("dialect", ["geeknow", "dimilinks", "apimart"])
def test_other_dialects_answer_405_in_their_shape(emu: EmulatorServer, dialect: str) -> None:
    response = httpx.get(
        emu.url(dialect) + "/images/generations",
        headers={"Authorization": "Bearer sk-sdk"},
        timeout=10,
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    body = response.json()
    assert body["error"]["code"] == "method_not_allowed"
    if dialect == "apimart":
        assert body["code"] == 405


def test_geeknow_has_no_variations(emu: EmulatorServer) -> None:
    response = httpx.post(
        emu.url("geeknow") + "/images/variations",
        headers={"Authorization": "Bearer sk-sdk"},
        files={"image": IMAGE},
        timeout=10,
    )
    assert response.status_code == 404
    assert "(request id:" in response.json()["error"]["message"]


# -- the oracle itself --------------------------------------------------------------------------


def test_strict_validation_rejects_an_unresolved_echo() -> None:
    """The check above can fail: the strict SDK refuses ``background: "auto"``."""
    body = {"created": 1, "data": [{"b64_json": "AA=="}], "background": "auto"}
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=body))
    with (
        openai.OpenAI(
            api_key="sk-x",
            base_url="http://emulator.invalid/v1",
            max_retries=0,
            http_client=httpx2.Client(transport=transport),
            _strict_response_validation=True,
        ) as sdk,
        pytest.raises(openai.APIResponseValidationError),
    ):
        sdk.images.generate(model="gpt-image-1", prompt="x")
