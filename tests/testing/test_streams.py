"""Event streams in the conformance kit (cassette format version 2): recorded event by event
from the emulator over loopback HTTP (timing kept, images as asset files, secrets refused),
replayed as a real ``text/event-stream`` body one chunk per event (with or without the
recorded delays, a broken stream ending in a transport error), the streaming scenarios and
their intent checks, rejections of ``partial_images`` through ``stream()``, and version 1
cassettes loaded as they are."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from httpx_sse import EventSource
from PIL import Image

from imagebridge import ImageClient
from imagebridge._emulator import EmulatorServer
from imagebridge.testing import (
    PLACEHOLDER_ORIGIN,
    Cassette,
    FakeClock,
    Rejection,
    RejectionFailedError,
    ReplayTransport,
    load_cassette,
    record,
    replay,
    run_conformance,
    sample_png,
)
from imagebridge.testing._context import ProviderContext
from imagebridge.testing._rejections import rejections, run_rejection

from .conftest import BUILTIN, EMULATOR_KEY

Mode = Literal["sync", "async"]
MODES: list[Mode] = ["sync", "async"]
STREAMING = (
    "stream_partial_images",
    "stream_final_only",
    "stream_edit_partial_images",
    "stream_interrupted",
)
V1 = Path(__file__).parent / "data" / "v1"
#: The emulator's pause before each event while recording here.
DELAY = 0.03


@pytest.fixture(scope="module")
def recorded(
    emulator: tuple[EmulatorServer, FakeClock], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The streaming scenarios of openai, recorded once from the emulator."""
    server, clock = emulator
    out = tmp_path_factory.mktemp("streams") / "openai"
    server.config.stream_delay = DELAY
    try:
        reports = record(
            "openai",
            base_url=server.url("openai"),
            api_key=EMULATOR_KEY,
            out=out,
            scenarios=STREAMING,
            clock=clock,
        )
    finally:
        server.config.stream_delay = 0.02
    assert [(r.scenario, r.status) for r in reports] == [(n, "recorded") for n in STREAMING], [
        r.detail for r in reports
    ]
    return out


def stream_body(cassette: Cassette, index: int = 0) -> dict[str, Any]:
    body = cassette.interactions[index].response.model_dump(mode="json", by_alias=True)["body"]
    assert body["kind"] == "event_stream"
    return body  # type: ignore[no-any-return]


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# -- recording -----------------------------------------------------------------------------------


def test_a_stream_is_recorded_event_by_event_with_its_timing_and_images_as_assets(
    recorded: Path,
) -> None:
    cassette = load_cassette(recorded / "stream_partial_images.json")
    assert cassette.version == 2
    assert cassette.call is not None
    assert (cassette.call.stream, cassette.call.fields) == (True, {"partial_images": 2})
    request = cassette.interactions[0].request
    assert request.body is not None
    assert request.body.model_dump(by_alias=True)["json"]["stream"] is True
    assert "x-emulator-fault" not in request.headers
    body = stream_body(cassette)
    assert [event["event"] for event in body["events"]] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert body.get("broken", False) is False
    times = [event["at"] for event in body["events"]]
    assert times == sorted(times)
    assert times[0] >= DELAY * 0.5  # each event was made after the emulator's pause
    assert times[-1] - times[0] >= DELAY
    assert times[-1] < 30
    # No base64 in the JSON: every image of an event is a file of the assets folder.
    text = (recorded / "stream_partial_images.json").read_text()
    assert '"b64_json": "<asset ' in text
    assert "iVBORw0KGgo" not in text  # the base64 of a PNG signature
    files = [event["data"]["assets"][0]["file"] for event in body["events"]]
    images = [decode(cassette.asset(name)) for name in files]
    assert [image.size for image in images] == [(1024, 1024)] * 3
    assert len(set(files)) == 3  # each partial differs from the final image
    # The expected outcome: the events in order, the final image and its usage.
    assert cassette.expected is not None
    result, events = cassette.expected.result, cassette.expected.events
    assert result is not None
    assert events is not None
    assert [e.type for e in events] == [
        "progress",
        "progress",
        "partial_image",
        "partial_image",
        "completed",
    ]
    assert [e.index for e in events if e.type == "partial_image"] == [0, 1]
    assert result.usage is not None
    assert result.usage.total_tokens == body["events"][-1]["data"]["json"]["usage"]["total_tokens"]
    assert result.sha256 is not None
    assert result.sha256[0].startswith(files[-1].partition(".")[0])


