"""Client-side rate limits: :class:`RateLimit`, and the process-wide limiters that honour it.

A client built with ``rate_limit=RateLimit(...)`` takes its :class:`Limiter` from one registry
per process, keyed by provider, base URL and account (the API key, as a digest that is only
compared: :func:`limiter_for`), so every
client of that key (sync or async, in any thread or event loop) counts against the same
limits:

* ``requests_per_minute``: every HTTP request the driver sends to the API's origin
  (submits, polls, streams; each retry is a request) waits for its turn, spaced
  ``60 / requests_per_minute`` seconds apart on the client's clock. The turn is reserved
  before the wait, so concurrent callers queue instead of all waking at once;
* ``max_concurrent``: at most that many jobs of the key run at once (a job holds its slot
  from its first request to its end); the others wait their turn, first come first served;
* a 429 answered with ``Retry-After`` pauses the key until then, for every client of it
  (:meth:`Limiter.pause`), even ``RateLimit()`` with no limit of its own.

A client without ``rate_limit`` has no limiter at all and sends exactly as before.

Written by hand rather than taken from a library: ``aiolimiter`` 1.3 is async only and reads
the event loop's clock; ``pyrate-limiter`` 4.5 waits with :func:`time.sleep` /
:func:`asyncio.sleep` on :func:`time.monotonic` (its clocks only stamp items, in integer
milliseconds); ``limits`` 5.8 never waits and stamps with :func:`time.time`. None can wait on
the client's injectable clock, none says how long a wait will be *before* it starts (which
the job's deadline needs: a wait that cannot fit raises at once), and the async ones cannot
share one limit between threads and several event loops. What is needed is small: a
reservation time under a lock, and a first-come queue of slot waiters.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import math
import secrets
import threading
import weakref
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._errors import ConfigurationError

if TYPE_CHECKING:
    import asyncio

__all__ = ["Limiter", "RateLimit", "limiter_for"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Client-side limits of one provider, base URL and API key (an account), shared by every
    client of it in the process.

    ``requests_per_minute``: HTTP requests to the API per minute (polls and retries count);
    ``max_concurrent``: jobs in flight at once (a ``generate``, ``edit``, ``vary``,
    ``stream``, ``submit``, ``wait`` or ``check``, or one batch item; a request split by
    ``n`` into several provider calls is one job per call). ``None``: no limit of that kind;
    ``RateLimit()`` only shares the pauses a 429 with ``Retry-After`` asks for.
    """

    requests_per_minute: float | None = None
    max_concurrent: int | None = None

    def __post_init__(self) -> None:
        rpm = self.requests_per_minute
        if rpm is not None and (
            isinstance(rpm, bool)
            or not isinstance(rpm, int | float)
            or not math.isfinite(rpm)
            or rpm <= 0
        ):
            raise ConfigurationError(
                f"RateLimit.requests_per_minute is {rpm!r}: it must be a positive, finite"
                " number of requests per minute, or None for no limit"
            )
        most = self.max_concurrent
        if most is not None and (isinstance(most, bool) or not isinstance(most, int) or most < 1):
            raise ConfigurationError(
                f"RateLimit.max_concurrent is {most!r}: it must be a whole number of jobs,"
                " 1 or more, or None for no limit"
            )

    def describe(self) -> str:
        """The limits in words, e.g. ``60 requests/min, 2 concurrent jobs``."""
        parts = []
        if self.requests_per_minute is not None:
            parts.append(f"{self.requests_per_minute:g} requests/min")
        if self.max_concurrent is not None:
            parts.append(f"{self.max_concurrent} concurrent jobs")
        return ", ".join(parts) or "no limit (429 pauses shared)"


#: provider, base URL (no trailing slash), and the account: an HMAC of the API key under a
#: key made at random for this process (None without a key). Limits are per account: two
#: keys on one gateway are two limits. The digest is only ever compared, never shown.
LimitKey = tuple[str, str, bytes | None]

_ACCOUNT_SALT = secrets.token_bytes(32)


def account_of(api_key: str | None) -> bytes | None:
    """Which account a key is, for the limiter registry (not reversible, not printed)."""
    if api_key is None:
        return None
    return hmac.new(_ACCOUNT_SALT, api_key.encode(), hashlib.sha256).digest()


