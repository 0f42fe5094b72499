"""Rules 3 and 7 on downloads: credentials never cross an origin, and every redirect hop of a
result download is checked like the result URL itself.

The adapter here is a plugin of the test's own whose result links need its key, sent in its
own header (``X-Forge-Key``), not ``Authorization``: httpx strips only ``Authorization`` on
a cross-origin redirect, so the driver follows redirects itself, one fresh request a hop.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx
import pytest

from imagebridge import AsyncImageClient, ImageClient, ServerError, hookimpl
from imagebridge._plugins import create_registry
from imagebridge.adapter import Adapter, Capabilities, GeneratedImage, ImageResult, Plan

pytestmark = pytest.mark.anyio

KEY = "forge-key-0123456789abcdef"
API = "https://api.forge.test/v1"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class ForgeAdapter(Adapter):
    name = "forge"
    default_base_url = API
    default_model = "forge-1"
    download_auth: ClassVar[bool] = True

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(model=model, size_auto=True)

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"X-Forge-Key": api_key}

    def generate(self, plan: Plan) -> Any:
        response = yield httpx.Request("POST", self.url("/images"), json={"prompt": "p"})
        body = self.mapping(response)
        return ImageResult(
            images=[GeneratedImage(url=self.resolve_url(body["url"]))], provider=self.name
        )


class _Plugin:
    @hookimpl
    def imagebridge_adapters(self) -> list[type[Adapter]]:
        return [ForgeAdapter]


class Web:
    """The API and the hosts it redirects to, recording what each request carried."""

    def __init__(self, hops: list[str]) -> None:
        self.hops = hops
        self.seen: list[tuple[str, dict[str, str]]] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((str(request.url), dict(request.headers)))
        if request.method == "POST":
            return httpx.Response(200, content=json.dumps({"url": f"{API}/files/0"}).encode())
        index = int(request.url.path.rsplit("/", 1)[-1])
        if index < len(self.hops):
            return httpx.Response(302, headers={"Location": self.hops[index]})
        return httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})


@pytest.fixture
def registry() -> Any:
    return create_registry(plugins=[_Plugin()])


async def _read(mode: str, web: Web, registry: Any, **options: Any) -> bytes:
    settings: dict[str, Any] = {"api_key": KEY, "registry": registry, "journal": False, **options}
    if mode == "sync":
        with ImageClient("forge", transport=httpx.MockTransport(web.answer), **settings) as c:
            return c.generate("p").images[0].read()

    async def answer(request: httpx.Request) -> httpx.Response:
        return web.answer(request)

    async with AsyncImageClient(
        "forge", transport=httpx.MockTransport(answer), **settings
    ) as client:
        return await (await client.generate("p")).images[0].aread()


def _keys(web: Web) -> dict[str, bool]:
    """Per URL requested: whether it carried the key (in any header)."""
    return {url: any(KEY in value for value in headers.values()) for url, headers in web.seen}


async def test_the_plugin_key_header_does_not_follow_a_foreign_redirect(
    mode: str, registry: Any
) -> None:
    web = Web(["https://cdn.elsewhere.test/files/1", f"{API}/files/2"])
    assert await _read(mode, web, registry) == PNG
    carried = _keys(web)
    assert carried[f"{API}/images"] is True
    assert carried[f"{API}/files/0"] is True, "the API's own links get the key (download_auth)"
    assert carried["https://cdn.elsewhere.test/files/1"] is False
    # Back on the API's origin, the key is sent again: the rule is per hop, by origin.
    assert carried[f"{API}/files/2"] is True


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/",
        "file:///etc/passwd",
    ],
)
async def test_a_redirect_to_a_refused_url_is_not_followed(
    mode: str, registry: Any, target: str
) -> None:
    web = Web([target])
    with pytest.raises(ServerError) as info:
        await _read(mode, web, registry)
    assert info.value.code == "invalid_result_url"
    assert [url for url, _ in web.seen] == [f"{API}/images", f"{API}/files/0"]


async def test_link_local_redirects_can_be_allowed(mode: str, registry: Any) -> None:
    web = Web(["http://169.254.169.254/files/1"])
    assert await _read(mode, web, registry, allow_link_local_urls=True) == PNG
    assert _keys(web)["http://169.254.169.254/files/1"] is False


async def test_redirects_are_bounded(mode: str, registry: Any) -> None:
    web = Web([f"{API}/files/{i + 1}" for i in range(50)])
    with pytest.raises(ServerError) as info:
        await _read(mode, web, registry)
    assert info.value.code == "too_many_redirects"
    assert len(web.seen) == 1 + 1 + 10
