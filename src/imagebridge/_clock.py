"""Clocks: the system clock, and the protocol a fake clock implements in tests.

The drivers read time and sleep only through a clock, so polling, backoff and deadlines can
be tested exactly and instantly with a fake one.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...
    async def asleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: :func:`time.monotonic`, :func:`time.sleep`, :func:`asyncio.sleep`."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        import asyncio  # imported on first use: synchronous programs never need it

        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
