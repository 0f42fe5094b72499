"""Peak RSS growth of one streamed generation of large images, in a fresh interpreter.

``memory``: the ``contender`` (``imagebridge`` or ``openai-sdk``) makes a generation of ``n``
images against the bench server's noise-image provider (``bench/_noise_stream.py``):
``mode`` ``stream`` with ``partials`` partial images (0: a stream of the final images only)
or ``generate`` (one JSON reply). The consumer reads every image's bytes and drops each
partial image at once (``del``): what stays is the library's own. As in ``large.py``: one
warm-up call, ``calls`` timed calls, then the allocator pinned (``_mem.fix_malloc``) and,
``repeats`` times, growth = peak RSS (reset) - RSS before the call; each image is a few
large blocks, so one more or one fewer alive at the peak moves a figure by a block: the
median of the repeats is the figure. Last, one call under :mod:`tracemalloc`, whose peak
counts Python's own allocations only, and says the same without the allocator's noise.
"""

from __future__ import annotations

import base64
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from ._mem import MIB, fix_malloc, peak_rss_mib, reset_peak, rss_mib

PROMPT = "a detailed city map, streamed"
API_KEY = "sk-bench-0123456789"


def _imagebridge(args: dict[str, Any]) -> Callable[[], int]:
    from imagebridge import ImageClient

    client = ImageClient("openai", api_key=API_KEY, base_url=args["base_url"], timeout=120)
    fields: dict[str, Any] = {"model": args["model"], "size": args["size"], "n": args["n"]}
    if args["mode"] == "generate":

        def generate() -> int:
            result = client.generate(PROMPT, **fields)
            return sum(len(image.read()) for image in result.images)

        return generate
    if args["partials"]:
        fields["partial_images"] = args["partials"]

    def stream() -> int:
        total = partials = 0
        with client.stream(PROMPT, **fields) as events:
            for event in events:
                if event.type == "partial_image":
                    data = event.image.read()
                    partials += 1
                    del data, event  # the consumer keeps no partial image
                elif event.type == "completed":
                    total = sum(len(image.read()) for image in event.result.images)
        _check(args, partials, total)
        return total

    return stream


def _openai(args: dict[str, Any]) -> Callable[[], int]:
    from openai import OpenAI

    client = OpenAI(api_key=API_KEY, base_url=args["base_url"], max_retries=0, timeout=120)
    fields: dict[str, Any] = {"model": args["model"], "size": args["size"], "n": args["n"]}
    if args["mode"] == "generate":

        def generate() -> int:
            data = client.images.generate(prompt=PROMPT, **fields).data or []
            return sum(len(base64.b64decode(item.b64_json or "")) for item in data)

        return generate
    if args["partials"]:
        fields["partial_images"] = args["partials"]

    def stream() -> int:
        finals: list[bytes] = []
        partials = 0
        with client.images.generate(prompt=PROMPT, stream=True, **fields) as events:
            for event in events:
                data = base64.b64decode(event.b64_json)
                if event.type.endswith(".completed"):
                    finals.append(data)
                else:
                    partials += 1
                del data, event
        total = sum(len(final) for final in finals)
        _check(args, partials, total)
        return total

    return stream


def _check(args: dict[str, Any], partials: int, total: int) -> None:
    """Every contender must have done the whole job."""
    expected = args["n"] * args["partials"]
    if partials != expected or not total:
        raise AssertionError(f"got {partials} partial images (expected {expected}), {total} bytes")


def memory(args: dict[str, Any]) -> dict[str, Any]:
    make = _imagebridge if args["contender"] == "imagebridge" else _openai
    call = make(args)
    size = call()  # warm-up: lazy imports, the connection
    walls: list[float] = []
    for _ in range(args["calls"]):
        start = time.perf_counter()
        call()
        walls.append(time.perf_counter() - start)
    malloc_fixed = fix_malloc()
    growths: list[float] = []
    peak_reset = True
    for _ in range(args["repeats"]):
        base = rss_mib()
        peak_reset = reset_peak() and peak_reset
        call()
        growths.append(peak_rss_mib() - base)
    tracemalloc.start()
    call()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "bytes": size,
        "wall_ms": statistics.median(walls) * 1000 if walls else float("nan"),
        "rss_growth_mib": statistics.median(growths),
        "rss_growths_mib": growths,
        "traced_peak_mib": traced_peak / MIB,
        "peak_reset": peak_reset,
        "malloc_fixed": malloc_fixed,
    }
