"""The done-when of issue 16 point 1: for every built-in adapter, the requests a dry run
shows are the requests the real call then sends, over loopback to the emulator: the same
method, path, query and wire fields, images compared by their markers' media type and size.
The dry run itself sends nothing (the emulator's log is empty after it)."""

from __future__ import annotations

from typing import Any

import pytest

from imagebridge import ImageClient, PollPolicy
from imagebridge._emulator import EmulatorServer

from .support import KEY, PROMPT, image, planned_requests, sent_requests

#: (provider, operation, fields): generations, edits with a reference image where the model
#: edits, a variation, reference images inside JSON bodies, and n split into one call per image.
CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "openai-gpt-image": (
        "openai",
        "generate",
        {"model": "gpt-image-1", "size": "1024x1024", "quality": "low", "output_format": "webp"},
    ),
    "openai-gpt-image-edit": (
        "openai",
        "edit",
        {"model": "gpt-image-1", "reference_images": [image()], "mask": image()},
    ),
    "openai-gpt-image-edit-two": (
        "openai",
        "edit",
        {"model": "gpt-image-1.5", "reference_images": [image(), image(32)], "n": 2},
    ),
    "openai-dall-e-2": (
        "openai",
        "generate",
        {
            "model": "dall-e-2",
            "n": 2,
            "size": "256x256",
            "provider_options": {"openai": {"response_format": "url"}},
        },
    ),
    "openai-dall-e-2-edit": (
        "openai",
        "edit",
        {"model": "dall-e-2", "reference_images": [image()], "size": "256x256"},
    ),
    "openai-dall-e-2-vary": (
        "openai",
        "vary",
        {"model": "dall-e-2", "reference_images": [image()]},
    ),
    "openai-dall-e-3-split": (
        "openai",
        "generate",
        {"model": "dall-e-3", "n": 2, "size": "1:1", "style": "natural"},
    ),
    "geeknow": (
        "geeknow",
        "generate",
        {
            "model": "gpt-image-1",
            "size": "1:1",
            "provider_options": {"geeknow": {"watermark": False}},
        },
    ),
    "geeknow-edit": ("geeknow", "edit", {"model": "gpt-image-1", "reference_images": [image()]}),
    "dimilinks": ("dimilinks", "generate", {"size": "16:9", "resolution": "2k", "n": 2}),
    "dimilinks-reference": (
        "dimilinks",
        "generate",
        # Over the emulator's 64 KiB log limit and the dry run's 256 KiB: both elide it.
        {"size": "1:1", "reference_images": [image(padding=300_000), image()]},
    ),
    "dimilinks-prefer-header": (
        "dimilinks",
        "generate",
        {"provider_options": {"dimilinks": {"async_trigger": "prefer_header"}}},
    ),
    "dimilinks-edit": (
        "dimilinks",
        "edit",
        {"reference_images": [image(), image()], "mask": image(), "size": "1:1"},
    ),
    "apimart": ("apimart", "generate", {"size": "3:2", "resolution": "1k", "quality": "high"}),
    "apimart-reference": ("apimart", "generate", {"reference_images": [image()], "n": 2}),
}


def _client(emulator: EmulatorServer, provider: str) -> ImageClient:
    return ImageClient(
        provider,
        api_key=KEY,
        base_url=emulator.url(provider),
        journal=False,
        poll_policy=PollPolicy(interval=0.02, max_interval=0.05),
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_dry_run_shows_what_the_call_sends(emulator: EmulatorServer, case: str) -> None:
    provider, operation, given = CASES[case]
    fields = dict(given)
    with _client(emulator, provider) as client:
        prompt = "" if operation == "vary" else PROMPT
        dry = client.dry_run(prompt, operation=operation, **fields)  # type: ignore[arg-type]
        assert emulator.app_state.requests == []  # nothing sent
        if operation == "edit":
            images = fields.pop("reference_images")
            result = client.edit(PROMPT, images, **fields)
        elif operation == "vary":
            (one,) = fields.pop("reference_images")
            result = client.vary(one, **fields)
        else:
            result = client.generate(PROMPT, **fields)
    assert len(result.images) == dry.images
    sent = sent_requests(emulator.app_state.requests)
    assert len(sent) == dry.calls == len(dry.requests)
    assert planned_requests(dry) == sent
    logged = [e["headers"] for e in emulator.app_state.requests if e["method"] == "POST"]
    for request, headers in zip(dry.requests, logged, strict=True):
        for name, value in request.headers.items():
            assert headers[name].partition(";")[0] == value.partition(";")[0], name


def test_a_split_request_shows_every_call(emulator: EmulatorServer) -> None:
    with _client(emulator, "openai") as client:
        dry = client.dry_run(PROMPT, model="dall-e-3", n=3)
    assert (dry.calls, dry.images, len(dry.requests)) == (3, 3, 3)
    assert [r.fields["n"] for r in dry.requests] == [1, 1, 1]
    assert [w.code for w in dry.warnings] == ["n_split"]
    assert any("3 calls" in step for step in dry.then)


def test_a_streamed_dry_run_shows_the_streamed_request(emulator: EmulatorServer) -> None:
    with _client(emulator, "openai") as client:
        dry = client.dry_run(PROMPT, stream=True, partial_images=1)
        assert emulator.app_state.requests == []
        with client.stream(PROMPT, partial_images=1) as events:
            list(events)
    (request,) = dry.requests
    assert request.streamed
    assert request.fields["stream"] is True
    assert planned_requests(dry) == sent_requests(emulator.app_state.requests)
    assert any("server-sent events" in step for step in dry.then)


def test_a_task_dry_run_names_the_poll_it_would_make(emulator: EmulatorServer) -> None:
    with _client(emulator, "apimart") as client:
        dry = client.dry_run(PROMPT)
        result = client.generate(PROMPT)
    (poll,) = [step for step in dry.then if "polls" in step]
    assert f"GET {emulator.url('apimart')}/tasks/{{task_id}}?language=en" in poll
    assert "every 0.02-0.05 s" in poll
    polled = {e["path"] for e in emulator.app_state.requests if e["method"] == "GET"}
    assert f"/apimart/v1/tasks/{result.task_ids[0]}" in polled