def test_a_broken_stream_is_recorded_as_broken_with_the_last_partial_kept(
    recorded: Path,
) -> None:
    cassette = load_cassette(recorded / "stream_interrupted.json")
    body = stream_body(cassette)
    assert body["broken"] is True
    assert [event["event"] for event in body["events"]] == ["image_generation.partial_image"] * 2
    assert "submit:cut:1:2" in cassette.description
    assert cassette.expected is not None
    error = cassette.expected.error
    assert error is not None
    assert error.type == "StreamInterruptedError"
    assert error.last_partial is not None
    assert (error.last_partial.index, error.last_partial.size) == (1, "1024x1024")
    assert len(cassette.interactions) == 1  # never sent again


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", STREAMING)
def test_the_recorded_streams_replay_with_and_without_their_delays(
    recorded: Path, name: str, mode: Mode
) -> None:
    replay(load_cassette(recorded / f"{name}.json"), mode)
    replay(load_cassette(recorded / f"{name}.json"), mode, delays=True)


def test_the_client_gets_each_replayed_event_as_it_comes(recorded: Path) -> None:
    cassette = load_cassette(recorded / "stream_partial_images.json")
    assert cassette.call is not None
    times = [event["at"] for event in stream_body(cassette)["events"]]
    transport = ReplayTransport(cassette, delays=True)
    arrived: list[tuple[str, float]] = []
    options: dict[str, Any] = {"api_key": "sk-replay", "journal": False}
    with ImageClient(
        "openai", transport=transport, base_url=cassette.call.client.base_url, **options
    ) as client:
        started = time.monotonic()
        with client.stream(cassette.call.prompt or "", partial_images=2) as events:
            for event in events:
                arrived.append((event.type, time.monotonic() - started))
                assert len(arrived) <= 10
    partials = [at for kind, at in arrived if kind == "partial_image"]
    assert len(partials) == 2
    # The first partial image is in the caller's hands before the stream has been sent whole.
    assert arrived[-1][1] - partials[0] >= (times[-1] - times[0]) * 0.5
    assert arrived[-1][1] < 30
    transport.assert_all_played()


def test_the_suite_runs_the_streaming_scenarios_and_skips_them_where_nothing_streams(
    recorded: Path,
) -> None:
    outcomes = run_conformance("openai", recorded.parent, modes=("sync",))
    assert {o.scenario: o.status for o in outcomes if o.scenario in STREAMING} == dict.fromkeys(
        STREAMING, "pass"
    )
    geeknow = run_conformance("geeknow", BUILTIN, modes=("async",))
    reasons = {o.scenario: o.reason for o in geeknow if o.scenario in STREAMING}
    assert reasons == dict.fromkeys(
        STREAMING,
        "geeknow does not stream replies (Capabilities.streaming) for gpt-image-1"
        " (nor does any other model it lists)",
    )
    assert {o.status for o in geeknow if o.scenario in STREAMING} == {"skip"}


@pytest.mark.parametrize("mode", MODES)
def test_a_replayed_stream_whose_final_image_changed_fails(
    recorded: Path, tmp_path: Path, mode: Mode
) -> None:
    # The completed event now carries the last partial image: count, type and size agree,
    # only the image's digest tells the completed result is not the recorded one.
    folder = tmp_path / "openai"
    shutil.copytree(recorded, folder)
    path = folder / "stream_partial_images.json"
    data = json.loads(path.read_text())
    events = data["interactions"][0]["response"]["body"]["events"]
    events[-1]["data"]["assets"] = events[-2]["data"]["assets"]
    path.write_text(json.dumps(data))
    with pytest.raises(AssertionError, match="sha256"):
        replay(load_cassette(path), mode)


# -- replay as a real event stream ---------------------------------------------------------------


def synthetic(*, broken: bool = False) -> Cassette:
    events = [
        {"event": "tick", "data": {"kind": "json", "json": {"n": n}}, "at": 0.05 * (n + 1)}
        for n in range(3)
    ]
    events.append({"data": {"kind": "text", "text": "line one\nline two"}, "id": "7"})
    return Cassette.model_validate(
        {
            "name": "unit",
            "provider": "openai",
            "scenario": {"name": "unit"},
            "call": {"client": {"base_url": "https://api.example.test/v1"}},
            "interactions": [
                {
                    "request": {"method": "GET", "url": "https://api.example.test/v1/events"},
                    "response": {
                        "status": 200,
                        "body": {"kind": "event_stream", "events": events, "broken": broken},
                    },
                }
            ],
            "expected": {"error": {"type": "X"}},
        }
    )


