"""Stability AI end to end: both clients against the emulator's stability dialect over real
loopback HTTP (generate, image-to-image, inpaint, both accept modes, save), its failures,
refusals before sending, the CLI, and hostile answers through a mock transport."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from helpers import Bridge, open_client
from imagebridge import (
    AsyncImageClient,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentPolicyError,
    ImageClient,
    InsufficientBalanceError,
    InvalidRequestError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    default_registry,
)
from imagebridge._cli._app import cli
from imagebridge._emulator import EmulatorConfig, EmulatorServer

pytestmark = pytest.mark.anyio

KEY = "sk-stability-test-5c1e"
NO_RETRY = RetryPolicy(max_retries=0)


def _png(width: int, height: int, alpha: bool = False) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGBA" if alpha else "RGB", (width, height), (10, 20, 30))
    if alpha:
        image.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(api_key=KEY)) as running:
        yield running


class Emulated:
    def __init__(self, mode: str, server: EmulatorServer, key: str = KEY) -> None:
        self.mode, self.server, self.key = mode, server, key

    async def __aenter__(self) -> Bridge:
        options: dict[str, Any] = {"api_key": self.key, "base_url": self.server.url("stability")}
        options.update(journal=False, retry=NO_RETRY, timeout=20)
        if self.mode == "sync":
            self.client: Any = ImageClient("stability", **options)
        else:
            self.client = AsyncImageClient("stability", **options)
        return Bridge(self.mode, self.client)

    async def __aexit__(self, *exc: object) -> None:
        if self.mode == "sync":
            self.client.close()
        else:
            await self.client.aclose()


def last(server: EmulatorServer) -> dict[str, Any]:
    entry: dict[str, Any] = server.app_state.requests[-1]
    return entry


async def test_generate_ratio_format_and_save(
    mode: str, server: EmulatorServer, tmp_path: Path
) -> None:
    async with Emulated(mode, server) as client:
        result = await client.generate("a lighthouse", size="16:9", output_format="webp", seed=9)
        [path] = await client.save(result, tmp_path)
    with Image.open(path) as image:
        assert (image.format, image.size) == ("WEBP", (1344, 768))
    assert result.raw == [{"finish_reason": "SUCCESS", "seed": 9}]
    assert result.warnings == []
    entry = last(server)
    assert entry["path"] == "/stability/v2beta/stable-image/generate/ultra"
    assert entry["headers"]["accept"] == "application/json"
    assert entry["form"] == {
        "prompt": "a lighthouse",
        "aspect_ratio": "16:9",
        "seed": "9",
        "output_format": "webp",
    }


async def test_image_bytes_reply_and_n_split(mode: str, server: EmulatorServer) -> None:
    async with Emulated(mode, server) as client:
        result = await client.generate(
            "two foxes",
            n=2,
            model="sd3.5-medium",
            output_format="jpeg",
            provider_options={"stability": {"accept": "image"}},
        )
        data = [await client.read(image) for image in result.images]
    assert [d[:3] for d in data] == [b"\xff\xd8\xff"] * 2
    assert [w.code for w in result.warnings] == ["n_split"]
    assert [raw["finish_reason"] for raw in result.raw] == ["SUCCESS", "SUCCESS"]
    assert all(isinstance(raw["seed"], int) for raw in result.raw)
    entries = server.app_state.requests[-2:]
    assert [e["headers"]["accept"] for e in entries] == ["image/*", "image/*"]
    assert all(e["form"]["model"] == "sd3.5-medium" for e in entries)


async def test_image_to_image_keeps_the_input_size(
    mode: str, server: EmulatorServer, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(_png(320, 192))
    async with Emulated(mode, server) as client:
        result = await client.generate(
            "snow",
            model="sd3.5-large",
            reference_images=[photo],
            provider_options={"stability": {"strength": 0.5}},
        )
        await client.read(result.images[0])
    assert (result.images[0].width, result.images[0].height) == (320, 192)
    form = last(server)["form"]
    assert (form["mode"], form["strength"], form["image"]["filename"]) == (
        "image-to-image",
        "0.5",
        "photo.png",
    )


async def test_inpaint_edit_with_a_canonical_mask(
    mode: str, server: EmulatorServer, tmp_path: Path
) -> None:
    async with Emulated(mode, server) as client:
        result = await client.edit(
            "a hat", [_png(256, 128)], mask=_png(256, 128, alpha=True), model="inpaint"
        )
        [path] = await client.save(result, tmp_path)
    with Image.open(path) as image:
        assert image.size == (256, 128)
    entry = last(server)
    assert entry["path"] == "/stability/v2beta/stable-image/edit/inpaint"
    assert entry["form"]["mask"]["content_type"] == "image/png"


@pytest.mark.parametrize(
    ("marker", "cls", "code"),
    [
        ("#error=403:content_moderation", ContentPolicyError, "content_moderation"),
        ("#error=402:payment_required", InsufficientBalanceError, "payment_required"),
        ("#error=429:rate_limit_exceeded", RateLimitError, "rate_limit_exceeded"),
        ("#error=500:internal_error", ServerError, "internal_error"),
        ("#error=400:bad_request", BadRequestError, "bad_request"),
        ("#fail=filtered", ContentPolicyError, "CONTENT_FILTERED"),
    ],
)
async def test_failures_keep_stability_s_code(
    mode: str, server: EmulatorServer, marker: str, cls: type[Exception], code: str
) -> None:
    async with Emulated(mode, server) as client:
        with pytest.raises(cls) as caught:
            await client.generate(f"a cat {marker}")
    error: Any = caught.value
    assert (error.provider, error.code) == ("stability", code)
    if isinstance(error, RateLimitError):
        assert error.retry_after == 1
    if code != "CONTENT_FILTERED":
        assert error.body["name"] == code
        assert isinstance(error.body["id"], str)
        assert str(error).endswith(f"emulated error: {code}")


async def test_filtered_image_with_warn_comes_back_with_a_warning(
    mode: str, server: EmulatorServer
) -> None:
    async with Emulated(mode, server) as client:
        result = await client.generate(
            "a cat #fail=x", provider_options={"stability": {"on_filtered": "warn"}}
        )
    assert result.raw[0]["finish_reason"] == "CONTENT_FILTERED"
    assert [w.code for w in result.warnings] == ["content_filtered"]
    assert "blurred" in result.warnings[0].message


async def test_wrong_key_is_an_authentication_error(mode: str, server: EmulatorServer) -> None:
    async with Emulated(mode, server, key="sk-wrong") as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.generate("a cat")
    assert caught.value.code == "unauthorized"
    assert "sk-wrong" not in repr(caught.value.body)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"seed": 0}, "seed", "random seed"),
        ({"size": "4:3"}, "size", "16:9"),
        ({"size": "1024x1024"}, "size", "pixel sizes"),
        ({"resolution": "2k", "size": "1:1"}, "resolution", "tier"),
        ({"model": "sd3.5-large-turbo", "negative_prompt": "x"}, "negative_prompt", "negative"),
        ({"model": "sd3.5-medium", "output_format": "webp"}, "output_format", "png"),
        ({"style": "anime"}, "style", "style"),
        ({"reference_images": [b"\x89PNG..."]}, "provider_options.stability.strength", "strength"),
        ({"model": "inpaint"}, "model", "edit()"),
        (
            {"provider_options": {"stability": {"cfg_scale": 3}}},
            "provider_options.stability.cfg_scale",
            "sd3.5",
        ),
        ({"quality": "high"}, "quality", ""),
        ({"n": 11}, "n", ""),
    ],
)
async def test_bad_input_is_refused_before_sending(
    mode: str, server: EmulatorServer, fields: dict[str, Any], field: str, words: str
) -> None:
    before = len(server.app_state.requests)
    async with Emulated(mode, server) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.generate("a cat", **fields)
    assert len(server.app_state.requests) == before
    problems = {p.field: p for p in caught.value.problems}
    assert field in problems, caught.value
    assert words in str(caught.value)


async def test_edits_are_refused_off_inpaint_and_with_tiny_or_opaque_inputs(
    mode: str, server: EmulatorServer
) -> None:
    async with Emulated(mode, server) as client:
        with pytest.raises(InvalidRequestError) as off:
            await client.edit("a hat", [_png(128, 128)])
        with pytest.raises(InvalidRequestError) as tiny:
            await client.edit("a hat", [_png(32, 128)], model="inpaint")
        with pytest.raises(InvalidRequestError) as opaque:
            await client.edit("a hat", [_png(128, 128)], mask=_png(128, 128), model="inpaint")
    assert "model='inpaint'" in str(off.value)
    assert "at least 64 pixels" in str(tiny.value)
    assert "has no transparency" in str(opaque.value)


def test_cancel_is_not_declared_and_refused_before_sending() -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    adapter = default_registry().adapters["stability"]("https://api.stability.ai/v2beta")
    assert not any(adapter.capabilities(model).cancel for model in adapter.models)
    with (
        ImageClient("stability", api_key=KEY, journal=False, transport=transport) as client,
        pytest.raises(ConfigurationError),
    ):
        client.cancel("some-task-id")
    assert sent == []


# -- hostile answers (mock transport) -----------------------------------------------------------
def _reply(response: httpx.Response) -> Any:
    """A handler answering a fresh copy of ``response`` (a test case serves both clients)."""
    content = response.content

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    return handle


PNG_B64 = base64.b64encode(_png(8, 8)).decode()


@pytest.mark.parametrize(
    ("response", "accept", "words"),
    [
        (
            httpx.Response(200, json={"image": "PGh0bWw+", "finish_reason": "SUCCESS"}),
            "json",
            "not base64",
        ),
        (httpx.Response(200, json={"finish_reason": "SUCCESS"}), "json", "no image"),
        (httpx.Response(200, json={"image": PNG_B64, "finish_reason": "MAYBE"}), "json", "MAYBE"),
        (
            httpx.Response(200, text="<html>ok</html>", headers={"finish-reason": "SUCCESS"}),
            "image",
            "not a PNG",
        ),
        (httpx.Response(200, json=[1, 2]), "json", "not a JSON object"),
    ],
)
async def test_unusable_answers_are_server_errors(
    mode: str, response: httpx.Response, accept: str, words: str
) -> None:
    options = {"stability": {"accept": accept}}
    async with open_client(mode, "stability", _reply(response), journal=False) as client:
        with pytest.raises(ServerError) as caught:
            await client.generate("a cat", provider_options=options)
    assert words in str(caught.value)


async def test_missing_finish_reason_is_a_warning_not_a_silent_success(mode: str) -> None:
    response = httpx.Response(200, content=_png(8, 8), headers={"content-type": "image/png"})
    options = {"stability": {"accept": "image"}}
    async with open_client(mode, "stability", _reply(response), journal=False) as client:
        result = await client.generate("a cat", provider_options=options)
    assert [w.code for w in result.warnings if w.code == "content_filtered"] == ["content_filtered"]
    assert result.raw == [{"finish_reason": None, "seed": None}]


async def test_error_bodies_of_other_shapes_and_huge_messages(mode: str) -> None:
    body = {"id": "e1", "name": "bad_request", "errors": ["x" * 5000, {"nested": 1}]}
    async with open_client(
        mode, "stability", _reply(httpx.Response(400, json=body)), journal=False
    ) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.generate("a cat")
    assert len(str(caught.value)) < 700
    assert caught.value.request_id == "e1"
    deep = httpx.Response(502, content=b"[" * 100000 + b"]" * 100000)
    async with open_client(mode, "stability", _reply(deep), journal=False) as client:
        with pytest.raises(ServerError):
            await client.generate("a cat")


# -- the CLI ------------------------------------------------------------------------------------
def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_generate_and_edit(server: EmulatorServer, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("STABILITY_API_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    base = server.url("stability")
    result = _cli(
        *("generate", "a red cube", "-p", "stability", "--base-url", base),
        *("--size", "3:2", "--seed", "5", "--negative-prompt", "blur", "--json", "-o", "out"),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    [image] = data["images"]
    with Image.open(image["path"]) as saved:
        assert saved.size == (1216, 832)
    assert KEY not in result.output
    (tmp_path / "in.png").write_bytes(_png(200, 100))
    (tmp_path / "mask.png").write_bytes(_png(200, 100, alpha=True))
    result = _cli(
        *("edit", "a hat", "--image", "in.png", "--mask", "mask.png", "-m", "inpaint"),
        *("-p", "stability", "--base-url", base, "--json", "-o", "edits"),
    )
    assert result.exit_code == 0, result.output
    [image] = json.loads(result.stdout)["images"]
    with Image.open(image["path"]) as saved:
        assert saved.size == (200, 100)
    refused = _cli("generate", "a cube", "-p", "stability", "--base-url", base, "--seed", "0")
    assert refused.exit_code == 2
    assert "random seed" in refused.output
