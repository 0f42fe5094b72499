"""Both sides refuse the same invalid requests: imagebridge before sending anything, with the
rule in the message, and the emulator (which follows the spec on its own) with an
OpenAI-shaped 400 that the official SDK raises as ``BadRequestError``.

Each row is one rule of the spec's descriptions, written once as the equivalent calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest

from helpers import png
from imagebridge import ImageClient, InvalidRequestError
from imagebridge._emulator import EmulatorConfig, EmulatorServer

KEY = "sk-refusals-0123456789"
SQUARE = png(64, 64)
WIDE = png(64, 32)


@dataclass(frozen=True)
class Rule:
    name: str
    #: imagebridge: ``(method, fields)``; the refusal must name ``field`` and say ``because``.
    method: str
    fields: dict[str, Any]
    field: str
    because: str
    #: The SDK: ``(method of client.images, kwargs)``.
    sdk: tuple[str, dict[str, Any]]


def _image(data: bytes = SQUARE) -> tuple[str, bytes, str]:
    return ("image.png", data, "image/png")


RULES = [
    Rule(
        "dall-e-3 sizes",
        "generate",
        {"model": "dall-e-3", "size": "512x512"},
        "size",
        "not a size",
        ("generate", {"prompt": "p", "model": "dall-e-3", "size": "512x512"}),
    ),
    Rule(
        "n is at most 10",
        "generate",
        {"model": "dall-e-2", "n": 11},
        "n",
        "less than or equal to 10",
        ("generate", {"prompt": "p", "model": "dall-e-2", "n": 11}),
    ),
    Rule(
        "dall-e-2 has no hd quality",
        "generate",
        {"model": "dall-e-2", "quality": "hd"},
        "quality",
        "not a value",
        ("generate", {"prompt": "p", "model": "dall-e-2", "quality": "hd"}),
    ),
    Rule(
        "style is dall-e-3 only",
        "generate",
        {"model": "gpt-image-1", "style": "vivid"},
        "style",
        "does not support",
        ("generate", {"prompt": "p", "model": "gpt-image-1", "style": "vivid"}),
    ),
    Rule(
        "background is for GPT image models",
        "generate",
        {"model": "dall-e-3", "background": "transparent"},
        "background",
        "does not support",
        ("generate", {"prompt": "p", "model": "dall-e-3", "background": "transparent"}),
    ),
    Rule(
        "output_format is for GPT image models",
        "generate",
        {"model": "dall-e-2", "output_format": "webp"},
        "output_format",
        "does not support",
        ("generate", {"prompt": "p", "model": "dall-e-2", "output_format": "webp"}),
    ),
    Rule(
        "gpt-image-1 sizes",
        "generate",
        {"model": "gpt-image-1", "size": "2048x2048"},
        "size",
        "not a size",
        ("generate", {"prompt": "p", "model": "gpt-image-1", "size": "2048x2048"}),
    ),
    Rule(
        "response_format is for dall-e",
        "generate",
        {"model": "gpt-image-1", "provider_options": {"openai": {"response_format": "url"}}},
        "provider_options.openai.response_format",
        "dall-e",
        ("generate", {"prompt": "p", "model": "gpt-image-1", "response_format": "url"}),
    ),
    Rule(
        "dall-e-2 prompts are at most 1000 characters",
        "generate",
        {"model": "dall-e-2", "prompt": "x" * 1001},
        "prompt",
        "1000",
        ("generate", {"prompt": "x" * 1001, "model": "dall-e-2"}),
    ),
    Rule(
        "dall-e-3 does not edit",
        "edit",
        {"model": "dall-e-3"},
        "images",
        "cannot edit",
        ("edit", {"prompt": "p", "model": "dall-e-3", "image": _image()}),
    ),
    Rule(
        "multipart edits take no moderation",
        "edit",
        {"model": "gpt-image-1", "moderation": "low"},
        "moderation",
        "moderation",
        (
            "edit",
            {
                "prompt": "p",
                "model": "gpt-image-1",
                "image": _image(),
                "extra_body": {"moderation": "low"},
            },
        ),
    ),
    Rule(
        "gpt-image-1-mini has no input fidelity",
        "edit",
        {"model": "gpt-image-1-mini", "provider_options": {"openai": {"input_fidelity": "high"}}},
        "provider_options.openai.input_fidelity",
        "input_fidelity",
        (
            "edit",
            {
                "prompt": "p",
                "model": "gpt-image-1-mini",
                "image": _image(),
                "input_fidelity": "high",
            },
        ),
    ),
    Rule(
        "dall-e-2 edits a square PNG",
        "edit",
        {"model": "dall-e-2", "images": [WIDE]},
        "images[0]",
        "square",
        ("edit", {"prompt": "p", "model": "dall-e-2", "image": _image(WIDE)}),
    ),
    Rule(
        "variations are dall-e-2 only",
        "vary",
        {"model": "dall-e-3"},
        "image",
        "variations",
        ("create_variation", {"model": "dall-e-3", "image": _image()}),
    ),
    Rule(
        "dall-e-2 variation sizes",
        "vary",
        {"model": "dall-e-2", "size": "1792x1024"},
        "size",
        "not a size",
        ("create_variation", {"model": "dall-e-2", "image": _image(), "size": "1792x1024"}),
    ),
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(api_key=KEY)) as server:
        yield server


def _refused_by_imagebridge(rule: Rule, folder: Path) -> InvalidRequestError:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent {request.method} {request.url}")

    fields = dict(rule.fields)
    prompt = fields.pop("prompt", "p")
    images = fields.pop("images", [SQUARE])
    image = folder / "image.png"
    image.write_bytes(images[0])
    calls = {
        "generate": lambda client: client.generate(prompt, **fields),
        "edit": lambda client: client.edit(prompt, [image], **fields),
        "vary": lambda client: client.vary(image, **fields),
    }
    transport = httpx.MockTransport(never)
    client = ImageClient("openai", api_key=KEY, transport=transport, journal=False)
    try:
        with pytest.raises(InvalidRequestError) as info:
            calls[rule.method](client)
    finally:
        client.close()
    return info.value


# The SDK marks create_variation deprecated; the endpoint is in the spec and live.
@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_both_sides_refuse_the_same_request(
    rule: Rule, emulator: EmulatorServer, tmp_path: Path
) -> None:
    error = _refused_by_imagebridge(rule, tmp_path)
    [problem] = [p for p in error.problems if p.field == rule.field]
    assert rule.because in problem.reason, problem.reason
    method, kwargs = rule.sdk
    http = httpx2.Client()
    sdk = openai.OpenAI(
        api_key=KEY, base_url=emulator.url("openai"), http_client=http, max_retries=0
    )
    call = getattr(sdk.images, method)
    with pytest.raises(openai.BadRequestError) as refused:
        call(**kwargs)
    assert refused.value.status_code == 400
    body = refused.value.body
    assert isinstance(body, dict), body
    assert body.get("type") == "invalid_request_error", body
    http.close()
