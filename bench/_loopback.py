"""Section 2: sequential latency over loopback against the emulator (geeknow dialect).

The emulator runs in its own process; each contender keeps one keep-alive connection and
sends one generation at a time (``response_format=url``, so the answer is small JSON).
"""

from __future__ import annotations

from . import _litellm
from ._clients import (
    Target,
    imagebridge_async,
    imagebridge_sync,
    openai_async,
    openai_sync,
    raw_async,
    raw_sync,
    time_async_clients,
    time_sync_clients,
)
from ._config import Settings
from ._overhead import FLOOR, per_call_table
from ._proc import emulator
from ._report import Check, SectionResult
from ._stats import summarize

TARGET_WALL_RATIO = 1.10


def run(settings: Settings) -> SectionResult:
    result = SectionResult("loopback", "2. Sequential latency over loopback (geeknow emulator)")
    counts = {
        "rounds": settings.loopback_rounds,
        "batch": settings.loopback_batch,
        "warmup": max(5, settings.loopback_batch),
    }
    with emulator("geeknow") as server:
        target = Target(base_url=server.url("geeknow"), provider="geeknow", url_format=True)
        samples = time_sync_clients(
            {
                FLOOR: lambda: raw_sync(target),
                "imagebridge": lambda: imagebridge_sync(target),
                "openai-sdk": lambda: openai_sync(target),
            },
            **counts,
        )
        result.data["sync"] = summarize(samples, FLOOR)
        samples = time_async_clients(
            {
                FLOOR: lambda: raw_async(target),
                "imagebridge": lambda: imagebridge_async(target),
                "openai-sdk": lambda: openai_async(target),
            },
            **counts,
        )
        result.data["async"] = summarize(samples, FLOOR)
        result.data["litellm"] = _litellm.measure(
            settings, "loopback", server.url("geeknow"), **counts
        )
    per_call_table(result, result.data["litellm"])
    for mode in ("sync", "async"):
        row = result.data[mode]["imagebridge"]
        result.checks.append(
            Check(
                f"{mode} loopback, wall median vs raw httpx",
                row["wall_ratio"],
                "<=",
                TARGET_WALL_RATIO,
                note=f"CPU {row['cpu_ratio']:.2f}x",
            )
        )
    return result
