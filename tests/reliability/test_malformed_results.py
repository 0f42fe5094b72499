"""The malformed results the property tests (test_properties.py) found, pinned down one by one.

A provider answers with success, but an image entry of the result cannot be used. Each of these
must end as an ImageBridgeError (a ServerError: an unexpected response), from ``generate`` or at
the latest from ``read``/``save``; today each lets a raw ValueError or httpx.InvalidURL escape.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from imagebridge import AsyncImageClient, ImageBridgeError, ImageClient, ImageResult, PollPolicy

from .support import KEY, RETRY

# Bugs these cases found, now fixed (each must now end in an ImageBridgeError):
BUG_3 = "BUG 3: a result entry whose url/b64_json has the wrong type raises ValueError"
BUG_4 = "BUG 4: undecodable base64 in a result raises binascii.Error/ValueError on read/save"
BUG_5 = "BUG 5: a result URL httpx cannot parse raises httpx.InvalidURL"

FIELDS: dict[str, dict[str, Any]] = {
    "openai": {"model": "dall-e-2", "size": "256x256"},
    "geeknow": {"model": "gpt-image-1"},
    "dimilinks": {},
    "apimart": {},
}
PNG_HEAD = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def handler(provider: str, entry: dict[str, Any]) -> httpx.MockTransport:
    """The provider accepts, succeeds and answers with ``entry`` as its one image."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and provider in ("openai", "geeknow"):
            return httpx.Response(200, json={"created": 1, "data": [entry]})
        if request.method == "POST" and provider == "dimilinks":
            return httpx.Response(200, json={"created": 1, "task_id": "t1", "data": []})
        if request.method == "POST":
            return httpx.Response(200, json={"code": 200, "data": [{"task_id": "t1"}]})
        if "/tasks/" in request.url.path and provider == "dimilinks":
            result = {"created": 1, "data": [entry]}
            return httpx.Response(200, json={"id": "t1", "status": "succeeded", "result": result})
        if "/tasks/" in request.url.path:
            data = {"id": "t1", "status": "completed", "result": {"images": [entry]}}
            return httpx.Response(200, json={"code": 200, "data": data})
        return httpx.Response(200, content=PNG_HEAD, headers={"content-type": "image/png"})

    return httpx.MockTransport(answer)


def options(provider: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "api_key": KEY,
        "base_url": f"https://{provider}.test/v1",
        "transport": handler(provider, entry),
        "poll_policy": PollPolicy(interval=0),
        "retry": RETRY,
        "journal": False,
    }


def run(mode: str, provider: str, entry: dict[str, Any]) -> None:
    """Generate, read every image and save them; any failure must be an ImageBridgeError."""
    with tempfile.TemporaryDirectory() as folder:
        if mode == "sync":
            with ImageClient(provider, **options(provider, entry)) as client:
                result: ImageResult = client.generate("x", **FIELDS[provider])
                for image in result.images:
                    image.read()
                result.save(Path(folder))
            return

        async def main() -> None:
            async with AsyncImageClient(provider, **options(provider, entry)) as aclient:
                result = await aclient.generate("x", **FIELDS[provider])
                for image in result.images:
                    await image.aread()
                await result.asave(Path(folder))

        asyncio.run(main())


def bad(entry: dict[str, Any], providers: tuple[str, ...], was: str, raised: Any) -> list[Any]:
    """``was``/``raised``: the bug each case once exposed (fixed; kept as a regression test)."""
    return [pytest.param(p, entry, id=f"{p}-{entry!r}") for p in providers]


OPENAI_LIKE = ("openai", "geeknow", "dimilinks")
CASES = [
    *bad({"url": 5}, OPENAI_LIKE, BUG_3, ValueError),
    *bad({"b64_json": ["AAAA"]}, OPENAI_LIKE, BUG_3, ValueError),
    *bad({"url": {"href": "https://cdn.test/a.png"}}, OPENAI_LIKE, BUG_3, ValueError),
    *bad({"b64_json": "AAA"}, OPENAI_LIKE, BUG_4, ValueError),  # binascii.Error: padding
    *bad({"b64_json": "\u00e9t\u00e9"}, OPENAI_LIKE, BUG_4, ValueError),  # not ASCII
    *bad({"url": "data:image/png;base64,AAA"}, OPENAI_LIKE, BUG_4, ValueError),
    *bad({"url": "/p/\x7f"}, OPENAI_LIKE, BUG_5, httpx.InvalidURL),  # resolve_url
    *bad({"url": "http://[::1"}, OPENAI_LIKE, BUG_5, httpx.InvalidURL),  # the download
    *bad({"url": ["/p/\x7f"]}, ("apimart",), BUG_5, httpx.InvalidURL),
    *bad({"url": ["http://[::1"]}, ("apimart",), BUG_5, httpx.InvalidURL),
    # For contrast, entries that are handled as they must be:
    *[pytest.param(p, {}, id=f"{p}-empty-entry") for p in (*OPENAI_LIKE, "apimart")],
    *[pytest.param(p, {"b64_json": ""}, id=f"{p}-blank-b64") for p in OPENAI_LIKE],
    pytest.param("apimart", {"url": [5]}, id="apimart-url-of-a-number"),
]


@pytest.mark.parametrize(("provider", "entry"), CASES)
def test_an_unusable_image_entry_is_an_imagebridge_error(
    provider: str, entry: dict[str, Any]
) -> None:
    for mode in ("sync", "async"):
        with pytest.raises(ImageBridgeError):
            run(mode, provider, entry)
