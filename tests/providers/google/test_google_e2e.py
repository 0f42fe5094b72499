"""The ``google`` provider end to end: both clients and the CLI against the emulator's Gemini
API dialect over loopback HTTP, failures in Google's own shapes, and hostile answers."""

from __future__ import annotations

import base64
import contextlib
import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from helpers import Bridge, png
from imagebridge import (
    AsyncImageClient,
    AuthenticationError,
    BadRequestError,
    Capabilities,
    ContentPolicyError,
    ImageClient,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    default_registry,
)
from imagebridge._cli._app import cli
from imagebridge._emulator import EmulatorConfig, EmulatorServer

KEY = "AIza-e2e-secret-5c1f9e"
pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(api_key=KEY)) as running:
        yield running


@pytest.fixture
def server(emulator: EmulatorServer) -> EmulatorServer:
    """The emulator with an empty request log."""
    httpx.post(f"{emulator.origin}/_emulator/reset").raise_for_status()
    return emulator


def _log(server: EmulatorServer) -> list[dict[str, Any]]:
    entries = httpx.get(f"{server.origin}/_emulator/requests").json()
    return [e for e in entries if e["path"].startswith("/google/")]


@contextlib.asynccontextmanager
async def client(mode: str, server: EmulatorServer, key: str = KEY) -> AsyncIterator[Bridge]:
    options: dict[str, Any] = {
        "api_key": key,
        "base_url": server.url("google"),
        "retry": RetryPolicy(max_retries=0),
        "timeout": 20,
    }
    if mode == "sync":
        with ImageClient("google", **options) as sync:
            yield Bridge(mode, sync)
    else:
        async with AsyncImageClient("google", **options) as aclient:
            yield Bridge(mode, aclient)


