"""The ``bfl`` provider end to end against the emulator's BFL dialect over real loopback HTTP,
with both clients: generate, edit (kontext, fill), submit + wait, save; every failure the
dialect has; a polling URL on a foreign host; faults in each phase; and the CLI."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from imagebridge import (
    AsyncImageClient,
    AuthenticationError,
    ConfigurationError,
    ContentPolicyError,
    ImageBridgeError,
    ImageClient,
    ImageResult,
    InsufficientBalanceError,
    InvalidRequestError,
    PollPolicy,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TaskFailedError,
)
from imagebridge._cli._app import cli
from imagebridge._emulator import EmulatorConfig, EmulatorServer

pytestmark = pytest.mark.anyio

KEY = "bfl-emulated-key-5e4d3c2b1a"
POLICY = PollPolicy(interval=0.05, max_interval=0.1)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.3, api_key=KEY)) as running:
        yield running


@pytest.fixture
def emulator(server: EmulatorServer) -> EmulatorServer:
    httpx.post(f"{server.origin}/_emulator/reset").raise_for_status()
    set_faults(server, [])
    return server


class Client:
    """The same calls through an ImageClient ("sync") or an AsyncImageClient ("async")."""

    def __init__(self, client: ImageClient | AsyncImageClient) -> None:
        self.client = client

    async def call(self, method: str, *args: Any, **fields: Any) -> Any:
        result = getattr(self.client, method)(*args, **fields)
        return result if isinstance(self.client, ImageClient) else await result

    async def save(self, result: ImageResult, path: Path) -> list[Path]:
        if isinstance(self.client, ImageClient):
            return result.save(path)
        return await result.asave(path)


@contextlib.asynccontextmanager
async def bfl(mode: str, server: EmulatorServer, **options: Any) -> AsyncIterator[Client]:
    options = {
        "api_key": KEY,
        "base_url": server.url("bfl"),
        "poll_policy": POLICY,
        "retry": RetryPolicy(max_retries=0),
        "timeout": 20,
        **options,
    }
    if mode == "sync":
        with ImageClient("bfl", **options) as client:
            yield Client(client)
    else:
        async with AsyncImageClient("bfl", **options) as aclient:
            yield Client(aclient)


def set_faults(server: EmulatorServer, specs: list[str]) -> None:
    httpx.post(f"{server.origin}/_emulator/faults", json=specs).raise_for_status()


def stats(server: EmulatorServer) -> Any:
    return httpx.get(f"{server.origin}/_emulator/stats").json()


def log(server: EmulatorServer) -> list[dict[str, Any]]:
    return server.app_state.requests


def decoded(path: Path) -> tuple[str | None, tuple[int, int]]:
    with Image.open(path) as image:
        return image.format, image.size


def png_file(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    Image.new("RGB", size, (10, 200, 30)).save(path, format="PNG")
    return path


async def test_generate_polls_downloads_and_saves(
    mode: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    async with bfl(mode, emulator) as client:
        result = await client.call("generate", "a red fox", size="16:9", seed=9)
        [path] = await client.save(result, tmp_path)
    assert decoded(path) == ("JPEG", (1344, 768))
    assert [w.code for w in result.warnings] == ["size_mapped"]
    image = result.images[0]
    assert image.expires_at is not None
    entries = log(emulator)
    submit = entries[0]
    assert submit["path"] == "/bfl/v1/flux-pro-1.1"
    assert submit["json"] == {"prompt": "a red fox", "width": 1344, "height": 768, "seed": 9}
    assert submit["headers"]["x-key"] == "[redacted]"
    polls = [e for e in entries if e["path"] == "/bfl/v1/get_result"]
    assert polls
    assert all(e["query"] == {"id": result.task_id} for e in polls)
    [download] = [e for e in entries if e["path"].startswith("/bfl/v1/delivery/")]
    assert "x-key" not in download["headers"]


async def test_kontext_generate_and_edit(
    mode: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    source = png_file(tmp_path / "in.png")
    async with bfl(mode, emulator) as client:
        made = await client.call("generate", "a blue bird", model="flux-kontext-pro", size="21:9")
        [made_path] = await client.save(made, tmp_path / "made")
        edited = await client.call(
            "edit", "make it night", [source, made_path], model="flux-kontext-max"
        )
        [edited_path] = await client.save(edited, tmp_path / "edited")
    assert decoded(made_path) == ("PNG", (1568, 672))
    assert decoded(edited_path) == ("PNG", (1024, 1024))
    submit = next(e for e in log(emulator) if e["path"] == "/bfl/v1/flux-kontext-max")
    assert set(submit["json"]) == {"prompt", "input_image", "input_image_2"}


async def test_fill_edit_keeps_the_input_size(
    mode: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    image = png_file(tmp_path / "in.png", (96, 64))
    mask = tmp_path / "mask.png"  # canonical: transparent where the image may change
    Image.new("RGBA", (96, 64), (0, 0, 0, 0)).save(mask, format="PNG")
    async with bfl(mode, emulator) as client:
        result = await client.call(
            "edit", "a hat", [image], mask=mask, model="flux-pro-1.0-fill", output_format="png"
        )
        [path] = await client.save(result, tmp_path / "out")
    assert decoded(path) == ("PNG", (96, 64))


async def test_submit_then_wait(mode: str, emulator: EmulatorServer, tmp_path: Path) -> None:
    async with bfl(mode, emulator) as client:
        handle = await client.call("submit", "a green frog", model="flux-pro-1.1-ultra")
        # The polling URL is on the emulator's own origin: it may get the key, so it is kept.
        assert handle.adapter_state["polling_url"].startswith(emulator.url("bfl"))
        result = await client.call("wait", handle)
        [path] = await client.save(result, tmp_path)
    assert decoded(path) == ("JPEG", (2752, 1536))  # ultra's default 16:9, ~4 MP
    assert result.task_id == handle.task_id


@pytest.mark.parametrize(
    ("marker", "cls", "code"),
    [
        ("#fail=content_moderated", ContentPolicyError, "content_moderated"),
        ("#fail=request_moderated", ContentPolicyError, "request_moderated"),
        ("#fail=gpu_lost", TaskFailedError, "task_error"),
        ("#error=402:insufficient_credits", InsufficientBalanceError, "insufficient_credits"),
        ("#error=429:too_many", RateLimitError, "too_many_active_tasks"),
        ("#error=500:boom", ServerError, "http_500"),
    ],
)
async def test_failures(
    mode: str, emulator: EmulatorServer, marker: str, cls: type[Exception], code: str
) -> None:
    async with bfl(mode, emulator) as client:
        with pytest.raises(cls) as caught:
            await client.call("generate", f"a cat {marker}")
    error: Any = caught.value
    assert error.code == code
    if marker.startswith("#fail="):
        assert error.task_id
    else:
        assert error.task_id is None


async def test_a_wrong_key_is_an_authentication_error(mode: str, emulator: EmulatorServer) -> None:
    async with bfl(mode, emulator, api_key="not-the-right-key-123") as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.call("generate", "a cat")
    assert caught.value.status_code == 403


async def test_bad_input_is_refused_before_sending(mode: str, emulator: EmulatorServer) -> None:
    async with bfl(mode, emulator) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.call("generate", "a cat", size="1000x1000", negative_prompt="dogs")
    problems = {p.field: p for p in caught.value.problems}
    assert set(problems) == {"size", "negative_prompt"}
    assert problems["size"].value == "1000x1000"
    assert "divisible by 32" in problems["size"].reason
    assert log(emulator) == []


async def test_a_foreign_polling_host_gets_no_request(mode: str, emulator: EmulatorServer) -> None:
    # The emulator answers a polling_url on http://localhost:PORT (another origin than the
    # 127.0.0.1 base URL): the adapter polls {base}/get_result instead, and nothing reaches it.
    port = httpx.URL(emulator.origin).port
    async with bfl(mode, emulator) as client:
        result = await client.call("generate", f"a cat #polling-host=localhost:{port}")
    entries = log(emulator)
    assert json.dumps(entries).count("localhost") == 1  # the prompt of the submit only
    assert all(e["headers"]["host"].startswith("127.0.0.1") for e in entries)
    assert result.images


async def test_a_sample_url_moved_to_the_metadata_address_fails(
    mode: str, emulator: EmulatorServer
) -> None:
    set_faults(emulator, ["poll:link-local"])
    async with bfl(mode, emulator) as client:
        with pytest.raises(ServerError) as caught:
            await client.call("generate", "a cat")
    assert caught.value.code == "invalid_result_url"


@pytest.mark.parametrize("phase", ["submit", "poll", "download"])
async def test_faults_apply_in_every_phase(mode: str, emulator: EmulatorServer, phase: str) -> None:
    set_faults(emulator, [f"{phase}:503:1"])
    async with bfl(mode, emulator, retry=RetryPolicy(max_retries=2, backoff=0.01)) as client:
        result = await client.call("generate", "a cat")
        data = result.images[0].read() if mode == "sync" else await result.images[0].aread()
    assert data[:3] == b"\xff\xd8\xff"
    counts = stats(emulator)
    assert counts["faults_applied"] == 1
    assert counts["accepted"]["bfl"] == 1  # one paid task, whatever failed
    counter = {"submit": "submits", "poll": "polls", "download": "downloads"}[phase]
    assert counts[counter]["bfl"] >= 2


def test_a_dropped_submit_answer_is_not_sent_again(emulator: EmulatorServer) -> None:
    set_faults(emulator, ["submit:drop:1"])
    with (
        ImageClient(
            "bfl", api_key=KEY, base_url=emulator.url("bfl"), poll_policy=POLICY, timeout=20
        ) as client,
        pytest.raises(ImageBridgeError),
    ):
        client.generate("a cat")
    assert stats(emulator)["submits"]["bfl"] == 1


def test_there_is_no_cancel(emulator: EmulatorServer) -> None:
    with ImageClient(
        "bfl", api_key=KEY, base_url=emulator.url("bfl"), poll_policy=POLICY, timeout=20
    ) as client:
        adapter = client.adapter
        assert all(not adapter.capabilities(model).cancel for model in adapter.models)
        handle = client.submit("a cat")
        with pytest.raises(ConfigurationError, match="cannot cancel"):
            client.cancel(handle)
    assert stats(emulator)["cancels"]["bfl"] == 0


# -- the CLI ---------------------------------------------------------------------------------
def _run(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env={"BFL_API_KEY": KEY}, catch_exceptions=False)
    assert KEY not in result.stdout
    assert KEY not in result.stderr
    return result


def _one_json(text: str) -> Any:
    return json.loads(text)


def test_cli_generate(emulator: EmulatorServer, tmp_path: Path) -> None:
    result = _run(
        *("generate", "a red cube", "--provider", "bfl", "--base-url", emulator.url("bfl")),
        *("--size", "1024x768", "--seed", "5", "--format", "png"),
        *("--output", str(tmp_path / "out"), "--json"),
    )
    assert result.exit_code == 0, result.stderr
    data = _one_json(result.stdout)
    assert data["provider"] == "bfl"
    assert data["model"] == "flux-pro-1.1"
    assert data["task_id"]
    [image] = data["images"]
    assert decoded(Path(image["path"])) == ("PNG", (1024, 768))


def test_cli_edit(emulator: EmulatorServer, tmp_path: Path) -> None:
    source = png_file(tmp_path / "in.png")
    result = _run(
        *("edit", "make it gold", "--provider", "bfl", "--base-url", emulator.url("bfl")),
        *("--model", "flux-kontext-pro", "--image", str(source)),
        *("--output", str(tmp_path / "out"), "--json"),
    )
    assert result.exit_code == 0, result.stderr
    [image] = _one_json(result.stdout)["images"]
    assert decoded(Path(image["path"]))[0] == "PNG"


def test_cli_refuses_fill_generation_before_sending(emulator: EmulatorServer) -> None:
    result = _run(
        *("generate", "a cube", "--provider", "bfl", "--base-url", emulator.url("bfl")),
        *("--model", "flux-pro-1.0-fill"),
    )
    assert result.exit_code != 0
    assert "only edits" in result.stderr
    assert log(emulator) == []
