"""What ``stream()`` promises, through both clients against the emulator over loopback.

* Leaving the ``with`` block early sends nothing more and leaves the pool idle; after an
  ``Accepted`` task (dimilinks, apimart) nothing is polled, the task is in the journal and a
  new client's ``wait()`` finishes it.
* Task dialects stream ``Accepted``, then a ``Progress`` per poll (the provider's status and
  percent), then ``Completed``.
* The job's deadline holds mid-stream, and the error keeps the last partial image.
* ``max_response_bytes`` bounds the whole stream; ``max_download_bytes`` each partial image,
  refused as an inline result image is.
* A stream cut after K events is a ``StreamInterruptedError`` keeping the last partial,
  and the submit was sent once; a stream cut after its last completed image loses nothing.
* What cannot stream partial images is refused before anything is sent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from helpers import Bridge, open_client, png
from imagebridge import (
    Accepted,
    AsyncImageClient,
    Completed,
    ImageClient,
    ImageTimeoutError,
    InvalidRequestError,
    PartialImage,
    Progress,
    ServerError,
    StreamInterruptedError,
    SubmitOutcomeUnknownError,
)
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from reliability.support import TASK_PROVIDERS, counts

from .conftest import DELAY, KEY, Run, collect, counting, pixels, stream_once, streaming_client

pytestmark = pytest.mark.anyio

#: How long an emulated task takes here: several polls at the reliability suite's pace.
TASK = 0.4
#: The small, fast stream most tests ask for.
SMALL: dict[str, Any] = {"model": "gpt-image-2", "size": "256x256"}
#: A stream of larger images (each event some 20 KB).
LARGE: dict[str, Any] = {"model": "gpt-image-2", "size": "1024x1024"}
#: Deadline tests: the bound asserted is the timeout plus this (the stream would take far
#: longer without a deadline).
SLACK = 5.0
#: Each task dialect's statuses while it runs, and when done (fal's running status carries
#: the runner's last log line after a colon).
STATUSES = {
    "dimilinks": {"queued", "in_progress", "succeeded"},
    "apimart": {"pending", "processing", "completed"},
    "fal": {"IN_QUEUE", "IN_PROGRESS", "COMPLETED"},
    "replicate": {"starting", "processing", "succeeded"},
    "bfl": {"Pending", "Ready"},
}
#: The task dialects that report a percentage on every poll.
PERCENT = ("dimilinks", "apimart", "bfl")
#: Replicate polls only without Prefer: wait (its held create answers done, with no poll).
POLLED: dict[str, dict[str, Any]] = {"replicate": {"provider_options": {"replicate": {"wait": 0}}}}


@pytest.fixture(scope="module")
def running() -> Iterator[EmulatorServer]:
    """This module's emulator: tasks take :data:`TASK` seconds."""
    config = EmulatorConfig(task_duration=TASK, api_key=KEY, stream_delay=DELAY)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def slow() -> Iterator[EmulatorServer]:
    """An emulator whose stream events come 0.4 s apart."""
    with EmulatorServer(EmulatorConfig(api_key=KEY, stream_delay=0.4)) as server:
        yield server


@pytest.fixture(scope="module")
def stalled() -> Iterator[EmulatorServer]:
    """An emulator whose stream events come 30 s apart (the longest it allows is 60)."""
    with EmulatorServer(EmulatorConfig(api_key=KEY, stream_delay=30)) as server:
        yield server


def posts(server: EmulatorServer) -> int:
    return sum(entry["method"] == "POST" for entry in server.app_state.requests)


# -- closing early ---------------------------------------------------------------------------------


async def test_closing_after_the_first_partial_sends_nothing_more(
    mode: str, emulator: EmulatorServer
) -> None:
    transport = counting(mode, limits=httpx.Limits(max_connections=1))
    options: dict[str, Any] = {"transport": transport, "request_timeout": httpx.Timeout(10, pool=2)}
    async with streaming_client(mode, "openai", emulator, **options) as opened:
        run = await collect(
            opened.client, "a fox", until=lambda event: isinstance(event, PartialImage),
            partial_images=3, n=2, **SMALL,
        )  # fmt: skip
        assert isinstance(run.events[-1], PartialImage)
        assert run.result is None
        await anyio.sleep(DELAY * 20)  # the rest of the stream's time: nothing is sent
        assert len(transport.sent) == 1
        assert posts(emulator) == 1
        assert transport.busy() == []
        # The pool's one connection is free: the next call goes through at once.
        again = await collect(opened.client, "a fox", **SMALL)
        assert again.result is not None
        assert len(again.finals) == 1
        assert len(transport.sent) == 2
        assert transport.busy() == []


