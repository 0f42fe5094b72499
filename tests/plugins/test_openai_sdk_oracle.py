"""The official ``openai`` SDK is the oracle for what imagebridge sends to OpenAI's Images API.

For each canonical request in the table, the request imagebridge sends and the request the
official SDK sends for the equivalent call are both captured through a mock transport (no
network) and compared field by field: method, path, JSON body, or multipart text fields and
file parts. Where imagebridge adapts a canonical request (a ratio sent as the model's pixel
size, ``n`` split into calls), the difference is the documented one and the result's
warnings say so.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest

from helpers import form_parts, png
from imagebridge import ImageClient

KEY = "sk-oracle-0123456789abcdef"
BASE = "https://api.openai.com/v1"
PNG = png(8, 8)
MASK = png(8, 8)
ANSWER = {"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]}


@dataclass(frozen=True)
class Case:
    name: str
    #: imagebridge: ``(method, args, fields)``.
    canonical: tuple[str, tuple[Any, ...], dict[str, Any]]
    #: The SDK: ``(method of client.images, kwargs)``, once per provider call.
    sdk: list[tuple[str, dict[str, Any]]]
    #: Warning codes the adaptation must be reported with.
    warned: tuple[str, ...] = ()
    files: dict[str, bytes] = field(default_factory=dict)


def _file(name: str) -> tuple[str, bytes, str]:
    return (name, PNG if name != "mask.png" else MASK, "image/png")


def gen(
    model: str, sdk: dict[str, Any] | None = None, warned: tuple[str, ...] = (), **fields: Any
) -> Case:
    call = {"prompt": "a red cube", "model": model, "n": fields.get("n", 1), **(sdk or {})}
    for key in (
        "size",
        "quality",
        "style",
        "output_format",
        "output_compression",
        "background",
        "moderation",
        "user",
    ):
        if key in fields and key not in (sdk or {}):
            call[key] = fields[key]
    name = f"generate {model} " + " ".join(f"{k}={v}" for k, v in fields.items())
    return Case(
        name,
        ("generate", ("a red cube",), {"model": model, **fields}),
        [("generate", call)],
        warned,
    )


CASES = [
    gen("gpt-image-1"),
    gen("gpt-image-1", size="1536x1024", quality="high"),
    gen("gpt-image-1", {"size": "1536x1024"}, ("size_mapped",), size="3:2"),
    gen("gpt-image-1", background="transparent", output_format="webp", output_compression=80),
    gen("gpt-image-1", moderation="low", user="user-7"),
    gen("gpt-image-1", n=3, quality="medium"),
    gen("gpt-image-1-mini", quality="low", output_format="jpeg", output_compression=60),
    gen("gpt-image-1.5", size="auto", background="opaque"),
    gen("gpt-image-2", size="2048x1152"),
    gen("gpt-image-2", {"size": "2048x1152"}, ("size_mapped",), size="16:9", resolution="2k"),
    gen("dall-e-3", size="1792x1024", quality="hd", style="vivid"),
    gen("dall-e-3", size="1024x1792", quality="standard", style="natural"),
    gen("dall-e-3", {"size": "1792x1024"}, ("size_mapped",), size="7:4"),
    gen("dall-e-2", size="512x512", n=4),
    gen("dall-e-2", size="256x256"),
    Case(
        "generate dall-e-3 n=2 is split into two calls",
        ("generate", ("a red cube",), {"model": "dall-e-3", "n": 2}),
        [("generate", {"prompt": "a red cube", "model": "dall-e-3", "n": 1})] * 2,
        ("n_split",),
    ),
    Case(
        "generate dall-e-2 response_format url",
        (
            "generate",
            ("a red cube",),
            {"model": "dall-e-2", "provider_options": {"openai": {"response_format": "b64_json"}}},
        ),
        [
            (
                "generate",
                {
                    "prompt": "a red cube",
                    "model": "dall-e-2",
                    "n": 1,
                    "response_format": "b64_json",
                },
            )
        ],
    ),
    Case(
        "edit gpt-image-1 one image",
        ("edit", ("make it blue", ["image.png"]), {"model": "gpt-image-1"}),
        [
            (
                "edit",
                {
                    "prompt": "make it blue",
                    "model": "gpt-image-1",
                    "n": 1,
                    "image": _file("image.png"),
                },
            )
        ],
    ),
    Case(
        "edit gpt-image-1 two images and a mask",
        ("edit", ("merge them", ["a.png", "b.png"]), {"model": "gpt-image-1", "mask": "mask.png"}),
        [
            (
                "edit",
                {
                    "prompt": "merge them",
                    "model": "gpt-image-1",
                    "n": 1,
                    "image": [_file("a.png"), _file("b.png")],
                    "mask": _file("mask.png"),
                },
            )
        ],
    ),
    Case(
        "edit gpt-image-1 transparent png, high quality, user",
        (
            "edit",
            ("cut it out", ["image.png"]),
            {
                "model": "gpt-image-1",
                "quality": "high",
                "output_format": "png",
                "background": "transparent",
                "user": "u-1",
            },
        ),
        [
            (
                "edit",
                {
                    "prompt": "cut it out",
                    "model": "gpt-image-1",
                    "n": 1,
                    "image": _file("image.png"),
                    "quality": "high",
                    "output_format": "png",
                    "background": "transparent",
                    "user": "u-1",
                },
            )
        ],
    ),
    Case(
        "edit dall-e-2 with a mask at 512x512",
        (
            "edit",
            ("a hat", ["image.png"]),
            {"model": "dall-e-2", "mask": "mask.png", "size": "512x512"},
        ),
        [
            (
                "edit",
                {
                    "prompt": "a hat",
                    "model": "dall-e-2",
                    "n": 1,
                    "image": _file("image.png"),
                    "mask": _file("mask.png"),
                    "size": "512x512",
                },
            )
        ],
    ),
    Case(
        "edit gpt-image-1.5 n=2 webp",
        (
            "edit",
            ("bluer", ["image.png"]),
            {"model": "gpt-image-1.5", "n": 2, "output_format": "webp"},
        ),
        [
            (
                "edit",
                {
                    "prompt": "bluer",
                    "model": "gpt-image-1.5",
                    "n": 2,
                    "image": _file("image.png"),
                    "output_format": "webp",
                },
            )
        ],
    ),
    Case(
        "vary dall-e-2 n=2 256x256",
        ("vary", ("image.png",), {"model": "dall-e-2", "n": 2, "size": "256x256"}),
        [
            (
                "create_variation",
                {"model": "dall-e-2", "n": 2, "size": "256x256", "image": _file("image.png")},
            )
        ],
    ),
    Case(
        "vary dall-e-2 b64_json, user",
        (
            "vary",
            ("image.png",),
            {
                "model": "dall-e-2",
                "user": "u-2",
                "provider_options": {"openai": {"response_format": "b64_json"}},
            },
        ),
        [
            (
                "create_variation",
                {
                    "model": "dall-e-2",
                    "n": 1,
                    "image": _file("image.png"),
                    "response_format": "b64_json",
                    "user": "u-2",
                },
            )
        ],
    ),
]


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    content_type: str
    body: Any


def _describe(request: Any) -> Sent:
    kind = request.headers.get("content-type", "").split(";")[0]
    if kind == "application/json":
        body: Any = json.loads(request.content)
    else:
        parts = form_parts(request)
        texts = {p.name: p.text for p in parts if p.filename is None}
        # The SDK names repeated files image[]; names, order and bytes must match.
        files = [(p.name, p.data, p.content_type) for p in parts if p.filename is not None]
        body = {"fields": texts, "files": files}
    return Sent(request.method, request.url.path, kind, body)


def _answer(sent: list[Any]) -> Callable[[Any], Any]:
    def handler(request: Any) -> Any:
        sent.append(_describe(request))
        module = httpx if isinstance(request, httpx.Request) else httpx2
        return module.Response(200, json=ANSWER)

    return handler


def _imagebridge(case: Case, folder: Path) -> tuple[list[Sent], list[str]]:
    method, args, fields = case.canonical
    sent: list[Sent] = []
    paths = {name: folder / name for name in ("image.png", "a.png", "b.png", "mask.png")}
    for name, path in paths.items():
        path.write_bytes(MASK if name == "mask.png" else PNG)
    fields = dict(fields)
    if "mask" in fields:
        fields["mask"] = paths[fields["mask"]]
    with ImageClient(
        "openai", api_key=KEY, transport=httpx.MockTransport(_answer(sent)), journal=False
    ) as client:
        if method == "generate":
            result = client.generate(*args, **fields)
        elif method == "edit":
            prompt, names = args
            result = client.edit(prompt, [paths[n] for n in names], **fields)
        else:
            result = client.vary(paths[args[0]], **fields)
    # Only what imagebridge did to the request: the fake answer's one small image is not
    # what was asked for, and the result says so too.
    answer = {"size_mismatch", "format_mismatch", "fewer_images"}
    return sent, [w.code for w in result.warnings if w.code not in answer]


def _sdk(case: Case) -> list[Sent]:
    sent: list[Sent] = []
    http = httpx2.Client(transport=httpx2.MockTransport(_answer(sent)))
    sdk = openai.OpenAI(api_key=KEY, base_url=BASE, http_client=http, max_retries=0)
    for method, kwargs in case.sdk:
        getattr(sdk.images, method)(**kwargs)
    return sent


# The SDK marks create_variation deprecated; the endpoint is in the spec and live.
@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_imagebridge_sends_what_the_official_sdk_sends(case: Case, tmp_path: Path) -> None:
    ours, warned = _imagebridge(case, tmp_path)
    theirs = _sdk(case)
    assert ours == theirs
    assert sorted(set(warned)) == sorted(case.warned)


def test_the_table_is_wide_enough() -> None:
    # The bar: at least 20 canonical requests across all models and operations.
    assert len(CASES) >= 20
    models = {case.canonical[2]["model"] for case in CASES}
    assert models >= {
        "gpt-image-1",
        "gpt-image-1-mini",
        "gpt-image-1.5",
        "gpt-image-2",
        "dall-e-2",
        "dall-e-3",
    }
    assert {case.canonical[0] for case in CASES} == {"generate", "edit", "vary"}


# -- streamed calls: stream(..., partial_images=N) against the SDK's stream=True --------------


@dataclass(frozen=True)
class StreamCase:
    name: str
    #: imagebridge: ``client.stream(prompt, **fields)``; images and mask by file name.
    fields: dict[str, Any]
    #: The SDK: ``client.images.<method>(stream=True, **kwargs)``.
    method: str
    kwargs: dict[str, Any]


def streamed(model: str, **fields: Any) -> StreamCase:
    call = {"prompt": "a red cube", "model": model, "n": fields.get("n", 1), **fields}
    name = f"stream generate {model} " + " ".join(f"{k}={v}" for k, v in fields.items())
    return StreamCase(name, {"model": model, **fields}, "generate", call)


def streamed_edit(
    model: str, images: list[str], mask: str | None = None, **fields: Any
) -> StreamCase:
    call: dict[str, Any] = {"prompt": "a red cube", "model": model, "n": fields.get("n", 1)}
    call["image"] = _file(images[0]) if len(images) == 1 else [_file(name) for name in images]
    if mask is not None:
        call["mask"] = _file(mask)
    call.update(fields)
    ours: dict[str, Any] = {"model": model, "operation": "edit", "reference_images": images}
    if mask is not None:
        ours["mask"] = mask
    name = f"stream edit {model} {len(images)} image(s) mask={mask} " + " ".join(
        f"{k}={v}" for k, v in fields.items()
    )
    return StreamCase(name, {**ours, **fields}, "edit", call)


STREAM_CASES = [
    streamed("gpt-image-1"),
    streamed("gpt-image-1", partial_images=0),
    streamed("gpt-image-1", partial_images=2, size="1536x1024", quality="low"),
    streamed("gpt-image-1-mini", partial_images=1, output_format="webp", background="transparent"),
    streamed("gpt-image-1.5", partial_images=3, moderation="low", user="u-3"),
    streamed("gpt-image-2", partial_images=3, n=2, size="2048x1152"),
    streamed("chatgpt-image-latest", partial_images=1, output_format="jpeg", output_compression=70),
    streamed_edit("gpt-image-1", ["image.png"], partial_images=2),
    streamed_edit("gpt-image-1", ["image.png"], partial_images=0, quality="high"),
    streamed_edit("gpt-image-1.5", ["a.png", "b.png"], "mask.png", partial_images=3, n=2),
    streamed_edit("gpt-image-2", ["image.png"], partial_images=1, output_format="webp"),
]


def _fields(sent: Sent) -> dict[str, Any]:
    """A request's fields: its JSON body, or its multipart text fields."""
    body: dict[str, Any] = sent.body
    return body if sent.content_type == "application/json" else body["fields"]


