"""Streamed JSON bodies: the same JSON as encoding it whole, an exact Content-Length, and
re-iterable (a retried request sends the same bytes again)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from helpers import png
from imagebridge import ImageInput
from imagebridge.adapter import InlineImage, json_request


def _body(request: httpx.Request) -> bytes:
    return b"".join(request.stream)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [1, 2, 3, 100, 3 * 64 * 1024 + 1])
def test_streamed_body_is_the_json_of_the_data_urls(tmp_path: Path, size: int) -> None:
    data = png(4, 3) + b"\x00" * size
    path = tmp_path / "ref.png"
    path.write_bytes(data)
    images = [ImageInput.of(path), ImageInput.of(data)]
    request = json_request(
        "POST",
        "https://api.example.test/v1/x",
        {"prompt": "ü", "image_urls": [InlineImage(i) for i in images], "n": 1},
        params={"async": "true"},
    )
    body = _body(request)
    assert int(request.headers["content-length"]) == len(body)
    assert request.headers["host"] == "api.example.test"
    assert str(request.url) == "https://api.example.test/v1/x?async=true"
    assert json.loads(body) == {
        "prompt": "ü",
        "image_urls": [images[0].as_url(), images[1].as_url()],
        "n": 1,
    }
    assert _body(request) == body  # sent again on a retry: the same bytes


def test_async_iteration_gives_the_same_bytes() -> None:
    request = json_request("POST", "https://h.test/", {"a": [InlineImage(ImageInput.of(png()))]})

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]

    assert asyncio.run(collect()) == _body(request)


def test_strings_are_sent_as_given_without_streaming() -> None:
    given = ImageInput.of("https://example.test/a.png")
    request = json_request("POST", "https://h.test/", {"image_urls": [InlineImage(given)]})
    assert json.loads(request.read()) == {"image_urls": ["https://example.test/a.png"]}


def test_base64_form_has_no_prefix() -> None:
    data = png()
    request = json_request(
        "POST", "https://h.test/", {"i": InlineImage(ImageInput.of(data), "base64")}
    )
    assert json.loads(_body(request)) == {"i": ImageInput.of(data).as_base64()}
