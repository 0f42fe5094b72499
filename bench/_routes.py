"""Section 9: routes, one batch spread over two rate-limited routes.

Two emulators (in this process, each on its own 127.0.0.1 port) serve the geeknow dialect,
each configured to answer 429 above its own requests per minute (``EmulatorConfig
(requests_per_minute=...)``, a sliding 60 s window). One ``AsyncRoutedImageClient`` over two
routes with the same client-side limits (``RateLimit(requests_per_minute=...)``) runs a
batch of N one-request items. Each item goes to the route that would make it wait least, so
each route should run at its own limit and together at their sum:

- **rate per route**: requests the emulator admitted, per minute between its first and last
  (the ratio to the route's limit, target within 5%);
- **429s**: answered by either emulator (target 0);
- **wall vs ideal**: the batch's wall time against N spaced at the two limits' sum (the
  baseline of the ratio, computed for this run's N and limits).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from imagebridge import AsyncImageClient, BatchItem, RateLimit, Route
from imagebridge._emulator import EmulatorConfig, EmulatorServer

from ._config import Settings
from ._report import Check, SectionResult, Table
from ._stats import ratio

KEY = "sk-bench-routes"
DIALECT = "geeknow"
MODEL = "gpt-image-1"
TOLERANCE = 0.05
CONCURRENCY = 16


def _rate(server: EmulatorServer) -> tuple[int, float]:
    """The generation requests ``server`` admitted and their rate, per minute."""
    times = sorted(
        entry["time"]
        for entry in server.app_state.requests
        if entry["path"].endswith("/images/generations") and entry.get("status") != 429
    )
    if len(times) < 2:
        return len(times), float("nan")
    return len(times), (len(times) - 1) / (times[-1] - times[0]) * 60.0


async def _batch(servers: list[EmulatorServer], rpms: tuple[int, int], n: int) -> dict[str, Any]:
    routes = [
        Route(
            name=f"route-{rpm}rpm",
            provider=DIALECT,
            model=MODEL,
            base_url=server.url(DIALECT),
            api_key=KEY,
            rate_limit=RateLimit(requests_per_minute=rpm),
        )
        for server, rpm in zip(servers, rpms, strict=True)
    ]
    items = [BatchItem(str(i), f"a lighthouse, take {i}") for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="imagebridge-bench-routes-") as folder:
        async with AsyncImageClient.from_routes(
            routes, journal=Path(folder) / "journal.sqlite3", timeout=600
        ) as client:
            began = time.perf_counter()
            outcomes = await client.batch(items, Path(folder) / "out", concurrency=CONCURRENCY)
            wall = time.perf_counter() - began
    return {
        "wall_s": wall,
        "statuses": {s: sum(o.status == s for o in outcomes) for s in {o.status for o in outcomes}},
        "per_route": {r.label: sum(o.route == r.label for o in outcomes) for r in routes},
    }


def run(settings: Settings) -> SectionResult:
    result = SectionResult("routes", "9. Routes: one batch over two rate-limited routes")
    n, rpms = settings.routes_requests, settings.routes_rpm
    configs = [EmulatorConfig(api_key=KEY, requests_per_minute=rpm) for rpm in rpms]
    with EmulatorServer(configs[0]) as first, EmulatorServer(configs[1]) as second:
        servers = [first, second]
        measured = asyncio.run(_batch(servers, rpms, n))
        rates = [_rate(server) for server in servers]
        limited = [sum(server.app_state.stats()["rate_limited"].values()) for server in servers]
    ideal = n / sum(rpms) * 60.0
    table = Table(["route", "limit /min", "requests", "rate /min", "rate / limit", "429s"])
    rows: dict[str, Any] = {}
    for (count, rate), rpm, refused in zip(rates, rpms, limited, strict=True):
        name = f"route-{rpm}rpm"
        rows[name] = {"limit": rpm, "requests": count, "rate": rate, "ratio": ratio(rate, rpm)}
        rows[name]["rate_limited"] = refused
        table.add(name, float(rpm), float(count), rate, f"{ratio(rate, rpm):.3f}x", str(refused))
        result.checks.append(Check(f"{name}: rate / limit", ratio(rate, rpm), ">=", 1 - TOLERANCE))
        result.checks.append(
            Check(f"{name}: rate / limit (upper)", ratio(rate, rpm), "<=", 1 + TOLERANCE)
        )
    result.checks.append(Check("429s from the emulators", float(sum(limited)), "<=", 0, unit=""))
    result.checks.append(
        Check(
            "batch wall / ideal",
            ratio(measured["wall_s"], ideal),
            "<=",
            1 + TOLERANCE,
            note=f"{measured['wall_s']:.1f} s for {n} requests; ideal {ideal:.1f} s at"
            f" {sum(rpms)}/min",
        )
    )
    result.tables.append(table)
    result.data = {
        "requests": n,
        "limits": list(rpms),
        "ideal_s": ideal,
        **measured,
        "routes": rows,
    }
    result.notes.append(
        f"{n} one-request items ({DIALECT}, {MODEL}) over two routes limited to"
        f" {rpms[0]} and {rpms[1]} requests/min on the client, each emulator answering 429"
        f" above the same limit; batch concurrency {CONCURRENCY}; rate = requests admitted"
        " per minute between a route's first and last"
    )
    return result
