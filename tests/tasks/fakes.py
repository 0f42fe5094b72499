"""Test doubles for the asynchronous-task tests: a fake clock, real PNG bytes, canned provider
bodies, a multipart parser and :func:`open_client`, which runs one test body through
``ImageClient`` or ``AsyncImageClient``."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import respx
from PIL import Image

from helpers import Part, form_parts  # noqa: F401 - re-exported for the task tests
from imagebridge import (
    AsyncImageClient,
    GeneratedImage,
    ImageClient,
    ImageResult,
    RetryPolicy,
    TaskHandle,
)

API_KEY = "sk-dimi-SECRET-5f4e3d2c1b"
BASE = "https://dimilinks.test/v1"
ORIGIN = "https://dimilinks.test"
APIMART_BASE = "https://apimart.test/v1"
BASES = {"dimilinks": BASE, "apimart": APIMART_BASE, "openai": "https://openai.test/v1"}
SIGNED = "/p/img/img_x/0?exp=1777166400000&sig=abc"
TASK = "img_x"


class FakeClock:
    """The ``Clock`` protocol on virtual time: sleeping advances it instantly and is recorded."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = start
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

    @property
    def elapsed(self) -> float:
        return self.now - self.start


def png(width: int = 8, height: int = 8, colour: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    """A real PNG file of the given size, made by Pillow."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def pixel_size(data: bytes) -> tuple[int, int]:
    """Decode an image fully with Pillow and return its size."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size


# -- canned dimilinks bodies --------------------------------------------------------------------
def accepted(task_id: str = TASK) -> httpx.Response:
    return httpx.Response(200, json={"created": 1777080000, "task_id": task_id, "data": []})


def task(status: str, progress: int | None = None, task_id: str = TASK, **extra: Any) -> Any:
    body: dict[str, Any] = {"id": task_id, "task_id": task_id, "object": "image.task"}
    body["status"] = status
    if progress is not None:
        body["progress"] = progress
    body["created_at"] = 1777080000
    body.update(extra)
    return httpx.Response(200, json=body)


def succeeded(*urls: str, task_id: str = TASK) -> httpx.Response:
    data = [{"url": url, "file_id": f"file_{i}"} for i, url in enumerate(urls or (SIGNED,))]
    return task(
        "succeeded",
        100,
        task_id,
        completed_at=1777080030,
        result={"created": 1777080000, "data": data},
    )


def failed(code: str, message: str = "it failed", **extra: Any) -> httpx.Response:
    return task("failed", 100, error={"code": code, "message": message}, **extra)


def dimilinks_error(status: int, code: str, message: str = "nope", **headers: str) -> Any:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return httpx.Response(status, json=body, headers=headers)


# -- routers --------------------------------------------------------------------------------------
def router() -> respx.Router:
    """A router for absolute URLs; an unmatched request raises inside the test."""
    return respx.Router(assert_all_called=False, assert_all_mocked=True)


def dimilinks_routes(
    api: respx.Router, *polls: Any, image: bytes | None = None
) -> tuple[respx.Route, respx.Route, respx.Route]:
    """Submit accepted as ``img_x``, ``polls`` as the poll answers, the signed image route."""
    submit = api.post(f"{BASE}/images/generations").mock(return_value=accepted())
    poll = api.get(f"{BASE}/tasks/{TASK}").mock(side_effect=list(polls))
    download = api.get(f"{ORIGIN}/p/img/{TASK}/0").mock(
        return_value=httpx.Response(
            200, content=image or png(), headers={"content-type": "image/png"}
        )
    )
    return submit, poll, download


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


# -- multipart ------------------------------------------------------------------------------------
# -- one test body, both clients ------------------------------------------------------------------
@dataclass
class Sent:
    method: str
    url: str
    headers: httpx.Headers
    timeout: dict[str, float | None]


class Bridge:
    """The same calls, made through an ImageClient ("sync") or an AsyncImageClient ("async")."""

    def __init__(self, mode: str, client: ImageClient | AsyncImageClient, sent: list[Sent]) -> None:
        self.mode = mode
        self.client = client
        #: Every request as it went on the wire (the driver strips credentials afterwards).
        self.sent = sent

    def headers_of(self, url_prefix: str) -> list[httpx.Headers]:
        return [s.headers for s in self.sent if s.url.startswith(url_prefix)]

    async def generate(self, prompt: str, **fields: Any) -> ImageResult:
        if isinstance(self.client, ImageClient):
            return self.client.generate(prompt, **fields)
        return await self.client.generate(prompt, **fields)

    async def edit(self, prompt: str, images: Any, **fields: Any) -> ImageResult:
        if isinstance(self.client, ImageClient):
            return self.client.edit(prompt, images, **fields)
        return await self.client.edit(prompt, images, **fields)

    async def submit(self, prompt: str, **fields: Any) -> TaskHandle:
        if isinstance(self.client, ImageClient):
            return self.client.submit(prompt, **fields)
        return await self.client.submit(prompt, **fields)

    async def wait(self, handle: TaskHandle | str, **options: Any) -> ImageResult:
        if isinstance(self.client, ImageClient):
            return self.client.wait(handle, **options)
        return await self.client.wait(handle, **options)

    async def read(self, image: GeneratedImage) -> bytes:
        return image.read() if self.mode == "sync" else await image.aread()

    async def save(self, target: Any, path: Any) -> Any:
        """``target.save(path)`` for an image or a whole result."""
        return target.save(path) if self.mode == "sync" else await target.asave(path)


@contextlib.asynccontextmanager
async def open_client(
    mode: str,
    provider: str,
    api: respx.Router | None = None,
    *,
    api_key: str | None = API_KEY,
    **options: Any,
) -> AsyncIterator[Bridge]:
    """A client of ``mode`` whose network is the respx router ``api`` (or the real one)."""
    options.setdefault("base_url", BASES.get(provider))
    # These tests look at single exchanges; retries have their own tests (tests/reliability).
    options.setdefault("retry", RetryPolicy(max_retries=0))
    sent: list[Sent] = []
    if api is not None:
        routes = api

        def handler(request: httpx.Request) -> httpx.Response:
            timeout = dict(request.extensions.get("timeout", {}))
            sent.append(Sent(request.method, str(request.url), request.headers.copy(), timeout))
            return routes.handler(request)

        options["transport"] = httpx.MockTransport(handler)
    if mode == "sync":
        with ImageClient(provider, api_key=api_key, **options) as client:
            yield Bridge(mode, client, sent)
    else:
        async with AsyncImageClient(provider, api_key=api_key, **options) as aclient:
            yield Bridge(mode, aclient, sent)
