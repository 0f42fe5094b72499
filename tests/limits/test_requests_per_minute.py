"""Requests per minute, shared by every client of one provider and base URL, against the
emulator over loopback HTTP: the emulator's own limit (``requests_per_minute``, on the same
fake clock as the clients) is the oracle that no minute got more than the limit."""

from __future__ import annotations

import asyncio
import itertools
import math

import pytest

from imagebridge import (
    AsyncImageClient,
    ConfigurationError,
    ImageClient,
    ImageTimeoutError,
    RateLimit,
    RateLimitError,
    RetryPolicy,
)
from imagebridge.testing import FakeClock

from .conftest import KEY, StartEmulator


def _client(
    url: str, clock: FakeClock | None, limit: RateLimit | None, retry: RetryPolicy | None = None
) -> ImageClient:
    return ImageClient(
        "openai",
        api_key=KEY,
        base_url=url,
        journal=False,
        clock=clock,
        rate_limit=limit,
        retry=retry,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("requests_per_minute", 0),
        ("requests_per_minute", -5),
        ("requests_per_minute", math.nan),
        ("requests_per_minute", math.inf),
        ("requests_per_minute", True),
        ("requests_per_minute", "60"),
        ("max_concurrent", 0),
        ("max_concurrent", 1.5),
        ("max_concurrent", False),
    ],
)
def test_a_bad_limit_is_refused_naming_the_field_and_the_value(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RateLimit(**{field: value})  # type: ignore[arg-type]
    assert field in caught.value.message
    assert repr(value) in caught.value.message


def test_a_client_refuses_a_rate_limit_that_is_not_one(start_emulator: StartEmulator) -> None:
    url = start_emulator().url("openai")
    with pytest.raises(ConfigurationError, match=r"rate_limit must be an imagebridge\.RateLimit"):
        _client(url, None, 60)  # type: ignore[arg-type]


def test_two_sync_clients_of_one_key_share_one_limit(
    start_emulator: StartEmulator, clock: FakeClock
) -> None:
    # The emulator admits 3 requests per 60 s of the same fake clock: 6 requests from two
    # clients limited to 3/min each would be refused if each client counted on its own.
    server = start_emulator(requests_per_minute=3, clock=clock.monotonic)
    url = server.url("openai")
    limit = RateLimit(requests_per_minute=3)
    with _client(url, clock, limit) as first, _client(url, clock, limit) as second:
        for _ in range(3):
            first.generate("a red cube")
            second.generate("a red cube")
    stats = server.app_state.stats()
    assert stats["submits"]["openai"] == 6
    assert stats["rate_limited"]["openai"] == 0
    assert clock.slept == [20.0] * 5  # one turn every 60/3 s, the first at once


def test_two_async_clients_of_one_key_share_one_limit(start_emulator: StartEmulator) -> None:
    # Real time, short: 600/min is one request every 0.1 s; six concurrent generates of two
    # clients arrive spaced (unlimited, they would all arrive within a few milliseconds).
    server = start_emulator()
    url = server.url("openai")
    limit = RateLimit(requests_per_minute=600)

    async def main() -> None:
        async with (
            AsyncImageClient(
                "openai", api_key=KEY, base_url=url, journal=False, rate_limit=limit
            ) as first,
            AsyncImageClient(
                "openai", api_key=KEY, base_url=url, journal=False, rate_limit=limit
            ) as second,
        ):
            jobs = [c.generate("a red cube") for c in (first, second) for _ in range(3)]
            await asyncio.wait_for(asyncio.gather(*jobs), 30)

    asyncio.run(main())
    times = sorted(e["time"] for e in server.app_state.requests if e["method"] == "POST")
    assert len(times) == 6
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) > 0.05, gaps


def test_a_turn_that_cannot_fit_the_deadline_raises_before_sending(
    start_emulator: StartEmulator, clock: FakeClock
) -> None:
    server = start_emulator()
    with _client(server.url("openai"), clock, RateLimit(requests_per_minute=1)) as client:
        client.generate("a red cube")
        with pytest.raises(ImageTimeoutError, match="30 s deadline") as caught:
            client.generate("a red cube", timeout=30)
        assert "requests/min" in caught.value.message
        assert server.app_state.stats()["submits"]["openai"] == 1  # the second was not sent
        assert clock.slept == []  # nor waited for
        client.generate("a red cube", timeout=120)  # a deadline it fits: waits its turn
    assert clock.slept == [60.0]
    assert server.app_state.stats()["submits"]["openai"] == 2


