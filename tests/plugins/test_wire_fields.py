"""The wire-field tables the provider pages are generated from are true.

Each built-in adapter declares ``wire_fields`` (canonical field -> wire field). Here every
option its default model supports is set, the request is captured, and each declared
top-level JSON name must be in the body; every canonical option the adapter does not
declare must be refused before sending.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import httpx
import pytest

from imagebridge import (
    ImageBridgeError,
    ImageClient,
    InvalidRequestError,
    RetryPolicy,
    default_registry,
)

BUILTIN = (
    "openai",
    "geeknow",
    "dimilinks",
    "apimart",
    "fal",
    "replicate",
    "google",
    "stability",
    "bfl",
)
#: The providers whose canonical fields go as top-level JSON names, checked here; the wire
#: tables of the others (nested JSON, multipart) are checked field by field by their own
#: request oracles in tests/providers/.
TOP_LEVEL_JSON = ("openai", "geeknow", "dimilinks", "apimart", "fal", "bfl")
TASKS = ("dimilinks", "apimart", "fal", "bfl")
OPTIONS = ("quality", "style", "output_format", "output_compression", "background", "moderation")
WIRE_NAME = re.compile(r"^`(\w+)`")


def _answer(request: httpx.Request) -> httpx.Response:
    if request.method == "GET":
        return httpx.Response(200, json={"status": "succeeded", "result": {"data": []}})
    return httpx.Response(
        200, json={"created": 1, "task_id": "t1", "code": 200, "data": [{"task_id": "t1"}]}
    )


def _supported_fields(provider: str) -> dict[str, Any]:
    caps = default_registry().model_capabilities(provider)
    fields: dict[str, Any] = {"n": 1}
    if caps.user:
        fields["user"] = "user-1"
    if caps.seed:
        fields["seed"] = 7
    if caps.negative_prompt:
        fields["negative_prompt"] = "blur"
    choices = {
        "quality": caps.qualities,
        "style": caps.styles,
        "output_format": caps.output_formats,
        "background": caps.backgrounds,
        "moderation": caps.moderations,
    }
    for name, allowed in choices.items():
        if allowed:
            webp = name == "output_format" and "webp" in allowed
            fields[name] = "webp" if webp else allowed[-1]
    if caps.output_compression:
        fields["output_compression"] = 50
    ratio = next(r for r in caps.size_presets if r not in ("auto", "1:1"))
    fields["size"] = ratio
    if caps.native_ratio and "2k" in caps.resolutions:
        fields["resolution"] = "2k"
    return fields


@pytest.mark.parametrize("provider", TOP_LEVEL_JSON)
def test_declared_wire_names_are_sent(provider: str) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            bodies.append(json.loads(request.content))
        return _answer(request)

    with ImageClient(
        provider,
        api_key="sk-test",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_retries=0),
        journal=False,
    ) as client:
        fields = _supported_fields(provider)
        send = client.submit if provider in TASKS else client.generate
        # Only the request body matters here; the canned answer need not make a result.
        with contextlib.suppress(ImageBridgeError):
            send("a fox", **fields)
    assert bodies, "no request was sent"
    declared = client.adapter.wire_fields
    for canonical, wire in declared.items():
        match = WIRE_NAME.match(wire)
        if match and canonical in fields:
            assert match.group(1) in bodies[0], f"{canonical} -> {wire} not in {bodies[0]}"


@pytest.mark.parametrize("provider", BUILTIN)
def test_undeclared_options_are_refused_before_sending(provider: str) -> None:
    declared = default_registry().adapter(provider).wire_fields
    values = {
        "quality": "high",
        "style": "vivid",
        "output_format": "png",
        "output_compression": 50,
        "background": "opaque",
        "moderation": "low",
    }
    sent: list[httpx.Request] = []
    with ImageClient(
        provider, api_key="sk-test", transport=httpx.MockTransport(sent.append), journal=False
    ) as client:
        for name in OPTIONS:
            if name in declared:
                continue
            with pytest.raises(InvalidRequestError) as info:
                client.generate("a fox", **{name: values[name]})
            assert info.value.field == name
    assert sent == []
