"""Rules 8 and 9 of issue 10: local files are read only when meant, and bad input is an
InvalidRequestError naming the field, with zero requests.

Every refusal here is checked three ways: the error type, a message that names the field
(and the item, the path, the position or the limit), and not one request at the server.
The emulator stands in for the providers; a loopback server of the tests' own plays the
provider that hands out unusable task ids and records the raw bytes it was sent.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from helpers import b64png, png
from imagebridge import (
    BatchItem,
    ImageInput,
    InvalidRequestError,
    PollPolicy,
    ServerError,
    TaskHandle,
)
from imagebridge._cli._app import cli
from imagebridge._cli._errors import ExitCode
from imagebridge._emulator import EmulatorConfig, EmulatorServer

from ._loopback import KEY, Bridge, Loopback, open_client

pytestmark = pytest.mark.anyio

REF = png(5, 4)
#: Fast polling for a fast server.
FAST = PollPolicy(interval=0.02, max_interval=0.05)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.05, api_key=KEY)) as running:
        yield running


@pytest.fixture
def emu(emulator: EmulatorServer) -> EmulatorServer:
    """The emulator with an empty request log."""
    emulator.app_state.reset()
    return emulator


async def call(bridge: Bridge, method: str, *args: Any, **kwargs: Any) -> Any:
    """``client.<method>(...)`` of either client, awaited when it is the async one."""
    out = getattr(bridge.client, method)(*args, **kwargs)
    return await out if inspect.isawaitable(out) else out


async def refused(
    mode: str, emu: EmulatorServer, provider: str, method: str, *args: Any, **kwargs: Any
) -> InvalidRequestError:
    """The call raises InvalidRequestError and the emulator received nothing at all."""
    async with open_client(mode, provider, emu.url(provider), poll_policy=FAST) as bridge:
        with pytest.raises(InvalidRequestError) as info:
            await call(bridge, method, *args, **kwargs)
    assert emu.app_state.requests == [], "a request was sent"
    text = str(info.value)
    text.encode("utf-8")  # the message itself can always be printed
    assert KEY not in text
    return info.value


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert KEY not in result.stdout + result.stderr
    return result


def conn(emu: EmulatorServer, provider: str) -> list[str]:
    return ["-p", provider, "--base-url", emu.url(provider), "--api-key", KEY]


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


# == rule 8: local files are read only when meant ==============================================
def not_images(folder: Path) -> dict[str, Path]:
    """Local files that are no images, each of a kind a user might be tricked into sending."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n")
    named = folder / "cat.png"  # the name says image, the bytes do not
    named.write_text("root:x:0:0:root:/root:/bin/bash\n")
    link = folder / "dog.png"
    link.symlink_to(key)
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    files = {"key": key, "named": named, "link": link, "empty": empty}
    if Path("/etc/passwd").is_file():
        files["passwd"] = Path("/etc/passwd")
    return files


KINDS = ["key", "named", "link", "empty", "passwd"]
#: (provider, method, where the file goes) for every way a local file is sent.
SLOTS = {
    "reference": ("dimilinks", "generate", "reference_images"),
    "generate-mask": ("apimart", "generate", "mask"),
    "edit-image": ("openai", "edit", "images"),
    "edit-mask": ("openai", "edit", "mask"),
}


def slot_call(
    slot: str, path: Path, good: Path
) -> tuple[str, str, tuple[Any, ...], dict[str, Any]]:
    provider, method, where = SLOTS[slot]
    if where == "reference_images":
        return provider, method, ("a cat",), {"reference_images": [good, path]}
    if where == "images":
        return provider, method, ("add a hat", [good, path]), {}
    if method == "edit":
        return provider, method, ("add a hat", [good]), {"mask": path}
    return provider, method, ("a cat",), {"mask": path}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("slot", list(SLOTS))
async def test_a_local_file_that_is_not_an_image_is_refused_naming_the_field_and_path(
    mode: str, emu: EmulatorServer, tmp_path: Path, slot: str, kind: str
) -> None:
    files = not_images(tmp_path / "files")
    if kind not in files:
        pytest.skip("no /etc/passwd on this system")
    good = tmp_path / "good.png"
    good.write_bytes(REF)
    provider, method, args, kwargs = slot_call(slot, files[kind], good)
    error = await refused(mode, emu, provider, method, *args, **kwargs)
    field = "mask" if slot.endswith("mask") else "reference_images"
    assert error.field == field
    assert f"{str(files[kind])!r} is not an image" in str(error)
    if field == "reference_images":
        assert "item 1" in str(error)  # the second one: the first is a real image


