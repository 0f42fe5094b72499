"""Iteration counts and sizes of a full run and of ``--quick`` (a smoke run of < 60 s)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "latest.json"
#: An interpreter with litellm installed (optional: litellm rows are skipped without it).
LITELLM_ENV = "IMAGEBRIDGE_BENCH_LITELLM_PYTHON"

MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    quick: bool
    # 1. pure overhead (in-process transport)
    overhead_rounds: int
    overhead_batch: int
    overhead_warmup: int
    # 2. sequential latency over loopback
    loopback_rounds: int
    loopback_batch: int
    # 3. throughput at 64 in flight
    inflight: int
    throughput_requests: int
    throughput_seconds: float
    throughput_rounds: int
    throughput_warmup: int
    # 4. concurrent async tasks
    tasks: int
    task_duration: float
    task_repeats: int
    #: A run still going after this many seconds is stopped and reported as capped.
    task_deadline: float
    # 5. large results
    b64_bytes: int
    blob_bytes: int
    large_rounds: int
    large_calls: int
    # 6. reference images
    reference_bytes: int
    reference_count: int
    reference_rounds: int
    # 7. imports and first call
    import_repeats: int
    first_call_repeats: int
    # 8. streaming: time to the first partial image (emulator), memory (noise images)
    stream_delay: float
    stream_size: str
    stream_partials: int
    stream_rounds: int
    stream_batch: int
    stream_warmup: int
    stream_memory_size: str
    stream_memory_delay: float
    stream_memory_rounds: int
    stream_memory_calls: int
    stream_memory_repeats: int
    # 9. routes: one batch over two rate-limited routes
    routes_requests: int
    routes_rpm: tuple[int, int]
    # 10. shared batches: 1-4 worker processes over PostgreSQL
    shared_per_worker: int
    shared_concurrency: int
    shared_task_duration: float
    shared_limit_workers: int
    shared_limit_items: int
    shared_rpm: float
    # 11. image ready at the provider -> file on disk
    ready_duration: float
    ready_rounds: int
    #: The poll interval of the clients (None: the default policy; quick runs poll sooner).
    ready_interval: float | None
    # 12. what each path adds per call
    paths_rounds: int
    paths_batch: int
    paths_warmup: int

    @property
    def litellm_python(self) -> str | None:
        value = os.environ.get(LITELLM_ENV, "").strip()
        return value or None


FULL = Settings(
    quick=False,
    overhead_rounds=30,
    overhead_batch=50,
    overhead_warmup=200,
    loopback_rounds=30,
    loopback_batch=20,
    inflight=64,
    throughput_requests=5000,
    throughput_seconds=2.0,
    throughput_rounds=2,
    throughput_warmup=128,
    tasks=1000,
    task_duration=5.0,
    task_repeats=2,
    task_deadline=25.0,
    b64_bytes=2 * MIB,
    blob_bytes=3840 * 2160 * 3,
    large_rounds=4,
    large_calls=8,
    reference_bytes=20_000_000,
    reference_count=4,
    reference_rounds=2,
    import_repeats=8,
    first_call_repeats=3,
    stream_delay=0.005,
    stream_size="1024x1024",
    stream_partials=2,
    stream_rounds=20,
    stream_batch=5,
    stream_warmup=3,
    stream_memory_size="1536x1024",
    stream_memory_delay=0.005,
    stream_memory_rounds=2,
    stream_memory_calls=1,
    stream_memory_repeats=3,
    routes_requests=600,
    routes_rpm=(300, 600),
    shared_per_worker=160,
    shared_concurrency=16,
    shared_task_duration=1.0,
    shared_limit_workers=3,
    shared_limit_items=240,
    shared_rpm=1200.0,
    ready_duration=2.5,
    ready_rounds=4,
    ready_interval=None,
    paths_rounds=20,
    paths_batch=20,
    paths_warmup=50,
)

QUICK = Settings(
    quick=True,
    overhead_rounds=4,
    overhead_batch=10,
    overhead_warmup=10,
    loopback_rounds=3,
    loopback_batch=5,
    inflight=64,
    throughput_requests=200,
    throughput_seconds=0.3,
    throughput_rounds=1,
    throughput_warmup=64,
    tasks=20,
    task_duration=1.0,
    task_repeats=1,
    task_deadline=10.0,
    b64_bytes=64 * 1024,
    blob_bytes=256 * 1024,
    large_rounds=1,
    large_calls=2,
    reference_bytes=256 * 1024,
    reference_count=4,
    reference_rounds=1,
    import_repeats=1,
    first_call_repeats=1,
    stream_delay=0.005,
    stream_size="1024x1024",
    stream_partials=2,
    stream_rounds=2,
    stream_batch=2,
    stream_warmup=1,
    stream_memory_size="1024x1024",
    stream_memory_delay=0.0,
    stream_memory_rounds=1,
    stream_memory_calls=1,
    stream_memory_repeats=2,
    routes_requests=60,
    routes_rpm=(600, 1200),
    shared_per_worker=16,
    shared_concurrency=8,
    shared_task_duration=0.2,
    shared_limit_workers=2,
    shared_limit_items=30,
    shared_rpm=1200.0,
    ready_duration=0.5,
    ready_rounds=1,
    ready_interval=0.2,
    paths_rounds=3,
    paths_batch=5,
    paths_warmup=5,
)
