"""Rule 2: every body read is bounded.

A proxy in front of the emulator answers one phase with a body that never ends (chunked, or
under a 5 GB ``Content-Length``). The client must stop at its cap with a ServerError naming
the limit, without buffering the excess: the proxy counts what it managed to send before
the client hung up, and the process's peak memory must stay within the cap plus a margin.
Inline images (base64, ``data:`` URLs) count against ``max_download_bytes`` like downloads.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imagebridge import AsyncImageClient, ImageClient, ServerError
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from reliability.support import KEY, POLICY, RETRY

from .proxy import Flood, hostile_proxy

pytestmark = pytest.mark.anyio

CAP = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.05, api_key=KEY)) as server:
        yield server


def _settings(base_url: str, **options: Any) -> dict[str, Any]:
    return {
        "api_key": KEY,
        "base_url": base_url,
        "poll_policy": POLICY,
        "retry": RETRY,
        "timeout": 30,
        **options,
    }


async def _job(mode: str, provider: str, base_url: str, folder: Path, **options: Any) -> Any:
    fields: dict[str, Any] = {"size": "1:1"} if provider == "dimilinks" else {}
    if mode == "sync":
        with ImageClient(provider, **_settings(base_url, **options)) as client:
            return client.generate("a lighthouse", **fields).save(folder)
    async with AsyncImageClient(provider, **_settings(base_url, **options)) as aclient:
        result = await aclient.generate("a lighthouse", **fields)
        return await result.asave(folder)


@pytest.mark.parametrize("kind", ["endless", "oversize"])
@pytest.mark.parametrize("phase", ["submit", "poll", "download"])
async def test_an_endless_reply_stops_at_the_cap(
    mode: str, phase: str, kind: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    rule = Flood(phase, kind, limit=64 * CAP)
    with hostile_proxy(emulator.origin, rule) as origin, pytest.raises(ServerError) as info:
        await _job(
            mode,
            "dimilinks",
            f"{origin}/dimilinks/v1",
            tmp_path,
            max_response_bytes=CAP,
            max_download_bytes=CAP,
        )
    error = info.value
    setting = "max_download_bytes" if phase == "download" else "max_response_bytes"
    assert setting in str(error)
    assert str(CAP) in str(error)
    if phase != "submit":
        assert error.task_id is not None, "an error after acceptance names the task"
    assert list(tmp_path.iterdir()) == [], "nothing half-written is left"


_MEASURE = """
import resource, sys
from imagebridge import ImageClient, ServerError
origin, key, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with ImageClient("dimilinks", api_key=key, base_url=origin + "/dimilinks/v1",
                 max_response_bytes=cap, journal=False) as client:
    try:
        client.generate("a lighthouse", size="1:1")
    except ServerError as error:
        print(error.code)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
"""


def test_memory_stays_within_the_cap_on_an_endless_reply(emulator: EmulatorServer) -> None:
    """The bound itself, in a process of its own (so its peak memory is this job's): the
    client reads at most the cap, and its peak RSS grows by at most the cap plus 16 MiB
    while the server offers 1 GiB."""
    cap = 32 * 1024 * 1024
    rule = Flood("submit", "endless", limit=32 * cap)
    with hostile_proxy(emulator.origin, rule) as origin:
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, origin, KEY, str(cap)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    code, growth = done.stdout.split()
    assert code == "response_too_large"
    assert int(growth) <= cap + 16 * 1024 * 1024, f"peak RSS grew by {int(growth) / 2**20:.1f} MiB"
    # What left the proxy: the cap, what the kernel's socket buffers hold, and a chunk.
    assert rule.sent
    assert max(rule.sent) <= cap + 16 * 1024 * 1024


def _inline(size: int) -> httpx.MockTransport:
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * size).decode()

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"created": 1, "data": [{"b64_json": image}]}
        return httpx.Response(200, content=json.dumps(body).encode())

    return httpx.MockTransport(answer)


def test_inline_images_count_against_max_download_bytes(tmp_path: Path) -> None:
    with (
        ImageClient(
            "openai",
            api_key=KEY,
            transport=_inline(200_000),
            max_download_bytes=100_000,
            journal=False,
        ) as client,
        pytest.raises(ServerError, match=r"100000-byte download limit \(max_download_bytes\)"),
    ):
        client.generate("a lighthouse", model="gpt-image-1")
    with ImageClient(
        "openai", api_key=KEY, transport=_inline(50_000), max_download_bytes=100_000, journal=False
    ) as client:
        assert len(client.generate("a lighthouse", model="gpt-image-1").images[0].read()) > 50_000


async def test_inline_images_count_against_the_cap_in_the_async_client() -> None:
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 200_000).decode()

    async def answer(request: httpx.Request) -> httpx.Response:
        body = {"created": 1, "data": [{"url": f"data:image/png;base64,{image}"}]}
        return httpx.Response(200, content=json.dumps(body).encode())

    async with AsyncImageClient(
        "openai",
        api_key=KEY,
        transport=httpx.MockTransport(answer),
        max_download_bytes=100_000,
        journal=False,
    ) as client:
        with pytest.raises(ServerError, match="max_download_bytes"):
            await client.generate("a lighthouse", model="gpt-image-1")


async def test_inline_images_of_a_waited_task_count_against_the_cap(mode: str) -> None:
    """wait() finishes a task outside the submit's flow: the same cap holds there, and the
    task stays resumable (it is not marked fetched)."""
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 200_000).decode()
    body = {
        "id": "img_big",
        "status": "succeeded",
        "result": {"data": [{"url": f"data:image/png;base64,{image}"}]},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(body).encode())

    async def aanswer(request: httpx.Request) -> httpx.Response:
        return answer(request)

    settings: dict[str, Any] = {"api_key": KEY, "max_download_bytes": 100_000, "journal": False}
    if mode == "sync":
        with (
            ImageClient("dimilinks", transport=httpx.MockTransport(answer), **settings) as client,
            pytest.raises(ServerError) as info,
        ):
            client.wait("img_big")
    else:
        async with AsyncImageClient(
            "dimilinks", transport=httpx.MockTransport(aanswer), **settings
        ) as aclient:
            with pytest.raises(ServerError) as info:
                await aclient.wait("img_big")
    assert info.value.code == "download_too_large"
    assert "max_download_bytes" in str(info.value)
    assert info.value.task_id == "img_big"
