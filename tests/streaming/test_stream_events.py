"""The official SDK and imagebridge's ``stream()``, against the emulator, receive the same
events in the same order (issue 13's first "Done when").

For generations, multipart edits and JSON edits (an http(s) URL among the references), sync
and async, for every GPT image model, ``partial_images`` 0 to 3 and ``n`` 1 and 2: each SDK
event becomes ``(kind, partial_image_index, image bytes)`` and so does each imagebridge
event (a :class:`~imagebridge.PartialImage`, and each image of the final result where the
SDK's completed event for it stands: before the first partial of the next image, else at
the end); the two lists must be equal. Around that: every image decodes at the size asked
for, ``PartialImage.image_index`` says which image a partial previews, ``stream.result`` is
the :class:`~imagebridge.Completed` result with the SDK's usage summed, partial images save,
and progress comes first. Models that do not stream (dall-e-3, geeknow's) answer plainly
through ``stream()``: progress, then the result.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.test_emulator_openai_stream import Clients, Timed
from emulator.test_emulator_openai_stream import stream as sdk_stream
from imagebridge import Completed, PartialImage, Progress
from imagebridge._emulator import EmulatorServer

from .conftest import Run, pixels, png_file, stream_once

GPT_MODELS = (
    "gpt-image-1",
    "gpt-image-1-mini",
    "gpt-image-1.5",
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "chatgpt-image-latest",
)
MODES = ("sync", "async")
#: The other reference of a JSON edit: an http(s) URL (the emulator never fetches it).
REMOTE = "https://example.com/source-image.png"

Triple = tuple[str, int | None, bytes]


@pytest.fixture(scope="module")
def sdks(running: EmulatorServer) -> Iterator[Clients]:
    clients = Clients(running)
    try:
        yield clients
    finally:
        clients.close()


def size_for(model: str) -> str:
    return "256x256" if model.startswith("gpt-image-2") else "1024x1024"


def theirs(timed: Timed) -> list[Triple]:
    out: list[Triple] = []
    for _, event in timed:
        content = base64.b64decode(event.b64_json)
        if event.type.endswith(".partial_image"):
            out.append(("partial", event.partial_image_index, content))
        else:
            assert event.type.endswith(".completed"), event.type
            out.append(("completed", None, content))
    return out


def ours(run: Run) -> list[Triple]:
    out: list[Triple] = []
    done = 0
    for partial in run.partials:
        # The SDK's completed event of image k comes before the partials of image k + 1.
        while done < partial.image_index:
            out.append(("completed", None, run.finals[done]))
            done += 1
        out.append(("partial", partial.index, partial.image.read()))
    out += [("completed", None, content) for content in run.finals[done:]]
    return out


def compare(
    sdks: Clients,
    server: EmulatorServer,
    mode: str,
    operation: str,
    sdk: dict[str, Any],
    fields: dict[str, Any],
    *,
    size: str,
    partials: int,
    n: int,
) -> Run:
    """Run the same call through the SDK and through ``stream()``; check every promise."""
    timed = sdk_stream(sdks, mode, operation, **sdk)
    if operation != "generate":
        fields = {"operation": "edit", **fields}
    run = asyncio.run(stream_once(mode, "openai", server, **fields))
    expected = theirs(timed)
    assert len(expected) == (partials + 1) * n
    assert ours(run) == expected
    # Every image decodes at the size asked for.
    width, height = (int(side) for side in size.split("x"))
    assert {pixels(content) for _, _, content in expected} == {(width, height)}
    # Each partial says which image it previews, and its place among that image's partials.
    assert [(p.image_index, p.index) for p in run.partials] == [
        (image, index) for image in range(n) for index in range(partials)
    ]
    # Progress first, the result last; stream.result is the Completed event's result.
    first = next((i for i, e in enumerate(run.events) if isinstance(e, PartialImage)), -1)
    before = run.events[:first]
    assert before
    assert all(isinstance(event, Progress) for event in before)
    assert [type(event) for event in run.events[first:-1]] == [PartialImage] * (partials * n)
    assert run.result is run.completed.result
    assert len(run.result.images) == n
    # Usage: the sum of the SDK's completed events' usage.
    usage = run.result.usage
    assert usage is not None
    completed = [event for _, event in timed if event.type.endswith(".completed")]
    assert usage.input_tokens == sum(event.usage.input_tokens for event in completed)
    assert usage.output_tokens == sum(event.usage.output_tokens for event in completed)
    assert usage.total_tokens == sum(event.usage.total_tokens for event in completed)
    return run


# -- generations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("partials", [0, 1, 2, 3])
def test_generations_every_partial_count(
    emulator: EmulatorServer, sdks: Clients, mode: str, partials: int, n: int
) -> None:
    common = {"model": "gpt-image-2", "prompt": f"owls {partials} {n}", "size": "256x256", "n": n}
    if partials:
        common["partial_images"] = partials
    compare(
        sdks, emulator, mode, "generate", common, common, size="256x256", partials=partials, n=n
    )
    assert emulator.app_state.requests[-1]["json"]["stream"] is True


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", GPT_MODELS)
def test_generations_every_model(
    emulator: EmulatorServer, sdks: Clients, mode: str, model: str
) -> None:
    size = size_for(model)
    common = {
        "model": model, "prompt": "an otter", "size": size, "quality": "low",
        "partial_images": 2,
    }  # fmt: skip
    compare(sdks, emulator, mode, "generate", common, common, size=size, partials=2, n=1)


def test_partial_images_save_and_read_like_results(
    emulator: EmulatorServer, sdks: Clients, tmp_path: Path
) -> None:
    common = {"model": "gpt-image-2", "prompt": "a kite", "size": "256x256", "partial_images": 3}
    run = compare(
        sdks, emulator, "sync", "generate", common, common, size="256x256", partials=3, n=1
    )
    # Into a folder: each is named there, nothing overwritten.
    paths = [partial.image.save(tmp_path) for partial in run.partials]
    assert [path.read_bytes() for path in paths] == [p.image.read() for p in run.partials]
    assert len({path.name for path in paths}) == 3
    assert all(path.suffix == ".png" and path.parent == tmp_path for path in paths)
    # Each partial differs from the next and from the final image (a progressive reveal).
    contents = [p.image.read() for p in run.partials] + run.finals
    assert len(set(contents)) == 4


@pytest.mark.anyio
async def test_partial_images_save_through_the_async_client(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    run = await stream_once(
        "async", "openai", emulator, "a kite", model="gpt-image-2", size="256x256",
        partial_images=1,
    )  # fmt: skip
    [partial] = run.partials
    path = await partial.image.asave(tmp_path)
    assert path.read_bytes() == partial.image.read()
    assert pixels(path.read_bytes()) == (256, 256)


# -- edits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", GPT_MODELS)
def test_multipart_edits(
    emulator: EmulatorServer, sdks: Clients, mode: str, model: str, tmp_path: Path
) -> None:
    source = png_file(tmp_path)
    size = size_for(model)
    common = {"model": model, "prompt": "add a hat", "size": size, "partial_images": 1}
    sdk = {**common, "image": ("in.png", source.read_bytes(), "image/png")}
    fields = {**common, "reference_images": [source]}
    compare(sdks, emulator, mode, "edit", sdk, fields, size=size, partials=1, n=1)
    assert emulator.app_state.requests[-1]["form"]["stream"] == "true"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("partials", [0, 3])
def test_multipart_edits_of_two_images(
    emulator: EmulatorServer, sdks: Clients, mode: str, partials: int, tmp_path: Path
) -> None:
    source = png_file(tmp_path)
    common: dict[str, Any] = {"model": "gpt-image-2", "prompt": "two hats", "size": "256x256"}
    common["n"] = 2
    if partials:
        common["partial_images"] = partials
    sdk = {**common, "image": ("in.png", source.read_bytes(), "image/png")}
    fields = {**common, "reference_images": [source]}
    compare(sdks, emulator, mode, "edit", sdk, fields, size="256x256", partials=partials, n=2)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", GPT_MODELS)
def test_json_edits_by_reference(
    emulator: EmulatorServer, sdks: Clients, mode: str, model: str, tmp_path: Path
) -> None:
    source = png_file(tmp_path)
    reference = "data:image/png;base64," + base64.b64encode(source.read_bytes()).decode()
    common = {"model": model, "prompt": "add a scarf", "size": "1024x1024", "partial_images": 3}
    sdk = {**common, "images": [{"image_url": REMOTE}, {"image_url": reference}]}
    fields = {**common, "reference_images": [REMOTE, source]}
    compare(sdks, emulator, mode, "json-edit", sdk, fields, size="1024x1024", partials=3, n=1)
    sent = emulator.app_state.requests[-1]["json"]
    assert sent["stream"] is True
    assert sent["images"][0] == {"image_url": REMOTE}


@pytest.mark.parametrize("mode", MODES)
def test_json_edits_of_two_images(emulator: EmulatorServer, sdks: Clients, mode: str) -> None:
    common = {
        "model": "gpt-image-1.5", "prompt": "scarves", "size": "1024x1024", "n": 2,
        "partial_images": 2,
    }  # fmt: skip
    sdk = {**common, "images": [{"image_url": REMOTE}]}
    fields = {**common, "reference_images": [REMOTE]}
    compare(sdks, emulator, mode, "json-edit", sdk, fields, size="1024x1024", partials=2, n=2)


# -- models that do not stream ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("provider", "fields", "size"),
    [
        ("openai", {"model": "dall-e-3", "size": "1024x1024"}, (1024, 1024)),
        ("openai", {"model": "dall-e-3", "n": 2, "size": "1792x1024"}, (1792, 1024)),
        ("geeknow", {"model": "gpt-image-1", "size": "1024x1024"}, (1024, 1024)),
    ],
)
def test_models_that_do_not_stream_answer_plainly(
    emulator: EmulatorServer,
    mode: str,
    provider: str,
    fields: dict[str, Any],
    size: tuple[int, int],
) -> None:
    run = asyncio.run(stream_once(mode, provider, emulator, "a harbour", **fields))
    *progress, last = run.events
    assert progress
    assert all(isinstance(event, Progress) for event in progress)
    assert {getattr(event, "stage", None) for event in progress} == {"submitting"}
    assert isinstance(last, Completed)
    assert run.result is last.result
    assert len(run.finals) == fields.get("n", 1)
    assert {pixels(content) for content in run.finals} == {size}
    submits = [r for r in emulator.app_state.requests if r["method"] == "POST"]
    assert len(submits) == fields.get("n", 1)  # dall-e-3 makes one image per call
    assert all("stream" not in r["json"] for r in submits)
    assert all(r["status"] == 200 for r in submits)
