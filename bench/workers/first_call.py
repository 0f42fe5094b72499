"""The first call after constructing a client, in a fresh interpreter.

Times the import, the client's construction, the first ``generate`` (which pays for lazy
imports, plugin discovery, capability tables, model validators...) and a second one, all
through an in-process transport answering the canned OpenAI-Images JSON.
"""

from __future__ import annotations

import json
import time
from typing import Any

BODY = json.dumps(
    {
        "created": 1700000000,
        "data": [{"url": "https://files.bench.invalid/img/abc123.png"}],
        "usage": {"input_tokens": 7, "output_tokens": 1056, "total_tokens": 1063},
    }
).encode()
PROMPT = "a red cube on a white table"
API_KEY = "sk-bench-0123456789"
BASE_URL = "https://api.bench.invalid/v1"
HEADERS = {"content-type": "application/json"}


def _timed(step: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = step()
    return value, (time.perf_counter() - start) * 1000


def imagebridge(args: dict[str, Any]) -> dict[str, Any]:
    def load() -> Any:
        import httpx

        from imagebridge import ImageClient

        return ImageClient, httpx

    (image_client, httpx), import_ms = _timed(load)

    def construct() -> Any:
        transport = httpx.MockTransport(
            lambda r: httpx.Response(200, content=BODY, headers=HEADERS)
        )
        return image_client("openai", api_key=API_KEY, base_url=BASE_URL, transport=transport)

    client, construct_ms = _timed(construct)

    def call() -> Any:
        return client.generate(PROMPT, model="gpt-image-1").images[0].url

    _, first_ms = _timed(call)
    _, second_ms = _timed(call)
    return {
        "import_ms": import_ms,
        "construct_ms": construct_ms,
        "first_ms": first_ms,
        "second_ms": second_ms,
    }


def openai(args: dict[str, Any]) -> dict[str, Any]:
    def load() -> Any:
        import httpx2
        import openai

        return openai, httpx2

    (module, httpx2), import_ms = _timed(load)

    def construct() -> Any:
        transport = httpx2.MockTransport(
            lambda r: httpx2.Response(200, content=BODY, headers=HEADERS)
        )
        return module.OpenAI(
            api_key=API_KEY, base_url=BASE_URL, http_client=httpx2.Client(transport=transport)
        )

    client, construct_ms = _timed(construct)

    def call() -> Any:
        return client.images.generate(model="gpt-image-1", prompt=PROMPT).data[0].url

    _, first_ms = _timed(call)
    _, second_ms = _timed(call)
    return {
        "import_ms": import_ms,
        "construct_ms": construct_ms,
        "first_ms": first_ms,
        "second_ms": second_ms,
    }
