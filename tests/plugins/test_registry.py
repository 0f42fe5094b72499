"""Plugins: entry points, in-process plugins, hook validation and the hooks the core calls."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict

import imagebridge
import imagebridge_plugins.dalle
import imagebridge_plugins.geeknow
import imagebridge_plugins.openai
from helpers import API_KEY, b64png, images_body, open_client, png, router
from imagebridge import (
    ConfigurationError,
    InvalidRequestError,
    PluginError,
    Progress,
    Registry,
    create_registry,
    hookimpl,
)
from imagebridge.adapter import (
    Adapter,
    Capabilities,
    Flow,
    GeneratedImage,
    ImageResult,
    Plan,
    Problem,
)

pytestmark = pytest.mark.anyio

BUILT_INS = {
    "openai": "imagebridge_plugins.openai",
    "geeknow": "imagebridge_plugins.geeknow",
    "dalle": "imagebridge_plugins.dalle",
}


def test_built_in_plugins_are_entry_points() -> None:
    found = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="imagebridge")}
    assert BUILT_INS.items() <= found.items()


def test_the_default_registry_loads_them_through_the_entry_points() -> None:
    registry = imagebridge.default_registry()
    assert registry is imagebridge.default_registry()
    assert isinstance(registry, Registry)
    adapters = registry.adapters
    assert adapters["openai"] is imagebridge_plugins.openai.OpenAIAdapter
    assert adapters["geeknow"] is imagebridge_plugins.geeknow.GeeknowAdapter
    assert list(adapters) == sorted(adapters)
    assert set(BUILT_INS) <= set(registry.plugin_names())
    # Without the entry points there are no providers: none is hard-wired in the core.
    empty = create_registry(entry_points=False)
    assert empty.adapters == {}
    with pytest.raises(ConfigurationError, match="unknown provider 'openai'"):
        imagebridge.ImageClient("openai", api_key=API_KEY, registry=empty)


async def test_the_dalle_rules_come_from_the_dalle_plugin(mode: str) -> None:
    """Without the dalle plugin, dall-e-3 is an unchecked model; with it, 512x512 is refused."""
    api = router("geeknow")
    route = api.post("/images/generations").respond(
        json=images_body({"b64_json": b64png(512, 512)})
    )
    bare = create_registry(entry_points=False, plugins=[imagebridge_plugins.geeknow])
    async with open_client(mode, "geeknow", api, registry=bare) as client:
        result = await client.generate("x", model="dall-e-3", size="512x512")
    assert [w.code for w in result.warnings] == ["unknown_model"]
    assert route.call_count == 1
    full = create_registry(
        entry_points=False, plugins=[imagebridge_plugins.geeknow, imagebridge_plugins.dalle]
    )
    async with open_client(mode, "geeknow", api, registry=full) as client:
        with pytest.raises(InvalidRequestError, match="1024x1024"):
            await client.generate("x", model="dall-e-3", size="512x512")
    assert route.call_count == 1


# -- a plugin written in the test ---------------------------------------------------------------
class TinyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    seed: int | None = None


class TinyAdapter(Adapter):
    name = "tiny"
    description = "a provider that exists only in this test"
    default_base_url = "https://api.tiny.test/v2"
    default_model = "tiny-1"
    models = ("tiny-1",)
    options_model = TinyOptions

    def capabilities(self, model: str) -> Capabilities:
        if model not in self.models:
            return Capabilities.unchecked(model)
        return Capabilities(
            model=model,
            sizes=("64x64",),
            size_presets={"1:1": {"1k": "64x64"}},
            max_n=2,
            max_images_per_call=2,
            max_reference_images=2,
        )

    def generate(self, plan: Plan) -> Flow[ImageResult]:
        yield Progress("submitting", provider=self.name)
        options = plan.options
        body = {
            "prompt": plan.request.prompt,
            "count": plan.n,
            "dims": plan.wire_size,
            "refs": [image.as_url() for image in plan.request.reference_images],
            "seed": options.seed if isinstance(options, TinyOptions) else None,
        }
        response = yield httpx.Request("POST", self.url("/make"), json=body)
        assert response is not None
        data = self.mapping(response)
        return ImageResult(
            images=[GeneratedImage(b64_json=item) for item in data["images"]],
            provider=self.name,
            task_ids=[data["job"]],
        )


class TinyPlugin:
    @hookimpl
    def imagebridge_adapters(self) -> list[type[Adapter]]:
        return [TinyAdapter]


def tiny_api(request: httpx.Request) -> httpx.Response:
    assert request.url == "https://api.tiny.test/v2/make"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    count = httpx.Response(200, content=request.content).json()["count"]
    return httpx.Response(200, json={"job": "job-7", "images": [b64png(64, 64)] * count})


async def test_an_in_process_plugin_works_end_to_end(mode: str) -> None:
    registry = create_registry(entry_points=False, plugins=[TinyPlugin()])
    assert list(registry.adapters) == ["tiny"]
    progress: list[Progress] = []
    seen: list[dict[str, Any]] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(httpx.Response(200, content=request.content).json())
        return tiny_api(request)

    async with open_client(
        mode, "tiny", api, registry=registry, on_progress=progress.append
    ) as client:
        result = await client.generate(
            "a dot",
            n=2,
            size="1:1",
            reference_images=["https://img.example/ref.png", png(2, 2)],
            provider_options={"tiny": {"seed": 5}, "openai": {"anything": 1}},
        )
    assert seen == [
        {
            "prompt": "a dot",
            "count": 2,
            "dims": "64x64",
            "refs": ["https://img.example/ref.png", "data:image/png;base64," + b64png(2, 2)],
            "seed": 5,
        }
    ]
    assert result.provider == "tiny"
    assert result.model == "tiny-1"
    assert result.task_id == "job-7"
    assert [(i.width, i.height) for i in result.images] == [(64, 64), (64, 64)]
    assert [w.code for w in result.warnings] == ["size_mapped"]
    assert [p.stage for p in progress] == ["submitting"]


async def test_an_in_process_plugin_is_pre_flighted_like_a_built_in(mode: str) -> None:
    registry = create_registry(entry_points=False, plugins=[TinyPlugin()])
    calls: list[httpx.Request] = []
    async with open_client(mode, "tiny", calls.append, registry=registry) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate("a dot", n=3, size="2:1", provider_options={"tiny": {"sed": 5}})
    assert calls == []
    assert {p.field for p in info.value.problems} == {"n", "size", "provider_options.tiny.sed"}


def test_a_hook_with_a_bad_argument_name_names_the_plugin() -> None:
    class BadArgumentPlugin:
        @hookimpl
        def imagebridge_validate_request(self, request: Any, colour: str) -> None:
            return None

    with pytest.raises(PluginError, match="BadArgumentPlugin") as info:
        create_registry(entry_points=False, plugins=[BadArgumentPlugin()])
    assert "colour" in str(info.value)


def test_an_unknown_hook_names_the_plugin() -> None:
    class UnknownHookPlugin:
        @hookimpl
        def imagebridge_adapterz(self) -> list[type[Adapter]]:
            return [TinyAdapter]

    with pytest.raises(PluginError, match="UnknownHookPlugin") as info:
        create_registry(entry_points=False, plugins=[UnknownHookPlugin()])
    assert "imagebridge_adapterz" in str(info.value)
    registry = create_registry(entry_points=False)
    with pytest.raises(PluginError, match="UnknownHookPlugin"):
        registry.register(UnknownHookPlugin())


def test_duplicate_provider_names_name_both_plugins() -> None:
    class OtherTiny(TinyAdapter):
        pass

    class ImpostorPlugin:
        @hookimpl
        def imagebridge_adapters(self) -> list[type[Adapter]]:
            return [OtherTiny]

    registry = create_registry(entry_points=False, plugins=[TinyPlugin(), ImpostorPlugin()])
    with pytest.raises(PluginError, match="'tiny' is registered twice") as info:
        _ = registry.adapters
    assert "TinyPlugin" in str(info.value)
    assert "ImpostorPlugin" in str(info.value)


def test_a_built_in_name_cannot_be_taken() -> None:
    class FakeOpenAI(TinyAdapter):
        name = "openai"

    class Squatter:
        @hookimpl
        def imagebridge_adapters(self) -> list[type[Adapter]]:
            return [FakeOpenAI]

    with pytest.raises(PluginError, match="'openai' is registered twice"):
        _ = create_registry(plugins=[Squatter()]).adapters


def test_an_adapter_hook_must_return_adapter_classes() -> None:
    class Confused:
        @hookimpl
        def imagebridge_adapters(self) -> list[Any]:
            return [TinyAdapter("https://x.test")]  # an instance, not a class

    with pytest.raises(PluginError, match="Confused"):
        _ = create_registry(entry_points=False, plugins=[Confused()]).adapters


def test_an_adapter_hook_that_raises_names_the_plugin() -> None:
    class Broken:
        @hookimpl
        def imagebridge_adapters(self) -> list[type[Adapter]]:
            raise RuntimeError("missing optional dependency")

    registry = create_registry(entry_points=False, plugins=[Broken()])
    with pytest.raises(PluginError, match="Broken"):
        _ = registry.adapters


class NoCatsPlugin:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    @hookimpl
    def imagebridge_validate_request(
        self, provider: str, model: str, operation: str, request: Any
    ) -> list[Problem] | None:
        self.calls.append((provider, model, operation))
        if "cat" in request.prompt:
            return [Problem("prompt", request.prompt, "no cats on this deployment")]
        return None


async def test_validate_request_problems_join_capability_problems(mode: str) -> None:
    plugin = NoCatsPlugin()
    api = router("openai")
    route = api.post("/images/generations").respond(json=images_body())
    async with open_client(
        mode, "openai", api, registry=create_registry(plugins=[plugin])
    ) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.generate("a cat", model="dall-e-3", size="512x512")
        await client.generate("a dog")
    assert route.call_count == 1
    assert [(p.field, p.reason) for p in info.value.problems] == [
        ("prompt", "no cats on this deployment"),
        ("size", "not a size this model accepts for dall-e-3"),
    ]
    assert plugin.calls == [
        ("openai", "dall-e-3", "generate"),
        ("openai", "gpt-image-1", "generate"),
    ]


async def test_model_capabilities_can_be_refined(mode: str) -> None:
    class OnePerCall:
        @hookimpl(tryfirst=True)
        def imagebridge_model_capabilities(
            self, provider: str, model: str, capabilities: Capabilities
        ) -> Capabilities | None:
            if provider == "geeknow" and model == "gpt-image-1":
                return capabilities.replace(max_images_per_call=1)
            return None

    api = router("geeknow")
    route = api.post("/images/generations").respond(json=images_body())
    registry = create_registry(plugins=[OnePerCall()])
    async with open_client(mode, "geeknow", api, registry=registry) as client:
        result = await client.generate("two", n=2)
    assert route.call_count == 2
    assert [w.code for w in result.warnings] == ["n_split"]


async def test_on_exchange_sees_each_request_and_its_response(mode: str) -> None:
    seen: list[tuple[str, str, int | None]] = []

    class Watcher:
        @hookimpl
        def imagebridge_on_exchange(
            self, provider: str, request: httpx.Request, response: httpx.Response | None
        ) -> None:
            status = None if response is None else response.status_code
            seen.append((provider, request.url.path, status))
            if response is not None:
                assert response.request is request
                assert response.json()["created"]

    api = router("geeknow")
    api.post("/images/generations").respond(json=images_body())
    async with open_client(
        mode, "geeknow", api, registry=create_registry(plugins=[Watcher()])
    ) as client:
        await client.generate("x")
    assert seen == [
        ("geeknow", "/v1/images/generations", None),
        ("geeknow", "/v1/images/generations", 200),
    ]
