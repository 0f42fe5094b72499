"""Replicate end to end over loopback HTTP against the emulator, through both clients:
generate (answered finished under ``Prefer: wait``, or polled), edit, save, failures, input
refused before sending, and cancel (journaled as ``cancelled``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from helpers import png
from imagebridge import (
    AuthenticationError,
    ConfigurationError,
    ContentPolicyError,
    ImageClient,
    ImageTimeoutError,
    InsufficientBalanceError,
    InvalidRequestError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TaskFailedError,
    TaskJournal,
)
from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .conftest import KEY, log, opened, read, run, save

pytestmark = pytest.mark.anyio
NO_RETRY = RetryPolicy(max_retries=0)


def size_of(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return str(image.format), image.size


def entries_for(server: EmulatorServer, prompt: str) -> list[dict[str, Any]]:
    """The create requests of ``prompt``, then every request naming its predictions."""
    creates = [e for e in log(server) if e.get("json", {}).get("input", {}).get("prompt") == prompt]
    ids = {t.id for t in server.app_state.tasks.values() if t.prompt == prompt}
    others = [e for e in log(server) if e not in creates and any(i in e["path"] for i in ids)]
    return creates + others


async def test_generate_finished_under_prefer_wait_needs_no_poll(
    mode: str, server: EmulatorServer, tmp_path: Path
) -> None:
    prompt = f"a waited cat {mode}"
    async with opened(server, mode) as c:
        result = await run(c.generate(prompt, size="16:9", n=2, output_format="png"))
        paths = await save(result, mode, tmp_path)
    assert len(paths) == 2
    assert size_of(Path(paths[0]).read_bytes()) == ("PNG", (1344, 768))
    traffic = entries_for(server, prompt)
    create = traffic[0]
    assert create["headers"]["prefer"] == "wait=5"
    assert create["path"] == "/replicate/v1/models/black-forest-labs/flux-schnell/predictions"
    assert [e for e in traffic if "/predictions/" in e["path"]] == []  # no poll
    assert result.task_id in server.app_state.tasks
    assert result.warnings == []


@pytest.mark.parametrize(("timeout", "prefer"), [(3.5, "wait=1"), (2.5, None)])
async def test_prefer_wait_never_outlasts_the_deadline(
    mode: str, timeout: float, prefer: str | None
) -> None:
    """A create held past the call's deadline would make a prediction whose id never
    arrives: the wait asked for is cut to what the deadline leaves (minus 2 s for the
    answer), or dropped, so the call ends in a timeout that names its prediction."""
    config = EmulatorConfig(task_duration=8.0, api_key=KEY)
    with EmulatorServer(config) as slow:
        async with opened(slow, mode, timeout=timeout) as c:
            with pytest.raises(ImageTimeoutError) as info:
                await run(c.generate(f"a slow cat {mode}", provider_options={}))  # wait=5
        [create] = [e for e in log(slow) if e["method"] == "POST"]
    assert create["headers"].get("prefer") == prefer
    assert info.value.task_id is not None
    assert info.value.task_id in slow.app_state.tasks


async def test_generate_without_wait_polls(mode: str, server: EmulatorServer) -> None:
    prompt = f"a polled cat {mode}"
    options = {"replicate": {"wait": 0}}
    async with opened(server, mode) as c:
        result = await run(
            c.generate(prompt, model="black-forest-labs/flux-1.1-pro", size="512x768",
                       provider_options=options)
        )  # fmt: skip
        data = await read(result.images[0], mode)
    assert size_of(data) == ("WEBP", (512, 768))
    traffic = entries_for(server, prompt)
    assert "prefer" not in traffic[0]["headers"]
    assert any(e["method"] == "GET" and e["path"].endswith(result.task_id) for e in traffic)


async def test_edit_with_kontext(mode: str, server: EmulatorServer, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(png(40, 30))
    async with opened(server, mode) as c:
        result = await run(
            c.edit(f"make it blue {mode}", [photo], model="black-forest-labs/flux-kontext-pro",
                   size="4:3", output_format="jpeg")
        )  # fmt: skip
        data = await read(result.images[0], mode)
    assert size_of(data) == ("JPEG", (1152, 896))
    task = server.app_state.tasks[result.task_id]
    assert task.extra["references"][0]["kind"] == "data"
    assert task.extra["input"]["output_format"] == "jpg"


@pytest.mark.parametrize(
    ("marker", "cls", "code"),
    [
        ("#fail=E005", ContentPolicyError, "E005"),
        ("#fail=nsfw", ContentPolicyError, "nsfw"),
        ("#fail=cuda_oom", TaskFailedError, "cuda_oom"),
    ],
)
async def test_failed_predictions_keep_their_id_and_code(
    mode: str, server: EmulatorServer, marker: str, cls: type[Exception], code: str
) -> None:
    async with opened(server, mode) as c:
        with pytest.raises(cls) as info:
            await run(c.generate(f"bad {marker}"))
    error: Any = info.value
    assert error.code == code
    assert error.task_id in server.app_state.tasks
    assert error.task is not None


@pytest.mark.parametrize(
    ("marker", "cls", "code"),
    [
        ("#error=402:insufficient_credit", InsufficientBalanceError, "insufficient_credit"),
        ("#error=429:request_was_throttled", RateLimitError, "request_was_throttled"),
        ("#error=500:internal_server_error", ServerError, "internal_server_error"),
    ],
)
async def test_http_errors_are_problem_details(
    mode: str, server: EmulatorServer, marker: str, cls: type[Exception], code: str
) -> None:
    async with opened(server, mode, retry=NO_RETRY) as c:
        with pytest.raises(cls) as info:
            await run(c.generate(f"err {marker}"))
    error: Any = info.value
    assert (error.code, error.task_id) == (code, None)
    assert error.body["title"] == code.replace("_", " ").capitalize()
    if cls is RateLimitError:
        assert error.retry_after == 1.0


async def test_a_wrong_key_is_an_authentication_error(mode: str, server: EmulatorServer) -> None:
    async with opened(server, mode, api_key="r8_wrong_key_0000000000") as c:
        with pytest.raises(AuthenticationError) as info:
            await run(c.generate("who am i"))
    assert info.value.code == "unauthenticated"


KONTEXT = "black-forest-labs/flux-kontext-pro"
PRO = "black-forest-labs/flux-1.1-pro"
OPT = "provider_options.replicate."


def opts(**values: Any) -> dict[str, Any]:
    return {"provider_options": {"replicate": values}}


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"size": "21:9", "model": PRO}, "size", "not a ratio"),
        ({"negative_prompt": "blurry"}, "negative_prompt", "does not take a negative prompt"),
        ({"size": "1000x1000"}, "size", "pixel sizes are not accepted"),
        ({"size": "1000x1000", "model": PRO}, "size", "divisible by 32"),
        ({"output_format": "webp", "model": KONTEXT}, "output_format", "not a value"),
        (opts(cfg=3.0), OPT + "cfg", "has no such input"),
        (opts(num_inference_steps=8), OPT + "num_inference_steps", "takes 1..4"),
        (opts(safety_tolerance=0, prompt_upsampling=True) | {"model": PRO}, OPT, "takes 1..6"),
        (opts(wait=61), OPT + "wait", "60"),
        ({"model": "not a model"}, "model", "not a Replicate model"),
        ({"quality": "high"}, "quality", "quality"),
    ],
)
async def test_bad_input_is_refused_before_sending(
    mode: str, server: EmulatorServer, fields: dict[str, Any], field: str, words: str
) -> None:
    before = len(log(server))
    async with opened(server, mode) as c:
        with pytest.raises(InvalidRequestError) as info:
            await run(c.generate("refused", **fields))
    problem = next(p for p in info.value.problems if p.field.startswith(field))
    assert words in problem.reason or words in str(problem.allowed)
    assert len(log(server)) == before


async def test_cancel_is_journaled(mode: str, server: EmulatorServer, tmp_path: Path) -> None:
    journal = TaskJournal(tmp_path / "journal.sqlite3")
    async with opened(server, mode, journal=journal) as c:
        task = await run(c.submit(f"cancel me {mode}", size="1:1"))
        assert "prefer" not in log(server)[-1]["headers"]  # submit() never waits
        assert await run(c.cancel(task)) is True
        [entry] = journal.entries(task_id=task.task_id)
        assert entry.state == "cancelled"
        with pytest.raises(TaskFailedError) as info:
            await run(c.wait(task))
    assert info.value.code == "canceled"
    assert server.app_state.stats()["cancels"]["replicate"] >= 1
    journal.close()


async def test_cancel_of_a_finished_prediction_is_false(mode: str, server: EmulatorServer) -> None:
    async with opened(server, mode) as c:
        result = await run(c.generate(f"done {mode}"))
        [task] = result.tasks
        assert await run(c.cancel(task)) is False


def test_cancel_is_refused_where_capabilities_lack_it(server: EmulatorServer) -> None:
    with (
        ImageClient("apimart", api_key="sk-x", base_url=server.url("apimart"), journal=False) as c,
        pytest.raises(ConfigurationError),
    ):
        c.cancel("task_123")