def _stream_answer(sent: list[Sent]) -> Callable[[Any], Any]:
    """Record each request and answer it as the API does with ``stream`` set: one
    completed event per image asked for."""

    def handler(request: Any) -> Any:
        sent.append(_describe(request))
        module = httpx if isinstance(request, httpx.Request) else httpx2
        fields = _fields(sent[-1])
        prefix = "image_edit" if request.url.path.endswith("/edits") else "image_generation"
        event = {"type": f"{prefix}.completed", "b64_json": ANSWER["data"][0]["b64_json"]}
        text = f"event: {prefix}.completed\ndata: {json.dumps(event)}\n\n" * int(fields["n"])
        headers = {"content-type": "text/event-stream"}
        return module.Response(200, headers=headers, content=text.encode())

    return handler


def _imagebridge_stream(case: StreamCase, folder: Path) -> list[Sent]:
    sent: list[Sent] = []
    paths = {name: folder / name for name in ("image.png", "a.png", "b.png", "mask.png")}
    for name, path in paths.items():
        path.write_bytes(MASK if name == "mask.png" else PNG)
    fields = dict(case.fields)
    if "reference_images" in fields:
        fields["reference_images"] = [paths[name] for name in fields["reference_images"]]
    if "mask" in fields:
        fields["mask"] = paths[fields["mask"]]
    transport = httpx.MockTransport(_stream_answer(sent))
    with (
        ImageClient("openai", api_key=KEY, transport=transport, journal=False) as client,
        client.stream("a red cube", **fields) as events,
    ):
        kinds = [event.type for _, event in zip(range(64), events, strict=False)]
    assert kinds[-1] == "completed"
    return sent


def _sdk_stream(case: StreamCase) -> list[Sent]:
    sent: list[Sent] = []
    http = httpx2.Client(transport=httpx2.MockTransport(_stream_answer(sent)))
    sdk = openai.OpenAI(api_key=KEY, base_url=BASE, http_client=http, max_retries=0)
    with getattr(sdk.images, case.method)(stream=True, **case.kwargs) as events:
        kinds = [event.type for _, event in zip(range(64), events, strict=False)]
    assert kinds
    assert all(kind.endswith(".completed") for kind in kinds)
    return sent


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda case: case.name)
def test_imagebridge_streams_as_the_official_sdk_does(case: StreamCase, tmp_path: Path) -> None:
    ours = _imagebridge_stream(case, tmp_path)
    theirs = _sdk_stream(case)
    assert ours == theirs
    assert len(ours) == 1
    body = _fields(ours[0])
    # The JSON true, or the multipart "true" the SDK sends.
    assert body["stream"] in (True, "true")
    partials = case.fields.get("partial_images")
    if partials is None:
        assert "partial_images" not in body
    else:
        assert str(body["partial_images"]) == str(partials)
