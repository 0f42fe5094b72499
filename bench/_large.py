"""Section 5: large results, time and peak RSS growth vs raw httpx doing the same.

- a ``b64_bytes`` image answered as base64 JSON through an in-process transport: call ->
  image bytes (the openai SDK's row is for information);
- a 4K image by URL saved to disk against the emulator (openai adapter, geeknow dialect,
  gpt-image-2 at 3840x2160, whose solid-fill PNG is ~110 KB), and the same job for an
  incompressible 4K-class PNG (``blob_bytes``, ~24 MB) served by the bench server, where
  streaming to disk vs buffering actually shows in RSS.

Every measurement is a fresh subprocess (``bench/workers/large.py``); rounds interleave the
contenders. RSS "no more than raw httpx" allows 1 MiB of allocator noise.
"""

from __future__ import annotations

import tempfile
from typing import Any

from ._config import MIB, Settings
from ._proc import emulator, worker
from ._report import Check, SectionResult, Table
from ._stats import median, ratio, rotated

FLOOR = "raw-httpx"
TARGET_TIME = 1.05
TARGET_STREAM_MIB = 16.0
RSS_TOLERANCE_MIB = 1.0


def _rounds(
    settings: Settings, kind: str, contenders: list[str], args: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
    for index in range(settings.large_rounds):
        for name in rotated(contenders, index):
            runs[name].append(
                worker(kind, {**args, "contender": name, "calls": settings.large_calls})
            )
    out: dict[str, dict[str, Any]] = {}
    for name, measured in runs.items():
        out[name] = {
            "bytes": measured[0]["bytes"],
            "wall_ms": median([m["wall_ms"] for m in measured]),
            "cpu_ms": median([m["cpu_ms"] for m in measured]),
            "rss_growth_mib": median([m["rss_growth_mib"] for m in measured]),
            "runs": measured,
        }
    for row in out.values():
        row["wall_ratio"] = ratio(row["wall_ms"], out[FLOOR]["wall_ms"])
        row["cpu_ratio"] = ratio(row["cpu_ms"], out[FLOOR]["cpu_ms"])
    return out


def _checks(
    result: SectionResult, label: str, rows: dict[str, dict[str, Any]], stream: bool
) -> None:
    ib, raw = rows["imagebridge"], rows[FLOOR]
    result.checks.append(
        Check(
            f"{label}: time vs raw httpx",
            ib["wall_ratio"],
            "<=",
            TARGET_TIME,
            note=f"CPU {ib['cpu_ratio']:.2f}x",
        )
    )
    result.checks.append(
        Check(
            f"{label}: RSS growth minus raw httpx's",
            ib["rss_growth_mib"] - raw["rss_growth_mib"],
            "<=",
            RSS_TOLERANCE_MIB,
            unit="MiB",
            note=f"{ib['rss_growth_mib']:.1f} vs {raw['rss_growth_mib']:.1f} MiB",
        )
    )
    if stream:
        result.checks.append(
            Check(
                f"{label}: RSS growth (streamed)",
                ib["rss_growth_mib"],
                "<",
                TARGET_STREAM_MIB,
                unit="MiB",
            )
        )


def run(settings: Settings) -> SectionResult:
    result = SectionResult("large", "5. Large results (fresh subprocess per measurement)")
    table = Table(
        [
            "job / contender",
            "size MiB",
            "wall ms",
            "CPU ms",
            "wall ratio",
            "CPU ratio",
            "RSS growth MiB",
        ]
    )
    jobs: dict[str, dict[str, dict[str, Any]]] = {}
    b64_label = f"b64 {settings.b64_bytes / MIB:g} MiB -> bytes"
    jobs[b64_label] = _rounds(
        settings, "large.b64", [FLOOR, "imagebridge", "openai-sdk"], {"size": settings.b64_bytes}
    )
    _checks(result, b64_label, jobs[b64_label], stream=False)
    with (
        tempfile.TemporaryDirectory(prefix="imagebridge-bench-") as folder,
        emulator("geeknow", blob_bytes=settings.blob_bytes) as server,
    ):
        emulator_job = {
            "base_url": server.url("geeknow"),
            "fields": {"model": "gpt-image-2", "size": "3840x2160"},
            "dir": folder,
        }
        blob_job = {
            "base_url": f"{server.origin}/bench/v1",
            "fields": {"model": "gpt-image-1"},
            "dir": folder,
        }
        for label, job in (
            ("4K URL -> file (emulator PNG)", emulator_job),
            ("4K URL -> file (noise PNG)", blob_job),
        ):
            jobs[label] = _rounds(settings, "large.url_save", [FLOOR, "imagebridge"], job)
            _checks(result, label, jobs[label], stream=True)
    for label, rows in jobs.items():
        for name, row in rows.items():
            table.add(
                f"{label} / {name}",
                row["bytes"] / MIB,
                row["wall_ms"],
                row["cpu_ms"],
                f"{row['wall_ratio']:.2f}x",
                f"{row['cpu_ratio']:.2f}x",
                row["rss_growth_mib"],
            )
    result.tables.append(table)
    result.data = {"jobs": jobs, "rss_tolerance_mib": RSS_TOLERANCE_MIB}
    result.notes.append(
        "RSS growth = peak (VmHWM, reset) - RSS before one more call, made after the warm-up"
        " and the timed calls with malloc's mmap threshold pinned (see README)"
    )
    return result