@pytest.mark.parametrize("provider", TASK_PROVIDERS)
async def test_closing_after_acceptance_keeps_the_task_resumable(
    mode: str, provider: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    async with streaming_client(mode, provider, emulator, journal=journal) as opened:
        run = await collect(
            opened.client, "a fox", until=lambda event: isinstance(event, Accepted), size="1:1"
        )
        accepted = run.events[-1]
        assert isinstance(accepted, Accepted)
        await anyio.sleep(TASK * 1.5)  # longer than the task takes: nobody polls it
        assert counts(emulator, provider).polls == 0
        assert opened.client.journal is not None
        [entry] = opened.client.journal.entries()
    assert entry.task == accepted.task
    assert entry.state == "accepted"
    async with streaming_client(mode, provider, emulator, journal=journal) as fresh:
        result = await fresh.wait(entry.task)
        [saved] = await fresh.save(result, tmp_path / "out")
    assert pixels(saved.read_bytes()) == (1024, 1024)
    seen = counts(emulator, provider)
    assert (seen.submits, seen.accepted) == (1, 1)  # finished, never submitted again
    assert seen.polls >= 1


# -- task dialects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", TASK_PROVIDERS)
async def test_task_dialects_stream_acceptance_then_each_poll(
    mode: str, provider: str, emulator: EmulatorServer
) -> None:
    run = await stream_once(
        mode, provider, emulator, "a fox", size="1:1", **POLLED.get(provider, {})
    )
    kinds = [type(event) for event in run.events]
    at = kinds.index(Accepted)
    assert kinds == [Progress] * at + [Accepted] + [Progress] * (len(kinds) - at - 2) + [Completed]
    before = run.events[:at]
    assert [event.stage for event in before if isinstance(event, Progress)] == ["submitting"]
    accepted = run.events[at]
    assert isinstance(accepted, Accepted)
    polls = [event for event in run.events[at + 1 : -1] if isinstance(event, Progress)]
    assert len(polls) >= 3  # a task of TASK seconds, polled every 0.05-0.1 s
    assert {event.task_id for event in polls} == {accepted.task.task_id}
    assert {event.provider for event in polls} == {provider}
    words = {
        re.split(r"[ :]", str(event.status))[0] for event in polls
    }  # fal: "IN_QUEUE (position 1)"
    assert words <= STATUSES[provider]
    if provider in PERCENT:
        assert all(event.percent is not None for event in polls)
        percents = [event.percent or 0.0 for event in polls]
        assert percents == sorted(percents)
        assert any(0 < percent < 100 for percent in percents)  # seen while running
    assert {event.stage for event in polls[:-1]} <= {"queued", "running"}
    assert (polls[-1].stage, polls[-1].percent) == ("done", 100)
    assert run.result is run.completed.result
    assert run.result.task_ids == [accepted.task.task_id]
    if provider == "fal":
        # Its result is one more GET after COMPLETED, and a status that repeats itself (the
        # same queue position, the same last log line) is no new progress event.
        assert counts(emulator, provider).polls >= len(polls) + 1
    else:
        assert counts(emulator, provider).polls == len(polls)


# -- the deadline ----------------------------------------------------------------------------------


async def test_the_deadline_holds_while_the_stream_waits(
    mode: str, stalled: EmulatorServer
) -> None:
    run = Run()
    began = time.monotonic()
    with pytest.raises(ImageTimeoutError) as caught:
        async with streaming_client(mode, "openai", stalled, timeout=0.5) as opened:
            await collect(opened.client, "a fox", into=run, partial_images=2, **SMALL)
    elapsed = time.monotonic() - began
    assert elapsed < 0.5 + SLACK  # the stream's first event was 30 s away
    assert caught.value.timeout == 0.5
    assert caught.value.last_partial is None
    assert [getattr(event, "stage", None) for event in run.events] == ["submitting", "running"]


async def test_the_deadline_keeps_the_last_partial(mode: str, slow: EmulatorServer) -> None:
    run = Run()
    began = time.monotonic()
    with pytest.raises(ImageTimeoutError) as caught:
        async with streaming_client(mode, "openai", slow, timeout=1.0) as opened:
            # Events at 0.4, 0.8, 1.2 and (the completed image) 1.6 s.
            await collect(opened.client, "a fox", into=run, partial_images=3, **SMALL)
    assert time.monotonic() - began < 1.0 + SLACK
    kept = caught.value.last_partial
    assert kept is not None
    assert run.partials  # at least the one at 0.4 s arrived
    assert kept.index == run.partials[-1].index
    assert kept.image.read() == run.partials[-1].image.read()
    assert pixels(kept.image.read()) == (256, 256)


# -- the body caps ---------------------------------------------------------------------------------


async def test_max_response_bytes_bounds_the_whole_stream(
    mode: str, emulator: EmulatorServer
) -> None:
    whole = await stream_once(mode, "openai", emulator, "a fox", partial_images=3, **LARGE)
    first = len(whole.partials[0].image.read()) * 4 // 3 + 1024  # one event, as base64
    rest = [*whole.finals, *(partial.image.read() for partial in whole.partials[1:])]
    assert first * 2 < sum(len(content) for content in rest)  # far below the whole stream
    emulator.app_state.reset()
    run = Run()
    with pytest.raises(ServerError) as caught:
        async with streaming_client(mode, "openai", emulator, max_response_bytes=first) as opened:
            await collect(opened.client, "a fox", into=run, partial_images=3, **LARGE)
    error = caught.value
    assert error.code == "response_too_large"
    assert "max_response_bytes" in str(error)
    assert str(first) in str(error)
    assert len(run.partials) == 1
    assert error.last_partial is not None
    assert error.last_partial.index == 0
    assert posts(emulator) == 1


async def test_max_download_bytes_refuses_a_partial_as_an_inline_image(
    mode: str, emulator: EmulatorServer
) -> None:
    whole = await stream_once(mode, "openai", emulator, "a fox", partial_images=1, **SMALL)
    limit = min(len(whole.partials[0].image.read()), len(whole.finals[0])) - 1
    run = Run()
    async with streaming_client(mode, "openai", emulator, max_download_bytes=limit) as opened:
        with pytest.raises(ServerError) as streamed:
            await collect(opened.client, "a fox", into=run, partial_images=1, **SMALL)
        with pytest.raises(ServerError) as inline:
            await opened.generate("a fox", **SMALL)
    error = streamed.value
    assert error.code == inline.value.code == "download_too_large"
    assert "partial image 0" in str(error)
    assert "max_download_bytes" in str(error)
    assert str(error).replace("partial image", "inline image") == str(inline.value)
    assert run.partials == []  # refused, not handed on
    assert error.last_partial is None


# -- a stream that breaks --------------------------------------------------------------------------


@pytest.mark.parametrize("after", [1, 2, 3])
async def test_a_cut_stream_keeps_the_last_partial(
    mode: str, after: int, emulator: EmulatorServer
) -> None:
    emulator.app_state.faults.replace([f"openai/submit:cut:1:{after}"])
    transport = counting(mode)
    run = Run()
    # The default retry rules (retries allowed): a broken stream is still never re-sent.
    async with streaming_client(mode, "openai", emulator, transport=transport) as opened:
        with pytest.raises(StreamInterruptedError) as caught:
            await collect(opened.client, "a fox", into=run, partial_images=3, **SMALL)
    error = caught.value
    assert isinstance(error, SubmitOutcomeUnknownError)
    assert [partial.index for partial in run.partials] == list(range(after))
    kept = error.last_partial
    assert kept is not None
    assert kept.index == after - 1
    assert kept.image.read() == run.partials[-1].image.read()
    assert pixels(kept.image.read()) == (256, 256)
    assert len(transport.sent) == 1
    seen = counts(emulator, "openai")
    assert (seen.submits, seen.accepted) == (1, 1)


async def test_a_stream_cut_after_its_last_image_loses_nothing(
    mode: str, emulator: EmulatorServer
) -> None:
    # The connection closes after both events, before the body's end: the image is complete.
    emulator.app_state.faults.replace(["openai/submit:cut:1:9"])
    run = await stream_once(mode, "openai", emulator, "a fox", partial_images=1, **SMALL)
    assert len(run.partials) == 1
    assert [pixels(content) for content in run.finals] == [(256, 256)]
    assert emulator.app_state.requests[-1]["faults"] == ["openai/submit:cut:1:9"]


async def test_a_stream_cut_between_images_keeps_the_finished_one(
    mode: str, emulator: EmulatorServer
) -> None:
    # n=2, one partial each: partial, completed, partial, completed. Cut after the third.
    emulator.app_state.faults.replace(["openai/submit:cut:1:3"])
    run = Run()
    async with streaming_client(mode, "openai", emulator) as opened:
        with pytest.raises(StreamInterruptedError) as caught:
            await collect(opened.client, "a fox", into=run, n=2, partial_images=1, **SMALL)
        error = caught.value
        assert error.partial is not None, "the completed first image was lost"
        assert len(error.partial.images) == 1
        kept = error.partial.images[0].read()  # inline (b64_json): no download
    assert pixels(kept) == (256, 256)
    assert error.last_partial is not None
    assert (error.last_partial.index, error.last_partial.image_index) == (0, 1)
    assert [w.code for w in error.partial.warnings] == ["fewer_images"]
    seen = counts(emulator, "openai")
    assert seen.submits == 1


# -- refusals before sending -----------------------------------------------------------------------


def nothing_sent(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"sent {request.method} {request.url}")


REFUSALS: list[tuple[str, str, dict[str, Any], str]] = [
    ("generate", "openai", {"model": "gpt-image-1"}, "stream()"),
    ("edit", "openai", {"model": "gpt-image-1"}, "stream()"),
    ("stream", "openai", {"model": "dall-e-3"}, "dall-e-3 does not stream partial images"),
    ("stream", "geeknow", {"model": "gpt-image-1"}, "does not stream partial images"),
    ("stream", "dimilinks", {}, "does not stream partial images"),
    ("stream", "apimart", {}, "does not stream partial images"),
    ("stream", "openai", {"model": "gpt-image-1", "partial_images": 4}, "at most 3"),
    ("vary", "openai", {"model": "dall-e-2"}, "variations take no partial_images"),
    ("stream-vary", "openai", {"model": "dall-e-2"}, "variations take no partial_images"),
]


async def refused(opened: Bridge, how: str, fields: dict[str, Any]) -> None:
    """Make the call ``how`` names; each raises before anything is sent (a stream at the
    call, before it is entered)."""
    client, image = opened.client, png(8, 8)
    if how == "generate":
        await opened.generate("a fox", **fields)
    elif how == "edit":
        await opened.edit("a fox", [image], **fields)
    elif how == "vary" and isinstance(client, ImageClient):
        client.vary(image, **fields)
    elif how == "vary" and isinstance(client, AsyncImageClient):
        await client.vary(image, **fields)
    elif how == "stream-vary":
        client.stream("", operation="vary", reference_images=[image], **fields)
    else:
        client.stream("a fox", **fields)


@pytest.mark.parametrize(
    ("how", "provider", "fields", "why"), REFUSALS, ids=[f"{r[0]}-{r[1]}" for r in REFUSALS]
)
async def test_what_cannot_stream_partials_is_refused_before_sending(
    mode: str, how: str, provider: str, fields: dict[str, Any], why: str
) -> None:
    fields = {"partial_images": 1, **fields}
    async with open_client(mode, provider, nothing_sent, journal=False) as opened:
        with pytest.raises(InvalidRequestError) as caught:
            await refused(opened, how, fields)
    error = caught.value
    reasons = [p.reason for p in error.problems if p.field == "partial_images"]
    assert any(why in reason for reason in reasons), error.problems
    assert {p.value for p in error.problems if p.field == "partial_images"} == {
        fields["partial_images"]
    }
    assert "partial_images" in str(error)
    assert why in str(error)
