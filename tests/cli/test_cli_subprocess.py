"""The installed ``imagebridge`` console script, run as a real process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from imagebridge._emulator import EmulatorServer

from .conftest import SECRET, Invoke, decoded


def _script() -> str:
    beside = Path(sys.executable).parent / "imagebridge"
    found = str(beside) if beside.is_file() else shutil.which("imagebridge")
    if found is None:
        pytest.skip("the imagebridge console script is not installed")
    return found


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [_script(), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr
    assert "Traceback" not in result.stderr
    return result


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def test_console_script_done_criterion(server: EmulatorServer, tmp_path: Path) -> None:
    result = _run(
        *("generate", "a red cube", "--provider", "geeknow"),
        *("--base-url", f"{server.origin}/v1", "--model", "gpt-image-1"),
        *("--output", "out/", "--json"),
        env=_env(GEEKNOW_API_KEY=SECRET),
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    path = Path(data["images"][0]["path"])
    assert path.parent.resolve() == (tmp_path / "out").resolve()
    assert decoded(path)[0] == "PNG"


def test_console_script_provider_error(server: EmulatorServer) -> None:
    result = _run(
        *("generate", "a cube #error=402:insufficient_balance", "-p", "geeknow"),
        *("--base-url", server.url("geeknow"), "--api-key", SECRET),
        env=_env(),
    )
    assert result.returncode == 3
    assert result.stderr.startswith("imagebridge: error: [geeknow HTTP 402 insufficient_balance]")
    assert result.stdout == ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_runs_the_emulator(run: Invoke) -> None:
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    args = ["serve", "--port", str(port), "--dialect", "geeknow", "--api-key", SECRET]
    process = subprocess.Popen(
        [_script(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, "the emulator exited"
            try:
                httpx.get(f"{origin}/_emulator/requests", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.05)
        # /v1 speaks geeknow, and the key given to serve is required.
        base = f"{origin}/v1"
        wrong = run("generate", "x", "-p", "geeknow", "--base-url", base, "--api-key", "k1")
        assert wrong.exit_code == 3
        assert "invalid_api_key" in wrong.stderr
        result = run("generate", "a cube", "-p", "geeknow", "--base-url", base, "--api-key", SECRET)
        assert result.exit_code == 0, result.stderr
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=20)
    assert SECRET not in stdout  # uvicorn's access log
    assert f"imagebridge emulator on {origin}/v1 (dialect geeknow; also /openai/v1" in stderr
    assert SECRET not in stderr


def test_serve_missing_server_extra(run: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "imagebridge._emulator", None)
    result = run("serve")
    assert result.exit_code == 2
    assert result.stderr == (
        "imagebridge: error: the emulator needs the 'server' extra:"
        " pip install 'imagebridge[server]'\n"
    )
