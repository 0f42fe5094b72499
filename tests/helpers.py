"""Shared helpers for tests/core and tests/plugins: real image bytes, fake provider answers,
and :func:`open_client`, which runs one test body through ImageClient or AsyncImageClient."""

from __future__ import annotations

import base64
import contextlib
import email.parser
import email.policy
import json
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import respx

from imagebridge import AsyncImageClient, GeneratedImage, ImageClient, ImageResult, RetryPolicy
from imagebridge.testing import FakeClock  # noqa: F401 - the kit's own, re-exported

API_KEY = "sk-test-SECRET-1234"
OPENAI_BASE = "https://api.openai.com/v1"
GEEKNOW_BASE = "https://www.geeknow.top/v1"
BASES = {"openai": OPENAI_BASE, "geeknow": GEEKNOW_BASE}
CREATED = 1700000000

Handler = Callable[[httpx.Request], httpx.Response]


# -- real image bytes -------------------------------------------------------------------------
def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png(width: int = 1, height: int = 1) -> bytes:
    """A minimal valid PNG: 1-bit greyscale, all black (small even for large sizes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    idat = zlib.compress(row * height)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def b64png(width: int = 1, height: int = 1) -> str:
    return base64.b64encode(png(width, height)).decode("ascii")


# -- fake provider answers ----------------------------------------------------------------------
def images_body(*items: dict[str, Any], usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OpenAI Images response body; without items, one 1x1 PNG as b64_json."""
    body: dict[str, Any] = {"created": CREATED, "data": list(items) or [{"b64_json": b64png()}]}
    if usage is not None:
        body["usage"] = usage
    return body


def router(provider: str = "openai") -> respx.Router:
    """A respx router for a provider's API; unmatched requests fail the test."""
    return respx.Router(base_url=BASES[provider], assert_all_called=False)


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=images_body())


def sent_json(route_or_request: Any) -> Any:
    request = getattr(route_or_request, "calls", None)
    request = route_or_request.calls.last.request if request is not None else route_or_request
    return json.loads(request.content)


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode()


def form_parts(request: httpx.Request) -> list[Part]:
    """The parts of a multipart/form-data request body, in order."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    assert message.is_multipart()
    parts = []
    for part in message.iter_parts():
        filename = part.get_filename()
        parts.append(
            Part(
                name=str(part.get_param("name", header="content-disposition")),
                filename=filename,
                content_type=part.get_content_type() if filename else None,
                data=part.get_payload(decode=True),
            )
        )
    return parts


def form_fields(request: httpx.Request) -> dict[str, str]:
    return {p.name: p.text for p in form_parts(request) if p.filename is None}


# -- one test body, both clients ----------------------------------------------------------------
class Bridge:
    """The same calls, made through an ImageClient ("sync") or an AsyncImageClient ("async")."""

    def __init__(self, mode: str, client: ImageClient | AsyncImageClient) -> None:
        self.mode = mode
        self.client = client

    async def generate(self, prompt: str, **fields: Any) -> ImageResult:
        if isinstance(self.client, ImageClient):
            return self.client.generate(prompt, **fields)
        return await self.client.generate(prompt, **fields)

    async def edit(self, prompt: str, images: Any, **fields: Any) -> ImageResult:
        if isinstance(self.client, ImageClient):
            return self.client.edit(prompt, images, **fields)
        return await self.client.edit(prompt, images, **fields)

    async def read(self, image: GeneratedImage) -> bytes:
        return image.read() if self.mode == "sync" else await image.aread()

    async def save(self, target: Any, path: Any) -> Any:
        """``target.save(path)`` for an image or a whole result."""
        return target.save(path) if self.mode == "sync" else await target.asave(path)


@contextlib.asynccontextmanager
async def open_client(
    mode: str,
    provider: str,
    handler: Handler | respx.Router,
    *,
    api_key: str | None = API_KEY,
    **options: Any,
) -> AsyncIterator[Bridge]:
    """A client of ``mode`` whose network is ``handler`` (a function or a respx router)."""
    # These tests look at single exchanges; retries have their own tests (tests/reliability).
    options.setdefault("retry", RetryPolicy(max_retries=0))
    if isinstance(handler, respx.Router):
        handler = handler.handler
    transport = httpx.MockTransport(handler)
    if mode == "sync":
        with ImageClient(provider, api_key=api_key, transport=transport, **options) as client:
            yield Bridge(mode, client)
    else:
        async with AsyncImageClient(
            provider, api_key=api_key, transport=transport, **options
        ) as aclient:
            yield Bridge(mode, aclient)


@contextlib.asynccontextmanager
async def emulated_generate(
    mode: str, server: Any, provider: str, *, api_key: str = API_KEY
) -> AsyncIterator[Callable[..., Any]]:
    """``generate(prompt, **fields)`` of an ImageClient or an AsyncImageClient on the
    emulator (``server``), awaitable either way; no retries, a 20 s deadline."""
    options: dict[str, Any] = {
        "api_key": api_key,
        "base_url": server.url(provider),
        "retry": RetryPolicy(max_retries=0),
        "timeout": 20,
    }
    if mode == "sync":
        with ImageClient(provider, **options) as client:

            async def generate(prompt: str, **fields: Any) -> ImageResult:
                return client.generate(prompt, **fields)

            yield generate
    else:
        async with AsyncImageClient(provider, **options) as aclient:
            yield aclient.generate
