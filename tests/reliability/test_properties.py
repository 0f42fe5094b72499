"""Property: whatever the request and whatever a provider answers, only ImageBridgeError comes out.

Every built-in adapter (openai, geeknow, dimilinks, apimart; the dalle plugin's rules apply to
them) gets random canonical requests (every ImageRequest field, valid and invalid) and random or
malformed answers (random JSON shapes and types, the dialects' own shapes with wrong types,
truncated bodies, HTML, random statuses and Retry-After headers, random task statuses, broken
connections), through an httpx.MockTransport on a fake clock (each request takes 0.25 virtual
seconds). Results are read and saved; jobs are also submitted and waited for, or checked once.
No KeyError, TypeError, AttributeError, pydantic ValidationError, binascii.Error, OSError...
may escape.

Budget (fixed, reproducible): ``derandomize=True``, no example database, ``deadline=None``;
per adapter and client (sync, async): 60 examples of random requests + 90 of malformed answers
to a valid request, so 150 per adapter per client, 300 per adapter, 1200 in all (~20 s).

Known bugs (BUG 3, 4 and 5, pinned one by one in test_malformed_results.py) are recognised by
the exception and the library function it came from; an example that hits one counts as a hit
and the run goes on, so that any *other* escape still fails the test at once (hypothesis then
shrinks it). A run with hits ends with :class:`KnownBugs`, which the strict xfail marks of the
parametrizations that hit them expect; when the bugs are fixed those marks fail as XPASS.
"""

from __future__ import annotations

import asyncio
import tempfile
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from imagebridge import (
    AsyncImageClient,
    ImageBridgeError,
    ImageClient,
    ImageResult,
    create_registry,
)
from imagebridge_plugins import apimart, dalle, dimilinks, geeknow, openai

from .strategies import PNG, answer, canonical_fields
from .support import KEY, TASK_PROVIDERS

ADAPTERS = ("openai", "geeknow", "dimilinks", "apimart")
BASES = {name: f"https://{name}.test/v1" for name in ADAPTERS}
REGISTRY = create_registry(entry_points=False, plugins=[openai, geeknow, dalle, dimilinks, apimart])
#: Valid requests, one per adapter, for the malformed-answer property.
VALID: dict[str, dict[str, Any]] = {
    "openai": {"model": "dall-e-2", "size": "256x256"},
    "geeknow": {
        "model": "gpt-image-1",
        "provider_options": {"geeknow": {"response_format": "url"}},
    },
    "dimilinks": {"size": "16:9", "resolution": "2k"},
    "apimart": {"size": "1:1", "n": 2},
}
#: Examples per adapter and client (see the module docstring).
RANDOM_REQUESTS = 60
MALFORMED_ANSWERS = 90
LATENCY = 0.25
MAX_REQUESTS = 300


def budget(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


class FakeClock:
    """The client's clock: virtual time that sleeping (and each request) moves forward."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.now += seconds


class Network:
    """The provider: every request gets an answer drawn by hypothesis."""

    def __init__(self, data: st.DataObject, clock: FakeClock) -> None:
        self.data = data
        self.clock = clock
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.clock.now += LATENCY
        self.requests += 1
        assert self.requests <= MAX_REQUESTS, "the client does not stop asking"
        if request.method == "POST":
            asked = "submit"
        elif "/tasks/" in request.url.path:
            asked = "poll"
        else:
            asked = "download"
        label = f"answer to {request.method} {request.url.path}"
        return self.data.draw(answer(asked), label=label).respond()


def options(provider: str, data: st.DataObject, folder: Path, journal: bool) -> dict[str, Any]:
    clock = FakeClock()
    return {
        "api_key": KEY,
        "base_url": BASES[provider],
        "transport": httpx.MockTransport(Network(data, clock)),
        "clock": clock,
        "registry": REGISTRY,
        "timeout": 30,
        "journal": folder / "journal.sqlite3" if journal else False,
    }


def run_sync(client: ImageClient, op: str, prompt: str, fields: dict[str, Any], out: Path) -> None:
    if op == "edit":
        images = fields.pop("reference_images", None) or [PNG]
        result: Any = client.edit(prompt, images, **fields)
    elif op == "submit":
        result = client.wait(client.submit(prompt, **fields))
    elif op == "check":
        result = client.check("t1")
    else:
        result = client.generate(prompt, **fields)
    if isinstance(result, ImageResult):
        for image in result.images:
            image.read()
        result.save(out)


async def run_async(
    client: AsyncImageClient, op: str, prompt: str, fields: dict[str, Any], out: Path
) -> None:
    if op == "edit":
        images = fields.pop("reference_images", None) or [PNG]
        result: Any = await client.edit(prompt, images, **fields)
    elif op == "submit":
        result = await client.wait(await client.submit(prompt, **fields))
    elif op == "check":
        result = await client.check("t1")
    else:
        result = await client.generate(prompt, **fields)
    if isinstance(result, ImageResult):
        for image in result.images:
            await image.aread()
        await result.asave(out)


class KnownBugs(Exception):
    """The run hit known library bugs (and no other escape)."""


#: Known bug -> (exception class, the file and function of the library it is raised from).
#: Empty: BUG 3, 4 and 5, which these runs found, are fixed (see test_malformed_results.py).
KNOWN: dict[str, tuple[type[BaseException], str, tuple[str, ...]]] = {}


def known_bug(error: BaseException) -> str | None:
    """The known bug ``error`` is, judged by its class and innermost library frame."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if "/imagebridge/" in frame.filename or "/imagebridge_plugins/" in frame.filename
    ]
    if not frames:
        return None
    where = frames[-1]
    for name, (cls, filename, functions) in KNOWN.items():
        if isinstance(error, cls) and where.filename.endswith(filename) and where.name in functions:
            return name
    return None


