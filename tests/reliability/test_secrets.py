"""The secrets tripwire: a distinctive key, given on the command line or in the environment,
must show up nowhere (output, --json, -v logs, errors, journal, saved files, the emulator's
request log) and must be sent to the API's own origin only."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from imagebridge import AuthenticationError, ImageClient, PollPolicy
from imagebridge._emulator import EmulatorServer
from imagebridge_plugins.dimilinks import DimilinksAdapter

from .support import (
    FIELDS,
    KEY,
    RETRY,
    assert_clean,
    bridge,
    cli_env,
    journal_entries,
    run_cli,
)

pytestmark = pytest.mark.anyio


def test_cli_runs_never_show_the_key(emu: EmulatorServer, tmp_path: Path, journal: Path) -> None:
    base = emu.url("dimilinks")
    out = tmp_path / "out"
    by_flag = cli_env(journal)
    by_env = cli_env(journal, DIMILINKS_API_KEY=KEY)
    common = ("--provider", "dimilinks", "--base-url", base, "--output", str(out))

    emu.app_state.faults.replace(["poll:html502:1"])
    ok = run_cli("generate", "a cube", *common, "--api-key", KEY, "-v", "--json", env=by_flag)
    assert ok.returncode == 0, ok.stderr
    assert "DEBUG imagebridge" in ok.stderr  # -v really logged the exchanges
    assert json.loads(ok.stdout)["images"][0]["path"]

    emu.app_state.faults.replace(["submit:500:1"])
    failed = run_cli("generate", "a cube", *common, "-v", "--json", env=by_env)
    assert failed.returncode == 3
    assert json.loads(failed.stdout)["error"]["type"] == "ServerError"
    assert "Traceback" in failed.stderr  # -v shows it, scrubbed

    emu.app_state.faults.clear()
    submitted = run_cli("generate", "later", *common, "--no-wait", "--json", env=by_env)
    assert submitted.returncode == 0, submitted.stderr
    task_id = json.loads(submitted.stdout)["task_id"]
    listed = run_cli("tasks", "--all", "--json", env=by_env)
    assert task_id in listed.stdout
    fetched = run_cli(
        "task", task_id, "--wait", "--json", "-v", "--api-key", KEY, *common[4:], env=by_flag
    )
    assert fetched.returncode == 0, fetched.stderr

    wrong = run_cli(
        "generate", "a cube", *common, "--api-key", KEY + "-wrong", "--json", env=by_env
    )
    assert wrong.returncode == 3
    assert json.loads(wrong.stdout)["error"]["type"] == "AuthenticationError"

    requests = tmp_path / "batch.jsonl"
    requests.write_text('{"id": "one", "prompt": "a cube"}\n', encoding="utf-8")
    emu.app_state.faults.replace(["submit:503:1"])
    batch = run_cli(
        *("batch", str(requests), "--provider", "dimilinks", "--base-url", base),
        *("--api-key", KEY, "--output", str(out / "batch"), "-v", "--json"),
        env=by_flag,
    )
    assert batch.returncode == 0, batch.stderr
    assert len(journal_entries(journal)) == 3
    assert_clean(journal=journal, server=emu, folders=[out, tmp_path])


async def test_a_wrong_key_error_and_debug_logs_are_clean(
    mode: str, emu: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with bridge(mode, "apimart", emu, api_key=KEY + "-wrong") as client:
        with pytest.raises(AuthenticationError) as info:
            await client.generate()
    assert info.value.status_code == 401
    assert "apimart" in caplog.text  # the exchange was logged
    assert_clean(error=info.value, logs=caplog.text, server=emu)


async def test_the_emulator_saw_the_key_on_api_requests_only(
    mode: str, emu: EmulatorServer, tmp_path: Path
) -> None:
    for provider in ("dimilinks", "geeknow"):
        fields = FIELDS[provider]
        async with bridge(mode, provider, emu) as client:
            result = await client.generate(**fields)
            await client.save(result, tmp_path)
    entries = emu.app_state.requests
    api = [e for e in entries if "/v1/" in e["path"]]
    downloads = [e for e in entries if e["path"].startswith(("/p/img/", "/files/"))]
    assert len(downloads) == 2
    assert api
    assert all(e["headers"].get("authorization") == "[redacted]" for e in api)
    assert all("authorization" not in e["headers"] for e in downloads)
    assert_clean(server=emu, folders=[tmp_path])


API = "https://api.dimilinks.test/v1"
CDN = "https://cdn.elsewhere.test"


@pytest.mark.parametrize("download_auth", [True, False])
def test_credentials_stay_on_the_api_origin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, download_auth: bool
) -> None:
    """Even an adapter whose own links need the key never sends it to another origin, nor
    after a redirect to one; and no request object keeps it after the exchange."""
    monkeypatch.setattr(DimilinksAdapter, "download_auth", download_auth)
    seen: list[tuple[httpx.Request, str | None]] = []
    data = [
        {"url": "/p/img/t1/0?exp=1&sig=a"},  # relative: the API's origin
        {"url": f"{CDN}/t1/1.png"},  # another origin
        {"url": "/p/img/t1/2?exp=1&sig=b"},  # the API's origin, redirected to another
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request, request.headers.get("authorization")))
        url = str(request.url)
        if request.method == "POST":
            return httpx.Response(200, json={"created": 1, "task_id": "t1", "data": []})
        if "/tasks/" in url:
            body = {"id": "t1", "status": "succeeded", "result": {"created": 1, "data": data}}
            return httpx.Response(200, json=body)
        if url.startswith("https://api.dimilinks.test/p/img/t1/2"):
            return httpx.Response(302, headers={"location": f"{CDN}/t1/2.png"})
        return httpx.Response(200, content=b"\x89PNG\r\n\x1a\n" + b"\0" * 64)

    with ImageClient(
        "dimilinks",
        api_key=KEY,
        base_url=API,
        transport=httpx.MockTransport(handler),
        poll_policy=PollPolicy(interval=0),
        retry=RETRY,
        journal=False,
    ) as client:
        result = client.generate("x", n=3)
        result.save(tmp_path)
    sent = {f"{r.method} {r.url.host}{r.url.path}": auth for r, auth in seen}
    bearer = f"Bearer {KEY}"
    assert sent == {
        "POST api.dimilinks.test/v1/images/generations": bearer,
        "GET api.dimilinks.test/v1/tasks/t1": bearer,
        "GET api.dimilinks.test/p/img/t1/0": bearer if download_auth else None,
        "GET cdn.elsewhere.test/t1/1.png": None,
        "GET api.dimilinks.test/p/img/t1/2": bearer if download_auth else None,
        "GET cdn.elsewhere.test/t1/2.png": None,
    }
    assert all("authorization" not in request.headers for request, _ in seen)
