"""Section 1: pure client overhead, with an in-process transport (no network at all).

Every contender does one generation and reads the URL of the first image from a canned
OpenAI-Images JSON answer. Per-call wall and CPU are timed interleaved (see ``_stats``).
"""

from __future__ import annotations

from typing import Any

import httpx2

from . import _litellm
from ._clients import (
    MOCK_BASE_URL,
    Target,
    imagebridge_async,
    imagebridge_sync,
    mock_transport,
    mock_transport2,
    openai_async,
    openai_sync,
    raw_async,
    raw_sync,
    time_async_clients,
    time_sync_clients,
)
from ._config import Settings
from ._report import Check, SectionResult, Table
from ._stats import summarize

FLOOR = "raw-httpx"
TARGET_CPU_RATIO = 1.15


def run(settings: Settings) -> SectionResult:
    result = SectionResult("overhead", "1. Pure client overhead (in-process transport)")
    target = Target()
    counts = {
        "rounds": settings.overhead_rounds,
        "batch": settings.overhead_batch,
        "warmup": settings.overhead_warmup,
    }
    samples = time_sync_clients(
        {
            FLOOR: lambda: raw_sync(target, mock_transport()),
            "imagebridge": lambda: imagebridge_sync(target, mock_transport()),
            "openai-sdk": lambda: openai_sync(target, httpx2.Client(transport=mock_transport2())),
        },
        **counts,
    )
    result.data["sync"] = summarize(samples, FLOOR)
    samples = time_async_clients(
        {
            FLOOR: lambda: raw_async(target, mock_transport()),
            "imagebridge": lambda: imagebridge_async(target, mock_transport()),
            "openai-sdk": lambda: openai_async(
                target, httpx2.AsyncClient(transport=mock_transport2())
            ),
        },
        **counts,
    )
    result.data["async"] = summarize(samples, FLOOR)
    result.data["litellm"] = _litellm.measure(settings, "overhead", MOCK_BASE_URL, **counts)
    per_call_table(result, result.data["litellm"])
    for mode in ("sync", "async"):
        row = result.data[mode]["imagebridge"]
        result.checks.append(
            Check(
                f"{mode} overhead, CPU median vs raw httpx",
                row["cpu_ratio"],
                "<=",
                TARGET_CPU_RATIO,
                note=f"wall {row['wall_ratio']:.2f}x",
            )
        )
    return result


def per_call_table(result: SectionResult, litellm: dict[str, Any]) -> None:
    """The per-call table of sections 1 and 2: sync and async rows, ratios to raw httpx."""
    table = Table(
        [
            "mode  contender",
            "wall med us",
            "wall p99 us",
            "CPU med us",
            "CPU p99 us",
            "wall ratio",
            "CPU ratio",
        ]
    )
    for mode in ("sync", "async"):
        rows: dict[str, dict[str, Any]] = dict(result.data[mode])
        if mode in litellm:
            rows["litellm*"] = litellm[mode]["litellm"]
        for name, row in rows.items():
            table.add(
                f"{mode:5} {name}",
                row["wall_median_us"],
                row["wall_p99_us"],
                row["cpu_median_us"],
                row["cpu_p99_us"],
                f"{row['wall_ratio']:.2f}x",
                f"{row['cpu_ratio']:.2f}x",
            )
    result.tables.append(table)
    if "sync" in litellm:
        result.notes.append(
            "litellm* ratios are to raw httpx timed interleaved in litellm's own interpreter"
            f" (litellm {litellm.get('litellm_version')})"
        )
    else:
        result.notes.append(f"litellm: {litellm.get('skipped') or litellm.get('error')}")