async def test_a_real_image_file_is_sent(mode: str, emu: EmulatorServer, tmp_path: Path) -> None:
    """The control: the same call with an image goes out, the file's bytes inside."""
    good = tmp_path / "good.png"
    good.write_bytes(REF)
    async with open_client(mode, "dimilinks", emu.url("dimilinks"), poll_policy=FAST) as bridge:
        result = await bridge.generate("a cat", reference_images=[good], size="1:1")
    assert len(result.images) == 1
    (submit,) = [r for r in emu.app_state.requests if r["method"] == "POST"]
    assert submit["json"]["image_urls"] == [data_url(REF)]


def test_a_path_input_is_checked_however_it_is_built(tmp_path: Path) -> None:
    secret = not_images(tmp_path)["key"]
    for build in (ImageInput.of, ImageInput.from_path, lambda p: ImageInput("path", p)):
        with pytest.raises(ValueError, match="is not an image"):
            build(secret)


# -- batch files ------------------------------------------------------------------------------
def write_batch(path: Path, *lines: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_batch_item_from_json_checks_its_files_naming_item_line_field_and_path(
    tmp_path: Path,
) -> None:
    secret = not_images(tmp_path / "files")["key"]
    data = {"id": "cat", "prompt": "a cat", "reference_images": ["ok.png", str(secret)]}
    (tmp_path / "ok.png").write_bytes(REF)
    with pytest.raises(InvalidRequestError) as info:
        BatchItem.from_json(data, 3, folder=tmp_path)
    (problem,) = info.value.problems
    assert problem.field == "reference_images[1]"
    assert problem.value == str(secret)
    assert "batch item 'cat' (line 3)" in problem.reason
    assert "is not an image" in problem.reason
    item = BatchItem.from_json({**data, "reference_images": ["ok.png"]}, 3, folder=tmp_path)
    assert item.fields["reference_images"] == [tmp_path / "ok.png"]
    # Without a folder a string is never a file (the library's rule).
    assert BatchItem.from_json(data, 3).fields["reference_images"] == data["reference_images"]


@pytest.mark.parametrize("kind", KINDS)
def test_batch_refuses_an_absolute_path_to_a_non_image_with_zero_requests(
    emu: EmulatorServer, tmp_path: Path, kind: str
) -> None:
    files = not_images(tmp_path / "files")
    if kind not in files:
        pytest.skip("no /etc/passwd on this system")
    target = str(files[kind].absolute())
    requests = write_batch(
        tmp_path / "jobs" / "requests.jsonl",
        {"id": "fine", "prompt": "a cat"},
        {"id": "evil", "prompt": "a dog", "reference_images": [target]},
    )
    result = invoke("batch", str(requests), *conn(emu, "dimilinks"), "-o", str(tmp_path / "out"))
    assert result.exit_code == ExitCode.INVALID, result.stderr
    for part in ("reference_images[0]", "batch item 'evil' (line 2)", repr(target)):
        assert part in result.stderr
    assert "is not an image" in result.stderr
    assert emu.app_state.requests == []


def test_batch_paths_are_relative_to_the_batch_file_not_the_working_directory(
    emu: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, elsewhere = tmp_path / "jobs", tmp_path / "elsewhere"
    requests = write_batch(
        jobs / "requests.jsonl", {"id": "cat", "prompt": "a cat", "reference_images": ["ref.png"]}
    )
    (jobs / "ref.png").write_bytes(REF)
    elsewhere.mkdir()
    (elsewhere / "ref.png").write_text("not the file the batch means")
    monkeypatch.chdir(elsewhere)
    result = invoke("batch", str(requests), *conn(emu, "dimilinks"), "-o", "out", "--json")
    assert result.exit_code == 0, result.stderr
    (submit,) = [r for r in emu.app_state.requests if r["method"] == "POST"]
    assert submit["json"]["image_urls"] == [data_url(REF)]


def test_a_batch_path_missing_beside_the_batch_file_is_not_looked_up_in_the_cwd(
    emu: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = tmp_path / "jobs"
    requests = write_batch(
        jobs / "requests.jsonl", {"id": "cat", "prompt": "a cat", "reference_images": ["ref.png"]}
    )
    (tmp_path / "ref.png").write_bytes(REF)  # an image, but in the working directory
    monkeypatch.chdir(tmp_path)
    result = invoke("batch", str(requests), *conn(emu, "dimilinks"), "-o", "out")
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert "no such file" in result.stderr
    assert repr(str(jobs / "ref.png")) in result.stderr
    assert emu.app_state.requests == []


@pytest.mark.parametrize(("name", "sent"), [("../shared/ref.png", True), ("../id_ed25519", False)])
def test_dot_dot_in_a_batch_path_may_leave_the_folder_but_only_for_an_image(
    emu: EmulatorServer, tmp_path: Path, name: str, sent: bool
) -> None:
    """A batch file is the user's own input: ``..`` and absolute paths are taken as
    written, and what they name must still be an image."""
    not_images(tmp_path)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "ref.png").write_bytes(REF)
    requests = write_batch(
        tmp_path / "jobs" / "requests.jsonl",
        {"id": "cat", "prompt": "a cat", "reference_images": [name]},
    )
    result = invoke("batch", str(requests), *conn(emu, "dimilinks"), "-o", str(tmp_path / "out"))
    if sent:
        assert result.exit_code == 0, result.stderr
        (submit,) = [r for r in emu.app_state.requests if r["method"] == "POST"]
        assert submit["json"]["image_urls"] == [data_url(REF)]
    else:
        assert result.exit_code == ExitCode.INVALID, result.stderr
        assert "is not an image" in result.stderr
        assert emu.app_state.requests == []


def test_a_batch_mask_is_a_file_beside_the_batch_file_and_must_be_an_image(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs"
    not_images(jobs)
    requests = write_batch(
        jobs / "requests.jsonl", {"id": "m", "prompt": "a cat", "mask": "cat.png"}
    )
    result = invoke("batch", str(requests), *conn(emu, "apimart"), "-o", str(tmp_path / "out"))
    assert result.exit_code == ExitCode.INVALID, result.stderr
    for part in ("mask=", "batch item 'm' (line 1)", repr(str(jobs / "cat.png"))):
        assert part in result.stderr
    assert emu.app_state.requests == []


# -- generate and edit on the command line ----------------------------------------------------
@pytest.mark.parametrize(
    ("command", "field"),
    [
        (["generate", "a cat", "--reference", "{bad}"], "reference_images"),
        (["edit", "add a hat", "--image", "{good}", "--image", "{bad}"], "reference_images"),
        (["edit", "add a hat", "--image", "{good}", "--mask", "{bad}"], "mask"),
    ],
)
def test_cli_refuses_a_local_file_that_is_not_an_image_with_zero_requests(
    emu: EmulatorServer, tmp_path: Path, command: list[str], field: str
) -> None:
    bad = not_images(tmp_path / "files")["named"]
    good = tmp_path / "good.png"
    good.write_bytes(REF)
    args = [part.format(bad=bad, good=good) for part in command]
    provider = "dimilinks" if args[0] == "generate" else "openai"
    result = invoke(*args, *conn(emu, provider), "-o", str(tmp_path / "out"))
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert f"{field}=" in result.stderr
    assert f"{str(bad)!r} is not an image" in result.stderr
    assert emu.app_state.requests == []


# == rule 9: bad input is an InvalidRequestError naming the field, with zero requests ==========
# -- lone surrogates --------------------------------------------------------------------------
SURROGATES = [
    ("prompt", {"prompt": "a \ud800 cat"}, "prompt", 2),
    ("prompt-escaped", {"prompt": "caf\udce9 au lait"}, "prompt", 3),
    ("user", {"user": "user-\udcff"}, "user", 5),
    ("style", {"style": "\udfffvivid"}, "style", 0),
    ("model", {"model": "gpt-image-\ud8002"}, "model", 10),
    ("size", {"size": "16:9\ud800"}, "size", 4),
    ("quality", {"quality": "hi\udcffgh"}, "quality", 2),
    (
        "provider-option",
        {"provider_options": {"dimilinks": {"mode": "a\ud800"}}},
        "provider_options.dimilinks.mode",
        1,
    ),
    (
        "provider-option-in-list",
        {"provider_options": {"geeknow": {"tags": ["ok", "x\udc80"]}}},
        "provider_options.geeknow.tags[1]",
        1,
    ),
    (
        "reference-url",
        {"reference_images": ["https://example.com/\ud800.png"]},
        "reference_images",
        20,
    ),
    ("mask-url", {"mask": "https://example.com/m\udc00.png"}, "mask", 21),
]


@pytest.mark.parametrize(
    ("fields", "field", "position"), [c[1:] for c in SURROGATES], ids=[c[0] for c in SURROGATES]
)
async def test_a_lone_surrogate_is_refused_naming_the_field_and_position(
    mode: str, emu: EmulatorServer, fields: dict[str, Any], field: str, position: int
) -> None:
    fields = dict(fields)  # the parameter is shared by the sync and the async run
    prompt = fields.pop("prompt", "a cat")
    error = await refused(mode, emu, "dimilinks", "generate", prompt, **fields)
    assert error.field == field
    assert "lone surrogate" in str(error)
    assert f"at position {position}" in str(error)


def test_cli_refuses_a_prompt_that_is_not_utf8_with_zero_requests(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """A prompt typed in a Latin-1 terminal reaches Python as a lone surrogate (argv is
    decoded with surrogateescape): the console script says where it is, and sends nothing."""
    script = Path(sys.executable).parent / "imagebridge"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["IMAGEBRIDGE_JOURNAL"] = str(tmp_path / "journal.sqlite3")
    done = subprocess.run(
        [str(script), "generate", os.fsdecode(b"caf\xe9 au lait"), *conn(emu, "dimilinks")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == ExitCode.INVALID, done.stderr
    assert "prompt=" in done.stderr
    assert "lone surrogate U+DCE9 at position 3" in done.stderr
    assert "Traceback" not in done.stderr
    assert KEY not in done.stdout + done.stderr
    assert emu.app_state.requests == []


@pytest.mark.parametrize(
    ("line", "field", "where"),
    [
        ('{"id": "a", "prompt": "a \\ud800 cat"}', "prompt", "at position 2"),
        ('{"id": "\\udfff", "prompt": "a cat"}', "id", "at position 0"),
    ],
)
def test_batch_refuses_a_lone_surrogate_with_zero_requests(
    emu: EmulatorServer, tmp_path: Path, line: str, field: str, where: str
) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"id": "fine", "prompt": "a dog"}\n' + line + "\n")
    result = invoke("batch", str(requests), *conn(emu, "dimilinks"), "-o", str(tmp_path / "out"))
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert f"{field}=" in result.stderr
    assert "line 2" in result.stderr
    assert "lone surrogate" in result.stderr
    assert where in result.stderr
    assert emu.app_state.requests == []


# -- prompt length ----------------------------------------------------------------------------
LIMITS = [
    ("dimilinks", None, 32000),
    ("apimart", None, 32000),
    ("openai", "gpt-image-1", 32000),
    ("openai", "gpt-image-2", 32000),
    ("openai", "dall-e-2", 1000),
    ("openai", "dall-e-3", 4000),
    ("geeknow", "gpt-image-1", 32000),
    ("geeknow", "gpt-image-2", 32000),
    ("geeknow", "dall-e-2", 1000),
    ("geeknow", "dall-e-3", 4000),
]


@pytest.mark.parametrize(
    ("provider", "model", "limit"), LIMITS, ids=[f"{p}-{m or 'default'}" for p, m, _ in LIMITS]
)
async def test_a_prompt_over_the_documented_limit_is_refused_with_zero_requests(
    mode: str, emu: EmulatorServer, provider: str, model: str | None, limit: int
) -> None:
    fields = {"model": model} if model else {}
    error = await refused(mode, emu, provider, "generate", "x" * (limit + 1), **fields)
    assert error.field == "prompt"
    assert f"<{limit + 1} characters>" in str(error)
    assert f"longer than the {limit} characters" in str(error)


async def test_a_ten_megabyte_prompt_is_refused_with_zero_requests(
    mode: str, emu: EmulatorServer
) -> None:
    for provider in ("dimilinks", "apimart"):
        error = await refused(mode, emu, provider, "generate", "x" * 10_000_000)
        assert error.field == "prompt"
        assert "<10000000 characters>" in str(error)


@pytest.mark.parametrize("provider", ["dimilinks", "apimart"])
async def test_a_prompt_at_the_limit_is_sent_whole(
    mode: str, emu: EmulatorServer, provider: str
) -> None:
    prompt = "y" * 32000
    async with open_client(mode, provider, emu.url(provider), poll_policy=FAST) as bridge:
        result = await bridge.generate(prompt, size="1:1")
    assert len(result.images) == 1
    (submit,) = [r for r in emu.app_state.requests if r["method"] == "POST"]
    assert submit["json"]["prompt"] == prompt


def test_cli_refuses_a_prompt_over_the_limit_with_zero_requests(emu: EmulatorServer) -> None:
    result = invoke("generate", "z" * 32001, *conn(emu, "dimilinks"))
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert "prompt='<32001 characters>'" in result.stderr
    assert "longer than the 32000 characters" in result.stderr
    assert emu.app_state.requests == []


# -- task ids ---------------------------------------------------------------------------------
BAD_IDS = {
    "empty": "",
    "dot": ".",
    "dot-dot": "..",
    "slash": "img/../../images/generations",
    "query": "img_1?compat=apimart",
    "fragment": "img_1#x",
    "space": "img 1",
    "blank": " ",
    "newline": "img_1\nimg_2",
    "tab": "img\t1",
    "escape": "img_1\x1b[2J",
    "nul": "img\x001",
    "line-separator": "img\u20281",
    "zero-width": "img\u200b1",
    "surrogate": "img\udcff",
}


@pytest.mark.parametrize("method", ["wait", "check"])
@pytest.mark.parametrize("task_id", list(BAD_IDS.values()), ids=list(BAD_IDS))
@pytest.mark.parametrize("provider", ["dimilinks", "apimart"])
async def test_an_unusable_task_id_is_refused_with_zero_requests(
    mode: str, emu: EmulatorServer, provider: str, task_id: str, method: str
) -> None:
    error = await refused(mode, emu, provider, method, task_id)
    assert error.field == "task_id"
    assert f"task_id={task_id!r}" in str(error)


@pytest.mark.parametrize("task_id", ["..", "a/b", "x y"])
async def test_a_handle_with_an_unusable_task_id_is_refused_with_zero_requests(
    mode: str, emu: EmulatorServer, task_id: str
) -> None:
    handle = TaskHandle(provider="dimilinks", base_url=emu.url("dimilinks"), task_id="ok")
    forged = TaskHandle.from_json(handle.to_json().replace('"ok"', json.dumps(task_id)))
    error = await refused(mode, emu, "dimilinks", "wait", forged)
    assert error.field == "task_id"


@pytest.mark.parametrize("task_id", ["..", ".", "", "a/b", "img_1?x=1", "img\n1"])
def test_cli_task_refuses_an_unusable_task_id_with_zero_requests(
    emu: EmulatorServer, tmp_path: Path, task_id: str
) -> None:
    result = invoke("task", task_id, *conn(emu, "dimilinks"), "--wait", "-o", str(tmp_path))
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert f"task_id={task_id!r}" in result.stderr
    assert emu.app_state.requests == []


class TaskServer:
    """A loopback provider that accepts every submit under ``task_id`` (either dialect, by
    path: ``/dimilinks/v1`` or ``/apimart/v1``) and answers every poll with a succeeded task
    of one image; it records each request's method and raw (still encoded) path."""

    def __init__(self) -> None:
        self.task_id: Any = "img_1"
        self.seen: list[tuple[str, bytes]] = []
        self.loopback = Loopback(self.answer)

    def url(self, provider: str) -> str:
        return self.loopback.url(f"/{provider}/v1")

    def reset(self, task_id: Any) -> TaskServer:
        self.task_id, self.seen = task_id, []
        return self

    async def answer(self, request: Request) -> Response:
        self.seen.append((request.method, request.scope["raw_path"]))
        apimart = request.url.path.startswith("/apimart/")
        if request.method == "POST" and apimart:
            entry = {"status": "submitted", "task_id": self.task_id}
            return JSONResponse({"code": 200, "data": [entry]})
        if request.method == "POST":
            return JSONResponse({"created": 1, "task_id": self.task_id, "data": []})
        image = f"data:image/png;base64,{b64png(2, 2)}"
        if apimart:
            result = {"images": [{"url": [image]}]}
            return JSONResponse({"code": 200, "data": {"status": "completed", "result": result}})
        data = {"status": "succeeded", "result": {"created": 1, "data": [{"url": image}]}}
        return JSONResponse(data)


@pytest.fixture(scope="module")
def task_server() -> Iterator[TaskServer]:
    server = TaskServer()
    with server.loopback:
        yield server


@pytest.mark.parametrize("method", ["submit", "generate"])
@pytest.mark.parametrize("task_id", ["..", ".", "a/b", "img_1?x", "img 1", "img\n1", "", 0, None])
@pytest.mark.parametrize("provider", ["dimilinks", "apimart"])
async def test_an_unusable_task_id_from_the_server_is_a_server_error_and_never_polled(
    mode: str, task_server: TaskServer, provider: str, task_id: Any, method: str
) -> None:
    server = task_server.reset(task_id)
    async with open_client(mode, provider, server.url(provider)) as bridge:
        with pytest.raises(ServerError) as info:
            await call(bridge, method, "a cat", size="1:1")
    assert [method for method, _ in server.seen] == ["POST"], "it was polled"
    if task_id in ("", 0, None):
        assert "has no task id" in str(info.value)
    else:
        assert f"the task id {task_id!r}" in str(info.value)
        assert "cannot be polled" in str(info.value)


@pytest.mark.parametrize("provider", ["dimilinks", "apimart"])
async def test_any_other_task_id_is_polled_as_one_percent_encoded_path_segment(
    mode: str, task_server: TaskServer, provider: str
) -> None:
    task_id = "img_\u00fc%41:x;y=1@+,~"
    server = task_server.reset(task_id)
    async with open_client(mode, provider, server.url(provider), poll_policy=FAST) as bridge:
        result = await bridge.generate("a cat", size="1:1")
    assert result.task_id == task_id
    polls = [path for method, path in server.seen if method == "GET"]
    assert polls
    assert set(polls) == {f"/{provider}/v1/tasks/img_%C3%BC%2541%3Ax%3By%3D1%40%2B%2C~".encode()}


# -- the inline-image placeholder cannot be forged --------------------------------------------
FORGERIES = [
    "\x00imagebridge-inline-0\x00",  # the marker of earlier versions, as a prompt holds it
    "\\u0000imagebridge-inline-0\\u0000",  # and as it looked once JSON-encoded
    "imagebridge-inline-1 \x00imagebridge-inline-1\x00 \u0000imagebridge-inline-{}\u0000",
    '"},"image_urls":["x"],"p":{"',  # JSON structure inside a string
]


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_prompt_holding_a_placeholder_is_sent_verbatim(
    mode: str, tmp_path: Path, forgery: str
) -> None:
    """dimilinks streams files into the JSON body as data URLs: the prompt (and the user id)
    go out exactly as given, and each image only where it belongs."""
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    first.write_bytes(png(3, 3))
    second.write_bytes(png(7, 2))
    prompt = f"draw {forgery} twice: {forgery}"
    bodies: list[bytes] = []

    async def answer(request: Request) -> Response:
        bodies.append(await request.body())
        return JSONResponse({"created": 1, "task_id": "img_1", "data": [{"b64_json": b64png()}]})

    with Loopback(answer) as server:
        async with open_client(mode, "dimilinks", server.url("/v1")) as bridge:
            await bridge.generate(prompt, reference_images=[first, second], user=forgery)
    (body,) = bodies
    sent = json.loads(body)
    assert sent["prompt"] == prompt
    assert sent["user"] == forgery
    assert sent["image_urls"] == [data_url(png(3, 3)), data_url(png(7, 2))]
    assert body.count(b"data:image/png;base64,") == 2
