"""The curated public surface: sorted, complete ``__all__`` lists, ``py.typed``, a light import."""

from __future__ import annotations
import __future__

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import imagebridge
import imagebridge.adapter


def public_names(module: types.ModuleType) -> set[str]:
    """Public names bound in ``module`` that are neither modules nor ``__future__`` flags."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not isinstance(value, __future__._Feature)
    }


def sort_key(name: str) -> tuple[int, list[tuple[int, int | str]]]:
    """The order ruff's RUF022 enforces (the project's lint): CONSTANTS, then Classes, then
    everything else, each group in case-sensitive natural order."""
    group = 0 if name.isupper() else 1 if name[0].isupper() else 2
    chunks = re.split(r"(\d+)", name)
    return group, [(1, int(c)) if c.isdigit() else (0, c) for c in chunks]


def test_sort_key() -> None:
    assert sorted(["b", "A1", "ANY", "Accepted", "__version__", "A10", "A2"], key=sort_key) == [
        "A1",
        "A2",
        "A10",
        "ANY",
        "Accepted",
        "__version__",
        "b",
    ]


@pytest.mark.parametrize("module", [imagebridge, imagebridge.adapter], ids=lambda m: m.__name__)
def test_all_is_sorted(module: types.ModuleType) -> None:
    assert list(module.__all__) == sorted(module.__all__, key=sort_key)
    assert len(set(module.__all__)) == len(module.__all__)


def test_the_top_level_all_is_also_in_plain_case_sensitive_order() -> None:
    assert list(imagebridge.__all__) == sorted(imagebridge.__all__)


@pytest.mark.parametrize("module", [imagebridge, imagebridge.adapter], ids=lambda m: m.__name__)
def test_all_is_complete_and_every_name_exists(module: types.ModuleType) -> None:
    missing = public_names(module) - set(module.__all__)
    assert missing == set(), f"public in {module.__name__} but not in __all__: {missing}"
    for name in module.__all__:
        assert hasattr(module, name), f"{module.__name__}.__all__ names {name!r}, not defined"


def test_the_contract_names_are_exported() -> None:
    for name in (
        "ImageClient",
        "AsyncImageClient",
        "ImageRequest",
        "ImageResult",
        "GeneratedImage",
        "ImageBridgeError",
        "InvalidRequestError",
        "AuthenticationError",
        "RateLimitError",
        "ContentPolicyError",
        "TaskFailedError",
        "ImageTimeoutError",
        "ServerError",
        "ProviderError",
        "PluginError",
        "hookimpl",
        "__version__",
    ):
        assert name in imagebridge.__all__
    assert "Adapter" in imagebridge.adapter.__all__
    assert "Capabilities" in imagebridge.adapter.__all__


def test_the_adapter_module_exports_what_an_adapter_needs() -> None:
    """The errors an adapter raises are the top-level classes, so users catch what it raises."""
    for name in (
        "AuthenticationError",
        "BadRequestError",
        "ContentPolicyError",
        "InsufficientBalanceError",
        "InvalidRequestError",
        "NotFoundError",
        "PermissionDeniedError",
        "ProviderError",
        "RateLimitError",
        "ServerError",
        "TaskFailedError",
    ):
        assert name in imagebridge.adapter.__all__
        assert getattr(imagebridge.adapter, name) is getattr(imagebridge, name)
    assert imagebridge.adapter.IDEMPOTENT == "imagebridge.idempotent"
    assert imagebridge.adapter.ADAPTER_API_VERSION == 1
    assert "PluginInfo" in imagebridge.__all__


def test_the_package_is_typed() -> None:
    assert (Path(imagebridge.__file__).parent / "py.typed").is_file()


IMPORT_CHECK = """
import json, sys
# httpx imports click and rich for its own command line when they are installed; hide that
# module so that only what imagebridge itself imports is judged.
sys.modules["httpx._main"] = None
import imagebridge
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_imagebridge_is_light() -> None:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK], capture_output=True, text=True, check=True, timeout=60
    )
    modules = json.loads(out.stdout)
    assert "imagebridge" in modules
    heavy = {"click", "rich", "pygments", "starlette", "uvicorn", "PIL", "multipart"}
    assert [name for name in modules if name.split(".")[0] in heavy] == []
    private = {"imagebridge._emulator", "imagebridge._cli"}
    assert [name for name in modules if ".".join(name.split(".")[:2]) in private] == []
    # Plugins are loaded on first use, not at import.
    assert [name for name in modules if name.startswith("imagebridge_plugins")] == []


CLIENT_CHECK = """
import json, sys
sys.modules["httpx._main"] = None
import httpx
from imagebridge import ImageClient
mocked = ImageClient("geeknow", api_key="sk-test-0123456789", base_url="http://127.0.0.1:9/v1",
                     transport=httpx.MockTransport(lambda r: httpx.Response(500)), journal=False)
after_mock = "httpcore" in sys.modules
default = ImageClient("geeknow", api_key="sk-test-0123456789", base_url="http://127.0.0.1:9/v1",
                      journal=False)
backend = type(default._http._transport._pool._network_backend).__name__
print(json.dumps({"httpcore_after_mock": after_mock, "backend": backend}))
"""


def test_httpcore_loads_with_httpx_own_transport_and_the_deadline_backend_with_it() -> None:
    """A client on another transport never imports httpcore; the first one on httpx's own
    transport, in a fresh interpreter, still gets the deadline backend under its pool."""
    out = subprocess.run(
        [sys.executable, "-c", CLIENT_CHECK], capture_output=True, text=True, check=True, timeout=60
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"httpcore_after_mock": False, "backend": "DeadlineBackend"}
