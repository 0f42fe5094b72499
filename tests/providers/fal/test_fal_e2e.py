"""The ``fal`` provider end to end over real loopback HTTP against the emulator's fal dialect,
with both clients: generate (queue position and logs as progress), edit, save, failures,
refusals before sending, cancel (clients, CLI, journal), and hostile answers."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from helpers import png
from imagebridge import (
    APIConnectionError,
    AsyncImageClient,
    ContentPolicyError,
    ImageClient,
    ImageTimeoutError,
    InsufficientBalanceError,
    InvalidRequestError,
    PollPolicy,
    Progress,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TaskFailedError,
)
from imagebridge._cli._app import cli
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from imagebridge._journal import open_default_journal

pytestmark = pytest.mark.anyio

KEY = "fal-e2e-secret-0123456789"
POLICY = PollPolicy(interval=0.05, max_interval=0.1)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.4, api_key=KEY)) as running:
        yield running


@pytest.fixture
def emulator(server: EmulatorServer) -> EmulatorServer:
    server.app_state.reset()
    server.app_state.faults.replace([])
    return server


class Client:
    """The same calls through ImageClient ("sync") or AsyncImageClient ("async")."""

    def __init__(self, mode: str, server: EmulatorServer, **options: Any) -> None:
        options.setdefault("poll_policy", POLICY)
        options.setdefault("retry", RetryPolicy(max_retries=0))
        options.setdefault("base_url", server.url("fal"))
        options.setdefault("timeout", 20)
        cls = ImageClient if mode == "sync" else AsyncImageClient
        self.client: Any = cls("fal", api_key=KEY, **options)
        self.mode = mode

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        value = getattr(self.client, method)(*args, **kwargs)
        return value if self.mode == "sync" else await value

    async def save(self, result: Any, folder: Path) -> Any:
        return result.save(folder) if self.mode == "sync" else await result.asave(folder)

    async def close(self) -> None:
        if self.mode == "sync":
            self.client.close()
        else:
            await self.client.aclose()


@pytest.fixture
async def fal(mode: str, emulator: EmulatorServer) -> Any:
    client = Client(mode, emulator)
    yield client
    await client.close()


def _pixels(path: Path) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        image.load()
        return str(image.format), image.size


async def test_generate_reports_the_queue_and_saves(
    fal: Client, emulator: EmulatorServer, tmp_path: Path
) -> None:
    seen: list[Progress] = []
    result = await fal.call(
        "generate", "a harbour", size="16:9", n=2, seed=5, output_format="png",
        on_progress=seen.append,
    )  # fmt: skip
    paths = await fal.save(result, tmp_path)
    assert [_pixels(p) for p in paths] == [("PNG", (1024, 576))] * 2
    assert result.warnings == []
    statuses = [p.status or "" for p in seen]
    assert any(s.startswith("IN_QUEUE (position") for s in statuses)
    assert any(s.startswith("IN_PROGRESS: step") for s in statuses)
    assert seen[-1].stage == "done"
    [submit] = [r for r in emulator.app_state.requests if r["method"] == "POST"]
    assert submit["path"] == "/fal/fal-ai/flux/dev"
    assert submit["json"] == {
        "prompt": "a harbour",
        "image_size": "landscape_16_9",
        "num_images": 2,
        "seed": 5,
        "output_format": "png",
    }
    polls = [r for r in emulator.app_state.requests if r["path"].endswith("/status")]
    assert polls
    assert all(r["query"] == {"logs": "1"} for r in polls)
    assert all(r["path"].startswith("/fal/fal-ai/flux/requests/") for r in polls)
    downloads = [r for r in emulator.app_state.requests if "/files/" in r["path"]]
    assert len(downloads) == 2
    assert all(r["headers"].get("authorization") is None for r in downloads)


async def test_imagen_tier_and_kontext_edit(fal: Client, tmp_path: Path) -> None:
    result = await fal.call(
        "generate", "a fox", model="fal-ai/imagen4/preview", size="3:4", resolution="2k",
        negative_prompt="blur",
    )  # fmt: skip
    [path] = await fal.save(result, tmp_path / "imagen")
    assert _pixels(path) == ("PNG", (1792, 2560))
    edited = await fal.call(
        "edit", "make it blue", [png(16, 16)], model="fal-ai/flux-pro/kontext", size="1:1"
    )
    [path] = await fal.save(edited, tmp_path / "kontext")
    assert _pixels(path) == ("JPEG", (1024, 1024))


@pytest.mark.parametrize(
    ("marker", "error", "code"),
    [
        ("#fail=content_policy_violation", ContentPolicyError, "content_policy_violation"),
        ("#fail=runner_server_error", TaskFailedError, "runner_server_error"),
        ("#error=403:exhausted_balance", InsufficientBalanceError, "exhausted_balance"),
        ("#error=429:rate_limited", RateLimitError, "rate_limited"),
        ("#error=500:internal_error", ServerError, "internal_error"),
        ("#error=422:content_policy_violation", ContentPolicyError, "content_policy_violation"),
    ],
)
async def test_failures_keep_fal_code_and_task_id(
    fal: Client, marker: str, error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as raised:
        await fal.call("generate", f"a cat {marker}")
    assert getattr(raised.value, "code", None) == code
    if marker.startswith("#fail="):
        assert raised.value.task_id  # type: ignore[attr-defined]
    assert KEY not in str(raised.value)


#: Requests refused before sending, and the field each names.
REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"model": "fal-ai/imagen4/preview", "size": "1280x720"}, "size"),
    ({"model": "fal-ai/recraft-v3", "seed": 1}, "seed"),
    ({"model": "fal-ai/recraft-v3", "style": "realistic_image/b_and_w"}, "style"),
    ({"model": "fal-ai/flux/dev", "negative_prompt": "x"}, "negative_prompt"),
    ({"model": "fal-ai/flux/dev", "n": 5}, "n"),
    ({"model": "fal-ai/flux/dev", "size": "1000x1000"}, "size"),
    ({"model": "fal-ai/flux/dev", "quality": "high"}, "quality"),
    ({"model": "fal-ai/flux-pro/kontext"}, "reference_images"),
    (
        {"provider_options": {"fal": {"safety_tolerance": "3"}}},
        "provider_options.fal.safety_tolerance",
    ),
    ({"model": "../../etc"}, "model"),
]


@pytest.mark.parametrize(("fields", "field"), REFUSED)
async def test_refused_before_sending(
    fal: Client, emulator: EmulatorServer, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        await fal.call("generate", "a cat", **fields)
    [problem] = [p for p in refused.value.problems if p.field == field]
    assert problem.reason
    assert emulator.app_state.requests == []


@pytest.mark.parametrize(("fields", "field"), REFUSED)
def test_plan_names_the_same_problems_with_nothing_sent(
    emulator: EmulatorServer, fields: dict[str, Any], field: str
) -> None:
    """``plan()`` (no I/O) refuses what ``generate()`` would: the model rules of the adapter
    (an edit-only model with no input image, a model id that is no path) included."""
    client = ImageClient("fal", api_key=KEY, base_url=emulator.url("fal"), journal=False)
    with client, pytest.raises(InvalidRequestError) as refused:
        client.plan("a cat", **fields)
    assert field in {problem.field for problem in refused.value.problems}
    assert emulator.app_state.requests == []


async def test_cancel_both_clients_and_the_journal(fal: Client, emulator: EmulatorServer) -> None:
    emulator.app_state.faults.replace(["fal/poll:never"])
    handle = await fal.call("submit", "a slow one")
    state = await fal.call("check", handle)
    assert state.phase in ("queued", "running")
    assert await fal.call("cancel", handle) is True
    [put] = [r for r in emulator.app_state.requests if r["method"] == "PUT"]
    assert put["path"] == f"/fal/fal-ai/flux/requests/{handle.task_id}/cancel"
    journal = open_default_journal()
    assert journal is not None
    try:
        [entry] = journal.entries(task_id=handle.task_id)
    finally:
        journal.close()
    assert entry.state == "cancelled"
    emulator.app_state.faults.replace([])
    with pytest.raises(TaskFailedError) as failed:
        await fal.call("wait", handle)
    assert failed.value.code == "client_cancelled"
    assert failed.value.task_id == handle.task_id


async def test_cancel_after_completion_is_false(fal: Client) -> None:
    handle = await fal.call("submit", "a quick one")
    result = await fal.call("wait", handle)
    assert result.images
    assert await fal.call("cancel", handle) is False


async def test_foreign_status_urls_are_not_polled_with_the_key(mode: str) -> None:
    """A submit answer pointing at another host: the URLs are built from the base URL."""
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        # Copied now: the driver takes the credentials off the request after sending it.
        seen.append((request.url.host, request.headers.get("authorization")))
        evil = "https://evil.example/fal-ai/flux/requests/r1"
        if request.method == "POST":
            body = {"request_id": "r1", "status_url": evil + "/status", "response_url": evil}
            return httpx.Response(200, json={**body, "cancel_url": evil + "/cancel"})
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json={"status": "COMPLETED", "logs": None})
        url = "https://v3.fal.media/files/a.png"
        return httpx.Response(200, json={"images": [{"url": url}]})

    options = {"transport": httpx.MockTransport(handler), "poll_policy": POLICY}
    cls = ImageClient if mode == "sync" else AsyncImageClient
    client: Any = cls("fal", api_key=KEY, **options)
    try:
        handle = client.submit("x") if mode == "sync" else await client.submit("x")
        assert "status_url" not in handle.adapter_state
        result = client.wait(handle) if mode == "sync" else await client.wait(handle)
    finally:
        client.close() if mode == "sync" else await client.aclose()
    assert result.images[0].url == "https://v3.fal.media/files/a.png"
    assert len(seen) == 3  # submit, status, result
    assert set(seen) == {("queue.fal.run", f"Key {KEY}")}


async def test_images_the_safety_checker_flagged_are_a_content_filtered_warning(
    mode: str,
) -> None:
    """fal's safety checker blacks out what it flags (``has_nsfw_concepts``): the images
    come back, with a warning that names them, never as a silent success."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"request_id": "r1"})
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json={"status": "COMPLETED"})
        images = [{"url": f"https://v3.fal.media/files/{i}.png"} for i in range(3)]
        return httpx.Response(200, json={"images": images, "has_nsfw_concepts": [False, True, 1]})

    options = {"transport": httpx.MockTransport(handler), "poll_policy": POLICY}
    cls = ImageClient if mode == "sync" else AsyncImageClient
    client: Any = cls("fal", api_key=KEY, journal=False, **options)
    try:
        if mode == "sync":
            result = client.generate("x", n=3)
        else:
            result = await client.generate("x", n=3)
    finally:
        client.close() if mode == "sync" else await client.aclose()
    assert len(result.images) == 3
    [warning] = [w for w in result.warnings if w.code == "content_filtered"]
    assert "image(s) 1:" in warning.message  # only a real true counts, not a 1


