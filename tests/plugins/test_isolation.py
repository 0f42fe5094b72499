"""Plugins that fail alone: a broken entry-point plugin installed beside the built-ins is
skipped, logged and listed as broken; the other plugins keep working. Also
``IMAGEBRIDGE_LOAD_PLUGINS`` and the adapter API version a plugin declares."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import imagebridge_plugins.openai
from helpers import b64png, open_client
from imagebridge import (
    AsyncImageClient,
    ConfigurationError,
    ImageClient,
    ImageResult,
    PluginError,
    PluginInfo,
    Registry,
    RetryPolicy,
    ServerError,
    create_registry,
    hookimpl,
)
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from imagebridge.adapter import (
    ADAPTER_API_VERSION,
    IDEMPOTENT,
    Adapter,
    Capabilities,
    Flow,
    GeneratedImage,
    Plan,
)

pytestmark = pytest.mark.anyio

VERSION = importlib.metadata.version("imagebridge")

#: A module whose import fails, as one with a missing dependency does.
KITE = 'raise ImportError("ib_iso_kite needs the frobnicate package\\nsecond line of detail")\n'

ADAPTER = """
from imagebridge import hookimpl
from imagebridge.adapter import Adapter, Capabilities


class {cls}(Adapter):
    name = {name!r}
    api_version = {version}
    default_base_url = "https://{name}.test/v1"

    def capabilities(self, model):
        return Capabilities(model=model, size_auto=True)