def test_a_429_with_retry_after_pauses_every_client_of_the_key(
    start_emulator: StartEmulator, clock: FakeClock
) -> None:
    server = start_emulator(faults=["submit:429:1:7"])
    url = server.url("openai")
    no_retry = RetryPolicy(max_retries=0)
    with (
        _client(url, clock, RateLimit(), retry=no_retry) as first,
        _client(url, clock, RateLimit()) as second,
    ):
        with pytest.raises(RateLimitError):
            first.generate("a red cube")
        assert clock.slept == []
        second.generate("a red cube")  # waits out the pause the first one was told of
    assert clock.slept == [7.0]
    assert server.app_state.stats()["submits"]["openai"] == 2


def test_no_rate_limit_sends_as_before(start_emulator: StartEmulator, clock: FakeClock) -> None:
    server = start_emulator(faults=["submit:429:1:7"])
    url = server.url("openai")
    no_retry = RetryPolicy(max_retries=0)
    with _client(url, clock, None, retry=no_retry) as first, _client(url, clock, None) as second:
        assert first.rate_limit is None
        with pytest.raises(RateLimitError):
            first.generate("a red cube")
        for _ in range(3):
            second.generate("a red cube")  # no pause shared, no turn waited for
    assert clock.slept == []
    assert server.app_state.stats()["submits"]["openai"] == 4


def test_clients_of_one_key_must_agree_on_its_limit(start_emulator: StartEmulator) -> None:
    url = start_emulator().url("openai")
    with _client(url, None, RateLimit(requests_per_minute=60)):
        with pytest.raises(ConfigurationError, match="share one limit") as caught:
            _client(url, None, RateLimit(requests_per_minute=30))
        assert "requests_per_minute=30" in caught.value.message
        _client(url, None, RateLimit(requests_per_minute=60)).close()  # the same: shared


def test_two_keys_on_one_gateway_are_two_limits(
    start_emulator: StartEmulator, clock: FakeClock
) -> None:
    # Limits are per account: another key at the same base URL has a limiter of its own.
    url = start_emulator().url("openai")
    limit = RateLimit(requests_per_minute=1)
    with (
        _client(url, clock, limit) as first,
        ImageClient(
            "openai",
            api_key="sk-another-account",
            base_url=url,
            journal=False,
            clock=clock,
            rate_limit=RateLimit(requests_per_minute=30),  # not refused: not the same key
        ) as second,
    ):
        first.generate("a red cube")
        second.generate("a red cube")  # its own turn: nothing to wait for
        assert clock.slept == []
        first.generate("a red cube")  # the first key's next turn is a minute on
        assert clock.slept == [pytest.approx(60.0)]


def test_a_stream_counts_like_any_request(start_emulator: StartEmulator, clock: FakeClock) -> None:
    server = start_emulator(stream_delay=0)
    with _client(server.url("openai"), clock, RateLimit(requests_per_minute=3)) as client:
        with client.stream("a red cube", model="gpt-image-1", partial_images=1) as events:
            assert len(list(events)) >= 2
        assert clock.slept == []
        client.generate("a red cube")
    assert clock.slept == [20.0]
    assert server.app_state.stats()["submits"]["openai"] == 2


def test_polls_count_like_submits(start_emulator: StartEmulator, clock: FakeClock) -> None:
    # apimart tasks are polled: 4 requests per minute of the shared fake clock, submit and
    # polls together, is what the emulator admits.
    server = start_emulator(requests_per_minute=4, clock=clock.monotonic, task_duration=40)
    limit = RateLimit(requests_per_minute=4)
    with ImageClient(
        "apimart",
        api_key=KEY,
        base_url=server.url("apimart"),
        journal=False,
        clock=clock,
        rate_limit=limit,
    ) as client:
        client.generate("a red cube", size="1:1")
    stats = server.app_state.stats()
    assert stats["polls"]["apimart"] >= 2
    assert stats["rate_limited"]["apimart"] == 0
