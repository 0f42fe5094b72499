"""The emulator's own rate limit: ``EmulatorConfig(requests_per_minute=N)``.

Each dialect admits at most ``N`` API requests (submits and polls; downloads are not
limited, as a CDN is not) in any 60 seconds of the server's clock (``EmulatorConfig.clock``),
a sliding log as providers keep it. A request above the limit is not seen by the dialect: it
answers HTTP 429 ``rate_limit_exceeded`` in the dialect's error shape, with ``Retry-After``
the whole seconds until the oldest request in the window leaves it, and is counted in the
``rate_limited`` counter; a refused request does not count against the limit.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable

WINDOW = 60.0


class RateWindow:
    """Requests per minute, per dialect, on the server's clock. Thread-safe."""

    def __init__(self, per_minute: int | None, clock: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._admitted: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, dialect: str) -> int | None:
        """Admit one request of ``dialect`` (None), or the seconds it must wait (Retry-After)."""
        if self.per_minute is None:
            return None
        now = self._clock()
        with self._lock:
            times = self._admitted.setdefault(dialect, deque())
            while times and times[0] <= now - WINDOW:
                times.popleft()
            if len(times) < self.per_minute:
                times.append(now)
                return None
            return max(1, math.ceil(times[0] + WINDOW - now))

    def reset(self) -> None:
        with self._lock:
            self._admitted.clear()