"""

#: A working third-party plugin that states the current contract version.
FINE = (
    "from imagebridge.adapter import ADAPTER_API_VERSION\n"
    + ADAPTER.format(cls="FineAdapter", name="fine", version="ADAPTER_API_VERSION")
    + "\n@hookimpl\ndef imagebridge_adapters():\n    return [FineAdapter]\n"
)

#: Written for a contract this imagebridge does not have.
FUTURE = (
    ADAPTER.format(cls="FutureAdapter", name="future", version=2)
    + "\n@hookimpl\ndef imagebridge_adapters():\n    return [FutureAdapter]\n"
)

#: Each fault a plugin module can have, beside an adapter it would otherwise provide.
HALFWAY = ADAPTER.format(cls="HalfwayAdapter", name="halfway", version=1)
FAULTS = {
    "hook raises": (
        "@hookimpl\ndef imagebridge_adapters():\n    raise RuntimeError('no licence file')\n",
        "plugin 'faulty' failed in imagebridge_adapters: RuntimeError: no licence file",
    ),
    "not adapters": (
        "@hookimpl\ndef imagebridge_adapters():\n    return [HalfwayAdapter, 'openai']\n",
        "plugin 'faulty' returned 'openai' from imagebridge_adapters: expected an Adapter"
        " subclass with a non-empty name",
    ),
    "not a list": (
        "@hookimpl\ndef imagebridge_adapters():\n    return 42\n",
        "plugin 'faulty' returned 42 from imagebridge_adapters: expected a list of Adapter"
        " subclasses",
    ),
    "bad argument": (
        "@hookimpl\ndef imagebridge_adapters():\n    return [HalfwayAdapter]\n"
        "@hookimpl\ndef imagebridge_validate_request(request, colour):\n    return None\n",
        "plugin 'faulty' has a bad hook: ",
    ),
    "unknown hook": (
        "@hookimpl\ndef imagebridge_adapters():\n    return [HalfwayAdapter]\n"
        "@hookimpl\ndef imagebridge_adapterz():\n    return []\n",
        "plugin 'faulty' implements an unknown hook: ",
    ),
    "name taken": (
        "class Squatter(HalfwayAdapter):\n    name = 'openai'\n"
        "@hookimpl\ndef imagebridge_adapters():\n    return [HalfwayAdapter, Squatter]\n",
        "provider name 'openai' is registered twice: by plugin 'openai' and by plugin 'faulty'",
    ),
}


def install(site: Path, entry_point: str, source: str, version: str = "0.3") -> None:
    """What ``pip install`` of a wheel leaves behind: a module ``ib_iso_<entry_point>`` and
    the dist-info of the distribution of the same name, declaring the entry point."""
    module = f"ib_iso_{entry_point}"
    (site / f"{module}.py").write_text(source)
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[imagebridge]\n{entry_point} = {module}\n")
    (info / "RECORD").write_text("")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path that importlib.metadata searches, for the test's packages."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.delenv("IMAGEBRIDGE_LOAD_PLUGINS", raising=False)
    yield folder
    for name in [name for name in sys.modules if name.startswith("ib_iso_")]:
        del sys.modules[name]


def on_path(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(site))


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig()) as running:
        yield running


async def generate_openai(mode: str, registry: Registry, server: EmulatorServer) -> ImageResult:
    base_url = server.url("openai")
    if mode == "sync":
        with ImageClient(
            "openai", api_key="sk-test", journal=False, registry=registry, base_url=base_url
        ) as client:
            return client.generate("a lighthouse")
    async with AsyncImageClient(
        "openai", api_key="sk-test", journal=False, registry=registry, base_url=base_url
    ) as aclient:
        return await aclient.generate("a lighthouse")


def by_name(registry: Registry) -> dict[str, PluginInfo]:
    return {info.name: info for info in registry.plugins()}


# -- a broken plugin beside the built-ins ---------------------------------------------------------
async def test_a_plugin_that_cannot_be_imported_leaves_the_others_working(
    mode: str,
    site: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: EmulatorServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install(site, "kite", KITE)
    install(site, "fine", FINE, version="1.2")
    on_path(site, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="imagebridge"):
        registry = create_registry()
    error = "cannot import ib_iso_kite: ImportError: ib_iso_kite needs the frobnicate package"
    assert by_name(registry)["kite"] == PluginInfo("kite", "ib-iso-kite", "0.3", (), error)
    assert [r.getMessage() for r in caplog.records] == [
        f"plugin 'kite' (ib-iso-kite 0.3) is broken and was skipped: {error}"
    ]
    assert {"openai", "geeknow", "dimilinks", "apimart", "fine"} <= set(registry.adapters)
    assert by_name(registry)["openai"] == PluginInfo("openai", "imagebridge", VERSION, ("openai",))
    assert by_name(registry)["fine"] == PluginInfo("fine", "ib-iso-fine", "1.2", ("fine",))
    assert "kite" not in registry.plugin_names()
    result = await generate_openai(mode, registry, server)
    assert result.provider == "openai"
    assert len(result.images) == 1
    with pytest.raises(ConfigurationError) as info:
        ImageClient("kite", api_key="sk-test", journal=False, registry=registry)
    assert str(info.value).startswith(
        f"unknown provider 'kite': plugin 'kite' (ib-iso-kite 0.3) is broken: {error}"
        " (installed providers: "
    )
    assert str(info.value).endswith("; broken plugins skipped: kite)")


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_skips_only_its_plugin(
    fault: str, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, reason = FAULTS[fault]
    install(site, "faulty", HALFWAY + "\n\n" + body)
    install(site, "fine", FINE)
    on_path(site, monkeypatch)
    registry = create_registry()
    broken = by_name(registry)["faulty"]
    assert broken.broken
    assert (broken.distribution, broken.version, broken.providers) == ("ib-iso-faulty", "0.3", ())
    assert broken.error is not None
    assert broken.error.startswith(reason)
    assert "\n" not in broken.error
    assert "halfway" not in registry.adapters
    assert "faulty" not in registry.plugin_names()
    assert registry.adapters["openai"] is imagebridge_plugins.openai.OpenAIAdapter
    assert {"fine", "geeknow", "dimilinks"} <= set(registry.adapters)
    assert [info.name for info in registry.plugins() if info.broken] == ["faulty"]


def test_a_program_registering_a_broken_plugin_still_gets_an_error() -> None:
    class Broken:
        @hookimpl
        def imagebridge_adapters(self) -> list[type[Adapter]]:
            raise RuntimeError("no licence file")

    registry = create_registry(entry_points=False)
    registry.register(Broken(), name="broken")
    with pytest.raises(PluginError, match="plugin 'broken' failed in imagebridge_adapters"):
        _ = registry.adapters
    registry.unregister("broken")
    assert registry.adapters == {}


# -- the adapter API version ----------------------------------------------------------------------
def test_an_adapter_for_another_api_version_is_skipped_as_broken(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ADAPTER_API_VERSION == 1
    install(site, "future", FUTURE)
    install(site, "fine", FINE)
    on_path(site, monkeypatch)
    registry = create_registry()
    assert by_name(registry)["future"].error == (
        "plugin 'future': provider 'future' declares adapter API version 2;"
        " this imagebridge supports 1"
    )
    assert "future" not in registry.adapters
    assert "fine" in registry.adapters  # declares ADAPTER_API_VERSION explicitly
    module = importlib.import_module("ib_iso_future")  # it imports: only its adapter is refused
    strict = create_registry(entry_points=False, plugins=[module])
    with pytest.raises(PluginError, match="declares adapter API version 2"):
        _ = strict.adapters


# -- IMAGEBRIDGE_LOAD_PLUGINS -------------------------------------------------------------------
def test_load_plugins_names_the_entry_points_that_load(
    site: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    install(site, "kite", KITE)
    install(site, "fine", FINE)
    on_path(site, monkeypatch)
    monkeypatch.setenv("IMAGEBRIDGE_LOAD_PLUGINS", " openai, fine ,nosuch")
    with caplog.at_level(logging.WARNING, logger="imagebridge"):
        registry = create_registry()
    assert list(registry.adapters) == ["fine", "openai"]
    assert [info.name for info in registry.plugins()] == ["fine", "openai"]  # kite not tried
    [message] = [r.getMessage() for r in caplog.records]
    assert message.startswith("IMAGEBRIDGE_LOAD_PLUGINS names 'nosuch', not an installed plugin")
    assert "kite" in message
    with pytest.raises(ConfigurationError) as info:
        ImageClient("geeknow", api_key="sk-test", journal=False, registry=registry)
    assert str(info.value) == (
        "unknown provider 'geeknow': plugin 'geeknow' is installed but IMAGEBRIDGE_LOAD_PLUGINS"
        " does not name it (installed providers: fine, openai;"
        " IMAGEBRIDGE_LOAD_PLUGINS=' openai, fine ,nosuch' limits which plugins load)"
    )
    # The variable chooses entry points only: a program's own plugins always load.
    explicit = create_registry(plugins=[imagebridge_plugins.openai])
    assert "openai" in explicit.adapters


def test_an_empty_load_plugins_loads_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEBRIDGE_LOAD_PLUGINS", "")
    registry = create_registry()
    assert registry.adapters == {}
    assert registry.plugins() == []
    with pytest.raises(ConfigurationError) as info:
        ImageClient("openai", api_key="sk-test", journal=False, registry=registry)
    assert str(info.value) == (
        "unknown provider 'openai': plugin 'openai' is installed but IMAGEBRIDGE_LOAD_PLUGINS"
        " does not name it (installed providers: none; IMAGEBRIDGE_LOAD_PLUGINS='' loads none)"
    )
    monkeypatch.delenv("IMAGEBRIDGE_LOAD_PLUGINS")
    assert "openai" in create_registry().adapters


# -- imagebridge providers ---------------------------------------------------------------------
def run_cli(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``imagebridge ARGS`` in a new process, with ``site`` installed (the process-wide
    registry is loaded once per process)."""
    environ = {k: v for k, v in os.environ.items() if k != "IMAGEBRIDGE_LOAD_PLUGINS"}
    environ.update(PYTHONPATH=str(site), COLUMNS="100", **env)
    code = "from imagebridge._cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=site,
        timeout=60,
        check=False,
    )