def test_a_stream_is_served_one_chunk_per_event_that_the_client_parses_as_it_comes() -> None:
    transport = ReplayTransport(synthetic())
    with (
        httpx.Client(transport=transport) as client,
        client.stream("GET", "https://api.example.test/v1/events") as response,
    ):
        assert response.headers["content-type"] == "text/event-stream"
        chunks = list(response.iter_bytes())
    assert chunks[0] == b'event: tick\ndata: {"n":0}\n\n'
    assert len(chunks) == 4
    parsed = list(
        EventSource(
            httpx.Response(200, headers=response.headers, content=b"".join(chunks))
        ).iter_sse()
    )
    assert [(e.event, e.data, e.id) for e in parsed] == [
        ("tick", '{"n":0}', ""),
        ("tick", '{"n":1}', ""),
        ("tick", '{"n":2}', ""),
        ("message", "line one\nline two", "7"),
    ]
    transport.assert_all_played()


def test_with_delays_each_event_comes_at_its_recorded_time() -> None:
    transport = ReplayTransport(synthetic(), delays=True)
    arrived = []
    with httpx.Client(transport=transport) as client:
        started = time.monotonic()
        with client.stream("GET", "https://api.example.test/v1/events") as response:
            for _ in response.iter_bytes():
                arrived.append(time.monotonic() - started)
    assert len(arrived) == 4
    for at, due in zip(arrived[:3], (0.05, 0.1, 0.15), strict=True):
        assert at >= due * 0.9
    assert arrived[-1] < 10  # the last event has no recorded time: it comes at once


@pytest.mark.parametrize("mode", MODES)
def test_a_broken_stream_ends_in_a_transport_error_after_its_events(mode: Mode) -> None:
    transport = ReplayTransport(synthetic(broken=True))
    got: list[bytes] = []
    url = "https://api.example.test/v1/events"
    if mode == "sync":
        with (
            httpx.Client(transport=transport) as client,
            client.stream("GET", url) as response,
            pytest.raises(httpx.RemoteProtocolError, match="broke off"),
        ):
            got.extend(response.iter_bytes())
    else:

        async def go() -> None:
            async with (
                httpx.AsyncClient(transport=transport) as client,
                client.stream("GET", url) as response,
            ):
                async for chunk in response.aiter_bytes():
                    got.append(chunk)

        with pytest.raises(httpx.RemoteProtocolError, match="broke off"):
            asyncio.run(go())
    assert len(got) == 4


# -- recording from an in-process fake server: scrubbing, secrets, intent ------------------------

FAKE = "https://api.fake.test/v1"
FAKE_KEY = "sk-fake-streaming-0e4f1c9a"


