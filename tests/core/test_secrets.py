"""The API key goes to the API's origin and nowhere else: not into reprs, errors, logs,
observers or downloads from other hosts."""

from __future__ import annotations

import base64
import logging
import traceback
from typing import Any

import httpx
import pytest

from helpers import API_KEY, OPENAI_BASE, b64png, images_body, open_client, png
from imagebridge import (
    APIConnectionError,
    AuthenticationError,
    ImageClient,
    create_registry,
    hookimpl,
)
from imagebridge.adapter import Adapter, Capabilities, Flow, GeneratedImage, ImageResult, Plan

pytestmark = pytest.mark.anyio


def assert_no_secret(error: BaseException) -> None:
    texts = [str(error), repr(error), *map(repr, error.args)]
    texts.append("".join(traceback.format_exception(error)))
    texts.append(repr(getattr(error, "body", None)))
    texts.append(repr(vars(error)))
    for text in texts:
        assert API_KEY not in text


class Network:
    """Answers like OpenAI and a CDN; notes the headers each request carried when sent."""

    def __init__(self, generation: httpx.Response | None = None) -> None:
        self.generation = generation or httpx.Response(
            200, json=images_body({"url": "https://cdn.example/img/1.png"})
        )
        self.sent: list[tuple[str, httpx.Headers]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((str(request.url), httpx.Headers(request.headers)))
        if request.url.host == "cdn.example":
            return httpx.Response(200, content=png(2, 2))
        return self.generation


async def test_the_key_is_not_in_the_client_repr(mode: str) -> None:
    async with open_client(mode, "openai", Network()) as client:
        assert API_KEY not in repr(client.client)
        assert API_KEY not in str(client.client)
        assert API_KEY not in repr(client.client.adapter)
        assert "openai" in repr(client.client)


def test_a_key_from_the_environment_is_used_and_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    network = Network()
    with ImageClient("openai", transport=httpx.MockTransport(network)) as client:
        assert API_KEY not in repr(client)
        client.generate("a cube")
    assert network.sent[0][1]["authorization"] == f"Bearer {API_KEY}"


async def test_the_key_goes_only_to_the_api_origin(mode: str) -> None:
    network = Network()
    async with open_client(mode, "openai", network) as client:
        result = await client.generate("a cube", model="dall-e-2")
        assert await client.read(result.images[0]) == png(2, 2)
    (api_url, api_headers), (cdn_url, cdn_headers) = network.sent
    assert api_url == f"{OPENAI_BASE}/images/generations"
    assert api_headers["authorization"] == f"Bearer {API_KEY}"
    assert cdn_url == "https://cdn.example/img/1.png"
    assert "authorization" not in cdn_headers
    assert API_KEY not in str(cdn_headers)


async def test_an_echoed_key_never_reaches_the_error(mode: str) -> None:
    body = {
        "error": {
            "message": f"Incorrect API key provided: {API_KEY}. Find your key at ...",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        },
        "echo": {"authorization": f"Bearer {API_KEY}", API_KEY: [API_KEY]},
    }
    async with open_client(mode, "openai", Network(httpx.Response(401, json=body))) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.generate("a cube")
    error = info.value
    assert_no_secret(error)
    assert error.message == "Incorrect API key provided: [REDACTED]. Find your key at ..."
    assert error.body["echo"] == {
        "authorization": "Bearer [REDACTED]",
        "[REDACTED]": ["[REDACTED]"],
    }


async def test_debug_logs_hold_no_key(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = httpx.Response(400, json={"error": {"message": f"bad key {API_KEY}"}})
    async with open_client(mode, "openai", Network()) as client:
        result = await client.generate("a cube", model="dall-e-2")
        await client.read(result.images[0])
    async with open_client(mode, "openai", Network(echo)) as client:
        with pytest.raises(Exception, match="bad key"):
            await client.generate("a cube")
    messages = [r.getMessage() for r in caplog.records if r.name == "imagebridge"]
    assert any("POST" in m and "/images/generations" in m for m in messages)
    assert any("cdn.example" in m for m in messages)
    assert API_KEY not in caplog.text
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in repr(record.args)


class Observer:
    def __init__(self) -> None:
        self.seen: list[tuple[httpx.Request, httpx.Response | None]] = []

    @hookimpl
    def imagebridge_on_exchange(
        self, provider: str, request: httpx.Request, response: httpx.Response | None
    ) -> None:
        self.seen.append((request, response))


async def test_an_observer_never_holds_the_key_after_the_exchange(mode: str) -> None:
    observer = Observer()
    registry = create_registry(plugins=[observer])
    network = Network()
    async with open_client(mode, "openai", network, registry=registry) as client:
        result = await client.generate("a cube", model="dall-e-2")
        await client.read(result.images[0])
    assert network.sent[0][1]["authorization"] == f"Bearer {API_KEY}"
    assert [(r.method, response is not None) for r, response in observer.seen] == [
        ("POST", False),
        ("POST", True),
        ("GET", False),
        ("GET", True),
    ]
    for request, response in observer.seen:
        assert "authorization" not in request.headers
        assert API_KEY not in str(request.headers.raw)
        if response is not None:
            assert API_KEY not in str(response.request.headers.raw)


class DownloadAuthAdapter(Adapter):
    """Results are served by the API itself and need the key (``download_auth``)."""

    name = "authdl"
    default_base_url = "https://api.authdl.test/v1"
    default_model = "m1"
    models = ("m1",)
    download_auth = True

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(model=model, size_auto=True, max_images_per_call=2)

    def generate(self, plan: Plan) -> Flow[ImageResult]:
        response = yield httpx.Request("POST", self.url("/generate"), json={"p": 1})
        assert response is not None
        self.json(response)
        images = [
            GeneratedImage(url=self.url("/files/1.png")),
            GeneratedImage(url="https://x.test/2.png"),
        ]
        return ImageResult(images=images, provider=self.name)


class DownloadAuthPlugin:
    @hookimpl
    def imagebridge_adapters(self) -> list[type[Adapter]]:
        return [DownloadAuthAdapter]


def download_auth_network(sent: list[tuple[str, httpx.Headers]]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((str(request.url), httpx.Headers(request.headers)))
        if request.method == "GET":
            return httpx.Response(200, content=png())
        return httpx.Response(200, json={})

    return handler


async def test_download_auth_sends_the_key_to_the_api_origin_only(mode: str) -> None:
    sent: list[tuple[str, httpx.Headers]] = []
    registry = create_registry(entry_points=False, plugins=[DownloadAuthPlugin()])
    async with open_client(
        mode, "authdl", download_auth_network(sent), registry=registry
    ) as client:
        result = await client.generate("a cube", n=2)
        for image in result.images:
            await client.read(image)
    auth = {url: headers.get("authorization") for url, headers in sent}
    assert auth == {
        "https://api.authdl.test/v1/generate": f"Bearer {API_KEY}",
        "https://api.authdl.test/v1/files/1.png": f"Bearer {API_KEY}",
        "https://x.test/2.png": None,
    }


async def test_download_auth_leaves_no_key_with_observers(mode: str) -> None:
    observer = Observer()
    registry = create_registry(entry_points=False, plugins=[DownloadAuthPlugin(), observer])
    async with open_client(mode, "authdl", download_auth_network([]), registry=registry) as client:
        result = await client.generate("a cube")
        await client.read(result.images[0])
    assert len(observer.seen) == 4
    for request, _ in observer.seen:
        assert API_KEY not in str(request.headers.raw)


@pytest.mark.parametrize(("exc", "sent"), [(httpx.ConnectError, False), (httpx.ReadError, True)])
async def test_transport_failures_become_api_connection_errors(
    mode: str, exc: type[httpx.TransportError], sent: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # A transport whose message includes what it was given, key and all.
        raise exc(f"failed with {request.headers.get('authorization')}", request=request)

    async with open_client(mode, "openai", handler) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.generate("a cube")
    error = info.value
    assert error.sent is sent
    assert error.provider == "openai"
    assert "request to openai failed" in str(error)
    for text in (str(error), repr(error), *map(repr, error.args)):
        assert API_KEY not in text
    assert "Bearer [REDACTED]" in str(error)


async def test_a_download_that_fails_to_connect_is_an_api_connection_error(mode: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "cdn.example":
            raise httpx.ConnectError("no route to host", request=request)
        return httpx.Response(200, json=images_body({"url": "https://cdn.example/1.png"}))

    async with open_client(mode, "openai", handler) as client:
        result = await client.generate("a cube", model="dall-e-2")
        with pytest.raises(APIConnectionError, match="no route to host"):
            await client.read(result.images[0])


async def test_inline_results_do_not_touch_the_network_again(mode: str) -> None:
    network = Network(httpx.Response(200, json=images_body({"b64_json": b64png()})))
    async with open_client(mode, "openai", network) as client:
        result = await client.generate("a cube")
        await client.read(result.images[0])
    assert len(network.sent) == 1


#: How a server may echo a key back into a task (its id, its state): each must be scrubbed
#: from the journaled handle, the backslash-escaped spellings included (JSON doubles their
#: backslashes, so the handle's JSON alone would not show them).
_KEY = "sk-HANDLECHECK-5b1e0c9d7a"
_SPELLINGS = {
    "raw": _KEY,
    "json-escaped": "".join(f"\\u{ord(c):04x}" for c in _KEY),
    "python-escaped": "".join(f"\\x{ord(c):02x}" for c in _KEY),
    "percent": "".join(f"%{b:02X}" for b in _KEY.encode()),
    "html-references": "".join(f"&#{ord(c)};" for c in _KEY),
    "hex": _KEY.encode().hex(),
    "base64": base64.b64encode(b"user:" + _KEY.encode()).decode(),
}


@pytest.mark.parametrize("spelling", sorted(_SPELLINGS))
@pytest.mark.parametrize("where", ["task_id", "model", "adapter_state", "state_key"])
def test_a_task_handle_is_scrubbed_of_every_spelling_of_the_key(spelling: str, where: str) -> None:
    from imagebridge import TaskHandle
    from imagebridge._redact import REDACTED, Redactor

    echo = _SPELLINGS[spelling]
    fields: dict[str, Any] = {"provider": "p", "base_url": "https://api.example/v1"}
    fields["task_id"] = f"t-{echo}" if where == "task_id" else "t-1"
    if where == "model":
        fields["model"] = f"m {echo}"
    if where == "adapter_state":
        fields["adapter_state"] = {"nested": [{"echo": f"said {echo}"}]}
    if where == "state_key":
        fields["adapter_state"] = {echo: 1}
    handle = TaskHandle(**fields)
    clean = handle.scrubbed(Redactor([_KEY]))
    dumped = str(clean.model_dump())
    assert echo not in dumped
    assert _KEY not in dumped
    assert REDACTED in dumped
    assert clean.to_json().count(REDACTED) == 1


def test_a_task_handle_without_the_key_is_kept_as_it_is() -> None:
    from imagebridge import TaskHandle
    from imagebridge._redact import Redactor

    handle = TaskHandle(
        provider="p",
        base_url="https://api.example/v1",
        task_id="t-1",
        adapter_state={"compat": "apimart", "path": "C:\\tasks\\1", "quote": 'say "hi"'},
    )
    assert handle.scrubbed(Redactor([_KEY])) is handle
