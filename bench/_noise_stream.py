"""A one-route OpenAI-Images provider of incompressible images, for the streaming memory figure.

``POST /bench/stream/v1/images/generations`` answers as the official spec does: with
``"stream": true``, ``text/event-stream`` events ``image_generation.partial_image`` (the
``partial_images`` asked for, 0-3, ``partial_image_index`` 0 up) then
``image_generation.completed`` with ``usage``, for each of the ``n`` images in turn, one event
every ``delay`` seconds; without it, one JSON body with ``data[].b64_json``. Every image is an
RGB PNG of random pixels stored uncompressed (about ``3 * width * height`` bytes, as large as
a real 1536x1024 result or larger), a partial image the top ``(k + 1) / (partial_images + 1)``
of the final one over grey, so it is as large as the final one: the emulator's own images are
solid fills of ~20 KB, far below the allocator's noise.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from typing import Any

from PIL import Image

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ROUTE = "/bench/stream/v1/images/generations"
MAX_PARTIALS = 3
USAGE = {
    "input_tokens": 7,
    "output_tokens": 6208,
    "total_tokens": 6215,
    "input_tokens_details": {"text_tokens": 7, "image_tokens": 0},
}


class NoiseImages:
    """The final image of each index and its partial images, rendered once, as base64."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._pixels: dict[int, bytes] = {}

    def _final_pixels(self, index: int) -> bytes:
        if index not in self._pixels:
            self._pixels[index] = os.urandom(self.width * self.height * 3)
        return self._pixels[index]

    @lru_cache(maxsize=16)  # noqa: B019 (one instance per server process)
    def b64(self, index: int, reveal: float) -> str:
        pixels = self._final_pixels(index)
        rows = round(self.height * reveal)
        row_bytes = self.width * 3
        grey = b"\x80" * (row_bytes * (self.height - rows))
        image = Image.frombytes("RGB", (self.width, self.height), pixels[: rows * row_bytes] + grey)
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=0)
        return base64.b64encode(out.getvalue()).decode("ascii")

    def common(self, b64: str) -> dict[str, Any]:
        return {
            "b64_json": b64,
            "created_at": int(time.time()),
            "size": f"{self.width}x{self.height}",
            "quality": "high",
            "background": "opaque",
            "output_format": "png",
        }


def _event(kind: str, body: dict[str, Any]) -> bytes:
    data = json.dumps({"type": kind, **body}, separators=(",", ":"))
    return f"event: {kind}\ndata: {data}\n\n".encode()


async def _read_json(receive: Receive) -> dict[str, Any]:
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = bool(message.get("more_body"))
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def with_noise_stream(app: ASGIApp, width: int, height: int, delay: float) -> ASGIApp:
    """``app`` plus :data:`ROUTE` (see the module docstring)."""
    images = NoiseImages(width, height)
    for index in range(2):  # render ahead: the first request is not the slow one
        images.b64(index, 1.0)

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != ROUTE:
            await app(scope, receive, send)
            return
        body = await _read_json(receive)
        n = max(1, min(int(body.get("n") or 1), 10))
        partials = max(0, min(int(body.get("partial_images") or 0), MAX_PARTIALS))
        if body.get("stream") is not True:
            await _plain(send, images, n)
            return
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index in range(n):
            for k in range(partials):
                await asyncio.sleep(delay)
                partial = images.common(images.b64(index, (k + 1) / (partials + 1)))
                partial["partial_image_index"] = k
                chunk = _event("image_generation.partial_image", partial)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(delay)
            final = {**images.common(images.b64(index, 1.0)), "usage": USAGE}
            chunk = _event("image_generation.completed", final)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return asgi


async def _plain(send: Send, images: NoiseImages, n: int) -> None:
    data = [{"b64_json": images.b64(index, 1.0)} for index in range(n)]
    answer = {
        "created": int(time.time()),
        "data": data,
        "background": "opaque",
        "output_format": "png",
        "quality": "high",
        "size": f"{images.width}x{images.height}",
        "usage": USAGE,
    }
    content = json.dumps(answer).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": content, "more_body": False})