def fake_stream(events: list[dict[str, Any]]) -> httpx.MockTransport:
    """A fake OpenAI-style API answering a streamed generation with ``events``."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["stream"] is True

        def chunks() -> Iterator[bytes]:
            for event in events:
                yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=chunks())

    return httpx.MockTransport(handler)


def image_event(kind: str, shade: int, **extra: Any) -> dict[str, Any]:
    b64 = base64.b64encode(sample_png(8, 8, shade)).decode("ascii")
    return {"type": f"image_generation.{kind}", "b64_json": b64, **extra}


def record_fake(tmp_path: Path, events: list[dict[str, Any]], scenario: str) -> Any:
    return record(
        "openai",
        base_url=FAKE,
        api_key=FAKE_KEY,
        out=tmp_path,
        scenarios=[scenario],
        transport=fake_stream(events),
        clock=FakeClock(),
    )


USAGE = {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8}


def test_events_are_scrubbed_like_any_body(tmp_path: Path) -> None:
    events = [
        image_event("partial_image", 10, partial_image_index=0, note=f"{FAKE}/images/x"),
        image_event("partial_image", 20, partial_image_index=1),
        image_event("completed", 30, usage=USAGE),
    ]
    (report,) = record_fake(tmp_path, events, "stream_partial_images")
    assert report.status == "recorded", report.detail
    cassette = load_cassette(tmp_path / "stream_partial_images.json")
    note = stream_body(cassette)["events"][0]["data"]["json"]["note"]
    assert note == f"{PLACEHOLDER_ORIGIN}/v1/images/x"
    assert "api.fake.test" not in (tmp_path / "stream_partial_images.json").read_text()


def test_a_secret_in_an_event_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    events = [
        image_event("partial_image", 10, partial_image_index=0),
        image_event("partial_image", 20, partial_image_index=1, debug=f"key {FAKE_KEY}"),
        image_event("completed", 30, usage=USAGE),
    ]
    (report,) = record_fake(tmp_path, events, "stream_partial_images")
    assert report.status == "refused"
    assert "secret #1 in interaction #0 response" in report.detail
    assert FAKE_KEY not in report.detail
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ([image_event("completed", 30)], "asked for 2 partial images per image, got 0"),
        (
            [
                image_event("partial_image", 10, partial_image_index=1),
                image_event("partial_image", 20, partial_image_index=0),
                image_event("completed", 30),
            ],
            "partial images (image, index) came as [(0, 1), (0, 0)]",
        ),
    ],
)
def test_a_stream_that_is_not_what_the_scenario_asks_for_is_not_saved(
    tmp_path: Path, events: list[dict[str, Any]], problem: str
) -> None:
    (report,) = record_fake(tmp_path, events, "stream_partial_images")
    assert report.status == "failed"
    assert problem in report.detail
    assert not (tmp_path / "stream_partial_images.json").exists()


def test_a_stream_that_did_not_break_cannot_record_the_broken_stream_scenario(
    tmp_path: Path,
) -> None:
    # A live endpoint ignores the emulator's fault header: the stream completes.
    events = [
        image_event("partial_image", 10, partial_image_index=0),
        image_event("partial_image", 20, partial_image_index=1),
        image_event("completed", 30),
    ]
    (report,) = record_fake(tmp_path, events, "stream_interrupted")
    assert (report.status, report.detail) == (
        "failed",
        "expected StreamInterruptedError, got success; not saved",
    )


# -- rejections through stream() -----------------------------------------------------------------


def by_name(context: ProviderContext) -> dict[str, Rejection]:
    return {rejection.name: rejection for rejection in rejections(context)}


@pytest.mark.parametrize("mode", MODES)
def test_partial_images_are_rejected_through_stream_and_only_for_the_capability(
    mode: Mode,
) -> None:
    dalle = ProviderContext.of("openai", model="dall-e-3")
    gpt = ProviderContext.of("openai")
    refused = by_name(dalle)["reject_partial_images"]
    assert (refused.method, refused.make()) == ("stream", {"partial_images": 1})
    run_rejection(refused, mode, dalle)
    # The same request on a model that takes partial images is not refused: the rejection
    # fails, as it must (through generate() it would have passed, for the wrong reason).
    with pytest.raises(RejectionFailedError, match="accepted a request"):
        run_rejection(refused, mode, gpt)
    wrong_reason = Rejection("via_generate", "", "partial_images", "generate", refused.make)
    run_rejection(wrong_reason, mode, gpt)
    above = by_name(gpt)["reject_partial_images_value"]
    assert (above.method, above.make()) == ("stream", {"partial_images": 4})
    run_rejection(above, mode, gpt)
    assert "reject_partial_images" not in by_name(gpt)


def test_providers_that_do_not_stream_reject_partial_images() -> None:
    for provider in ("geeknow", "dimilinks", "apimart"):
        rejection = by_name(ProviderContext.of(provider))["reject_partial_images"]
        run_rejection(rejection, "sync", ProviderContext.of(provider))


# -- version 1 cassettes -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["openai/text_to_image", "dimilinks/task_statuses"])
def test_a_version_1_cassette_is_upgraded_as_it_is_loaded_and_replays(
    name: str, mode: Mode
) -> None:
    # Copied from the built-in cassettes of commit 9eba932 (format version 1).
    path = V1 / f"{name}.json"
    before = path.read_bytes()
    assert json.loads(before)["version"] == 1
    cassette = load_cassette(path)
    assert cassette.version == 2
    assert cassette.call is not None
    assert cassette.call.stream is False
    replay(cassette, mode)
    assert path.read_bytes() == before  # loading never rewrites the file
    assert '"version": 2' in cassette.to_json()


def test_a_version_the_kit_does_not_know_is_refused_by_name(tmp_path: Path) -> None:
    data = json.loads((V1 / "openai" / "text_to_image.json").read_text())
    data["version"] = 3
    path = tmp_path / "text_to_image.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="cassette format version 3: this kit reads versions 1, 2"):
        load_cassette(path)


def test_the_built_in_cassettes_are_version_2_and_only_openai_streams() -> None:
    streams: dict[str, list[str]] = {}
    for path in sorted(BUILTIN.glob("*/*.json")):
        data = json.loads(path.read_text())
        assert data["version"] == 2, path
        if data.get("call", {}).get("stream"):
            streams.setdefault(path.parent.name, []).append(path.stem)
    assert streams == {"openai": sorted(STREAMING)}
