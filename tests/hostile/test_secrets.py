"""Rule 3 of issue 10: a key is never shown, in any encoding.

A loopback server of the test's own echoes the key into every place a server can put it:
an error's code, type, param, message and request-id header, a task's failure body, a
revised prompt, a result URL, a task id, a status message; spelled raw, percent-encoded,
JSON-escaped, as HTML character references, in hexadecimal, as base64 of the key or of
``user:key``, and inside an echoed ``Bearer`` header. Nothing that leaves the library or the
command line may hold any of those spellings, nor a prefix left by a cut: not an error
(str, repr, args, any attribute, the partial result, the chained causes), not a DEBUG log,
not the CLI's stdout or stderr (human or ``--json``), not the journal file. A task id made
out of the key is journaled and shown with the key redacted, and still resumes.

The tripwire counts every spelling in every output it scans; the suite ends with 0.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from helpers import b64png, png
from imagebridge import (
    ConfigurationError,
    ImageBridgeError,
    ImageTimeoutError,
    PollPolicy,
    ProviderError,
    RetryPolicy,
    ServerError,
    TaskFailedError,
    create_registry,
    hookimpl,
)
from imagebridge._apikey import credentials_redactor
from imagebridge._redact import REDACTED
from imagebridge.adapter import Adapter, Capabilities, Flow, ImageResult, Plan

from ._loopback import Bridge, Loopback
from ._loopback import open_client as _open_client

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

KEY = "sk-LEAKCHECK-7f3a9c2e51b84d06"
#: Part of every prefix of the key long enough to matter: what a cut would leave behind.
FRAGMENT = "LEAKCHECK"
FAST = PollPolicy(interval=0.05, max_interval=0.1)
NO_RETRY = RetryPolicy(max_retries=0)


def _b64(data: bytes, urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(data).decode("ascii")


#: How a server may spell the key back.
SPELLINGS: dict[str, str] = {
    "raw": KEY,
    "percent": "".join(f"%{b:02X}" for b in KEY.encode()),
    "percent-lower": "".join(f"%{b:02x}" for b in KEY.encode()),
    "json-escaped": "".join(f"\\u{ord(c):04x}" for c in KEY),
    "html-references": "".join(f"&#{ord(c)};" for c in KEY),
    "hex": KEY.encode().hex(),
    "base64": _b64(KEY.encode()),
    "base64-user-key": _b64(b"user:" + KEY.encode()),
    "base64-colon-key": _b64(b":" + KEY.encode()),
    "base64-urlsafe": _b64(b"ab:" + KEY.encode(), urlsafe=True),
    "bearer": f"Bearer {KEY}",
}


class Tripwire:
    """Counts the key's spellings (and its fragment) in every output scanned."""

    def __init__(self) -> None:
        self.outputs = 0
        self.occurrences = 0
        self.needles = sorted({*SPELLINGS.values(), FRAGMENT, FRAGMENT.lower()})

    def check(self, *texts: str | bytes, where: str) -> None:
        for text in texts:
            blob = text.decode("latin-1") if isinstance(text, bytes) else text
            self.outputs += 1
            found = [n for n in self.needles if n in blob]
            self.occurrences += sum(blob.count(n) for n in found)
            assert not found, f"the key leaked into {where}: {found} in {blob[:400]!r}"


TRIPWIRE = Tripwire()


@pytest.fixture(scope="module", autouse=True)
def _tally() -> Iterator[None]:
    yield
    sys.stderr.write(
        f"\nsecrets tripwire: {TRIPWIRE.occurrences} key occurrence(s)"
        f" in {TRIPWIRE.outputs} outputs scanned\n"
    )


def shown(value: Any, seen: set[int] | None = None, depth: int = 0) -> Iterator[str]:
    """Every text ``value`` shows: str and repr of it, of its public attributes and items,
    of an exception's args, traceback and chained exceptions."""
    seen = set() if seen is None else seen
    if value is None or id(value) in seen or depth > 8:
        return
    seen.add(id(value))
    if isinstance(value, str):
        yield value
        return
    if isinstance(value, bytes):
        yield value.decode("latin-1")
        return
    if isinstance(value, int | float | bool):
        return
    if isinstance(value, BaseException):
        yield str(value)
        yield repr(value)
        yield repr(value.args)
        yield "".join(traceback.format_exception(value))
        children: list[Any] = [*value.args, *vars(value).values()]
        children += [value.__cause__, value.__context__]
    elif isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set):
        children = list(value)
    else:
        yield repr(value)
        if hasattr(value, "model_dump_json"):
            yield value.model_dump_json()
        names = list(getattr(value, "__dict__", {})) + list(getattr(value, "__slots__", ()))
        children = [getattr(value, n, None) for n in names if not n.startswith("_")]
    for child in children:
        if not callable(child) or isinstance(child, BaseException):
            yield from shown(child, seen, depth + 1)