def test_each_distributions_metadata_is_read_once(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading a METADATA file parses all of it (~0.7 ms): the ten built-in plugins share one
    distribution, so loading them reads its file once, not once per entry point."""
    install(site, "fine", FINE, version="1.2")
    on_path(site, monkeypatch)
    reads: list[str] = []
    read_text = importlib.metadata.PathDistribution.read_text

    def counted(self: importlib.metadata.PathDistribution, filename: str) -> str | None:
        if filename in ("METADATA", "PKG-INFO"):
            reads.append(str(self._path))  # type: ignore[attr-defined]
        return read_text(self, filename)

    monkeypatch.setattr(importlib.metadata.PathDistribution, "read_text", counted)
    registry = create_registry()
    origins = {(info.distribution, info.version) for info in registry.plugins()}
    assert {("imagebridge", VERSION), ("ib-iso-fine", "1.2")} <= origins
    assert len(registry.plugins()) > len(origins)  # several plugins per distribution
    assert sorted(reads) == sorted(set(reads))
    assert len(reads) == len(origins)


def test_providers_lists_packages_and_broken_plugins(site: Path) -> None:
    install(site, "kite", KITE)
    install(site, "fine", FINE, version="1.2")
    error = "cannot import ib_iso_kite: ImportError: ib_iso_kite needs the frobnicate package"
    out = run_cli(site, "providers")
    assert out.returncode == 0, out.stderr
    assert "\nopenai: " in f"\n{out.stdout}"
    assert f"  plugin    openai, from imagebridge {VERSION}\n" in out.stdout
    assert "\nfine\n  plugin    fine, from ib-iso-fine 1.2\n" in out.stdout
    assert out.stdout.endswith(f"broken plugins (skipped):\n  kite (ib-iso-kite 0.3): {error}\n")
    assert "second line" not in out.stdout
    assert f"plugin 'kite' (ib-iso-kite 0.3) is broken and was skipped: {error}" in out.stderr
    assert "Traceback" not in out.stderr

    out = run_cli(site, "providers", "--json")
    assert out.returncode == 0, out.stderr
    listing = json.loads(out.stdout)
    assert listing["broken_plugins"] == [
        {"name": "kite", "distribution": "ib-iso-kite", "version": "0.3", "error": error}
    ]
    assert listing["providers"]["fine"]["plugin"] == {
        "name": "fine",
        "distribution": "ib-iso-fine",
        "version": "1.2",
    }
    assert listing["providers"]["openai"]["plugin"]["distribution"] == "imagebridge"


def test_providers_when_no_plugin_works(site: Path) -> None:
    install(site, "kite", KITE)
    out = run_cli(site, "providers", IMAGEBRIDGE_LOAD_PLUGINS="kite")
    assert out.returncode == 1
    assert out.stdout.startswith(
        "no providers (installed providers: none; IMAGEBRIDGE_LOAD_PLUGINS='kite' limits which"
        " plugins load; broken plugins skipped: kite)\n\nbroken plugins (skipped):\n  kite "
    )
    out = run_cli(site, "providers", IMAGEBRIDGE_LOAD_PLUGINS="")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        "no providers (installed providers: none; IMAGEBRIDGE_LOAD_PLUGINS='' loads none)\n"
    )


# -- what imagebridge.adapter exports -----------------------------------------------------------
class KeyedAdapter(Adapter):
    """Sends an idempotency key, so it marks its submit with the exported IDEMPOTENT."""

    name = "keyed"
    default_base_url = "https://api.keyed.test/v1"
    default_model = "k-1"
    models = ("k-1",)
    marks_idempotent = True

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(model=model, size_auto=True)

    def generate(self, plan: Plan) -> Flow[ImageResult]:
        body = {"prompt": plan.request.prompt}
        request = httpx.Request(
            "POST", self.url("/draw"), json=body, headers={"Idempotency-Key": "job-1"}
        )
        if self.marks_idempotent:
            request.extensions[IDEMPOTENT] = True
        response = yield request
        assert response is not None
        data = self.mapping(response)
        return ImageResult(images=[GeneratedImage(b64_json=data["image"])], provider=self.name)


class UnkeyedAdapter(KeyedAdapter):
    name = "unkeyed"
    marks_idempotent = False


class KeyedPlugin:
    @hookimpl
    def imagebridge_adapters(self) -> list[type[Adapter]]:
        return [KeyedAdapter, UnkeyedAdapter]


@pytest.mark.parametrize(("provider", "sent"), [("keyed", 2), ("unkeyed", 1)])
async def test_a_request_marked_idempotent_is_retried_after_a_server_error(
    mode: str, provider: str, sent: int
) -> None:
    calls: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(500, json={"error": {"message": "upstream hiccup"}})
        return httpx.Response(200, json={"image": b64png(2, 2)})

    registry = create_registry(entry_points=False, plugins=[KeyedPlugin()])
    retry = RetryPolicy(max_retries=1, backoff=0.01, jitter=0)
    async with open_client(mode, provider, api, registry=registry, retry=retry) as client:
        if sent == 1:
            with pytest.raises(ServerError, match="upstream hiccup"):
                await client.generate("a kite")
        else:
            result = await client.generate("a kite")
            assert [(i.width, i.height) for i in result.images] == [(2, 2)]
    assert len(calls) == sent
