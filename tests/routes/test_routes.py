"""Routed clients as users drive them: pre-flight per route, the strategies, cooldowns, tasks
going back to the route that accepted them, route options and keys, and sync/async parity."""

from __future__ import annotations

import asyncio
import inspect
import random
import time

import pytest

from helpers import png
from imagebridge import (
    AsyncImageClient,
    AsyncRoutedImageClient,
    Completed,
    ConfigurationError,
    ImageClient,
    RateLimit,
    Route,
    RoutedImageClient,
    RoutesExhaustedError,
    TaskHandle,
)

from .support import KEY_A, KEY_B, OPTIONS, Pair, routed

pytestmark = pytest.mark.anyio


class ShiftedClock:
    """The real clock, moved forward on demand (a cooldown can run out without waiting)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def test_when_no_route_can_honour_it_nothing_is_sent(mode: str, pair: Pair) -> None:
    routes = pair.routes("openai")
    async with routed(mode, routes) as client:
        with pytest.raises(RoutesExhaustedError) as info:
            await client.generate(size="16:9", resolution="4k")
    assert pair.a.app_state.requests == []
    assert pair.b.app_state.requests == []
    assert list(info.value.outcomes) == ["a", "b"]
    assert all(o.startswith("skipped: ") for o in info.value.outcomes.values())
    assert "route a: skipped" in str(info.value).replace("- a:", "route a:")


async def test_a_failed_route_is_tried_last_while_it_cools_down(mode: str, pair: Pair) -> None:
    clock = ShiftedClock()
    pair.a.app_state.faults.replace(["submit:503:*"])
    async with routed(mode, pair.routes(), cooldown=30.0, clock=clock) as client:
        assert (await client.generate()).route == "b"
        pair.a.app_state.faults.clear()
        refused = pair.submits()[0]  # the 503 and its retries
        second = await client.generate()
        assert second.route == "b"  # A is cooling: tried last, so not at all
        assert [w.code for w in second.warnings] == []
        assert pair.submits() == (refused, 2)
        clock.offset += 31.0
        assert (await client.generate()).route == "a"  # cooled down: first again
    assert pair.submits() == (refused + 1, 2)


async def test_no_cooldown_tries_the_first_route_first_again(mode: str, pair: Pair) -> None:
    async with routed(mode, pair.routes(), cooldown=0.0) as client:
        pair.a.app_state.faults.replace(["submit:503:*"])
        assert (await client.generate()).route == "b"
        pair.a.app_state.faults.clear()
        assert (await client.generate()).route == "a"


def test_weighted_spreads_by_weight_among_the_routes_that_can_honour_it(pair: Pair) -> None:
    def route(name: str, provider: str, model: str, weight: float = 1.0) -> Route:
        url = pair.a.url(provider)
        return Route(
            name=name, provider=provider, model=model, base_url=url, api_key=KEY_A, weight=weight
        )

    # dall-e-3 cannot make 256x256: the heaviest route is never picked for that request.
    routes = [
        route("heavy", "openai", "dall-e-2", 3.0),
        route("light", "geeknow", "dall-e-2"),
        route("never", "openai", "dall-e-3", 100.0),
    ]

    def picks(seed: int, times: int) -> list[str]:
        with ImageClient.from_routes(
            routes, strategy="weighted", rng=random.Random(seed), **OPTIONS
        ) as client:
            plans = [client.plan("a fox", size="256x256") for _ in range(times)]
        return [f"{p.provider}:{p.model}" for p in plans]

    spread = picks(7, 400)
    assert "openai:dall-e-3" not in spread
    assert 260 <= spread.count("openai:dall-e-2") <= 340  # 3:1, so 300 expected
    assert picks(7, 20) == picks(7, 20)  # seeded: the same spread every time
    assert pair.a.app_state.requests == []  # planning sends nothing


async def test_wait_and_check_go_to_the_route_that_accepted_the_task(mode: str, pair: Pair) -> None:
    pair.a.app_state.faults.replace(["submit:503:*"])
    routes = [
        Route(name="sync", provider="openai", base_url=pair.a.url("openai"), api_key=KEY_A),
        *pair.routes("dimilinks"),
    ]
    async with routed(mode, routes) as client:
        handle = await client.submit()
        assert handle.base_url == pair.b.url("dimilinks")
        result = await client.wait(handle)
        assert result.route == "b"
        checked = await client.check(handle)
    assert getattr(checked, "route", None) == "b"
    assert all("/tasks/" not in e["path"] for e in pair.a.app_state.requests)
    # openai skipped (no tasks), dimilinks on A refused (a 503 and its two retries).
    assert pair.submits() == (3, 1)
    assert pair.accepted() == (0, 1)


async def test_a_bare_task_id_names_no_route_among_several(mode: str, pair: Pair) -> None:
    async with routed(mode, pair.routes("dimilinks")) as client:
        with pytest.raises(ConfigurationError, match="bare task id"):
            await client.wait("task-123")
        foreign = TaskHandle(provider="dimilinks", base_url="http://127.0.0.1:1/x", task_id="t")
        with pytest.raises(ConfigurationError, match="no route has that provider"):
            await client.wait(foreign)


async def test_route_model_and_provider_options_are_sent(mode: str, pair: Pair) -> None:
    routes = pair.routes("openai", model="dall-e-2", provider_options={"response_format": "url"})
    async with routed(mode, routes) as client:
        result = await client.generate(size="256x256")
        own = {"openai": {"response_format": "b64_json"}}
        await client.generate(size="256x256", provider_options=own)
    assert result.route == "a"
    assert result.to_dict()["route"] == "a"
    submits = [e["json"] for e in pair.a.app_state.requests if e["path"].endswith("/generations")]
    assert [body["model"] for body in submits] == ["dall-e-2", "dall-e-2"]
    # The route's option, then the request's own winning over it.
    assert [body["response_format"] for body in submits] == ["url", "b64_json"]


def test_route_names_strategy_and_keys_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Route(provider="openai").name == "openai"
    assert Route(provider="openai", model="dall-e-3").name == "openai:dall-e-3"
    one = Route(provider="openai", base_url="http://127.0.0.1:1/v1", api_key=KEY_A)
    assert KEY_A not in repr(one)
    assert KEY_A not in str(one)
    with pytest.raises(ConfigurationError, match="route name 'openai' is used by 2 routes"):
        ImageClient.from_routes([one, one], journal=False)
    with pytest.raises(ConfigurationError, match=r"strategy='random'.*ordered, weighted"):
        ImageClient.from_routes([one], strategy="random", journal=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="at least one route"):
        ImageClient.from_routes([], journal=False)
    monkeypatch.setenv("ROUTE_KEY_SET", KEY_B)
    monkeypatch.delenv("ROUTE_KEY_UNSET", raising=False)
    unset = Route(
        provider="openai", base_url="http://127.0.0.1:1/v1", api_key_env="ROUTE_KEY_UNSET"
    )
    with pytest.raises(ConfigurationError, match="api_key_env='ROUTE_KEY_UNSET'"):
        ImageClient.from_routes([unset], journal=False)
    named = Route(provider="openai", base_url="http://127.0.0.1:1/v1", api_key_env="ROUTE_KEY_SET")
    with ImageClient.from_routes([named], journal=False) as client:
        assert KEY_B not in repr(client)
    with pytest.raises(ValueError, match="weight"):
        Route(provider="openai", weight=0)


def _shape(function: object) -> list[tuple[str, object, object, object]]:
    """Parameter names, kinds, defaults and annotations (the return types differ)."""
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default, p.annotation) for p in parameters]


SYNC_ONLY = {"close", "__enter__", "__exit__"}
ASYNC_ONLY = {"aclose", "__aenter__", "__aexit__", "batch"}  # batch: as AsyncImageClient


def test_the_routed_clients_have_the_same_methods_and_signatures() -> None:
    def public(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_")}

    assert public(RoutedImageClient) - SYNC_ONLY == public(AsyncRoutedImageClient) - ASYNC_ONLY
    jobs = {"generate", "edit", "vary", "stream", "plan", "submit", "wait", "check"}
    assert jobs <= public(RoutedImageClient)
    for name in sorted(public(RoutedImageClient) - SYNC_ONLY):
        sync = inspect.getattr_static(RoutedImageClient, name)
        other = inspect.getattr_static(AsyncRoutedImageClient, name)
        if isinstance(sync, property) or not callable(sync):
            continue
        assert _shape(sync) == _shape(other), name
        if name in ("plan", "dry_run", "stream", "routes_for"):
            assert not inspect.iscoroutinefunction(other), name
        else:
            assert inspect.iscoroutinefunction(other), name
        assert not inspect.iscoroutinefunction(sync), name
    # from_routes takes the same options on both clients and makes the matching twin.
    assert inspect.signature(ImageClient.from_routes).parameters.keys() == (
        inspect.signature(AsyncImageClient.from_routes).parameters.keys()
    )


async def test_a_stream_refused_before_its_first_event_moves_on(mode: str, pair: Pair) -> None:
    pair.a.app_state.faults.replace(["submit:503:*"])
    async with routed(mode, pair.routes()) as client:
        events = await client.stream(model="gpt-image-1", partial_images=1)
    (done,) = [e for e in events if isinstance(e, Completed)]
    assert done.result.route == "b"
    assert [w.code for w in done.result.warnings if w.code.startswith("route_")] == ["route_failed"]
    assert pair.accepted() == (0, 1)


async def test_edits_and_variations_go_to_a_route_whose_model_makes_them(
    mode: str, pair: Pair
) -> None:
    # geeknow has no variations: skipped before any request; openai's dall-e-2 makes them.
    routes = [
        Route(name="a", provider="geeknow", base_url=pair.a.url("geeknow"), api_key=KEY_A),
        Route(name="b", provider="openai", base_url=pair.b.url("openai"), api_key=KEY_B),
    ]
    async with routed(mode, routes) as client:
        client_ = client.client
        if isinstance(client_, RoutedImageClient):
            varied = client_.vary(png(8, 8), model="dall-e-2")
            edited = client_.edit("bluer", [png(4, 4)], model="gpt-image-1")
        else:
            varied = await client_.vary(png(8, 8), model="dall-e-2")
            edited = await client_.edit("bluer", [png(4, 4)], model="gpt-image-1")
    assert varied.route == "b"
    assert [w.code for w in varied.warnings] == ["route_skipped"]
    assert edited.route == "a"  # both can edit: the first serves it
    assert len(pair.a.app_state.requests) == 1


def test_each_route_client_gets_the_route_s_rate_limit_and_base_url(pair: Pair) -> None:
    limit = RateLimit(requests_per_minute=600, max_concurrent=2)
    routes = pair.routes("openai", rate_limit=limit)
    with ImageClient.from_routes(routes, **OPTIONS) as client:
        clients = client.clients
        assert clients["a"].rate_limit == limit
        assert clients["b"].rate_limit is None
        assert clients["a"].base_url == pair.a.url("openai").rstrip("/")
        assert clients["b"].base_url == pair.b.url("openai").rstrip("/")
