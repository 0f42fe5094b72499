"""End to end over real loopback HTTP against the emulator, on the real clock: dimilinks
(async, references, failures, pending, compat, edits), apimart, request counts, and resuming
a task in a new process."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imagebridge import ContentPolicyError, ImageClient, PollPolicy, Progress
from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .fakes import API_KEY, Bridge, open_client, pixel_size, png

pytestmark = pytest.mark.anyio

DURATION = 0.3
POLICY = PollPolicy(interval=0.05, max_interval=0.1)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(task_duration=DURATION, api_key=API_KEY)
    with EmulatorServer(config) as running:
        yield running


def emulated(mode: str, server: EmulatorServer, provider: str = "dimilinks") -> Any:
    return open_client(
        mode, provider, base_url=server.url(provider), poll_policy=POLICY, timeout=20
    )


def log(server: EmulatorServer) -> list[dict[str, Any]]:
    return server.app_state.requests


async def test_generate_16_9_2k_and_save(mode: str, server: EmulatorServer, tmp_path: Path) -> None:
    seen: list[Progress] = []
    async with emulated(mode, server) as client:
        result = await client.generate(
            "a neon cat", size="16:9", resolution="2k", on_progress=seen.append
        )
        [path] = await client.save(result, tmp_path)
    assert path.suffix == ".png"
    assert pixel_size(path.read_bytes()) == (2048, 1152)
    assert (result.images[0].width, result.images[0].height) == (2048, 1152)
    assert result.warnings == []
    assert str(result.task_id).startswith("img_")
    stages = [p.stage for p in seen]
    assert (stages[0], stages[-1]) == ("submitting", "done")
    assert "running" in stages


async def test_two_references(mode: str, server: EmulatorServer, tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    ref.write_bytes(png(20, 20))
    async with emulated(mode, server) as client:
        result = await client.generate("blend", reference_images=[ref, png(10, 10)], size="1:1")
        data = await client.read(result.images[0])
    assert pixel_size(data) == (1024, 1024)
    submit = next(e for e in log(server) if e.get("json", {}).get("prompt") == "blend")
    assert len(submit["json"]["image_urls"]) == 2
    assert server.app_state.tasks[result.task_id].extra["references"]


async def test_failed_task_is_a_content_policy_error(mode: str, server: EmulatorServer) -> None:
    async with emulated(mode, server) as client:
        with pytest.raises(ContentPolicyError) as info:
            await client.generate("forbidden #fail=content_moderation")
    error = info.value
    assert error.code == "content_moderation"
    assert str(error.task_id).startswith("img_")
    assert error.task is not None
    assert error.task.task_id == error.task_id


async def test_pending_status(mode: str, server: EmulatorServer) -> None:
    seen: list[Progress] = []
    async with emulated(mode, server) as client:
        result = await client.generate("slow #pending", on_progress=seen.append)
    assert "pending" in [p.status for p in seen]
    assert len(result.images) == 1


async def test_compat_mode(mode: str, server: EmulatorServer) -> None:
    options = {"dimilinks": {"compat": "apimart"}}
    async with emulated(mode, server) as client:
        result = await client.generate("compat cat", size="4:3", provider_options=options)
        data = await client.read(result.images[0])
    assert pixel_size(data) == (1536, 1152)
    submit = next(e for e in log(server) if e.get("json", {}).get("prompt") == "compat cat")
    assert submit["query"] == {"compat": "apimart"}


async def test_edit(mode: str, server: EmulatorServer, tmp_path: Path) -> None:
    ref = tmp_path / "photo.png"
    ref.write_bytes(png(30, 30))
    async with emulated(mode, server) as client:
        result = await client.edit("retro it", [ref, png(8, 8)], mask=png(30, 30), size="3:2")
        data = await client.read(result.images[0])
    assert pixel_size(data) == (1536, 1024)
    entry = next(e for e in log(server) if e.get("form", {}).get("prompt") == "retro it")
    assert len(entry["form"]["image[]"]) == 2
    assert entry["form"]["mask"]["filename"]


async def test_apimart_generate(mode: str, server: EmulatorServer, tmp_path: Path) -> None:
    async with emulated(mode, server, "apimart") as client:
        result = await client.generate("an apimart cat", size="16:9")
        [path] = await client.save(result, tmp_path)
    assert pixel_size(path.read_bytes()) == (1536, 864)
    assert result.images[0].expires_at is not None


async def count_one_generation(client: Bridge, server: EmulatorServer) -> list[dict[str, Any]]:
    server.app_state.reset()
    result = await client.generate("count me", size="1:1")
    await client.read(result.images[0])
    return log(server)


async def test_requests_per_async_generation(mode: str, server: EmulatorServer) -> None:
    async with emulated(mode, server) as client:
        entries = await count_one_generation(client, server)
    submits = [e for e in entries if e["path"] == "/dimilinks/v1/images/generations"]
    polls = [e for e in entries if e["path"].startswith("/dimilinks/v1/tasks/img_")]
    downloads = [e for e in entries if e["path"].startswith("/p/img/img_")]
    assert (len(submits), len(downloads)) == (1, 1)
    assert len(entries) == 1 + len(polls) + 1
    assert all(e["method"] == "GET" for e in polls + downloads)
    bound = math.ceil(DURATION / POLICY.interval) + 2
    assert 2 <= len(polls) <= bound, f"{len(polls)} polls for a {DURATION} s task"
    # The signed image link is fetched without the API key.
    assert "authorization" not in downloads[0]["headers"]
    print(f"\n{mode}: {len(entries)} requests = 1 submit + {len(polls)} polls + 1 download")


RESUME = textwrap.dedent(
    """
    import json, sys
    from imagebridge import ImageClient, PollPolicy, TaskHandle

    handle = TaskHandle.from_json(sys.argv[1])
    policy = PollPolicy(interval=0.05, max_interval=0.1)
    with ImageClient("dimilinks", base_url=handle.base_url, poll_policy=policy) as client:
        result = client.wait(handle)
        [path] = result.save(sys.argv[2])
    image = result.images[0]
    print(json.dumps({"task_id": result.task_id, "path": str(path),
                      "size": [image.width, image.height]}))
    """
)


def test_resume_in_a_new_process(server: EmulatorServer, tmp_path: Path) -> None:
    with ImageClient("dimilinks", api_key=API_KEY, base_url=server.url("dimilinks")) as client:
        handle = client.submit("resume me", size="3:2", resolution="2k")
    env = {**os.environ, "DIMILINKS_API_KEY": API_KEY}
    env.pop("DIMILINKS_BASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", RESUME, handle.to_json(), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["task_id"] == handle.task_id
    assert out["size"] == [2016, 1344]
    assert pixel_size(Path(out["path"]).read_bytes()) == (2016, 1344)
    assert API_KEY not in handle.to_json()
