"""Routes under load and in batches: the route that would make a request wait least goes
first, ``routes_for()`` says where a request could go (nothing sent), a batch spreads its
items over the routes and a re-run resumes each on the route that accepted it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from imagebridge import (
    AsyncImageClient,
    BatchItem,
    ImageClient,
    RateLimit,
    Route,
    RoutesExhaustedError,
)
from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .support import KEY_A, KEY_B, OPTIONS, Pair, routed

pytestmark = pytest.mark.anyio


@pytest.fixture
def fresh() -> Iterator[Pair]:
    """Two emulators of this test's own: new ports, so rate limits no other test shares
    (limits are per provider, base URL and key, for the whole process)."""
    config = {"task_duration": 0.05}
    with (
        EmulatorServer(EmulatorConfig(api_key=KEY_A, **config)) as a,
        EmulatorServer(EmulatorConfig(api_key=KEY_B, **config)) as b,
    ):
        yield Pair(a, b)


def test_routes_for_says_where_a_request_could_go_and_sends_nothing(pair: Pair) -> None:
    routes = [
        Route(
            name="a",
            provider="openai",
            model="gpt-image-1",
            base_url=pair.a.url("openai"),
            api_key=KEY_A,
        ),
        Route(name="b", provider="dimilinks", base_url=pair.b.url("dimilinks"), api_key=KEY_B),
    ]
    with ImageClient.from_routes(routes, **OPTIONS) as client:
        checks = client.routes_for("a fox", size="16:9", resolution="4k")
        assert [(c.route.label, c.able) for c in checks] == [("b", True), ("a", False)]
        assert checks[0].plan is not None
        assert checks[0].reason is None
        assert checks[1].plan is None
        assert checks[1].reason
        assert "16:9" in checks[1].reason
        both = client.routes_for("a fox", size="1:1")
        assert [(c.route.label, c.able) for c in both] == [("a", True), ("b", True)]
    assert pair.a.app_state.requests == []
    assert pair.b.app_state.requests == []


async def test_exhausted_says_whether_the_request_was_refused_everywhere(
    mode: str, pair: Pair
) -> None:
    async with routed(mode, pair.routes("openai")) as client:
        with pytest.raises(RoutesExhaustedError) as skipped:
            await client.generate(size="16:9", resolution="4k")
    assert skipped.value.refused
    for server in (pair.a, pair.b):
        server.app_state.faults.replace(["submit:503:*"])
    async with routed(mode, pair.routes("openai")) as client:
        with pytest.raises(RoutesExhaustedError) as failed:
            await client.generate()
    assert not failed.value.refused


async def test_a_route_that_would_make_the_request_wait_goes_after_one_that_would_not(
    mode: str, fresh: Pair
) -> None:
    pair = fresh
    # Route a allows one request a minute: its second request would wait 60 s, so while its
    # turn is taken the next requests go to b, which has no limit; none waits.
    routes = pair.routes("openai", rate_limit=RateLimit(requests_per_minute=1))
    async with routed(mode, routes) as client:
        served = [(await client.generate()).route for _ in range(3)]
    assert served == ["a", "b", "b"]
    assert pair.accepted() == (1, 2)


async def test_a_batch_spreads_over_the_routes_and_resumes_nothing_twice(
    fresh: Pair, tmp_path: Path
) -> None:
    pair = fresh
    # Each route allows 240 requests a minute (one each 0.25 s): eight items at once go
    # to whichever route's next turn is sooner, so the two share them.
    limit = RateLimit(requests_per_minute=240)
    routes = [
        Route(
            name="a",
            provider="openai",
            base_url=pair.a.url("openai"),
            api_key=KEY_A,
            rate_limit=limit,
        ),
        Route(
            name="b",
            provider="openai",
            base_url=pair.b.url("openai"),
            api_key=KEY_B,
            rate_limit=limit,
        ),
    ]
    items = [BatchItem(str(i), f"a fox #{i}") for i in range(8)]
    options = {**OPTIONS, "journal": tmp_path / "journal.sqlite3"}
    async with AsyncImageClient.from_routes(routes, **options) as client:
        outcomes = await client.batch(items, tmp_path / "out", concurrency=8)
    assert [o.status for o in outcomes] == ["saved"] * 8
    per_route = {name: sum(o.route == name for o in outcomes) for name in ("a", "b")}
    assert per_route == {"a": 4, "b": 4}
    assert pair.accepted() == (4, 4)
    async with AsyncImageClient.from_routes(routes, **options) as client:
        again = await client.batch(items, tmp_path / "out", concurrency=8)
    assert [o.status for o in again] == ["skipped"] * 8
    assert [o.route for o in again] == [o.route for o in outcomes]
    assert pair.accepted() == (4, 4)


async def test_a_resumed_item_stays_on_the_route_that_accepted_it(
    pair: Pair, tmp_path: Path
) -> None:
    # Route a accepts the task, then never finishes it within the deadline: the item fails
    # with its task journaled. The re-run prefers route b, yet the item is fetched from a.
    pair.a.app_state.faults.replace(["poll:never"])
    a = Route(name="a", provider="dimilinks", base_url=pair.a.url("dimilinks"), api_key=KEY_A)
    b = Route(name="b", provider="dimilinks", base_url=pair.b.url("dimilinks"), api_key=KEY_B)
    options = {**OPTIONS, "journal": tmp_path / "journal.sqlite3", "timeout": 0.5}
    items = [BatchItem("only", "a fox")]
    async with AsyncImageClient.from_routes([a, b], **options) as client:
        (first,) = await client.batch(items, tmp_path / "out")
    assert first.status == "failed"
    assert first.task_id is not None
    pair.a.app_state.faults.clear()
    options["timeout"] = 10
    async with AsyncImageClient.from_routes([b, a], **options) as client:
        (second,) = await client.batch(items, tmp_path / "out")
    assert (second.status, second.route, second.resumed) == ("saved", "a", True)
    assert second.task_id == first.task_id
    assert pair.submits() == (1, 0)
