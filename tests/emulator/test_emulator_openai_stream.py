"""The official ``openai`` SDK as the oracle of the openai dialect's ``stream: true`` answers.

Generations, multipart edits (``client.images.generate`` / ``edit`` with ``stream=True``) and
JSON edits (the SDK's generic ``post`` with its ``Stream`` class), sync and async, under
``_strict_response_validation=True``, for every GPT image model: the SDK must receive every
event, typed, in the spec's order (per image: the partial images, then the completed event
with ``usage``), each image decodable at the requested size. The refusals (dall-e, an out of
range ``partial_images``, ``n`` above 10) are ``openai.BadRequestError``; the events arrive
spread in time (the emulator's ``stream_delay``); a ``submit:cut`` fault breaks a stream after
its first events, and the SDK sees a broken connection after them.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types import (
    ImageEditCompletedEvent,
    ImageEditPartialImageEvent,
    ImageEditStreamEvent,
    ImageGenCompletedEvent,
    ImageGenPartialImageEvent,
)
from PIL import Image

from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .conftest import png_bytes

GPT_MODELS = (
    "gpt-image-1",
    "gpt-image-1-mini",
    "gpt-image-1.5",
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "chatgpt-image-latest",
)
#: gpt-image-2 and its snapshot take any WIDTHxHEIGHT: a small one keeps the tests fast.
FLEXIBLE = ("gpt-image-2", "gpt-image-2-2026-04-21")
MODES = ("sync", "async")
DELAY = 0.03
PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
#: No stream here has more events than this (n <= 2, partial_images <= 3).
MAX_EVENTS = 16

Timed = list[tuple[float, Any]]


@pytest.fixture(scope="module")
def running() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(task_duration=0, api_key="sk-stream", stream_delay=DELAY)
    with EmulatorServer(config) as server:
        yield server


class Clients:
    """A sync and an async SDK client for the module's emulator (the async one on its own
    event loop)."""

    def __init__(self, server: EmulatorServer) -> None:
        options: dict[str, Any] = {
            "api_key": "sk-stream",
            "base_url": server.url("openai"),
            "max_retries": 0,
            "timeout": 20,
            "_strict_response_validation": True,
        }
        self.sync = openai.OpenAI(**options)
        self.loop = asyncio.new_event_loop()
        self.async_ = self.loop.run_until_complete(self._make(options))

    @staticmethod
    async def _make(options: dict[str, Any]) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(**options)

    def close(self) -> None:
        self.sync.close()
        self.loop.run_until_complete(self.async_.close())
        self.loop.close()


@pytest.fixture(scope="module")
def sdks(running: EmulatorServer) -> Iterator[Clients]:
    clients = Clients(running)
    try:
        yield clients
    finally:
        clients.close()


def stream(
    sdks: Clients, mode: str, operation: str, into: Timed | None = None, **kwargs: Any
) -> Timed:
    """Every event of a ``stream=True`` call, with the time the SDK's iteration yielded it
    (also appended to ``into`` as they come, so a broken stream keeps what arrived).

    ``operation``: ``generate``, ``edit`` (multipart) or ``json-edit`` (generic ``post``)."""
    timed: Timed = [] if into is None else into
    if mode == "sync":
        if operation == "json-edit":
            events: Any = sdks.sync.post(
                "/images/edits",
                body={**kwargs, "stream": True},
                cast_to=ImageEditStreamEvent,  # type: ignore[arg-type]
                stream=True,
                stream_cls=openai.Stream[ImageEditStreamEvent],
            )
        else:
            events = getattr(sdks.sync.images, operation)(stream=True, **kwargs)
        with events:
            for event in events:
                timed.append((time.monotonic(), event))
                assert len(timed) <= MAX_EVENTS, "the stream did not end"
        return timed

    async def collect() -> Timed:
        if operation == "json-edit":
            events: Any = await sdks.async_.post(
                "/images/edits",
                body={**kwargs, "stream": True},
                cast_to=ImageEditStreamEvent,  # type: ignore[arg-type]
                stream=True,
                stream_cls=openai.AsyncStream[ImageEditStreamEvent],
            )
        else:
            events = await getattr(sdks.async_.images, operation)(stream=True, **kwargs)
        async with events:
            async for event in events:
                timed.append((time.monotonic(), event))
                assert len(timed) <= MAX_EVENTS, "the stream did not end"
        return timed

    return sdks.loop.run_until_complete(collect())


def decode(b64: str, fmt: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    assert image.format == PIL_FORMATS[fmt]
    image.load()
    return image


def check_events(
    timed: Timed, *, edit: bool, partials: int, n: int, size: str, fmt: str = "png"
) -> None:
    """The spec's order and shapes: per image, ``partials`` partial images, then one
    completed event with usage; every image decodes at ``size`` in ``fmt``."""
    prefix = "image_edit" if edit else "image_generation"
    partial_type = ImageEditPartialImageEvent if edit else ImageGenPartialImageEvent
    completed_type = ImageEditCompletedEvent if edit else ImageGenCompletedEvent
    events = [event for _, event in timed]
    expected = ([f"{prefix}.partial_image"] * partials + [f"{prefix}.completed"]) * n
    assert [event.type for event in events] == expected
    width, height = (int(side) for side in size.split("x"))
    for image_index in range(n):
        group = events[image_index * (partials + 1) : (image_index + 1) * (partials + 1)]
        *partial_events, completed = group
        assert [type(event) for event in partial_events] == [partial_type] * partials
        assert [event.partial_image_index for event in partial_events] == list(range(partials))
        assert isinstance(completed, completed_type)
        usage = completed.usage
        assert usage.output_tokens > 0
        assert usage.input_tokens > 0
        assert usage.total_tokens == usage.input_tokens + usage.output_tokens
        for event in group:
            assert (event.size, event.output_format) == (size, fmt)
            assert event.quality in ("low", "medium", "high")
            assert event.background in ("transparent", "opaque")
            assert isinstance(event.created_at, int)
            assert event.created_at > 0
            assert decode(event.b64_json, fmt).size == (width, height)
        # A partial image is the final one progressively revealed: each differs from it.
        final = base64.b64decode(completed.b64_json)
        assert all(base64.b64decode(event.b64_json) != final for event in partial_events)


def small(model: str) -> str:
    return "256x256" if model in FLEXIBLE else "1024x1024"


# -- every streaming model, generations and edits --------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", GPT_MODELS)
def test_generation_streams(emu: EmulatorServer, sdks: Clients, mode: str, model: str) -> None:
    size = small(model)
    timed = stream(
        sdks, mode, "generate", model=model, prompt="an otter", size=size,
        quality="low", partial_images=2,
    )  # fmt: skip
    check_events(timed, edit=False, partials=2, n=1, size=size)
    assert emu.app_state.requests[-1]["status"] == 200


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", GPT_MODELS)
def test_multipart_edit_streams(emu: EmulatorServer, sdks: Clients, mode: str, model: str) -> None:
    size = small(model)
    timed = stream(
        sdks, mode, "edit", model=model, prompt="add a hat", size=size, quality="low",
        image=("in.png", png_bytes(), "image/png"), partial_images=1,
    )  # fmt: skip
    check_events(timed, edit=True, partials=1, n=1, size=size)
    assert emu.app_state.requests[-1]["form"]["stream"] == "true"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", GPT_MODELS)
def test_json_edit_streams(emu: EmulatorServer, sdks: Clients, mode: str, model: str) -> None:
    reference = "data:image/png;base64," + base64.b64encode(png_bytes()).decode("ascii")
    timed = stream(
        sdks, mode, "json-edit", model=model, prompt="add a hat", size="1024x1024",
        quality="low", images=[{"image_url": reference}], partial_images=3,
    )  # fmt: skip
    check_events(timed, edit=True, partials=3, n=1, size="1024x1024")


@pytest.mark.parametrize("mode", MODES)
def test_no_partial_images_is_one_completed_event(sdks: Clients, mode: str) -> None:
    timed = stream(sdks, mode, "generate", model="gpt-image-2", prompt="a", size="256x256")
    check_events(timed, edit=False, partials=0, n=1, size="256x256")


@pytest.mark.parametrize("mode", MODES)
def test_several_images_stream_one_after_another(sdks: Clients, mode: str) -> None:
    timed = stream(
        sdks, mode, "generate", model="gpt-image-2", prompt="two owls", size="320x192", n=2,
        partial_images=1, output_format="webp", background="transparent",
    )  # fmt: skip
    check_events(timed, edit=False, partials=1, n=2, size="320x192", fmt="webp")
    finals = [event.b64_json for _, event in timed if event.type.endswith(".completed")]
    assert len(set(finals)) == 2
    assert {event.background for _, event in timed} == {"transparent"}


def test_jpeg_edit_stream(sdks: Clients) -> None:
    timed = stream(
        sdks, "sync", "edit", model="gpt-image-1", prompt="x", quality="low",
        image=("in.png", png_bytes(), "image/png"), partial_images=2, output_format="jpeg",
    )  # fmt: skip
    check_events(timed, edit=True, partials=2, n=1, size="1024x1024", fmt="jpeg")


# -- the body is really streamed -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_events_arrive_spread_in_time(sdks: Clients, mode: str) -> None:
    started = time.monotonic()
    timed = stream(
        sdks, mode, "generate", model="gpt-image-2", prompt="t", size="64x64",
        partial_images=3,
    )  # fmt: skip
    times = [at for at, _ in timed]
    assert len(times) == 4
    # Each event waits DELAY before it is made: a buffered body would arrive all at once.
    assert times[0] - started >= DELAY * 0.9
    assert times[-1] - times[0] >= 3 * DELAY * 0.9
    assert all(later - earlier >= DELAY * 0.5 for earlier, later in itertools.pairwise(times))
    assert times[-1] - started < 10


def test_the_answer_is_an_event_stream(emu: EmulatorServer, sdks: Clients) -> None:
    with sdks.sync.images.with_streaming_response.generate(
        model="gpt-image-2", prompt="raw", size="64x64", stream=True, partial_images=1
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = b"".join(response.iter_bytes()).decode()
    blocks = [block for block in text.split("\n\n") if block]
    assert [block.split("\n")[0] for block in blocks] == [
        "event: image_generation.partial_image",
        "event: image_generation.completed",
    ]
    assert all(
        block.split("\n")[1].startswith('data: {"type":"image_generation.') for block in blocks
    )


# -- refusals --------------------------------------------------------------------------------------

GPT_ONLY = "only supported for the GPT image models"
IMAGE = ("in.png", png_bytes(), "image/png")
REFUSALS: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("generate", {"model": "dall-e-2"}, "stream", "unsupported_parameter", GPT_ONLY),
    ("generate", {"model": "dall-e-3"}, "stream", "unsupported_parameter", GPT_ONLY),
    ("edit", {"model": "dall-e-2", "image": IMAGE}, "stream", "unsupported_parameter", GPT_ONLY),
    (
        "generate",
        {"model": "gpt-image-1", "partial_images": 4},
        "partial_images", "invalid_value", "between 0 and 3",
    ),
    (
        "edit",
        {"model": "gpt-image-1", "image": IMAGE, "partial_images": -1},
        "partial_images", "invalid_value", "between 0 and 3",
    ),
    ("generate", {"model": "gpt-image-1", "n": 11}, "n", "integer_above_max_value", "maximum"),
]  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("operation", "arguments", "param", "code", "rule"), REFUSALS)
def test_refusals_are_bad_request_errors(
    emu: EmulatorServer,
    sdks: Clients,
    mode: str,
    operation: str,
    arguments: dict[str, Any],
    param: str,
    code: str,
    rule: str,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        stream(sdks, mode, operation, prompt="a cat", **arguments)
    error = caught.value
    assert (error.status_code, error.param, error.code) == (400, param, code)
    assert error.type == "invalid_request_error"
    assert isinstance(error.body, dict)
    assert rule in error.body["message"]
    assert emu.app_state.requests[-1]["status"] == 400


# -- a stream that breaks --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_cut_stream_breaks_after_its_first_events(
    emu: EmulatorServer, sdks: Clients, mode: str
) -> None:
    received: Timed = []
    header = {"X-Emulator-Fault": "submit:cut:1:2"}
    with pytest.raises(openai.APIConnectionError):
        stream(
            sdks, mode, "generate", into=received, model="gpt-image-2", prompt="cut",
            size="64x64", partial_images=3, extra_headers=header,
        )  # fmt: skip
    assert [event.type for _, event in received] == ["image_generation.partial_image"] * 2
    assert [event.partial_image_index for _, event in received] == [0, 1]
    assert emu.app_state.stats()["accepted"]["openai"] == 1  # the job was done (and paid for)
    assert emu.app_state.requests[-1]["faults"] == ["submit:cut:1:2"]


def test_a_cut_stream_shorter_than_its_count_loses_its_end(
    emu: EmulatorServer, sdks: Clients
) -> None:
    received: Timed = []
    emu.app_state.faults.replace(["openai/submit:cut:1:9"])
    with pytest.raises(openai.APIConnectionError):
        stream(
            sdks, "sync", "generate", into=received, model="gpt-image-2", prompt="short",
            size="64x64", partial_images=1,
        )  # fmt: skip
    assert [event.type for _, event in received] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    # The fault is spent: the next stream is whole.
    timed = stream(sdks, "sync", "generate", model="gpt-image-2", prompt="whole", size="64x64")
    check_events(timed, edit=False, partials=0, n=1, size="64x64")


def test_a_cut_plain_answer_loses_half_its_body(emu: EmulatorServer, sdks: Clients) -> None:
    with pytest.raises(openai.APIConnectionError):
        sdks.sync.images.generate(
            model="gpt-image-2", prompt="plain", size="64x64",
            extra_headers={"X-Emulator-Fault": "submit:cut"},
        )  # fmt: skip
    assert emu.app_state.stats()["accepted"]["openai"] == 1


def test_cut_specs() -> None:
    from imagebridge._emulator import parse_fault

    fault = parse_fault("openai/submit:cut:1:3")
    assert (fault.dialect, fault.phase, fault.kind, fault.count, fault.number) == (
        "openai", "submit", "cut", 1, 3,
    )  # fmt: skip
    assert parse_fault("submit:cut").number == 1
    for bad in ("poll:cut", "submit:cut:1:0", "submit:cut:1:x"):
        with pytest.raises(ValueError, match="cut"):
            parse_fault(bad)
    with pytest.raises(ValueError, match="stream_delay"):
        EmulatorConfig(stream_delay=-1)


def test_geeknow_does_not_stream(emu: EmulatorServer) -> None:
    # geeknow's documentation (docs/dialects/geeknow.md) describes no streaming.
    answer = httpx.post(
        emu.url("geeknow") + "/images/generations",
        json={"model": "gpt-image-1", "prompt": "g", "stream": True},
        headers={"Authorization": "Bearer sk-stream"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == "unsupported_value"
    assert "'stream': true" in error["message"]
    assert "geeknow" in error["message"]