def check_error(error: BaseException, where: str = "the error") -> None:
    TRIPWIRE.check(*shown(error), where=where)


def check_logs(caplog: pytest.LogCaptureFixture) -> None:
    texts = [caplog.text]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args)]
    TRIPWIRE.check(*texts, where="the DEBUG logs")


def check_journal(path: Path) -> None:
    for file in path.parent.glob(path.name + "*"):  # the WAL files too
        TRIPWIRE.check(file.read_bytes(), where=str(file))


# -- the hostile server -----------------------------------------------------------------------
#: A task of the "task-key" scenario answers "succeeded" once this is set.
READY = threading.Event()


def _echo(spelled: str) -> Response:
    body = {
        "error": {
            "message": f"Incorrect API key provided: {spelled}. Find your key at ...",
            "type": spelled,
            "param": spelled,
            "code": spelled,
        },
        "echo": {"authorization": f"Bearer {spelled}", spelled: [spelled]},
    }
    return JSONResponse(body, status_code=400, headers={"x-request-id": spelled})


def _task_key(request: Request, task: str) -> Response:
    if request.method == "POST":
        return JSONResponse({"task_id": task, "status": "queued", "data": []})
    if not request.url.path.endswith(f"/tasks/{task}"):
        return JSONResponse({"error": {"message": "no such task"}}, status_code=404)
    if not READY.is_set():
        return JSONResponse({"id": task, "status": "in_progress", "progress": 10})
    image = {"b64_json": b64png(), "revised_prompt": f"a cube, made with {KEY}"}
    return JSONResponse({"id": task, "status": "succeeded", "result": {"data": [image]}})


def _answer(request: Request, scenario: str, origin: str) -> Response:
    kind, _, arg = scenario.partition(".")
    if kind == "echo":
        return _echo(SPELLINGS[arg])
    if kind == "text":
        text = "upstream failed: " + " ".join(SPELLINGS.values())
        return Response(text + f" (request id: {KEY})", status_code=502, media_type="text/plain")
    if kind == "straddle" and arg == "text":
        # Collapsed and cut at 500 characters, 20 of them the key's.
        return Response("x " * 240 + KEY + " end", status_code=500, media_type="text/plain")
    if kind == "straddle" and arg == "html":
        title = "y " * 90 + KEY  # the summary is cut at 200 characters
        page = f"<html><head><title>{title}</title></head><body>bad</body></html>"
        return Response(page, status_code=502, media_type="text/html")
    if kind == "straddle" and arg == "unexpected":
        return JSONResponse({"data": [{"nope": 1}], "message": "z " * 90 + KEY})
    if kind == "straddle" and arg == "url":
        # A refused result URL is shown cut at 120 characters, 17 of them the key's.
        url = "http://169.254.169.254/" + "a" * 80 + KEY + ".png"
        return JSONResponse({"created": 1, "data": [{"url": url}]})
    if kind == "straddle" and arg == "taskid":
        return JSONResponse({"task_id": "t" * 60 + "/" + KEY, "status": "queued"})
    if kind == "task-fail":
        if request.method == "POST":
            return JSONResponse({"task_id": "t-fail", "status": "queued", "data": []})
        body = {
            "id": "t-fail",
            "status": "failed",
            "error": {"code": f"quota_{KEY}", "message": f"key {SPELLINGS['percent']} refused"},
            "fail_reason": SPELLINGS["base64-user-key"],
            "echo": SPELLINGS["bearer"],
        }
        return JSONResponse(body)
    if kind == "task-key":
        return _task_key(request, f"task-{KEY}")
    if kind == "revised":
        image = {"url": f"{origin}/files/{KEY}.png", "revised_prompt": f"a cube for {KEY}"}
        return JSONResponse({"created": 1, "data": [image]})
    if kind == "download-echo":
        return JSONResponse({"created": 1, "data": [{"url": f"{origin}/files/echo.{arg}"}]})
    if kind == "ok":
        return JSONResponse({"created": 1, "data": [{"b64_json": b64png()}]})
    return JSONResponse({"error": {"message": f"no scenario {scenario}"}}, status_code=404)


