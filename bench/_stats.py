"""Small statistics helpers and the interleaved (ABAB...) per-call timer.

Every contender runs the same job in turn, round after round, with the order rotated each
round, so slow drift on a shared machine (frequency scaling, a noisy neighbour) hits all of
them alike. Each call records wall time (``perf_counter_ns``) and process CPU time
(``process_time_ns``); the cost of reading the two clocks is measured on an empty call and
subtracted.
"""

from __future__ import annotations

import asyncio
import gc
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SyncCall = Callable[[], object]
AsyncCall = Callable[[], Awaitable[object]]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return float(ordered[rank])


def ratio(value: float, floor: float) -> float:
    if not floor or math.isnan(floor) or math.isnan(value):
        return math.nan
    return value / floor


def rotated(names: Sequence[str], round_index: int) -> list[str]:
    """ABC, BCA, CAB, ...: every contender takes every position equally often."""
    if not names:
        return []
    shift = round_index % len(names)
    return [*names[shift:], *names[:shift]]


@dataclass
class Samples:
    """Per-call wall and CPU times of one contender, in nanoseconds."""

    wall_ns: list[int] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)

    def add(self, wall: int, cpu: int) -> None:
        self.wall_ns.append(wall)
        self.cpu_ns.append(cpu)

    def summary(self) -> dict[str, float]:
        """Median and p99 per call, in microseconds."""
        wall = [w / 1000 for w in self.wall_ns]
        cpu = [c / 1000 for c in self.cpu_ns]
        return {
            "calls": len(wall),
            "wall_median_us": median(wall),
            "wall_p99_us": percentile(wall, 0.99),
            "cpu_median_us": median(cpu),
            "cpu_p99_us": percentile(cpu, 0.99),
        }


def _clock_cost_sync(repeat: int = 2000) -> tuple[int, int]:
    samples = Samples()
    for _ in range(repeat):
        w0, c0 = time.perf_counter_ns(), time.process_time_ns()
        c1, w1 = time.process_time_ns(), time.perf_counter_ns()
        samples.add(w1 - w0, c1 - c0)
    return int(median(samples.wall_ns)), int(median(samples.cpu_ns))


def time_sync(
    calls: Mapping[str, SyncCall], *, rounds: int, batch: int, warmup: int
) -> dict[str, Samples]:
    """Time every call ``rounds * batch`` times, interleaved batch by batch."""
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    wall_cost, cpu_cost = _clock_cost_sync()
    out = {name: Samples() for name in names}
    for index in range(rounds):
        for name in rotated(names, index):
            call, samples = calls[name], out[name]
            gc.collect()
            for _ in range(batch):
                w0, c0 = time.perf_counter_ns(), time.process_time_ns()
                call()
                c1, w1 = time.process_time_ns(), time.perf_counter_ns()
                samples.add(max(0, w1 - w0 - wall_cost), max(0, c1 - c0 - cpu_cost))
    return out


async def time_coroutines(
    calls: Mapping[str, AsyncCall], *, rounds: int, batch: int, warmup: int
) -> dict[str, Samples]:
    """:func:`time_sync` for coroutine functions, in the running event loop."""
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            await calls[name]()
    wall_cost, cpu_cost = _clock_cost_sync()
    out = {name: Samples() for name in names}
    for index in range(rounds):
        for name in rotated(names, index):
            call, samples = calls[name], out[name]
            gc.collect()
            for _ in range(batch):
                w0, c0 = time.perf_counter_ns(), time.process_time_ns()
                await call()
                c1, w1 = time.process_time_ns(), time.perf_counter_ns()
                samples.add(max(0, w1 - w0 - wall_cost), max(0, c1 - c0 - cpu_cost))
    return out


def time_async(
    calls: Mapping[str, AsyncCall], *, rounds: int, batch: int, warmup: int
) -> dict[str, Samples]:
    """:func:`time_coroutines` on a fresh event loop."""
    return asyncio.run(time_coroutines(calls, rounds=rounds, batch=batch, warmup=warmup))


def summarize(samples: Mapping[str, Samples], floor: str) -> dict[str, dict[str, Any]]:
    """Per-contender medians/p99 plus wall and CPU median ratios to the ``floor`` contender."""
    base = samples[floor].summary()
    out: dict[str, dict[str, Any]] = {}
    for name, sample in samples.items():
        row: dict[str, Any] = sample.summary()
        row["wall_ratio"] = ratio(row["wall_median_us"], base["wall_median_us"])
        row["cpu_ratio"] = ratio(row["cpu_median_us"], base["cpu_median_us"])
        out[name] = row
    return out
