"""Section 8: streaming, time to the first partial image and memory of a partial-image stream.

- **Time**, against the emulator's openai dialect in its own process (``stream_delay`` before
  each event, as a real server spaces them): one ``stream: true`` generation with
  ``partial_images`` (``bench/_stream_clients.py``), the time from the call to the first
  partial image's bytes and to the final image's, imagebridge's ``stream()`` vs the openai
  SDK's ``images.generate(stream=True)`` (the baseline of the ratios) and raw httpx +
  httpx-sse (the floor), sync and async, interleaved round by round in rotated order.
- **Memory**, each figure in a fresh interpreter (``bench/workers/streaming.py``), against the
  bench server's incompressible images (``bench/_noise_stream.py``): the peak RSS growth of a
  stream with partial images minus that of the same request without them, against one
  image's size. The spec allows 0-3 partial images per image, so "a 4-partial stream" is
  measured twice: ``n=1`` with 3 partial images (4 images streamed, 3 of them partial) and
  ``n=2`` with 2 partial images each (4 partial images).
"""

from __future__ import annotations

import asyncio
import gc
import math
from collections.abc import Mapping
from typing import Any

from . import _stream_clients as clients
from ._config import MIB, Settings
from ._proc import emulator, worker
from ._report import Check, SectionResult, Table
from ._stats import median, percentile, ratio, rotated

BASELINE = "openai-sdk"
TARGET_FIRST_PARTIAL = 1.05
#: RSS growth a partial-image stream may add to the same request without partials, in images.
TARGET_IMAGES = 1.0
MODEL = "gpt-image-1"

Samples = dict[str, list[clients.Times]]


def _summary(samples: Samples) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, times in samples.items():
        first = [t[0] / 1e6 for t in times]
        final = [t[1] / 1e6 for t in times]
        cpu = [t[2] / 1e6 for t in times]
        out[name] = {
            "calls": len(times),
            "first_partial_ms": median(first),
            "first_partial_p90_ms": percentile(first, 0.9),
            "completed_ms": median(final),
            "cpu_ms": median(cpu),
        }
    base = out[BASELINE]
    for row in out.values():
        for key in ("first_partial_ms", "completed_ms", "cpu_ms"):
            row[key.removesuffix("_ms") + "_ratio"] = ratio(row[key], base[key])
    return out


def _time_sync(job: clients.Job, settings: Settings) -> dict[str, dict[str, Any]]:
    contenders = {
        "raw-httpx": clients.raw_sync(job),
        "imagebridge": clients.imagebridge_sync(job),
        BASELINE: clients.openai_sync(job),
    }
    samples: Samples = {name: [] for name in contenders}
    try:
        for contender in contenders.values():
            for _ in range(settings.stream_warmup):
                contender.call()
        for index in range(settings.stream_rounds):
            for name in rotated(list(contenders), index):
                gc.collect()
                for _ in range(settings.stream_batch):
                    samples[name].append(contenders[name].call())
    finally:
        for contender in contenders.values():
            contender.close()
    return _summary(samples)


def _time_async(job: clients.Job, settings: Settings) -> dict[str, dict[str, Any]]:
    async def main() -> Samples:
        contenders = {
            "raw-httpx": clients.raw_async(job),
            "imagebridge": clients.imagebridge_async(job),
            BASELINE: clients.openai_async(job),
        }
        samples: Samples = {name: [] for name in contenders}
        try:
            for contender in contenders.values():
                for _ in range(settings.stream_warmup):
                    await contender.call()
            for index in range(settings.stream_rounds):
                for name in rotated(list(contenders), index):
                    gc.collect()
                    for _ in range(settings.stream_batch):
                        samples[name].append(await contenders[name].call())
        finally:
            for contender in contenders.values():
                await contender.close()
        return samples

    return _summary(asyncio.run(main()))


def _time_table(result: SectionResult, modes: Mapping[str, dict[str, dict[str, Any]]]) -> None:
    table = Table(
        [
            "mode / contender",
            "first partial ms",
            "p90 ms",
            "completed ms",
            "CPU ms",
            "first ratio",
            "completed ratio",
            "CPU ratio",
        ]
    )
    for mode, rows in modes.items():
        for name, row in rows.items():
            table.add(
                f"{mode} / {name}",
                row["first_partial_ms"],
                row["first_partial_p90_ms"],
                row["completed_ms"],
                row["cpu_ms"],
                f"{row['first_partial_ratio']:.3f}x",
                f"{row['completed_ratio']:.3f}x",
                f"{row['cpu_ratio']:.2f}x",
            )
    result.tables.append(table)
    for mode, rows in modes.items():
        ib, base, floor = rows["imagebridge"], rows[BASELINE], rows["raw-httpx"]
        excess = ib["first_partial_ms"] - base["first_partial_ms"]
        result.checks.append(
            Check(
                f"{mode} time to first partial image vs the openai SDK",
                ib["first_partial_ratio"],
                "<=",
                TARGET_FIRST_PARTIAL,
                note=f"{excess:+.2f} ms; completed {ib['completed_ratio']:.3f}x,"
                f" CPU {ib['cpu_ratio']:.2f}x; raw httpx {floor['first_partial_ratio']:.3f}x",
            )
        )


# -- memory ----------------------------------------------------------------------------------

#: (label, contender, mode, n, partial images) of each memory figure.
MemoryCase = tuple[str, str, str, int, int]