def exercise(
    mode: str,
    provider: str,
    data: st.DataObject,
    prompt: str,
    fields: dict[str, Any],
    journal: bool,
    hits: Counter[str],
) -> None:
    ops = ["generate", "generate", "edit"] + (
        ["submit", "check"] if provider in TASK_PROVIDERS else []
    )
    op = data.draw(st.sampled_from(ops), label="operation")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings_ = options(provider, data, folder, journal)
        try:
            if mode == "sync":
                with ImageClient(provider, **settings_) as client:
                    run_sync(client, op, prompt, dict(fields), folder / "out")
            else:

                async def main() -> None:
                    async with AsyncImageClient(provider, **settings_) as aclient:
                        await run_async(aclient, op, prompt, dict(fields), folder / "out")

                asyncio.run(main())
            event("outcome: ok")
        except ImageBridgeError as error:
            event(f"outcome: {type(error).__name__}")  # the one kind the library may raise
        except (ValueError, httpx.InvalidURL) as error:
            bug = known_bug(error)
            if bug is None:
                raise
            hits[bug] += 1
            event(f"outcome: {bug}")


def report(hits: Counter[str]) -> None:
    if hits:
        raise KnownBugs(
            ", ".join(f"{bug} hit {count} times" for bug, count in sorted(hits.items()))
        )


def params(known: dict[tuple[str, str], str]) -> list[Any]:
    """Every (provider, mode); those whose fixed examples hit known bugs are strict xfails."""
    out = []
    for provider in ADAPTERS:
        for mode in ("sync", "async"):
            marks = []
            if (provider, mode) in known:
                reason = f"{known[provider, mode]}: see test_malformed_results.py"
                marks.append(pytest.mark.xfail(strict=True, raises=KnownBugs, reason=reason))
            out.append(pytest.param(provider, mode, marks=marks, id=f"{provider}-{mode}"))
    return out


#: Which runs hit which known bugs with this budget (derandomized, so always the same; a
#: change to the strategies or the budget can move the hits: re-derive these then).
ANY_REQUEST_HITS: dict[tuple[str, str], str] = {}
MALFORMED_HITS: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize(("provider", "mode"), params(ANY_REQUEST_HITS))
def test_any_request_any_answer(provider: str, mode: str) -> None:
    hits: Counter[str] = Counter()

    @budget(RANDOM_REQUESTS)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        prompt, fields = data.draw(canonical_fields(provider), label="request")
        exercise(mode, provider, data, prompt, fields, journal=False, hits=hits)

    check()
    report(hits)


@pytest.mark.parametrize(("provider", "mode"), params(MALFORMED_HITS))
def test_malformed_answers_to_a_valid_request(provider: str, mode: str) -> None:
    hits: Counter[str] = Counter()

    @budget(MALFORMED_ANSWERS)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        exercise(mode, provider, data, "a red cube", VALID[provider], journal=True, hits=hits)

    check()
    report(hits)