class Limiter:
    """The limits of one key, shared by its clients: thread-safe, and usable from any event
    loop. Times are on the callers' clock (clients of one key share a clock: the system one,
    or one fake clock in a test)."""

    def __init__(self, key: LimitKey, limit: RateLimit) -> None:
        self.key = key
        self.limit = limit
        rpm = limit.requests_per_minute
        self._interval = None if rpm is None else 60.0 / rpm
        self._lock = threading.Lock()
        self._next = -math.inf  # when the next request may go
        self._paused_until = -math.inf
        self._slots = None if limit.max_concurrent is None else _Slots(limit.max_concurrent)

    def __repr__(self) -> str:
        provider, base_url, _ = self.key
        return f"<Limiter {provider} {base_url}: {self.limit.describe()}>"

    # -- requests per minute ----------------------------------------------------------------
    def reserve(self, now: float, left: float | None) -> float | None:
        """Reserve the turn of one request: the seconds to wait before sending it, or None
        (nothing reserved) when that wait would not end within ``left`` seconds."""
        with self._lock:
            start = max(now, self._next, self._paused_until)
            wait = start - now
            if left is not None and wait > 0 and wait >= left:
                return None
            if self._interval is not None:
                self._next = start + self._interval
            return wait

    def share(self, workers: int) -> None:
        """Take ``1 / workers`` of ``requests_per_minute`` (a shared batch's worker, one of
        ``workers`` live ones: see :mod:`imagebridge._shared_batch`); 1: the whole limit."""
        rpm = self.limit.requests_per_minute
        if rpm is not None:
            with self._lock:
                self._interval = 60.0 * max(1, workers) / rpm

    def backlog(self, now: float) -> float:
        """How long a request asked for now would wait (nothing is reserved): 0 when it could
        go at once, ``inf`` while every job slot is taken. Routed clients send a request to
        the route that would make it wait least (see :mod:`imagebridge._routes`)."""
        if self._slots is not None and self._slots.full():
            return math.inf
        with self._lock:
            return max(0.0, self._next - now, self._paused_until - now)

    def paused_for(self, now: float) -> float:
        """The seconds left of a pause a 429 asked for (0 when none)."""
        with self._lock:
            return max(0.0, self._paused_until - now)

    def pause(self, until: float) -> None:
        """No request of this key goes before ``until`` (a 429's ``Retry-After``)."""
        with self._lock:
            self._paused_until = max(self._paused_until, until)

    # -- concurrent jobs ----------------------------------------------------------------------
    def acquire(self, timeout: float | None) -> bool:
        """Take a job slot, waiting at most ``timeout`` seconds; False if none came free."""
        return True if self._slots is None else self._slots.acquire(timeout)

    async def aacquire(self, timeout: float | None) -> bool:
        """:meth:`acquire` for a task: waits without blocking its event loop."""
        return True if self._slots is None else await self._slots.aacquire(timeout)

    def release(self) -> None:
        """Give back a slot taken by :meth:`acquire` or :meth:`aacquire`."""
        if self._slots is not None:
            self._slots.release()


class _Waiter:
    """One caller waiting for a slot: a thread (an event) or a task (a future on its loop)."""

    __slots__ = ("event", "future", "loop")

    def __init__(
        self,
        event: threading.Event | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.event, self.loop, self.future = event, loop, future

    def grant(self) -> bool:
        """Wake the waiter with the slot; False if it can no longer take it (loop closed)."""
        if self.event is not None:
            self.event.set()
            return True
        assert self.loop is not None
        assert self.future is not None
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:  # the waiter's event loop is closed
            return False
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Slots:
    """A counting semaphore shared by threads and event loops, first come first served (a
    released slot is handed to the oldest waiter under the lock, so none is lost or doubled)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._used = 0
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    def full(self) -> bool:
        """Whether a new caller would have to wait for a slot."""
        with self._lock:
            return self._used >= self._size or bool(self._waiters)

    def _take_or_queue(self, waiter: _Waiter) -> bool:
        with self._lock:
            if self._used < self._size and not self._waiters:
                self._used += 1
                return True
            self._waiters.append(waiter)
            return False

    def _withdraw(self, waiter: _Waiter) -> bool:
        """Stop waiting: True if the waiter was still queued, False if it got the slot."""
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return True
            return False

    def acquire(self, timeout: float | None) -> bool:
        waiter = _Waiter(event=threading.Event())
        if self._take_or_queue(waiter):
            return True
        assert waiter.event is not None
        if waiter.event.wait(None if timeout is None else max(0.0, timeout)):
            return True
        return not self._withdraw(waiter)  # granted just as the wait ended: keep it

    async def aacquire(self, timeout: float | None) -> bool:
        import asyncio  # only async callers need it; keeps `import imagebridge` light

        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop=loop, future=loop.create_future())
        if self._take_or_queue(waiter):
            return True
        assert waiter.future is not None
        try:
            limit = None if timeout is None else max(0.0, timeout)
            await asyncio.wait_for(asyncio.shield(waiter.future), limit)
        except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
            return not self._withdraw(waiter)
        except BaseException:
            if not self._withdraw(waiter):
                self.release()  # cancelled after the slot was handed over: give it on
            raise
        return True

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                if self._waiters.popleft().grant():
                    return  # the slot goes to that waiter: the count stays
            self._used -= 1


_registry: weakref.WeakValueDictionary[LimitKey, Limiter] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()


def limiter_for(
    provider: str, base_url: str, limit: RateLimit, api_key: str | None = None
) -> Limiter:
    """The process's limiter of ``provider`` at ``base_url`` for the account of ``api_key``,
    made on first use and kept while a client holds it. Every client of one account must ask
    for the same limits."""
    key: LimitKey = (provider, base_url.rstrip("/"), account_of(api_key))
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is not None and limiter.limit != limit:
            # Clients that are gone may hold it still, in a reference cycle that only the
            # collector frees: collect before calling the limits a conflict.
            del limiter
            gc.collect()
            limiter = _registry.get(key)
        if limiter is None:
            limiter = Limiter(key, limit)
            _registry[key] = limiter
        elif limiter.limit != limit:
            raise ConfigurationError(
                f"rate_limit={limit!r} for {provider} at {key[1]}, but another client of this"
                f" process uses {limiter.limit!r} with the same API key there: clients of one"
                " provider, base URL and key share one limit, so give them the same RateLimit"
            )
        return limiter
