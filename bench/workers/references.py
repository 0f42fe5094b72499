"""Reference images sent as data URLs (dimilinks generations), through an in-process
transport that consumes the request body chunk by chunk (keeping none of it) and answers an
async submit, then a succeeded task whose result is a small ``data:`` URL.

The worker warms up with one small reference, pins the allocator (``_mem.fix_malloc``), takes
the RSS as its base, resets the peak and sends the large ones once: growth = peak - base.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from ._mem import fix_malloc, peak_rss_mib, reset_peak, rss_mib

PROMPT = "combine these references into one scene"
API_KEY = "sk-bench-0123456789"
BASE_URL = "https://dimilinks.bench.invalid/v1"
# A 1x1 PNG: the task's result, as a data: URL.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
RESULT_URL = "data:image/png;base64," + base64.b64encode(PIXEL).decode()


def _consuming_transport() -> Any:
    import httpx

    class Consuming(httpx.BaseTransport):
        def __init__(self) -> None:
            self.received = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST":
                for chunk in request.stream:  # type: ignore[union-attr]
                    self.received += len(chunk)
                body = {"created": 1700000000, "task_id": "task_bench", "data": []}
            else:
                result = {"created": 1700000000, "data": [{"url": RESULT_URL}]}
                body = {"id": "task_bench", "status": "succeeded", "result": result}
            return httpx.Response(
                200, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
            )

    return Consuming()


def run(args: dict[str, Any]) -> dict[str, Any]:
    import httpx

    small = [Path(args["warmup"])]
    large = [Path(p) for p in args["paths"]]
    transport = _consuming_transport()
    if args["contender"] == "imagebridge":
        from imagebridge import ImageClient, PollPolicy

        client = ImageClient(
            "dimilinks",
            api_key=API_KEY,
            base_url=BASE_URL,
            transport=transport,
            poll_policy=PollPolicy(interval=0.0, backoff=1.0, max_interval=0.0),
        )

        def call(paths: list[Path]) -> int:
            result = client.generate(PROMPT, reference_images=paths)
            return len(result.images[0].read())

    else:
        raw = httpx.Client(transport=transport, headers={"Authorization": f"Bearer {API_KEY}"})

        def call(paths: list[Path]) -> int:
            urls = [
                "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
                for path in paths
            ]
            body = {"model": "gpt-image-2", "prompt": PROMPT, "n": 1, "image_urls": urls}
            submit = raw.post(f"{BASE_URL}/images/generations", params={"async": "true"}, json=body)
            task_id = submit.raise_for_status().json()["task_id"]
            state = raw.get(f"{BASE_URL}/tasks/{task_id}").raise_for_status().json()
            url: str = state["result"]["data"][0]["url"]
            return len(base64.b64decode(url.partition(",")[2]))

    call(small)
    sent_before = transport.received
    malloc_fixed = fix_malloc()
    base = rss_mib()
    peak_reset = reset_peak()
    wall0 = time.perf_counter()
    size = call(large)
    wall = time.perf_counter() - wall0
    return {
        "result_bytes": size,
        "wall_s": wall,
        "body_bytes": transport.received - sent_before,
        "input_bytes": sum(p.stat().st_size for p in large),
        "rss_base_mib": base,
        "rss_growth_mib": peak_rss_mib() - base,
        "peak_reset": peak_reset,
        "malloc_fixed": malloc_fixed,
    }
