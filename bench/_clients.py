"""The contenders of the OpenAI-Images job: one generation, the URL of its first image.

- ``raw-httpx``: ``POST {base}/images/generations`` with JSON, ``raise_for_status``, parse:
  the floor of any httpx-based client.
- ``imagebridge``: ``ImageClient`` / ``AsyncImageClient`` ``.generate(...).images[0].url``.
- ``openai-sdk``: ``client.images.generate(...).data[0].url``. openai 3.x is built on
  ``httpx2`` (it also accepts a legacy ``httpx`` client); it is given its own ``httpx2``
  transport, as its users would.

Each factory takes an optional transport (an in-process mock, or aiohttp) and returns the
call and how to close the client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx2

from imagebridge import AsyncImageClient, ImageClient

from ._stats import Samples, time_coroutines, time_sync

PROMPT = "a red cube on a white table"
MODEL = "gpt-image-1"
API_KEY = "sk-bench-0123456789"
MOCK_BASE_URL = "https://api.bench.invalid/v1"

#: What OpenAI's Images API answers for one gpt-image-1 image, as a URL result.
CANNED_BODY: dict[str, Any] = {
    "created": 1700000000,
    "data": [{"url": "https://files.bench.invalid/img/abc123.png?sig=0f1e2d"}],
    "background": "opaque",
    "output_format": "png",
    "quality": "auto",
    "size": "1024x1024",
    "usage": {
        "input_tokens": 7,
        "output_tokens": 1056,
        "total_tokens": 1063,
        "input_tokens_details": {"text_tokens": 7, "image_tokens": 0},
    },
}
CANNED_BYTES = json.dumps(CANNED_BODY).encode()
_JSON = {"content-type": "application/json"}


def mock_transport(body: bytes = CANNED_BYTES) -> httpx.MockTransport:
    """An in-process httpx transport answering every request with ``body``."""
    return httpx.MockTransport(lambda request: httpx.Response(200, content=body, headers=_JSON))


def mock_transport2(body: bytes = CANNED_BYTES) -> httpx2.MockTransport:
    """The same for httpx2 (the openai SDK's HTTP stack)."""
    return httpx2.MockTransport(lambda request: httpx2.Response(200, content=body, headers=_JSON))


@dataclass(frozen=True)
class Target:
    """Where the job goes and how: ``provider`` is imagebridge's adapter for it."""

    base_url: str = MOCK_BASE_URL
    provider: str = "openai"
    #: Ask for ``response_format=url`` (geeknow gateways; OpenAI's gpt-image is b64 only).
    url_format: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/images/generations"

    def wire_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model": MODEL, "prompt": PROMPT, "n": 1}
        if self.url_format:
            body["response_format"] = "url"
        return body

    def imagebridge_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"model": MODEL}
        if self.url_format:
            fields["provider_options"] = {self.provider: {"response_format": "url"}}
        return fields

    def openai_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"model": MODEL, "prompt": PROMPT}
        if self.url_format:
            fields["response_format"] = "url"
        return fields


@dataclass
class Sync:
    call: Callable[[], object]
    close: Callable[[], object]


@dataclass
class Async:
    call: Callable[[], Awaitable[object]]
    close: Callable[[], Awaitable[object]]


_AUTH = {"Authorization": f"Bearer {API_KEY}"}


def raw_sync(target: Target, transport: httpx.BaseTransport | None = None) -> Sync:
    client = httpx.Client(transport=transport)
    url, body = target.endpoint, target.wire_body()

    def call() -> str:
        response = client.post(url, json=body, headers=_AUTH)
        response.raise_for_status()
        return str(response.json()["data"][0]["url"])

    return Sync(call, client.close)


def raw_async(target: Target, transport: httpx.AsyncBaseTransport | None = None) -> Async:
    client = httpx.AsyncClient(transport=transport)
    url, body = target.endpoint, target.wire_body()

    async def call() -> str:
        response = await client.post(url, json=body, headers=_AUTH)
        response.raise_for_status()
        return str(response.json()["data"][0]["url"])

    return Async(call, client.aclose)


def imagebridge_sync(target: Target, transport: httpx.BaseTransport | None = None) -> Sync:
    client = ImageClient(
        target.provider, api_key=API_KEY, base_url=target.base_url, transport=transport
    )
    fields = target.imagebridge_fields()

    def call() -> str | None:
        return client.generate(PROMPT, **fields).images[0].url

    return Sync(call, client.close)


def imagebridge_async(target: Target, transport: httpx.AsyncBaseTransport | None = None) -> Async:
    client = AsyncImageClient(
        target.provider, api_key=API_KEY, base_url=target.base_url, transport=transport
    )
    fields = target.imagebridge_fields()

    async def call() -> str | None:
        return (await client.generate(PROMPT, **fields)).images[0].url

    return Async(call, client.aclose)


def openai_sync(target: Target, http_client: httpx2.Client | None = None) -> Sync:
    from openai import OpenAI

    client = OpenAI(api_key=API_KEY, base_url=target.base_url, http_client=http_client)
    fields = target.openai_fields()

    def call() -> str | None:
        data = client.images.generate(**fields).data
        return data[0].url if data else None

    return Sync(call, client.close)


def openai_async(target: Target, http_client: httpx2.AsyncClient | None = None) -> Async:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key=API_KEY, base_url=target.base_url, http_client=http_client)
    fields = target.openai_fields()

    async def call() -> str | None:
        data = (await client.images.generate(**fields)).data
        return data[0].url if data else None

    return Async(call, client.close)


def time_sync_clients(
    factories: Mapping[str, Callable[[], Sync]], *, rounds: int, batch: int, warmup: int
) -> dict[str, Samples]:
    """Build the clients, check they all give the same answer, time them, close them."""
    clients = {name: make() for name, make in factories.items()}
    try:
        _same_answer({name: client.call() for name, client in clients.items()})
        calls = {name: client.call for name, client in clients.items()}
        return time_sync(calls, rounds=rounds, batch=batch, warmup=warmup)
    finally:
        for client in clients.values():
            client.close()


def time_async_clients(
    factories: Mapping[str, Callable[[], Async]], *, rounds: int, batch: int, warmup: int
) -> dict[str, Samples]:
    """:func:`time_sync_clients` for async clients, on a fresh event loop."""

    async def main() -> dict[str, Samples]:
        clients = {name: make() for name, make in factories.items()}
        try:
            _same_answer({name: await client.call() for name, client in clients.items()})
            calls = {name: client.call for name, client in clients.items()}
            return await time_coroutines(calls, rounds=rounds, batch=batch, warmup=warmup)
        finally:
            for client in clients.values():
                await client.close()

    return asyncio.run(main())


def _same_answer(answers: Mapping[str, object]) -> None:
    """Every contender must have done the same job (the URLs agree, modulo the signature)."""
    shapes = {str(answer).split("/files/")[0] if answer else None for answer in answers.values()}
    if len(shapes) != 1 or None in shapes:
        raise AssertionError(f"the contenders disagree: {dict(answers)}")
