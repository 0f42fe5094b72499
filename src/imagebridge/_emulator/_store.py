"""In-memory state of one emulator app: the request log, tasks, stored images, URL signing,
the active faults and the request counters (``GET /_emulator/stats``).

A :class:`Task` does not run anywhere: its status is computed from ``config.clock()`` and the
time it was submitted, so a test can drive it with an injected clock. Image bytes are never
stored; each image is an :class:`ImageSpec` rendered (and cached) when it is fetched.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ._config import DIALECTS, EmulatorConfig
from ._faults import FaultSet
from ._images import ImageSpec
from ._ratelimit import RateWindow

SIGNED_URL_TTL_MS = 24 * 60 * 60 * 1000

#: The request counters, per dialect: ``submits`` (POSTs to generations/edits, and openai's
#: variations, received), ``accepted`` (submits the dialect answered with a 2xx, whether or
#: not the client got the answer: each is a paid job), ``polls`` (task GETs),
#: ``downloads`` (image GETs), ``cancels`` (task cancels received) and ``rate_limited``
#: (requests answered 429 above ``EmulatorConfig.requests_per_minute``).
COUNTERS: tuple[str, ...] = (
    "submits",
    "accepted",
    "polls",
    "downloads",
    "cancels",
    "rate_limited",
)


@dataclass
class Task:
    """One async (or sync-but-tracked) generation task."""

    id: str
    dialect: str
    prompt: str
    model: str
    images: list[ImageSpec]
    file_ids: list[str]
    resolution: str
    submitted_at: float
    created: int
    duration: float
    fail_code: str | None = None
    pending_first_half: bool = False
    forced_done: bool = False
    #: When a client cancelled the task (the dialect's clock), or None.
    cancelled_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def fraction(self, now: float) -> float:
        """How far along the task is, from 0.0 (just submitted) to 1.0 (finished)."""
        if self.forced_done or self.duration <= 0:
            return 1.0
        return min(max((now - self.submitted_at) / self.duration, 0.0), 1.0)

    def finished(self, now: float) -> bool:
        return self.fraction(now) >= 1.0

    @property
    def completed_at(self) -> int:
        """Unix seconds at which the task finishes."""
        return round(self.created + self.duration)

    @property
    def size(self) -> str:
        first = self.images[0]
        return f"{first.width}x{first.height}"


class EmulatorState:
    """Everything one emulator app remembers. Safe to read from another thread."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.tasks: dict[str, Task] = {}
        self.files: dict[str, ImageSpec] = {}
        #: The dialect that made each ``/files/<name>`` image.
        self.file_dialects: dict[str, str] = {}
        self.faults = FaultSet(config.faults)
        #: The requests per minute each dialect admits (``config.requests_per_minute``).
        self.rate = RateWindow(config.requests_per_minute, config.clock)
        #: The ``host:port`` origins ``redirect-foreign`` faults sent downloads to: downloads
        #: that reach the emulator there are the foreign hops (served without faults).
        self.foreign: set[str] = set()
        self._requests: list[dict[str, Any]] = []
        self._counts = _zero_counts()
        #: Hostile streams (``trickle``, ``endless``, ``oversize``) being sent right now.
        self._streams = 0
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()

    # -- request log -------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(entry)

    def reset(self) -> None:
        """Clear the request log, the counters and the foreign origins (the active faults
        stay)."""
        with self._lock:
            self._requests.clear()
            self._counts = _zero_counts()
            self.foreign.clear()
        self.faults.applied = 0
        self.rate.reset()

    # -- counters ----------------------------------------------------------------------------

    def count(self, counter: str, dialect: str) -> None:
        with self._lock:
            per_dialect = self._counts[counter]
            per_dialect[dialect] = per_dialect.get(dialect, 0) + 1

    def stats(self) -> dict[str, Any]:
        """The counters since the last reset, the tasks per dialect, faults applied and the
        hostile streams still being sent (``streams_open``)."""
        with self._lock:
            stats: dict[str, Any] = {name: dict(c) for name, c in self._counts.items()}
            tasks = list(self.tasks.values())
            streams = self._streams
        stats["tasks"] = {name: sum(t.dialect == name for t in tasks) for name in DIALECTS}
        stats["faults_applied"] = self.faults.applied
        stats["streams_open"] = streams
        return stats

    def streaming(self, delta: int) -> None:
        """One hostile stream more (``+1``) or less (``-1``) being sent."""
        with self._lock:
            self._streams += delta

    # -- tasks and files ---------------------------------------------------------------------

    def add_task(
        self,
        *,
        dialect: str,
        prefix: str,
        prompt: str,
        model: str,
        images: list[ImageSpec],
        resolution: str,
        fail_code: str | None = None,
        pending_first_half: bool = False,
    ) -> Task:
        task = Task(
            id=f"{prefix}{secrets.token_hex(12)}",
            dialect=dialect,
            prompt=prompt,
            model=model,
            images=images,
            file_ids=[f"file_{secrets.token_hex(10)}" for _ in images],
            resolution=resolution,
            submitted_at=self.config.clock(),
            created=int(time.time()),
            duration=self.config.task_duration,
            fail_code=fail_code,
            pending_first_half=pending_first_half,
        )
        with self._lock:
            self.tasks[task.id] = task
        return task

    def get_task(self, task_id: str, dialect: str) -> Task | None:
        task = self.tasks.get(task_id)
        return task if task is not None and task.dialect == dialect else None

    def now(self) -> float:
        return self.config.clock()

    def add_file(self, spec: ImageSpec, dialect: str = "openai") -> str:
        """Store an image served at ``/files/<name>``; returns the name."""
        name = f"img-{secrets.token_hex(12)}.{'jpg' if spec.fmt == 'jpeg' else spec.fmt}"
        with self._lock:
            self.files[name] = spec
            self.file_dialects[name] = dialect
        return name

    # -- signed image URLs -------------------------------------------------------------------

    def sign(self, task_id: str, index: int, exp_ms: int) -> str:
        message = f"{task_id}/{index}:{exp_ms}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def signed_path(self, task_id: str, index: int) -> tuple[str, int]:
        """``/p/img/<task>/<index>?exp=..&sig=..`` valid for 24 h, and its ``exp`` in ms."""
        exp_ms = int(time.time() * 1000) + SIGNED_URL_TTL_MS
        sig = self.sign(task_id, index, exp_ms)
        return f"/p/img/{task_id}/{index}?exp={exp_ms}&sig={sig}", exp_ms

    def signature_ok(self, task_id: str, index: int, exp_ms: int, sig: str) -> bool:
        return hmac.compare_digest(self.sign(task_id, index, exp_ms), sig)


def _zero_counts() -> dict[str, dict[str, int]]:
    return {name: dict.fromkeys(DIALECTS, 0) for name in COUNTERS}