def _memory_cases(quick: bool) -> list[MemoryCase]:
    cases: list[MemoryCase] = [
        ("n=1, 3 partials", "imagebridge", "stream", 1, 3),
        ("n=1, no partials", "imagebridge", "stream", 1, 0),
        ("n=1, generate()", "imagebridge", "generate", 1, 0),
    ]
    if not quick:
        cases += [
            ("n=2, 2 partials each", "imagebridge", "stream", 2, 2),
            ("n=2, no partials", "imagebridge", "stream", 2, 0),
            ("n=1, 3 partials", BASELINE, "stream", 1, 3),
            ("n=1, no partials", BASELINE, "stream", 1, 0),
        ]
    return cases


def _memory(settings: Settings, base_url: str) -> dict[str, dict[str, Any]]:
    cases = _memory_cases(settings.quick)
    runs: dict[str, list[dict[str, Any]]] = {f"{c[0]} / {c[1]}": [] for c in cases}
    by_key = {f"{c[0]} / {c[1]}": c for c in cases}
    for index in range(settings.stream_memory_rounds):
        for key in rotated(list(by_key), index):
            _, contender, mode, n, partials = by_key[key]
            args = {
                "base_url": base_url,
                "contender": contender,
                "mode": mode,
                "n": n,
                "partials": partials,
                "model": MODEL,
                "size": settings.stream_memory_size,
                "calls": settings.stream_memory_calls,
                "repeats": settings.stream_memory_repeats,
            }
            runs[key].append(worker("streaming.memory", args))
    out: dict[str, dict[str, Any]] = {}
    for key, measured in runs.items():
        _, contender, mode, n, partials = by_key[key]
        out[key] = {
            "contender": contender,
            "mode": mode,
            "n": n,
            "partials": partials,
            "bytes": measured[0]["bytes"],
            "image_bytes": measured[0]["bytes"] / n,
            "wall_ms": median([m["wall_ms"] for m in measured]),
            "rss_growth_mib": median([g for m in measured for g in m["rss_growths_mib"]]),
            "traced_peak_mib": median([m["traced_peak_mib"] for m in measured]),
            "runs": measured,
        }
    return out


def _memory_report(result: SectionResult, rows: dict[str, dict[str, Any]]) -> None:
    table = Table(
        [
            "stream / contender",
            "image MiB",
            "wall ms",
            "RSS growth MiB",
            "added",
            "traced peak MiB",
            "added",
        ]
    )
    plain = {
        (row["contender"], row["n"]): row
        for row in rows.values()
        if row["mode"] == "stream" and not row["partials"]
    }
    for key, row in rows.items():
        base = plain.get((row["contender"], row["n"])) if row["partials"] else None
        added = traced = math.nan
        if base is not None:
            added = row["rss_growth_mib"] - base["rss_growth_mib"]
            traced = row["traced_peak_mib"] - base["traced_peak_mib"]
        row["rss_added_mib"], row["traced_added_mib"] = added, traced
        table.add(
            key,
            row["image_bytes"] / MIB,
            row["wall_ms"],
            row["rss_growth_mib"],
            "" if base is None else f"{added:+.2f}",
            row["traced_peak_mib"],
            "" if base is None else f"{traced:+.2f}",
        )
        if base is None or row["contender"] != "imagebridge":
            continue
        image_mib = row["image_bytes"] / MIB
        row["rss_added_images"] = added / image_mib if image_mib else math.nan
        result.checks.append(
            Check(
                f"{key.partition(' / ')[0]} ({_images_of(row)}): RSS added by the partials",
                added,
                "<=",
                TARGET_IMAGES * image_mib,
                unit="MiB",
                note=f"{row['rss_added_images']:.2f}x one image of {image_mib:.2f} MiB;"
                f" traced {traced / image_mib:.2f}x",
            )
        )
    result.tables.append(table)


def _images_of(row: dict[str, Any]) -> str:
    return f"{row['partials'] * row['n']} partial + {row['n']} final images"


def run(settings: Settings) -> SectionResult:
    result = SectionResult("streaming", "8. Streaming: time to first partial image, memory")
    with emulator("openai", stream_delay=settings.stream_delay) as server:
        job = clients.Job(
            server.url("openai"), MODEL, settings.stream_size, settings.stream_partials
        )
        modes = {"sync": _time_sync(job, settings), "async": _time_async(job, settings)}
    _time_table(result, modes)
    with emulator(
        "openai",
        stream_delay=settings.stream_memory_delay,
        noise_stream=settings.stream_memory_size,
    ) as server:
        memory = _memory(settings, f"{server.origin}/bench/stream/v1")
    _memory_report(result, memory)
    result.data = {
        "job": {
            "model": MODEL,
            "size": settings.stream_size,
            "partials": settings.stream_partials,
            "quality": job.quality,
            "stream_delay_s": settings.stream_delay,
        },
        "time": modes,
        "memory": memory,
        "memory_size": settings.stream_memory_size,
    }
    result.notes += [
        f"time: {MODEL} {settings.stream_size}, partial_images={settings.stream_partials},"
        f" the emulator pausing {settings.stream_delay * 1000:g} ms before each event; ratios"
        f" to the openai SDK; each contender decodes every image it receives",
        "memory: 'a 4-partial stream' (the spec allows 3 per image) is n=1 with 3 partial"
        " images (4 images streamed) and n=2 with 2 each (4 partial images); RSS added ="
        " growth of the stream minus that of the same stream without partials, each a fresh"
        " process (median of the repeats), images of random pixels stored uncompressed (one"
        f" image = {settings.stream_memory_size} x 3 bytes + PNG framing); traced ="
        " tracemalloc's peak, Python's own allocations, the same difference without the"
        " allocator's noise",
    ]
    return result
