"""The official ``fal-client`` (1.0.3) is the oracle for the ``fal`` dialect.

(a) The SDK drives the emulator's fal dialect over real loopback HTTP (``QUEUE_URL_FORMAT``
pointed at it): submit, status with logs, result, cancel, and the image it links to.
(b) For each canonical request of the table, the request imagebridge sends and the one the
SDK sends for the same call (``fal_client.SyncClient.submit(model, arguments)``, the
arguments written from the model pages) are captured through ``httpx.MockTransport``
(the SDK's ``BackupDomainTransport`` replaced by it) and compared field by field: method,
URL path, query, the auth header and the JSON body. Polls, results and cancels too. The one
difference, the status poll's ``logs=1`` where the SDK sends ``logs=true``, is asserted as
the documented adaptation (docs/dialects/fal.md).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import fal_client
import fal_client.client as fal_module
import httpx
import pytest

from helpers import png
from imagebridge import ImageClient, PollPolicy
from imagebridge._emulator import EmulatorConfig, EmulatorServer

KEY = "fal-oracle-key-0123456789abcdef"
BASE = "https://queue.fal.run"
PNG = png(8, 8)
REQUEST_ID = "764cabcf-b745-4b3e-ae38-1200304cf45b"


@dataclass(frozen=True)
class Captured:
    method: str
    path: str
    query: dict[str, list[str]]
    auth: str | None
    body: Any


def _capture(request: httpx.Request) -> Captured:
    raw = request.read()
    query: dict[str, list[str]] = {}
    for key, value in request.url.params.multi_items():
        query.setdefault(key, []).append(value)
    return Captured(
        request.method,
        request.url.path,
        query,
        request.headers.get("authorization"),
        json.loads(raw) if raw else None,
    )


def _answer(request: httpx.Request) -> httpx.Response:
    """A fal queue that has finished everything it is asked about."""
    path = request.url.path
    app = "/".join(path.strip("/").split("/")[:2])
    urls = {
        "response_url": f"{BASE}/{app}/requests/{REQUEST_ID}",
        "status_url": f"{BASE}/{app}/requests/{REQUEST_ID}/status",
        "cancel_url": f"{BASE}/{app}/requests/{REQUEST_ID}/cancel",
    }
    if request.method == "POST":
        return httpx.Response(
            200, json={"status": "IN_QUEUE", "request_id": REQUEST_ID, **urls, "queue_position": 0}
        )
    if request.method == "PUT":
        return httpx.Response(202, json={"status": "CANCELLATION_REQUESTED"})
    if path.endswith("/status"):
        return httpx.Response(200, json={"status": "COMPLETED", "logs": [], "metrics": {}})
    image = {"url": "https://v3.fal.media/files/x.png", "width": 8, "height": 8}
    return httpx.Response(200, json={"images": [image], "seed": 1})


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Captured] = []

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            self.seen.append(_capture(request))
            return _answer(request)

        return httpx.MockTransport(handler)


@pytest.fixture
def sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[fal_client.SyncClient, Recorder]]:
    recorder = Recorder()
    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", f"{BASE}/")
    monkeypatch.setattr(fal_module, "BackupDomainTransport", recorder.transport)
    client = fal_client.SyncClient(key=KEY)
    yield client, recorder
    client._client.close()


@pytest.fixture
def ours() -> Iterator[tuple[ImageClient, Recorder]]:
    recorder = Recorder()
    with ImageClient(
        "fal",
        api_key=KEY,
        transport=recorder.transport(),
        poll_policy=PollPolicy(interval=0, min_interval=0),
    ) as client:
        yield client, recorder


@dataclass(frozen=True)
class Case:
    name: str
    #: imagebridge: ``generate``/``edit`` and its fields.
    call: Callable[[ImageClient], Any]
    model: str
    arguments: dict[str, Any]


def _submit(**fields: Any) -> Callable[[ImageClient], Any]:
    return lambda client: client.submit("a red cube", **fields)


CUBE = {"prompt": "a red cube"}
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()

CASES = [
    Case("default model", _submit(), "fal-ai/flux/dev", {**CUBE, "num_images": 1}),
    Case(
        "ratio as preset",
        _submit(size="16:9"),
        "fal-ai/flux/dev",
        {**CUBE, "image_size": "landscape_16_9", "num_images": 1},
    ),
    Case(
        "portrait preset",
        _submit(size="3:4"),
        "fal-ai/flux/dev",
        {**CUBE, "image_size": "portrait_4_3", "num_images": 1},
    ),
    Case(
        "pixels",
        _submit(size="1280x720"),
        "fal-ai/flux/dev",
        {**CUBE, "image_size": {"width": 1280, "height": 720}, "num_images": 1},
    ),
    Case(
        "n, seed, format",
        _submit(n=3, seed=7, output_format="png"),
        "fal-ai/flux/dev",
        {**CUBE, "num_images": 3, "seed": 7, "output_format": "png"},
    ),
    Case(
        "auto size is the model's default",
        _submit(size="auto"),
        "fal-ai/flux/dev",
        {**CUBE, "num_images": 1},
    ),
    Case(
        "flux dev knobs",
        _submit(
            provider_options={
                "fal": {
                    "num_inference_steps": 12,
                    "guidance_scale": 4.5,
                    "enable_safety_checker": False,
                }
            }
        ),
        "fal-ai/flux/dev",
        {
            **CUBE,
            "num_images": 1,
            "num_inference_steps": 12,
            "guidance_scale": 4.5,
            "enable_safety_checker": False,
        },
    ),
    Case(
        "flux pro",
        _submit(
            model="fal-ai/flux-pro/v1.1",
            size="1:1",
            provider_options={"fal": {"safety_tolerance": "5", "enhance_prompt": True}},
        ),
        "fal-ai/flux-pro/v1.1",
        {
            **CUBE,
            "image_size": "square_hd",
            "num_images": 1,
            "safety_tolerance": "5",
            "enhance_prompt": True,
        },
    ),
    Case(
        "recraft style",
        _submit(model="fal-ai/recraft-v3", size="4:3", style="vector_illustration"),
        "fal-ai/recraft-v3",
        {**CUBE, "image_size": "landscape_4_3", "style": "vector_illustration"},
    ),
    Case(
        "imagen ratio, tier, negative prompt",
        _submit(
            model="fal-ai/imagen4/preview",
            size="9:16",
            resolution="2k",
            n=2,
            negative_prompt="blur",
            seed=11,
        ),
        "fal-ai/imagen4/preview",
        {
            **CUBE,
            "aspect_ratio": "9:16",
            "resolution": "2K",
            "num_images": 2,
            "seed": 11,
            "negative_prompt": "blur",
        },
    ),
    Case(
        "kontext edit of a URL",
        _submit(
            model="fal-ai/flux-pro/kontext",
            size="21:9",
            reference_images=["https://example.com/in.png"],
        ),
        "fal-ai/flux-pro/kontext",
        {
            **CUBE,
            "aspect_ratio": "21:9",
            "num_images": 1,
            "image_url": "https://example.com/in.png",
        },
    ),
    Case(
        "kontext edit of bytes (a data URL)",
        lambda client: client.edit(
            "a red cube", [PNG], model="fal-ai/flux-pro/kontext", output_format="jpeg"
        ),
        "fal-ai/flux-pro/kontext",
        {**CUBE, "num_images": 1, "output_format": "jpeg", "image_url": DATA_URL},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_submit_matches_the_sdk(
    case: Case,
    sdk: tuple[fal_client.SyncClient, Recorder],
    ours: tuple[ImageClient, Recorder],
) -> None:
    sdk_client, sdk_seen = sdk
    client, our_seen = ours
    sdk_client.submit(case.model, case.arguments)
    case.call(client)
    theirs = sdk_seen.seen[0]
    mine = our_seen.seen[0]
    assert (mine.method, mine.path, mine.query) == (theirs.method, theirs.path, theirs.query)
    assert mine.auth == theirs.auth == f"Key {KEY}"
    assert mine.body == theirs.body, f"{case.name}: {mine.body} != {theirs.body}"


def test_status_result_and_cancel_match_the_sdk(
    sdk: tuple[fal_client.SyncClient, Recorder], ours: tuple[ImageClient, Recorder]
) -> None:
    sdk_client, theirs = sdk
    client, mine = ours
    sdk_client.status("fal-ai/imagen4/preview", REQUEST_ID, with_logs=True)
    sdk_client.result("fal-ai/imagen4/preview", REQUEST_ID)
    sdk_client.cancel("fal-ai/imagen4/preview", REQUEST_ID)
    handle = client.submit("a red cube", model="fal-ai/imagen4/preview")
    client.check(handle)
    client.cancel(handle)
    sdk_status, sdk_result_status, sdk_result, sdk_cancel = theirs.seen
    _, our_status, our_result, our_cancel = mine.seen
    # The app id (first two segments), not the model path, names the request.
    assert our_status.path == sdk_status.path == f"/fal-ai/imagen4/requests/{REQUEST_ID}/status"
    assert our_result.path == sdk_result.path == f"/fal-ai/imagen4/requests/{REQUEST_ID}"
    assert (our_cancel.method, our_cancel.path) == (sdk_cancel.method, sdk_cancel.path)
    assert our_cancel.path.endswith("/cancel")
    assert our_cancel.method == "PUT"
    for ours_, theirs_ in ((our_status, sdk_status), (our_result, sdk_result)):
        assert ours_.method == theirs_.method == "GET"
        assert ours_.auth == theirs_.auth == f"Key {KEY}"
        assert ours_.body is None
        assert theirs_.body is None
    assert our_result.query == sdk_result.query == {}
    # The documented adaptation: the REST reference's ?logs=1 where the SDK sends 'true'.
    assert sdk_status.query == {"logs": ["true"]}
    assert sdk_result_status.query == {"logs": ["false"]}
    assert our_status.query == {"logs": ["1"]}


def test_logs_off_leaves_the_query_out(ours: tuple[ImageClient, Recorder]) -> None:
    client, mine = ours
    handle = client.submit("a red cube", provider_options={"fal": {"logs": False}})
    client.check(handle)
    assert mine.seen[1].path.endswith("/status")
    assert mine.seen[1].query == {}


# -- (a) the SDK against the emulator ---------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.3, api_key=KEY)) as running:
        yield running


def test_the_sdk_drives_the_emulator(
    server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", server.url("fal") + "/")
    client = fal_client.SyncClient(key=KEY)
    try:
        handle = client.submit(
            "fal-ai/flux/dev", {"prompt": "a lighthouse", "image_size": "square", "num_images": 2}
        )
        first = handle.status(with_logs=True)
        assert isinstance(first, fal_client.Queued)
        statuses = list(handle.iter_events(with_logs=True, interval=0.05))
        assert isinstance(statuses[-1], fal_client.Completed)
        assert any(isinstance(s, fal_client.InProgress) and s.logs for s in statuses)
        output = handle.get()
        assert [(i["width"], i["height"]) for i in output["images"]] == [(512, 512)] * 2
        picture = httpx.get(output["images"][0]["url"])
        assert picture.headers["content-type"] == "image/jpeg"
        assert picture.content[:3] == b"\xff\xd8\xff"
        # The module-level helpers (by app id) see the same request.
        assert isinstance(client.status("fal-ai/flux/dev", handle.request_id), fal_client.Completed)
        assert client.result("fal-ai/flux/dev", handle.request_id) == output
        # Cancel: taken while queued; a completed request cannot be cancelled (HTTP 400).
        other = client.submit(
            "fal-ai/imagen4/preview", {"prompt": "a moth", "aspect_ratio": "16:9"}
        )
        other.cancel()
        with pytest.raises(fal_client.client.FalClientHTTPError) as done:
            handle.cancel()
        assert done.value.status_code == 400
        # A bad input is refused with fal's detail list.
        with pytest.raises(fal_client.client.FalClientHTTPError) as bad:
            client.submit("fal-ai/flux/dev", {"prompt": "x", "num_images": 9})
        assert bad.value.status_code == 422
        assert bad.value.message[0]["loc"] == ["body", "num_images"]
    finally:
        client._client.close()
    paths = [entry["path"] for entry in server.app_state.requests]
    assert f"/fal/fal-ai/flux/requests/{handle.request_id}/status" in paths


@pytest.mark.anyio
async def test_the_async_sdk_drives_the_emulator(
    server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", server.url("fal") + "/")
    client = fal_client.AsyncClient(key=KEY)
    handle = await client.submit("fal-ai/imagen4/preview", {"prompt": "a fox", "resolution": "2K"})
    output = await handle.get(interval=0.05)
    assert (output["images"][0]["width"], output["images"][0]["height"]) == (2048, 2048)
    await (await client._client).aclose()