async def test_a_link_local_result_url_fails(fal: Client, emulator: EmulatorServer) -> None:
    emulator.app_state.faults.replace(["fal/poll:link-local"])
    with pytest.raises(ServerError) as failed:
        await fal.call("generate", "a cat")
    assert "169.254.169.254" in str(failed.value)
    assert not [r for r in emulator.app_state.requests if "/files/" in r["path"]]


async def test_a_dropped_submit_answer_is_not_sent_again(
    mode: str, emulator: EmulatorServer
) -> None:
    emulator.app_state.faults.replace(["fal/submit:timeout-after-accept:1"])
    client = Client(mode, emulator, retry=RetryPolicy(max_retries=3), timeout=3)
    try:
        with pytest.raises((APIConnectionError, ImageTimeoutError)) as lost:
            await client.call("generate", "a cat")
    finally:
        await client.close()
    assert emulator.app_state.stats()["submits"]["fal"] == 1
    assert KEY not in str(lost.value)


# -- the CLI ------------------------------------------------------------------------------------


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env={"FAL_API_KEY": KEY}, catch_exceptions=False)
    assert KEY not in result.stdout
    assert KEY not in result.stderr
    return result


def test_cli_generate_edit_and_cancel(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    base = emulator.url("fal")
    made = _cli(
        "generate", "a kite", "-p", "fal", "--base-url", base, "--size", "9:16",
        "--seed", "3", "--output", "out", "--json",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    data = json.loads(made.stdout)
    assert _pixels(Path(data["images"][0]["path"])) == ("JPEG", (576, 1024))
    Image.new("RGB", (32, 32), (10, 20, 30)).save(tmp_path / "in.png")
    edited = _cli(
        "edit", "make it red", "--image", str(tmp_path / "in.png"), "-p", "fal",
        "--base-url", base, "--model", "fal-ai/flux-pro/kontext", "--output", "edits", "--json",
    )  # fmt: skip
    assert edited.exit_code == 0, edited.stderr
    [post] = [r for r in emulator.app_state.requests if r["path"] == "/fal/fal-ai/flux-pro/kontext"]
    assert post["json"]["image_url"].startswith("data:image/png;base64,")
    emulator.app_state.faults.replace(["fal/poll:never"])
    queued = _cli("generate", "a slow kite", "-p", "fal", "--base-url", base, "--no-wait", "--json")
    assert queued.exit_code == 0, queued.stderr
    task_id = json.loads(queued.stdout)["task_id"]
    cancelled = _cli("task", task_id, "--cancel", "--json")
    assert cancelled.exit_code == 0, cancelled.stderr
    assert json.loads(cancelled.stdout) == {"task_id": task_id, "cancelled": True}
    journal = open_default_journal()
    assert journal is not None
    try:
        assert journal.entries(task_id=task_id)[-1].state == "cancelled"
    finally:
        journal.close()
