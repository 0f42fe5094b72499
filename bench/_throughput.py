"""Section 3: async throughput with 64 requests in flight against the emulator.

The emulator (geeknow dialect) runs in its own process. Each trial builds a fresh client,
warms it up (``throughput_warmup`` requests), then lets 64 workers send generations between them
until ``throughput_requests`` are done or ``throughput_seconds`` have passed (raw httpx's
default pool manages only ~200 req/s here, so a count alone would make the run long);
trials are interleaved round by round. Besides requests per
second it records the client's CPU per request and how busy the server was (a server near
100% of a core caps every contender alike).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx_aiohttp

from ._clients import (
    Async,
    Target,
    imagebridge_async,
    openai_async,
    raw_async,
)
from ._config import Settings
from ._proc import Server, emulator
from ._report import Check, SectionResult, Table
from ._stats import median, ratio, rotated

FLOOR = "raw-httpx"
TARGET_DEFAULT = 1.0
TARGET_AIOHTTP = 5.0


def _openai_aiohttp(target: Target) -> Async:
    from openai import DefaultAioHttpClient

    return openai_async(target, DefaultAioHttpClient())


def contenders(target: Target) -> dict[str, Callable[[], Async]]:
    return {
        FLOOR: lambda: raw_async(target),
        "imagebridge": lambda: imagebridge_async(target),
        "raw-httpx+aiohttp": lambda: raw_async(target, httpx_aiohttp.AiohttpTransport()),
        "imagebridge+aiohttp": lambda: imagebridge_async(target, httpx_aiohttp.AiohttpTransport()),
        "openai-sdk": lambda: openai_async(target),
        "openai-sdk+aiohttp": lambda: _openai_aiohttp(target),
    }


async def _drive(client: Async, total: int, inflight: int, seconds: float) -> int:
    """Send up to ``total`` calls, ``inflight`` at a time, for at most ``seconds``."""
    pending = iter(range(total))
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        for _ in pending:
            if time.perf_counter() > deadline:
                break
            await client.call()
            done += 1

    await asyncio.gather(*(worker() for _ in range(inflight)))
    return done


async def _trial(make: Callable[[], Async], settings: Settings, server: Server) -> Any:
    inflight = settings.inflight
    client = make()
    try:
        await _drive(client, settings.throughput_warmup, inflight, 60.0)  # connect, warm up
        server_cpu = server.cpu_seconds()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        total = await _drive(
            client, settings.throughput_requests, inflight, settings.throughput_seconds
        )
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        server_cpu = server.cpu_seconds() - server_cpu
    finally:
        await client.close()
    return {
        "requests": total,
        "rps": total / wall,
        "client_cpu_us_per_request": cpu / total * 1e6,
        "server_busy": server_cpu / wall,
    }


def run(settings: Settings) -> SectionResult:
    title = f"3. Async throughput, {settings.inflight} in flight (geeknow emulator, own process)"
    result = SectionResult("throughput", title)
    with emulator("geeknow") as server:
        target = Target(base_url=server.url("geeknow"), provider="geeknow", url_format=True)
        makers = contenders(target)
        trials: dict[str, list[dict[str, float]]] = {name: [] for name in makers}
        for index in range(settings.throughput_rounds):
            for name in rotated(list(makers), index):
                trials[name].append(asyncio.run(_trial(makers[name], settings, server)))
    rows: dict[str, dict[str, Any]] = {}
    for name, runs in trials.items():
        rows[name] = {
            "rps": median([r["rps"] for r in runs]),
            "client_cpu_us_per_request": median([r["client_cpu_us_per_request"] for r in runs]),
            "server_busy": median([r["server_busy"] for r in runs]),
            "trials": runs,
        }
    floor_rps = rows[FLOOR]["rps"]
    floor_cpu = rows[FLOOR]["client_cpu_us_per_request"]
    table = Table(
        ["contender", "req/s", "vs raw", "client CPU us/req", "CPU vs raw", "server busy"]
    )
    for name, row in rows.items():
        row["rps_ratio"] = ratio(row["rps"], floor_rps)
        row["cpu_ratio"] = ratio(row["client_cpu_us_per_request"], floor_cpu)
        table.add(
            name,
            row["rps"],
            f"{row['rps_ratio']:.2f}x",
            row["client_cpu_us_per_request"],
            f"{row['cpu_ratio']:.2f}x",
            f"{row['server_busy']:.0%}",
        )
    result.data = {
        "max_requests": settings.throughput_requests,
        "max_seconds": settings.throughput_seconds,
        "inflight": settings.inflight,
    }
    result.data["contenders"] = rows
    result.tables.append(table)
    result.checks += [
        Check(
            "default transport, req/s vs raw httpx",
            rows["imagebridge"]["rps_ratio"],
            ">=",
            TARGET_DEFAULT,
        ),
        Check(
            "aiohttp transport, req/s vs raw httpx (default)",
            rows["imagebridge+aiohttp"]["rps_ratio"],
            ">=",
            TARGET_AIOHTTP,
        ),
    ]
    result.notes.append(
        "server busy = emulator CPU / wall (100% = one core); a busy server caps every"
        " contender, so ratios near the cap measure the server, not the client"
    )
    return result
