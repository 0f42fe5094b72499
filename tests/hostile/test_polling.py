"""Rule 5 of issue 10: polling never spins, whatever a server's Retry-After says.

A loopback server answers every poll "in progress" with a Retry-After that asks for no wait
at all (zero, negative, a past date, NaN, infinity, ``retry-after-ms: 0``). The client must
keep to ``PollPolicy.min_interval`` between polls until the deadline: the poll rate stays at
or under the floor's rate. 429/503 retries never resend at once either.
"""

from __future__ import annotations

import itertools
import time

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imagebridge import (
    ConfigurationError,
    ImageTimeoutError,
    PollPolicy,
    RateLimitError,
    RetryPolicy,
    ServerError,
)

from ._loopback import Loopback, Seen, open_client

pytestmark = pytest.mark.anyio

TASK = "task-spin-1"

NO_WAIT: dict[str, dict[str, str]] = {
    "zero": {"Retry-After": "0"},
    "negative": {"Retry-After": "-30"},
    "past-date": {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
    "nan": {"Retry-After": "NaN"},
    "inf": {"Retry-After": "inf"},
    "impossible-date": {"Retry-After": "Wed, 31 Feb 2024 07:28:00 GMT"},
    "ms-zero": {"retry-after-ms": "0"},
    "ms-nan": {"retry-after-ms": "nan"},
    "ms-negative": {"retry-after-ms": "-1000"},
}


def spinning_task(headers: dict[str, str]) -> Loopback:
    """dimilinks: a task that is accepted and then runs forever, asking to be polled now."""

    async def answer(request: Request) -> Response:
        if request.method == "POST":
            return JSONResponse({"task_id": TASK, "status": "queued", "data": []})
        body = {"id": TASK, "status": "in_progress", "progress": 50}
        return JSONResponse(body, headers=headers)

    return Loopback(answer)


def gaps(seen: list[Seen]) -> list[float]:
    return [b.at - a.at for a, b in itertools.pairwise(seen)]


async def run_until_deadline(
    mode: str, server: Loopback, policy: PollPolicy | None, timeout: float
) -> tuple[list[Seen], float]:
    options = {"poll_policy": policy} if policy is not None else {}
    async with open_client(mode, "dimilinks", server.url("/v1"), timeout=timeout, **options) as c:
        start = time.monotonic()
        with pytest.raises(ImageTimeoutError) as info:
            await c.generate()
        elapsed = time.monotonic() - start
    assert info.value.task_id == TASK
    return server.requests("GET", "/v1/tasks/"), elapsed


@pytest.mark.parametrize("case", sorted(NO_WAIT))
async def test_retry_after_asking_for_no_wait_keeps_the_floor(mode: str, case: str) -> None:
    policy = PollPolicy(interval=0.1, max_interval=0.1)  # floor: min(interval, 0.5) = 0.1
    with spinning_task(NO_WAIT[case]) as server:
        polls, elapsed = await run_until_deadline(mode, server, policy, timeout=1.0)
    rate = len(polls) / elapsed
    print(f"{mode} {case}: {len(polls)} polls in {elapsed:.2f} s = {rate:.1f}/s")
    # The first poll comes one interval after the submit; then one per 0.1 s at most.
    assert len(polls) <= elapsed / 0.1 + 1
    assert min(gaps(polls)) >= 0.09
    assert policy.floor == 0.1


async def test_the_default_floor_with_the_providers_own_policy(mode: str) -> None:
    """dimilinks' own policy (2 s, growing to 3 s): Retry-After: 0 makes it poll every 0.5 s."""
    with spinning_task({"Retry-After": "0"}) as server:
        polls, elapsed = await run_until_deadline(mode, server, None, timeout=3.6)
    print(f"{mode} default policy: {len(polls)} polls in {elapsed:.2f} s")
    assert 1 <= len(polls) <= 4  # at 2.0 s, then at most every 0.5 s until 3.6 s
    assert all(gap >= 0.45 for gap in gaps(polls))
    assert PollPolicy().floor == 0.5


async def test_an_explicit_floor_above_the_interval(mode: str) -> None:
    policy = PollPolicy(interval=0.05, max_interval=0.05, min_interval=0.3)
    with spinning_task({"Retry-After": "0"}) as server:
        polls, elapsed = await run_until_deadline(mode, server, policy, timeout=1.0)
    assert len(polls) <= elapsed / 0.3 + 1
    assert min(gaps(polls)) >= 0.27
    assert policy.floor == 0.3


async def test_a_failing_poll_with_retry_after_zero_keeps_the_floor(mode: str) -> None:
    """503 + Retry-After: 0 on every poll: the driver's retries and the engine's transient
    failures both wait; the task's error comes with the task id."""

    async def answer(request: Request) -> Response:
        if request.method == "POST":
            return JSONResponse({"task_id": TASK, "data": []})
        error = {"error": {"message": "busy", "code": "service_unavailable"}}
        return JSONResponse(error, status_code=503, headers={"Retry-After": "0"})

    policy = PollPolicy(interval=0.1, max_interval=0.1, max_transient_failures=2)
    retry = RetryPolicy(max_retries=1, backoff=0.1)
    with Loopback(answer) as server:
        async with open_client(
            mode, "dimilinks", server.url("/v1"), poll_policy=policy, retry=retry
        ) as client:
            with pytest.raises(ServerError) as info:
                await client.generate()
        polls = server.requests("GET", "/v1/tasks/")
    assert info.value.task_id == TASK
    assert len(polls) == 6  # 3 polls by the engine, each retried once by the driver
    assert min(gaps(polls)) >= 0.09


@pytest.mark.parametrize("header", ["0", "-5", "NaN", "Wed, 21 Oct 2015 07:28:00 GMT"])
async def test_a_refused_submit_is_not_resent_at_once(mode: str, header: str) -> None:
    """429 with a Retry-After asking for no wait: resent after RetryPolicy.backoff at least."""

    async def answer(request: Request) -> Response:
        error = {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}
        return JSONResponse(error, status_code=429, headers={"Retry-After": header})

    retry = RetryPolicy(max_retries=2, backoff=0.2, jitter=0.0)
    with Loopback(answer) as server:
        async with open_client(mode, "openai", server.url("/v1"), retry=retry) as client:
            with pytest.raises(RateLimitError):
                await client.generate(model="dall-e-2", size="256x256")
        submits = server.requests("POST")
    assert len(submits) == 3
    assert min(gaps(submits)) >= 0.18


@pytest.mark.parametrize(
    "field", [{"min_interval": -1.0}, {"min_interval": float("nan")}, {"interval": float("inf")}]
)
def test_a_policy_that_would_spin_is_refused(field: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError) as info:
        PollPolicy(**field)  # type: ignore[arg-type]
    name, value = next(iter(field.items()))
    assert name in str(info.value)
    assert repr(value) in str(info.value) or str(value) in str(info.value)