def _hostile() -> Loopback:
    server: Loopback

    async def answer(request: Request) -> Response:
        path = request.url.path
        if path.startswith("/files/echo."):
            return _echo(SPELLINGS[path.rpartition(".")[2]])
        if path.startswith("/files/"):
            return Response(png(2, 2), media_type="image/png")
        scenario = path.strip("/").partition("/")[0]
        if scenario == "forge":
            derived = request.headers.get("x-forge-key", "")
            if derived != forge_token(KEY):
                return JSONResponse({"error": {"message": "no forge key"}}, status_code=401)
            body = {"error": {"message": f"key {derived} may not do that", "code": derived}}
            return JSONResponse(body, status_code=403, headers={"x-request-id": derived})
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse({"error": {"message": "wrong key"}}, status_code=401)
        return _answer(request, scenario, server.origin)

    server = Loopback(answer)
    return server


@pytest.fixture(scope="module")
def hostile() -> Iterator[Loopback]:
    with _hostile() as server:
        yield server


def open_client(
    mode: str, provider: str, base_url: str, **options: Any
) -> contextlib.AbstractAsyncContextManager[Bridge]:
    """A client of ``mode`` with this file's key (unless ``api_key`` is given)."""
    options.setdefault("api_key", KEY)
    return _open_client(mode, provider, base_url, **options)


def api(server: Loopback, scenario: str) -> str:
    return server.url(f"/{scenario}/v1")


@pytest.fixture
def journal(_private_journal: Path) -> Path:
    """This test's journal file (tests/conftest.py points IMAGEBRIDGE_JOURNAL at it)."""
    return _private_journal


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="imagebridge")
    return caplog


