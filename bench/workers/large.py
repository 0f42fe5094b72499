"""Large results, timed and measured for peak RSS growth in a fresh interpreter.

``b64``: a ``size``-byte image answered as ``b64_json`` through an in-process transport;
the job is call -> image bytes. ``url_save``: a generation against a real server whose URL
result is downloaded to a file (imagebridge: ``image.save(path)``, which streams; raw httpx:
``client.stream`` + ``iter_bytes``). Each worker warms up with one call (``b64``: with a
small image), times ``calls`` calls, then pins the allocator (see ``_mem.fix_malloc``), takes
the current RSS as its base, resets the peak and makes one more call: growth = peak - base.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._mem import fix_malloc, peak_rss_mib, reset_peak, rss_mib

PROMPT = "a detailed city map, large result"
API_KEY = "sk-bench-0123456789"
BASE_URL = "https://api.bench.invalid/v1"


def fake_png(size: int, width: int = 2048, height: int = 2048) -> bytes:
    """``size`` bytes that start like a PNG (signature + IHDR) and then are random."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    head = b"\x89PNG\r\n\x1a\n" + chunk
    return head + os.urandom(max(0, size - len(head)))


def _b64_answer(size: int) -> bytes:
    encoded = base64.b64encode(fake_png(size)).decode()
    return json.dumps({"created": 1700000000, "data": [{"b64_json": encoded}]}).encode()


def _measure(
    call: Callable[[], int],
    calls: int,
    expected: int | None,
    before: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Warm up, time ``calls`` calls, then measure the peak RSS growth of one more.

    ``before`` runs once after the warm-up; ``after`` after every call, untimed.
    """
    call()  # warm-up: lazy imports, connection pools, server-side caches
    if before is not None:
        before()
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(calls):
        if after is not None:
            after()
        w0, c0 = time.perf_counter(), time.process_time()
        size = call()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
        if expected is not None and size != expected:
            raise AssertionError(f"got {size} bytes, expected {expected}")
    if after is not None:
        after()
    malloc_fixed = fix_malloc()
    base = rss_mib()
    peak_reset = reset_peak()
    call()
    return {
        "bytes": size,
        "wall_ms": statistics.median(walls) * 1000,
        "cpu_ms": statistics.median(cpus) * 1000,
        "rss_base_mib": base,
        "rss_growth_mib": peak_rss_mib() - base,
        "peak_reset": peak_reset,
        "malloc_fixed": malloc_fixed,
    }


def b64(args: dict[str, Any]) -> dict[str, Any]:
    import httpx

    size: int = args["size"]
    answers = {"now": _b64_answer(4096)}
    large = _b64_answer(size)

    def use_large() -> None:
        answers["now"] = large

    headers = {"content-type": "application/json"}
    contender: str = args["contender"]
    if contender == "raw-httpx":
        client = httpx.Client(
            transport=httpx.MockTransport(
                lambda r: httpx.Response(200, content=answers["now"], headers=headers)
            )
        )
        body = {"model": "gpt-image-1", "prompt": PROMPT, "n": 1}
        auth = {"Authorization": f"Bearer {API_KEY}"}

        def call() -> int:
            response = client.post(f"{BASE_URL}/images/generations", json=body, headers=auth)
            response.raise_for_status()
            return len(base64.b64decode(response.json()["data"][0]["b64_json"]))

    elif contender == "imagebridge":
        from imagebridge import ImageClient

        ib = ImageClient(
            "openai",
            api_key=API_KEY,
            base_url=BASE_URL,
            transport=httpx.MockTransport(
                lambda r: httpx.Response(200, content=answers["now"], headers=headers)
            ),
        )

        def call() -> int:
            return len(ib.generate(PROMPT, model="gpt-image-1").images[0].read())

    else:
        import httpx2
        from openai import OpenAI

        transport = httpx2.MockTransport(
            lambda r: httpx2.Response(200, content=answers["now"], headers=headers)
        )
        oa = OpenAI(
            api_key=API_KEY, base_url=BASE_URL, http_client=httpx2.Client(transport=transport)
        )

        def call() -> int:
            data = oa.images.generate(model="gpt-image-1", prompt=PROMPT).data
            encoded = data[0].b64_json if data else None
            if not encoded:
                raise AssertionError("the openai SDK returned no b64_json")
            return len(base64.b64decode(encoded))

    return _measure(call, args["calls"], size, before=use_large)


def url_save(args: dict[str, Any]) -> dict[str, Any]:
    import httpx

    base_url: str = args["base_url"]
    fields: dict[str, Any] = args["fields"]
    # Every call writes a new file and the last one is removed between calls, untimed:
    # replacing or truncating a 24 MB file makes the kernel flush and free it inside the
    # timed call, which is disk noise, not client cost.
    target = Path(args["dir"]) / f"{args['contender']}.png"

    def remove() -> None:
        target.unlink(missing_ok=True)

    if args["contender"] == "raw-httpx":
        client = httpx.Client(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120)
        body = {"prompt": PROMPT, "n": 1, **fields}

        def call() -> int:
            response = client.post(f"{base_url}/images/generations", json=body)
            response.raise_for_status()
            url = response.json()["data"][0]["url"]
            with client.stream("GET", url) as download, open(target, "wb") as file:
                download.raise_for_status()
                for chunk in download.iter_bytes(64 * 1024):
                    file.write(chunk)
            return target.stat().st_size

    else:
        from imagebridge import ImageClient

        ib = ImageClient("openai", api_key=API_KEY, base_url=base_url)

        def call() -> int:
            result = ib.generate(PROMPT, **fields)
            return result.images[0].save(target).stat().st_size

    return _measure(call, args["calls"], None, after=remove)