def _size(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return str(image.format), image.size


async def test_gemini_generate_and_save(mode: str, server: EmulatorServer, tmp_path: Path) -> None:
    async with client(mode, server) as bridge:
        result = await bridge.generate(
            "a red cube", model="gemini-3-pro-image-preview", size="16:9", resolution="2k", seed=9
        )
        [saved] = await bridge.save(result, tmp_path)
    assert _size(Path(saved).read_bytes()) == ("PNG", (2752, 1536))
    assert result.warnings == []
    assert result.usage is not None
    assert result.usage.total_tokens
    [entry] = _log(server)
    assert entry["path"] == "/google/v1beta/models/gemini-3-pro-image-preview:generateContent"
    assert entry["query"] == {}
    assert entry["headers"]["x-goog-api-key"] == "[redacted]"
    config = entry["json"]["generationConfig"]
    assert config == {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
        "seed": 9,
    }


async def test_gemini_edit_sends_the_images_inline(mode: str, server: EmulatorServer) -> None:
    async with client(mode, server) as bridge:
        result = await bridge.edit("add a hat", [png(48, 32), png(8, 8)])
        data = await bridge.read(result.images[0])
    assert _size(data) == ("PNG", (48, 32))  # no ratio asked: the first image's size
    parts = _log(server)[0]["json"]["contents"][0]["parts"]
    assert parts[0] == {"text": "add a hat"}
    assert [base64.b64decode(p["inlineData"]["data"]) for p in parts[1:]] == [
        png(48, 32),
        png(8, 8),
    ]
    assert {p["inlineData"]["mimeType"] for p in parts[1:]} == {"image/png"}


async def test_imagen_generates_several_images_in_one_call(
    mode: str, server: EmulatorServer
) -> None:
    async with client(mode, server) as bridge:
        result = await bridge.generate(
            "cubes", model="imagen-4.0-ultra-generate-001", n=3, size="9:16", output_format="jpeg"
        )
        sizes = [_size(await bridge.read(image)) for image in result.images]
    assert sizes == [("JPEG", (768, 1408))] * 3
    [entry] = _log(server)
    assert entry["json"]["parameters"] == {
        "sampleCount": 3,
        "aspectRatio": "9:16",
        "outputOptions": {"mimeType": "image/jpeg"},
    }


async def test_imagen_partly_filtered_warns(mode: str, server: EmulatorServer) -> None:
    async with client(mode, server) as bridge:
        result = await bridge.generate(
            "cubes #fail=partial_x",
            model="imagen-4.0-generate-001",
            n=2,
            provider_options={"google": {"include_rai_reason": True}},
        )
    assert len(result.images) == 1
    codes = {w.code for w in result.warnings}
    assert codes == {"content_filtered", "fewer_images"}
    assert any("Support codes" in w.message for w in result.warnings)


@pytest.mark.parametrize(
    ("prompt", "model", "cls", "code"),
    [
        ("x #fail=IMAGE_SAFETY", "gemini-2.5-flash-image", ContentPolicyError, "IMAGE_SAFETY"),
        ("x #fail=blocked_SAFETY", "gemini-2.5-flash-image", ContentPolicyError, "SAFETY"),
        ("x #fail=any", "imagen-4.0-generate-001", ContentPolicyError, "RAI_FILTERED"),
        (
            "x #error=429:RESOURCE_EXHAUSTED",
            "gemini-2.5-flash-image",
            RateLimitError,
            "RESOURCE_EXHAUSTED",
        ),
        ("x #error=500:INTERNAL", "imagen-4.0-generate-001", ServerError, "INTERNAL"),
        (
            "x #error=403:PERMISSION_DENIED",
            "gemini-2.5-flash-image",
            PermissionDeniedError,
            "PERMISSION_DENIED",
        ),
        ("x #fail=NO_IMAGE", "gemini-2.5-flash-image", ServerError, "unexpected_response"),
    ],
)
async def test_failures_keep_googles_code(
    mode: str, server: EmulatorServer, prompt: str, model: str, cls: type, code: str
) -> None:
    async with client(mode, server) as bridge:
        with pytest.raises(cls) as caught:
            await bridge.generate(prompt, model=model)
    assert caught.value.code == code
    assert caught.value.provider == "google"


async def test_rate_limit_carries_retry_after(mode: str, server: EmulatorServer) -> None:
    async with client(mode, server) as bridge:
        with pytest.raises(RateLimitError) as caught:
            await bridge.generate("x #error=429:RESOURCE_EXHAUSTED")
    assert caught.value.retry_after == 1.0


async def test_a_wrong_key_is_an_authentication_error(mode: str, server: EmulatorServer) -> None:
    async with client(mode, server, key="AIza-wrong") as bridge:
        with pytest.raises(AuthenticationError) as caught:
            await bridge.generate("x")
    assert (caught.value.status_code, caught.value.code) == (400, "API_KEY_INVALID")
    assert caught.value.error_type == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"n": 2}, "n", "at most 1"),
        ({"model": "imagen-4.0-generate-001", "seed": 3}, "seed", "does not take a seed"),
        (
            {"model": "imagen-4.0-generate-001", "negative_prompt": "fog"},
            "negative_prompt",
            "does not take a negative prompt",
        ),
        ({"model": "imagen-4.0-fast-generate-001", "resolution": "2k"}, "resolution", "1k"),
        ({"model": "imagen-4.0-generate-001", "size": "21:9"}, "size", "not a ratio"),
        ({"size": "9:21"}, "size", "not a ratio"),
        ({"model": "gemini-2.5-flash-image", "resolution": "4k"}, "resolution", "1k"),
        ({"output_format": "jpeg"}, "output_format", "gemini-2.5-flash-image"),
        ({"size": "1024x1024"}, "size", "pixel sizes are not accepted"),
        ({"reference_images": ["https://example.com/a.png"]}, "reference_images[0]", "inline"),
        (
            {"provider_options": {"google": {"person_generation": "allow_all"}}},
            "provider_options.google.person_generation",
            "Imagen only",
        ),
        (
            {
                "model": "imagen-4.0-generate-001",
                "provider_options": {"google": {"response_modalities": ["IMAGE"]}},
            },
            "provider_options.google.response_modalities",
            "Gemini image models only",
        ),
    ],
)
async def test_bad_input_is_refused_before_sending(
    mode: str, server: EmulatorServer, fields: dict[str, Any], field: str, words: str
) -> None:
    async with client(mode, server) as bridge:
        with pytest.raises(InvalidRequestError) as caught:
            await bridge.generate("a cube", **fields)
    [problem] = [p for p in caught.value.problems if p.field == field]
    assert words in str(problem)
    assert _log(server) == []


