"""Issue 15's "Done when", over real HTTP against two emulators (route A's and route B's).

For every fault of the emulator's matrix that applies to a submit, injected on route A: a job
that may have created a task is never sent to route B (B receives no submit: 0 double
submits), and a job that certainly created none is served by route B. And a request only
route B can honour is served by B with no request at all to A. Sync and async.
"""

from __future__ import annotations

from typing import Any

import pytest

from imagebridge import ImageBridgeError, Route, RoutesExhaustedError
from imagebridge._emulator._faults import KINDS

from .support import KEY_A, KEY_B, Pair, routed

pytestmark = pytest.mark.anyio

#: Each submit fault as injected on route A: on every submit (so retries do not hide it)
#: unless it is about an answer that exists (then once is enough).
SPECS = {
    "429": "submit:429:*",
    "500": "submit:500:*",
    "502": "submit:502:*",
    "503": "submit:503:*",
    "html502": "submit:html502:*",
    "slow": "submit:slow:*:0.1",
    "drop": "submit:drop:1",
    "drop-before": "submit:drop-before:1",
    "timeout-after-accept": "submit:timeout-after-accept:1",
    "trickle": "submit:trickle:*:0.25",
    "endless": "submit:endless",
    "oversize": "submit:oversize",
    "deepjson": "submit:deepjson",
    "link-local": "submit:link-local",
    "cut": "submit:cut:1",
}
#: Refused or failed before the dialect did anything: certainly no task, so route B serves it.
NO_TASK = {"429", "500", "502", "503", "html502"}
#: Only slower: route A serves it.
SERVED_BY_A = {"slow"}
#: Fields that give URL results (the link-local fault moves them), per provider.
FIELDS: dict[str, dict[str, Any]] = {
    "openai": {
        "model": "dall-e-2",
        "size": "256x256",
        "provider_options": {"openai": {"response_format": "url"}},
    },
    "dimilinks": {"size": "1:1"},
}
#: Dialects whose submit answer carries the result URLs (a task dialect's come in a poll).
LINK_LOCAL_ON_SUBMIT = {"openai"}


def test_the_matrix_covers_every_submit_fault() -> None:
    assert set(SPECS) == {kind for kind, phases in KINDS.items() if "submit" in phases}


def _cases() -> list[Any]:
    return [
        pytest.param(provider, kind, id=f"{provider}-{kind}")
        for provider in FIELDS
        for kind in SPECS
        if kind != "link-local" or provider in LINK_LOCAL_ON_SUBMIT
    ]


@pytest.mark.parametrize(("provider", "kind"), _cases())
async def test_a_submit_fault_on_route_a(mode: str, pair: Pair, provider: str, kind: str) -> None:
    pair.a.app_state.faults.replace([SPECS[kind]])
    options = {"timeout": 2.0, "max_response_bytes": 1024 * 1024}
    async with routed(mode, pair.routes(provider), **options) as client:
        if kind in NO_TASK or kind in SERVED_BY_A:
            result = await client.generate(**FIELDS[provider])
        else:
            with pytest.raises(ImageBridgeError) as info:
                await client.generate(**FIELDS[provider])
    if kind in SERVED_BY_A:
        assert result.route == "a"
        assert pair.submits() == (1, 0)
    elif kind in NO_TASK:
        assert result.route == "b"
        assert len(result.images) == 1
        assert pair.accepted() == (0, 1)
        assert pair.submits()[1] == 1
        failed = [w for w in result.warnings if w.code == "route_failed"]
        assert len(failed) == 1
        assert failed[0].message.startswith("route 'a' failed:")
    else:
        # The task may exist on A: the job stops with A's own error, B is never asked.
        assert not isinstance(info.value, RoutesExhaustedError)
        assert pair.submits() == (1, 0)
    assert sum(pair.accepted()) <= 1  # never a double submit
    for key in (KEY_A, KEY_B):
        if kind not in NO_TASK | SERVED_BY_A:
            assert key not in repr(vars(info.value))
            assert key not in str(info.value)


async def test_a_request_only_the_second_route_can_honour_is_served_there(
    mode: str, pair: Pair
) -> None:
    routes = pair.routes("openai", "dimilinks")
    async with routed(mode, routes) as client:
        result = await client.generate(size="16:9", resolution="4k")
    assert result.route == "b"
    assert pair.a.app_state.requests == []  # not one request to the first route
    assert pair.submits() == (0, 1)
    skipped = [w for w in result.warnings if w.code == "route_skipped"]
    assert len(skipped) == 1
    assert skipped[0].message.startswith("route 'a' skipped: ")
    assert "resolution" in skipped[0].message or "size" in skipped[0].message


async def test_routes_use_their_own_keys(mode: str, pair: Pair) -> None:
    # Each emulator accepts only its own key: B served with B's key after A refused the job.
    pair.a.app_state.faults.replace(["submit:503:*"])
    routes = [
        *pair.routes("openai")[:1],
        Route(name="b", provider="openai", base_url=pair.b.url("openai"), api_key=KEY_B),
    ]
    async with routed(mode, routes) as client:
        result = await client.generate()
    assert result.route == "b"
