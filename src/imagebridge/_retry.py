"""When a failed HTTP request may be sent again, and after how long.

Written here rather than taken from a retry library because the decision depends on things
only the driver knows (whether the request left the machine, whether it can create a paid
task) and the waits must go through the client's clock and respect the job's deadline; the
whole policy is the one pure function below.

The rules, so that no image is ever paid for twice by accident:

* a connection that failed **before** the request was sent: always retried;
* HTTP 429 and 503: the provider refused the request without doing it, so it is retried
  after ``Retry-After`` (seconds or an HTTP date; capped, and never under ``backoff``: a
  ``Retry-After: 0`` does not resend at once) or a jittered exponential backoff;
* other 5xx and failures **after** sending: retried only for idempotent requests: GET and
  HEAD (polls and downloads), and any request its adapter marks with
  ``request.extensions[IDEMPOTENT] = True`` (:data:`imagebridge.adapter.IDEMPOTENT`), e.g.
  because it carries an idempotency key the provider honours;
* a submit not so marked whose outcome is unknown (sent, then no answer) is never re-sent:
  the driver raises :class:`~imagebridge.SubmitOutcomeUnknownError`, which says the task may
  exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import random

from ._errors import APIConnectionError, RateLimitError, ServerError
from ._provider_errors import classify, parse_error_body, parse_retry_after

#: Set ``request.extensions[IDEMPOTENT] = True`` on a request that is safe to repeat.
IDEMPOTENT = "imagebridge.idempotent"

_REFUSED = frozenset({429, 503})
_SERVER = frozenset({500, 502, 504, 520, 521, 522, 523, 524})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times, and how long apart, failed requests are retried."""

    max_retries: int = 2
    #: The first backoff (doubled per attempt), and the shortest wait a Retry-After gets.
    backoff: float = 0.5
    max_backoff: float = 8.0
    #: The longest ``Retry-After`` honoured; a longer one is not waited for (the error is raised).
    max_retry_after: float = 60.0
    #: +/- this fraction of random jitter on computed backoffs (not on ``Retry-After``).
    jitter: float = 0.25

    def delay(
        self,
        attempt: int,
        request: httpx.Request,
        *,
        response: httpx.Response | None = None,
        error: APIConnectionError | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None to give up."""
        if attempt >= self.max_retries:
            return None
        idempotent = is_idempotent(request)
        if error is not None:
            return self._backoff(attempt, rng) if (not error.sent or idempotent) else None
        if response is None:
            return None
        status = response.status_code
        if status in _REFUSED and not _transient(response):
            return None
        if status in _REFUSED or (idempotent and status in _SERVER):
            retry_after = parse_retry_after(response.headers)
            if retry_after is not None:
                if retry_after > self.max_retry_after:
                    return None
                return max(retry_after, self.backoff)
            return self._backoff(attempt, rng)
        return None

    def _backoff(self, attempt: int, rng: random.Random | None) -> float:
        base = min(self.max_backoff, self.backoff * (2**attempt))
        spread = base * self.jitter
        if rng is None:
            import random  # jitter is rare: loaded on demand

            jitter: float = random.uniform(-spread, spread)
        else:
            jitter = rng.uniform(-spread, spread)
        return max(0.0, float(base + jitter))


DEFAULT_RETRY = RetryPolicy()


def _transient(response: httpx.Response) -> bool:
    """A 429 or 503 that waiting can fix: not an exhausted quota or balance."""
    fields = parse_error_body(response)
    cls = classify(response.status_code, fields["code"], fields["error_type"])
    return issubclass(cls, RateLimitError | ServerError)


def is_idempotent(request: httpx.Request) -> bool:
    return request.method in ("GET", "HEAD") or bool(request.extensions.get(IDEMPOTENT))