# -- the library ------------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
async def test_a_key_echoed_into_every_field_of_an_error_is_in_none_of_it(
    mode: str, hostile: Loopback, spelling: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    async with open_client(mode, "openai", api(hostile, f"echo.{spelling}")) as client:
        with pytest.raises(ProviderError) as info:
            await client.generate("a cube")
    error = info.value
    assert error.status_code == 400
    assert error.message.startswith("Incorrect API key provided: ")
    for value in (error.code, error.error_type, error.param, error.request_id):
        assert value is not None
        assert REDACTED in value
    assert REDACTED in json.dumps(error.body)
    check_error(error)
    check_logs(debug_logs)


async def test_a_key_echoed_in_a_text_body_in_every_spelling_is_in_none_of_the_error(
    mode: str, hostile: Loopback, debug_logs: pytest.LogCaptureFixture
) -> None:
    async with open_client(mode, "openai", api(hostile, "text"), retry=NO_RETRY) as client:
        with pytest.raises(ServerError) as info:
            await client.generate("a cube")
    error = info.value
    assert error.message.startswith("upstream failed: [REDACTED] [REDACTED]")
    check_error(error)
    check_logs(debug_logs)


@pytest.mark.parametrize("where", ["text", "html"])
async def test_a_key_straddling_a_cut_of_an_error_body_leaves_no_prefix(
    mode: str, hostile: Loopback, where: str
) -> None:
    base = api(hostile, f"straddle.{where}")
    async with open_client(mode, "openai", base, retry=NO_RETRY) as c:
        with pytest.raises(ServerError) as info:
            await c.generate("a cube")
    assert info.value.message.endswith("...")
    check_error(info.value)


async def test_a_key_straddling_the_cut_of_an_unexpected_reply_leaves_no_prefix(
    mode: str, hostile: Loopback
) -> None:
    async with open_client(mode, "openai", api(hostile, "straddle.unexpected")) as client:
        with pytest.raises(ServerError) as info:
            await client.generate("a cube")
    assert info.value.code == "unexpected_response"
    check_error(info.value)


async def test_a_key_straddling_the_cut_of_a_refused_result_url_leaves_no_prefix(
    mode: str, hostile: Loopback
) -> None:
    async with open_client(mode, "openai", api(hostile, "straddle.url")) as client:
        with pytest.raises(ServerError) as info:
            await client.generate("a cube")
    assert info.value.code == "invalid_result_url"
    check_error(info.value)


async def test_a_key_straddling_the_cut_of_a_refused_task_id_leaves_no_prefix(
    mode: str, hostile: Loopback
) -> None:
    async with open_client(mode, "dimilinks", api(hostile, "straddle.taskid")) as client:
        with pytest.raises(ServerError) as info:
            await client.submit("a cube")
    assert "cannot be polled" in info.value.message
    check_error(info.value)


@pytest.mark.parametrize("spelling", ["raw", "base64-user-key"])
async def test_a_download_error_echoing_the_key_is_in_none_of_it(
    mode: str, hostile: Loopback, tmp_path: Path, spelling: str
) -> None:
    base = api(hostile, f"download-echo.{spelling}")
    async with open_client(mode, "openai", base, retry=NO_RETRY) as client:
        result = await client.generate("a cube")
        with pytest.raises(ProviderError) as info:
            await client.save(result, tmp_path)
    assert info.value.message.startswith("downloading the image failed")
    check_error(info.value)


async def test_a_task_failure_body_echoing_the_key_is_scrubbed_and_journaled_clean(
    mode: str, hostile: Loopback, tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "journal.sqlite3"
    base = api(hostile, "task-fail")
    async with open_client(
        mode, "dimilinks", base, journal=str(journal), poll_policy=FAST
    ) as client:
        with pytest.raises(TaskFailedError) as info:
            await client.generate("a cube")
    error = info.value
    assert error.task_id == "t-fail"
    assert error.code == "quota_[REDACTED]"
    assert error.task is not None
    assert error.task.task_id == "t-fail"
    check_error(error)
    check_logs(debug_logs)
    check_journal(journal)
    assert journal.exists()


async def test_a_task_id_made_of_the_key_is_journaled_redacted_and_still_resumes(
    mode: str, hostile: Loopback, tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    """The id is needed to resume, and the journal must not hold the key: it is journaled
    with the key redacted, and the client (which has the key) puts it back to poll."""
    READY.clear()
    journal = tmp_path / "journal.sqlite3"
    base = api(hostile, "task-key")
    options: dict[str, Any] = {"journal": str(journal), "poll_policy": FAST}
    async with open_client(mode, "dimilinks", base, timeout=0.6, **options) as client:
        with pytest.raises(ImageTimeoutError) as info:
            await client.generate("a cube")
    error = info.value
    assert error.task_id == f"task-{REDACTED}"
    assert error.task is not None
    check_error(error)
    check_journal(journal)
    READY.set()
    async with open_client(mode, "dimilinks", base, **options) as client:
        result = await client.wait(error.task)  # the handle the error holds
        paths = await client.save(result, tmp_path / "out")
    assert [p.read_bytes()[:8] for p in paths] == [png()[:8]]
    assert hostile.requests("GET", f"/task-key/v1/tasks/task-{KEY}")
    check_logs(debug_logs)
    check_journal(journal)


async def test_an_adapters_own_credential_header_is_masked_and_scrubbed(
    mode: str, hostile: Loopback, debug_logs: pytest.LogCaptureFixture
) -> None:
    """A plugin that sends a credential derived from the key in a header of its own: the
    derived value is scrubbed wherever it is echoed."""
    registry = create_registry(entry_points=False, plugins=[ForgePlugin()])
    base = hostile.url("/forge/v1")
    async with open_client(mode, "forge", base, registry=registry) as client:
        with pytest.raises(ProviderError) as info:
            await client.generate("a cube")
    error = info.value
    assert error.status_code == 403
    assert error.request_id == REDACTED
    texts = [*shown(error), debug_logs.text]
    assert not [t for t in texts if forge_token(KEY) in t]
    check_error(error)


def forge_token(key: str) -> str:
    return "fk1." + hashlib.sha256(key.encode()).hexdigest()


class ForgeAdapter(Adapter):
    name = "forge"
    default_base_url = "https://api.forge.test/v1"
    default_model = "f1"
    models = ("f1",)

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"X-Forge-Key": forge_token(api_key)}

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(model=model, size_auto=True)

    def generate(self, plan: Plan) -> Flow[ImageResult]:
        response = yield httpx.Request("POST", self.url("/generate"), json={"p": 1})
        assert response is not None
        self.json(response)
        raise AssertionError("the forge server always refuses")


class ForgePlugin:
    @hookimpl
    def imagebridge_adapters(self) -> list[type[Adapter]]:
        return [ForgeAdapter]


@pytest.mark.parametrize("ending", ["\n", "\r\n", " \t\n"])
async def test_a_key_with_surrounding_whitespace_is_stripped(
    mode: str, hostile: Loopback, ending: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_client(mode, "openai", api(hostile, "ok"), api_key=KEY + ending) as client:
        assert len(await client.generate("a cube")) == 1
    monkeypatch.setenv("OPENAI_API_KEY", KEY + ending)
    async with open_client(mode, "openai", api(hostile, "ok"), api_key=None) as client:
        assert len(await client.generate("a cube")) == 1


BAD_KEYS = [
    (source, bad)
    for source in ("argument", "environment")
    for bad in ("\n", "\t", " ", "\x00", "\x1b", "\x7f", "\u00e9", "\u2028")
    if not (source == "environment" and bad == "\x00")  # no variable can hold a NUL
]


@pytest.mark.parametrize(("source", "bad"), BAD_KEYS)
async def test_a_key_with_an_inner_control_or_space_is_refused_without_showing_it(
    mode: str, hostile: Loopback, bad: str, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = KEY[:12] + bad + KEY[12:]
    scenario = f"ok-refused-{mode}-{source}-{ord(bad)}"
    options: dict[str, Any] = {"api_key": key}
    if source == "environment":
        monkeypatch.setenv("OPENAI_API_KEY", key)
        options = {"api_key": None}
    with pytest.raises(ConfigurationError) as info:
        async with open_client(mode, "openai", api(hostile, scenario), **options) as client:
            await client.generate("a cube")
    message = str(info.value)
    assert "at position 13 of" in message
    assert "nothing was sent" in message
    assert ("OPENAI_API_KEY" if source == "environment" else "api_key=") in message
    assert not hostile.requests(prefix=f"/{scenario}/")
    check_error(info.value)
    assert KEY[:12] not in message
    assert KEY[13:] not in message


# -- the command line -------------------------------------------------------------------------
def _script() -> str:
    path = Path(sys.executable).parent / "imagebridge"
    assert path.is_file(), f"no console script at {path}"
    return str(path)


def run_cli(*args: str, journal: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``imagebridge ARGS``; its stdout and stderr go through the tripwire."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and k != "IMAGEBRIDGE_PROVIDER"
    }
    environ.update(IMAGEBRIDGE_JOURNAL=str(journal), **env)
    done = subprocess.run(
        [_script(), *args], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    where = f"imagebridge {' '.join(args[:2])}"
    TRIPWIRE.check(done.stdout, where=f"the stdout of {where}")
    TRIPWIRE.check(done.stderr, where=f"the stderr of {where}")
    return done


@pytest.mark.parametrize("spelling", ["raw", "percent", "base64-user-key", "bearer"])
def test_the_cli_shows_no_echoed_key_in_errors(
    hostile: Loopback, tmp_path: Path, journal: Path, spelling: str
) -> None:
    common = ("--provider", "openai", "--base-url", api(hostile, f"echo.{spelling}"))
    common += ("--api-key", KEY, "--output", str(tmp_path))
    human = run_cli("generate", "a cube", *common, "-v", journal=journal)
    assert human.returncode == 3, human.stderr
    assert "Traceback" in human.stderr  # -v shows it, scrubbed
    as_json = run_cli("generate", "a cube", *common, "--json", journal=journal)
    assert as_json.returncode == 3
    error = json.loads(as_json.stdout)["error"]
    assert error["type"] == "BadRequestError"
    assert REDACTED in error["message"]
    check_journal(journal)


@pytest.mark.parametrize("how", ["--api-key", "environment"])
def test_the_cli_strips_a_trailing_newline_and_refuses_an_inner_one(
    hostile: Loopback, tmp_path: Path, journal: Path, how: str
) -> None:
    def generate(key: str, scenario: str) -> subprocess.CompletedProcess[str]:
        args = ["generate", "a cube", "--provider", "openai", "--base-url", api(hostile, scenario)]
        args += ["--output", str(tmp_path / scenario), "--json", "-v"]
        if how == "--api-key":
            return run_cli(*args, "--api-key", key, journal=journal)
        return run_cli(*args, journal=journal, OPENAI_API_KEY=key)

    ok = generate(KEY + "\n", "ok")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["images"][0]["path"]
    scenario = f"ok-cli-refused-{how.strip('-')}"
    refused = generate(KEY[:12] + "\n" + KEY[12:], scenario)
    assert refused.returncode == 2, refused.stderr
    message = json.loads(refused.stdout)["error"]["message"]
    source = "--api-key" if how == "--api-key" else "OPENAI_API_KEY"
    assert message.startswith(f"the API key from {source} is not a valid key")
    assert "nothing was sent" in message
    assert not hostile.requests(prefix=f"/{scenario}/")
    for text in (refused.stdout, refused.stderr):
        assert KEY[:12] not in text
        assert KEY[12:] not in text


def test_the_cli_scrubs_revised_prompts_urls_and_logs(
    hostile: Loopback, tmp_path: Path, journal: Path
) -> None:
    common = ("--provider", "openai", "--base-url", api(hostile, "revised"), "--api-key", KEY)
    as_json = run_cli("generate", "a cube", *common, "-o", str(tmp_path), "--json", "-v",
                      journal=journal)  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    image = json.loads(as_json.stdout)["images"][0]
    assert image["revised_prompt"] == f"a cube for {REDACTED}"
    assert image["url"].endswith(f"/files/{REDACTED}.png")
    assert Path(image["path"]).read_bytes() == png(2, 2)
    human = run_cli("generate", "a cube", *common, "-o", str(tmp_path), journal=journal)
    assert human.returncode == 0, human.stderr
    assert Path(human.stdout.strip()).is_file()
    check_journal(journal)


def test_the_cli_shows_a_task_id_made_of_the_key_redacted_and_resumes_it(
    hostile: Loopback, tmp_path: Path, journal: Path
) -> None:
    READY.clear()
    common = ("--provider", "dimilinks", "--base-url", api(hostile, "task-key"))
    submitted = run_cli("generate", "a cube", *common, "--api-key", KEY, "--no-wait",
                        "--json", journal=journal)  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    task_id = json.loads(submitted.stdout)["task_id"]
    assert task_id == f"task-{REDACTED}"
    unfinished = run_cli("task", task_id, "--api-key", KEY, "-o", str(tmp_path), "-v",
                         journal=journal)  # fmt: skip
    assert unfinished.returncode == 4, unfinished.stderr
    listed = run_cli("tasks", "--json", journal=journal)
    assert [t["task_id"] for t in json.loads(listed.stdout)["tasks"]] == [task_id]
    READY.set()
    fetched = run_cli("task", task_id, "--api-key", KEY, "-o", str(tmp_path), "--json",
                      journal=journal)  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    result = json.loads(fetched.stdout)
    assert result["task_id"] == task_id
    assert result["images"][0]["revised_prompt"] == f"a cube, made with {REDACTED}"
    assert Path(result["images"][0]["path"]).read_bytes()[:8] == png()[:8]
    human = run_cli("tasks", "--all", journal=journal)
    assert task_id in human.stdout
    check_journal(journal)


def test_the_cli_scrubs_a_failed_task_in_generate_and_batch(
    hostile: Loopback, tmp_path: Path, journal: Path
) -> None:
    common = ("--provider", "dimilinks", "--base-url", api(hostile, "task-fail"))
    common += ("--api-key", KEY)
    failed = run_cli("task", "t-fail", *common, "-o", str(tmp_path), "--json", journal=journal)
    assert failed.returncode == 3, failed.stderr
    assert json.loads(failed.stdout)["error"]["code"] == "quota_[REDACTED]"
    requests = tmp_path / "batch.jsonl"
    requests.write_text('{"id": "one", "prompt": "a cube"}\n', encoding="utf-8")
    out = tmp_path / "batch"
    batch = run_cli("batch", str(requests), *common, "-o", str(out), "--json", "-v",
                    journal=journal)  # fmt: skip
    assert batch.returncode == 3, batch.stderr
    report = (out / "batch-report.jsonl").read_text(encoding="utf-8")
    assert json.loads(report)["status"] == "failed"
    TRIPWIRE.check(report, where="the batch report")
    check_journal(journal)


def test_an_error_scrubs_its_cause_chain_and_partial_result() -> None:
    """ImageBridgeError.scrub reaches what wraps or hangs off an error, whatever its name."""
    cause = ValueError(f"header b'Bearer {KEY}\\n' is illegal")
    error = ServerError(f"failed: {KEY}", provider="p", code=KEY, body={KEY: [KEY]})
    error.__cause__ = cause
    error.extra = {"nested": (KEY, SPELLINGS["percent"])}  # type: ignore[attr-defined]
    error.partial = ImageResult(images=[], provider="p", task_ids=[f"t-{KEY}"], raw=[{"k": KEY}])
    error.scrub(credentials_redactor(KEY, {}))
    check_error(error)
    assert error.partial.task_ids == [f"t-{REDACTED}"]
    assert isinstance(error, ImageBridgeError)