async def test_imagen_edits_are_refused(mode: str, server: EmulatorServer) -> None:
    async with client(mode, server) as bridge:
        with pytest.raises(InvalidRequestError, match="cannot edit with imagen"):
            await bridge.edit("x", [png(4, 4)], model="imagen-4.0-generate-001")


def test_capabilities_declare_no_cancel_and_no_tasks() -> None:
    registry = default_registry()
    for model in ("gemini-2.5-flash-image", "imagen-4.0-generate-001"):
        caps: Capabilities = registry.model_capabilities("google", model)
        assert (caps.cancel, caps.async_tasks) == (False, False)


# -- hostile answers ----------------------------------------------------------------------------
def _answering(body: Any, status: int = 200) -> ImageClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return ImageClient(
        "google",
        api_key=KEY,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_retries=0),
        journal=False,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"candidates": "nope"},
        {"candidates": [{"content": {"parts": [{"inlineData": {"data": "%%not base64%%"}}]}}]},
        {"candidates": [{"content": {"parts": [{"inlineData": {"data": 12}}]}}]},
        {"candidates": [7]},
        [],
    ],
)
def test_malformed_gemini_answers_are_server_errors(body: Any) -> None:
    with _answering(body) as sync, pytest.raises(ServerError):
        sync.generate("x")


def test_thought_images_are_not_results() -> None:
    thought = base64.b64encode(png(2, 2)).decode()
    final = base64.b64encode(png(3, 3)).decode()
    parts = [
        {"inlineData": {"mimeType": "image/png", "data": thought}, "thought": True},
        {"inlineData": {"mimeType": "image/png", "data": final}},
    ]
    with _answering({"candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}]}) as c:
        result = c.generate("x", model="gemini-3-pro-image-preview")
        assert [image.read() for image in result.images] == [png(3, 3)]


def test_the_key_in_an_error_message_is_redacted() -> None:
    body = {"error": {"code": 400, "message": f"bad key {KEY}", "status": "INVALID_ARGUMENT"}}
    with _answering(body, 400) as sync, pytest.raises(BadRequestError) as caught:
        sync.generate("x")
    assert KEY not in str(caught.value)
    assert KEY not in json.dumps(caught.value.body)


# -- CLI ------------------------------------------------------------------------------------------
def test_cli_generate_and_edit(
    server: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    base = server.url("google")
    made = runner.invoke(
        cli,
        [
            "generate",
            "a cube",
            "-p",
            "google",
            "--base-url",
            base,
            "--size",
            "4:3",
            "--output",
            "out",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert made.exit_code == 0, made.stderr
    data = json.loads(made.stdout)
    [image] = data["images"]
    assert _size(Path(image["path"]).read_bytes()) == ("PNG", (1184, 864))
    source = tmp_path / "in.png"
    source.write_bytes(png(20, 10))
    edited = runner.invoke(
        cli,
        [
            "edit",
            "make it blue",
            "-p",
            "google",
            "--base-url",
            base,
            "--image",
            str(source),
            "--model",
            "gemini-3-pro-image-preview",
            "--output",
            "out",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert edited.exit_code == 0, edited.stderr
    [image] = json.loads(edited.stdout)["images"]
    assert _size(Path(image["path"]).read_bytes()) == ("PNG", (20, 10))
    refused = runner.invoke(
        cli,
        ["generate", "x", "-p", "google", "--base-url", base, "-n", "2"],
        catch_exceptions=False,
    )
    assert refused.exit_code != 0
    assert "n" in refused.stderr
    for result in (made, edited, refused):
        assert KEY not in result.stdout + result.stderr
