"""The official ``replicate`` SDK (1.0.7) is the oracle of the Replicate dialect.

(a) The SDK drives the emulator's dialect over real loopback HTTP: ``predictions.create`` (for
a model and for a version), ``get``, ``cancel``, ``run`` and reading a ``FileOutput``.
(b) For each canonical request in ``CASES``, the request imagebridge sends and the request the
SDK sends for the same call are captured through ``httpx.MockTransport`` and compared: method,
path, query, the ``Authorization`` header, ``Prefer`` and the JSON body field by field. The
documented adaptations (docs/dialects/replicate.md, 'Adaptations') are asserted explicitly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import replicate
from replicate.helpers import FileOutput

from helpers import png
from imagebridge import ImageClient
from imagebridge._emulator import EmulatorServer

from .conftest import KEY

BASE = "https://api.replicate.com"
VERSION = "5599ed30703defd1d160a25a63321b4dec97101d98b4674bcc56e41f62f35637"
DELIVERY = "https://replicate.delivery/xezq/abc/out-0.webp"
PNG = png(16, 16)


# -- (a) the SDK against the emulator -------------------------------------------------------------
@pytest.fixture
def sdk(server: EmulatorServer) -> Iterator[replicate.Client]:
    # The SDK joins "/v1/..." to its base URL, so it is given the mount without "/v1".
    client = replicate.Client(api_token=KEY, base_url=server.url("replicate").removesuffix("/v1"))
    yield client
    client._client.close()  # the SDK has no close() of its own


def test_sdk_create_get_and_read_output(server: EmulatorServer, sdk: replicate.Client) -> None:
    client = sdk
    prediction = client.predictions.create(
        model="black-forest-labs/flux-schnell",
        input={"prompt": "an sdk cat", "num_outputs": 2, "aspect_ratio": "16:9"},
    )
    assert prediction.status == "starting"
    assert prediction.urls is not None
    assert prediction.urls["get"].endswith(prediction.id)
    prediction.wait()
    assert prediction.status == "succeeded"
    assert isinstance(prediction.output, list)
    assert len(prediction.output) == 2
    again = client.predictions.get(prediction.id)
    assert again.output == prediction.output
    data = FileOutput(prediction.output[0], client).read()
    assert data[:4] == b"RIFF"  # webp, the FLUX default
    assert prediction.metrics is not None
    assert prediction.metrics["image_count"] == 2


def test_sdk_run_waits_and_returns_files(server: EmulatorServer, sdk: replicate.Client) -> None:
    client = sdk
    output = client.run(
        "black-forest-labs/flux-1.1-pro", input={"prompt": "a run", "output_format": "png"}
    )
    # flux-1.1-pro's output is one URL; the SDK wraps only https:// and data: URLs in a
    # FileOutput, so the emulator's http:// loopback URL comes back as a string.
    assert isinstance(output, str)
    assert FileOutput(output, client).read()[:8] == b"\x89PNG\r\n\x1a\n"
    create = next(
        e
        for e in server.app_state.requests
        if e.get("json", {}).get("input", {}).get("prompt") == "a run"
    )
    assert create["headers"]["prefer"] == "wait"


def test_sdk_create_for_a_version_and_cancel(server: EmulatorServer, sdk: replicate.Client) -> None:
    client = sdk
    prediction = client.predictions.create(version=VERSION, input={"prompt": "a version cat"})
    create = server.app_state.requests[-1]
    assert create["path"] == "/replicate/v1/predictions"
    assert create["json"]["version"] == VERSION
    canceled = client.predictions.cancel(prediction.id)
    assert canceled.status == "canceled"
    assert client.predictions.get(prediction.id).status == "canceled"


def test_sdk_sees_a_failed_prediction_and_problem_details(
    server: EmulatorServer, sdk: replicate.Client
) -> None:
    client = sdk
    with pytest.raises(replicate.exceptions.ModelError) as failed:
        client.run("black-forest-labs/flux-schnell", input={"prompt": "x #fail=E005"}, wait=False)
    assert "(E005)" in str(failed.value)
    with pytest.raises(replicate.exceptions.ReplicateError) as info:
        client.predictions.create(
            model="black-forest-labs/flux-schnell",
            input={"prompt": "broke #error=402:insufficient_credit"},
        )
    assert (info.value.status, info.value.title) == (402, "Insufficient credit")


# -- (b) the same requests ------------------------------------------------------------------
def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        201,
        json={
            "id": "pred1",
            "model": "black-forest-labs/flux-schnell",
            "version": "hidden",
            "input": {},
            "logs": "",
            "error": None,
            "created_at": "2025-01-01T00:00:00.000000Z",
            "status": "succeeded",
            "output": [DELIVERY],
            "urls": {"get": f"{BASE}/v1/predictions/pred1"},
        },
    )


@dataclass
class Sent:
    method: str
    path: str
    query: str
    auth: str | None
    prefer: str | None
    body: Any


def _sent(request: httpx.Request) -> Sent:
    return Sent(
        request.method,
        request.url.path,
        request.url.query.decode(),
        request.headers.get("authorization"),
        request.headers.get("prefer"),
        json.loads(request.read()),
    )


@dataclass(frozen=True)
class Case:
    name: str
    #: imagebridge: the client method and its arguments.
    call: tuple[str, tuple[Any, ...], dict[str, Any]]
    #: The SDK: ``client.predictions.create`` keyword arguments, once per prediction.
    sdk: list[dict[str, Any]]
    files: dict[str, bytes] = field(default_factory=dict)


SCHNELL = "black-forest-labs/flux-schnell"
DEV = "black-forest-labs/flux-dev"
PRO = "black-forest-labs/flux-1.1-pro"
SD35 = "stability-ai/stable-diffusion-3.5-large"
KONTEXT = "black-forest-labs/flux-kontext-pro"
REF = "ref.png"


def gen(name: str, fields: dict[str, Any], model: str, inputs: dict[str, Any], **sdk: Any) -> Case:
    sdk.setdefault("wait", 5)
    return Case(
        name,
        ("generate", ("a red cube",), fields),
        [{"model": model, "input": {"prompt": "a red cube", **inputs}, **sdk}],
    )


CASES = [
    gen("default model", {}, SCHNELL, {"num_outputs": 1}),
    gen(
        "schnell ratio, n, seed, jpeg",
        {"size": "16:9", "n": 3, "seed": 7, "output_format": "jpeg"},
        SCHNELL,
        {"aspect_ratio": "16:9", "num_outputs": 3, "seed": 7, "output_format": "jpg"},
    ),
    gen(
        "schnell options",
        {
            "provider_options": {
                "replicate": {
                    "go_fast": False,
                    "num_inference_steps": 4,
                    "output_quality": 90,
                    "disable_safety_checker": True,
                }
            }
        },
        SCHNELL,
        {
            "num_outputs": 1,
            "go_fast": False,
            "num_inference_steps": 4,
            "output_quality": 90,
            "disable_safety_checker": True,
        },
    ),
    Case(
        "flux-dev with a reference image",
        (
            "generate",
            ("a red cube",),
            {
                "model": DEV,
                "reference_images": [REF],
                "provider_options": {"replicate": {"guidance": 3.5, "prompt_strength": 0.7}},
            },
        ),
        [
            {
                "model": DEV,
                "input": {
                    "prompt": "a red cube",
                    "num_outputs": 1,
                    "image": REF,
                    "guidance": 3.5,
                    "prompt_strength": 0.7,
                },
                "wait": 5,
                "file_encoding_strategy": "base64",
            }
        ],
        files={REF: PNG},
    ),
    gen(
        "flux-1.1-pro pixels",
        {"model": PRO, "size": "512x768"},
        PRO,
        {"aspect_ratio": "custom", "width": 512, "height": 768},
    ),
    gen(
        "flux-1.1-pro ratio and options",
        {
            "model": PRO,
            "size": "3:2",
            "output_format": "webp",
            "provider_options": {"replicate": {"safety_tolerance": 5, "prompt_upsampling": True}},
        },
        PRO,
        {
            "aspect_ratio": "3:2",
            "output_format": "webp",
            "safety_tolerance": 5,
            "prompt_upsampling": True,
        },
    ),
    gen(
        "sd 3.5 negative prompt",
        {
            "model": SD35,
            "size": "9:16",
            "seed": 1,
            "negative_prompt": "blurry",
            "provider_options": {"replicate": {"cfg": 4.5, "steps": 30}},
        },
        SD35,
        {"aspect_ratio": "9:16", "seed": 1, "negative_prompt": "blurry", "cfg": 4.5, "steps": 30},
    ),
    Case(
        "kontext edit, auto size",
        (
            "edit",
            ("make it blue", [REF]),
            {"model": KONTEXT, "size": "auto", "output_format": "png"},
        ),
        [
            {
                "model": KONTEXT,
                "input": {
                    "prompt": "make it blue",
                    "aspect_ratio": "match_input_image",
                    "output_format": "png",
                    "input_image": REF,
                },
                "wait": 5,
                "file_encoding_strategy": "base64",
            }
        ],
        files={REF: PNG},
    ),
    gen(
        "kontext with an image URL",
        {"model": KONTEXT, "reference_images": ["https://example.com/cat.png"]},
        KONTEXT,
        {"input_image": "https://example.com/cat.png"},
    ),
    Case(
        "a pinned version",
        ("generate", ("a red cube",), {"model": f"{SCHNELL}:{VERSION}"}),
        [{"version": VERSION, "input": {"prompt": "a red cube", "num_outputs": 1}, "wait": 5}],
    ),
    Case(
        "a bare version id",
        ("generate", ("a red cube",), {"model": VERSION}),
        [{"version": VERSION, "input": {"prompt": "a red cube"}, "wait": 5}],
    ),
    Case(
        "submit sends no Prefer",
        ("submit", ("a red cube",), {"size": "4:3"}),
        [
            {
                "model": SCHNELL,
                "input": {"prompt": "a red cube", "aspect_ratio": "4:3", "num_outputs": 1},
            }
        ],
    ),
    gen(
        "wait 60",
        {"provider_options": {"replicate": {"wait": 60}}},
        SCHNELL,
        {"num_outputs": 1},
        wait=60,
    ),
    Case(
        "wait 0 sends no Prefer",
        ("generate", ("a red cube",), {"provider_options": {"replicate": {"wait": 0}}}),
        [{"model": SCHNELL, "input": {"prompt": "a red cube", "num_outputs": 1}}],
    ),
    Case(
        "n above 4 is two predictions",
        ("generate", ("a red cube",), {"n": 6}),
        [
            {"model": SCHNELL, "input": {"prompt": "a red cube", "num_outputs": 4}, "wait": 5},
            {"model": SCHNELL, "input": {"prompt": "a red cube", "num_outputs": 2}, "wait": 5},
        ],
    ),
]


def _imagebridge(case: Case, tmp_path: Path) -> list[Sent]:
    sent: list[Sent] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(_sent(request))
        return _answer(request)

    method, args, fields = case.call
    args = tuple([tmp_path / a for a in arg] if isinstance(arg, list) else arg for arg in args)
    fields = dict(fields)
    if fields.get("reference_images") == [REF]:
        fields["reference_images"] = [tmp_path / REF]
    with ImageClient(
        "replicate", api_key=KEY, transport=httpx.MockTransport(handler), journal=False
    ) as client:
        getattr(client, method)(*args, **fields)
    return sent


def _sdk(case: Case, tmp_path: Path) -> list[Sent]:
    sent: list[Sent] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(_sent(request))
        return _answer(request)

    client = replicate.Client(api_token=KEY, base_url=BASE, transport=httpx.MockTransport(handler))
    for call in case.sdk:
        call = json.loads(json.dumps(call))
        inputs = call["input"]
        for key, value in list(inputs.items()):
            if value in case.files:
                inputs[key] = tmp_path / value
        # What client.run() calls: predictions.create(model=...) drops ``wait`` and
        # ``file_encoding_strategy`` before it hands over to this (replicate 1.0.7).
        if "model" in call:
            client.models.predictions.create(**call)
        else:
            client.predictions.create(**call)
    client._client.close()
    return sent


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_imagebridge_sends_what_the_sdk_sends(case: Case, tmp_path: Path) -> None:
    for name, data in case.files.items():
        (tmp_path / name).write_bytes(data)
    ours, theirs = _imagebridge(case, tmp_path), _sdk(case, tmp_path)
    assert len(ours) == len(theirs) == len(case.sdk)
    for mine, oracle in zip(ours, theirs, strict=True):
        assert (mine.method, mine.path, mine.query) == (oracle.method, oracle.path, oracle.query)
        assert mine.auth == oracle.auth == f"Bearer {KEY}"
        assert mine.prefer == oracle.prefer
        assert mine.body.keys() == oracle.body.keys()
        for key in oracle.body:
            if key != "input":
                assert mine.body[key] == oracle.body[key], key
        assert mine.body["input"].keys() == oracle.body["input"].keys()
        for key, value in oracle.body["input"].items():
            assert mine.body["input"][key] == value, key


def test_reference_image_is_the_same_data_url(tmp_path: Path) -> None:
    """The SDK's ``file_encoding_strategy="base64"``: ``data:image/png;base64,...``, as ours.
    (The SDK's default uploads the file through its Files API first: an adaptation.)"""
    (tmp_path / REF).write_bytes(PNG)
    ours = _imagebridge(CASES[3], tmp_path)[0].body["input"]["image"]
    assert ours.startswith("data:image/png;base64,")
    assert ours == _sdk(CASES[3], tmp_path)[0].body["input"]["image"]
