"""Fault specs: the grammar, the config, the runtime endpoint, the counters, `serve --fault`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from imagebridge._cli._app import cli
from imagebridge._emulator import (
    DIALECTS,
    EmulatorConfig,
    EmulatorServer,
    FaultSet,
    _faults,
    parse_fault,
)

from .conftest import AUTH


@pytest.mark.parametrize(
    ("text", "fields", "canonical"),
    [
        ("submit:429", ("submit", "429", None, None, None), "submit:429"),
        ("submit:429:1", ("submit", "429", 1, None, None), "submit:429:1"),
        ("submit:429:1:5", ("submit", "429", 1, "5", None), "submit:429:1:5"),
        ("poll:html502:2", ("poll", "html502", 2, None, None), "poll:html502:2"),
        (
            "poll:fail::content_moderation",
            ("poll", "fail", None, "content_moderation", None),
            "poll:fail:*:content_moderation",
        ),
        ("poll:fail:*:x", ("poll", "fail", None, "x", None), "poll:fail:*:x"),
        ("dimilinks/poll:never", ("poll", "never", None, None, "dimilinks"), None),
        (" Download:Expired:3 ", ("download", "expired", 3, None, None), "download:expired:3"),
        ("submit:slow:*:0.25", ("submit", "slow", None, "0.25", None), None),
        ("submit:timeout-after-accept:1:30", ("submit", "timeout-after-accept", 1, "30", None), ""),
        ("download:drop-before", ("download", "drop-before", None, None, None), None),
        ("apimart/submit:503:1:busy", ("submit", "503", 1, "busy", "apimart"), None),
    ],
)
def test_grammar(text: str, fields: tuple[object, ...], canonical: str | None) -> None:
    fault = parse_fault(text)
    assert (fault.phase, fault.kind, fault.count, fault.arg, fault.dialect) == fields
    assert fault.spec == (canonical or text.strip())
    assert parse_fault(fault.spec) == fault


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "expected [DIALECT/]PHASE:KIND"),
        ("submit", "expected [DIALECT/]PHASE:KIND"),
        ("upload:429", "unknown phase 'upload'"),
        ("submit:418", "unknown kind '418'"),
        ("midjourney/submit:429", "unknown dialect 'midjourney'"),
        ("submit:never", "never only applies to poll"),
        ("poll:timeout-after-accept", "only applies to submit"),
        ("submit:expired", "expired only applies to download"),
        ("submit:429:0", "COUNT must be at least 1"),
        ("submit:429:two", "COUNT must be a whole number"),
        ("submit:429:1:soon", "ARG must be a number of seconds"),
        ("submit:slow:1:-1", "ARG must be a number of seconds >= 0"),
        ("submit:slow:1:nan", "ARG must be a number of seconds >= 0"),
        ("poll:never:1:x", "never takes no ARG"),
        ("poll:fail:1:bad code", "ARG must be an error code"),
    ],
)
def test_bad_specs(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match="fault") as info:
        parse_fault(text)
    assert reason in str(info.value)


def test_defaults_of_arg() -> None:
    assert parse_fault("submit:429").seconds == 1.0
    assert parse_fault("submit:slow").seconds == 1.0
    assert parse_fault("submit:timeout-after-accept").seconds == 0.0
    assert parse_fault("poll:fail").code == "upstream_error"
    assert parse_fault("submit:503").code == "service_unavailable"
    assert parse_fault("submit:500:1:billing_error").code == "billing_error"


def test_the_grammar_knows_every_dialect() -> None:
    assert _faults._DIALECTS == DIALECTS


def test_take_walks_modifiers_and_stops_at_the_first_answer() -> None:
    faults = FaultSet(["poll:slow:1:0", "poll:never:2", "poll:500:1", "poll:503:1", "submit:429"])
    taken = faults.take("poll", "dimilinks")
    assert [f.kind for f in taken] == ["slow", "never", "500"]
    assert [f.kind for f in faults.take("poll", "dimilinks")] == ["never", "503"]
    assert faults.take("poll", "apimart") == []
    remaining = {f["spec"]: f["remaining"] for f in faults.describe()}
    assert remaining == {
        "poll:slow:1:0": 0,
        "poll:never:2": 0,
        "poll:500:1": 0,
        "poll:503:1": 0,
        "submit:429": None,
    }
    assert faults.applied == 5
    header = _faults.parse_faults("poll:502")
    assert [f.kind for f in faults.take("poll", "x", header)] == ["502"]


def test_dialect_qualified_faults_match_their_dialect_only() -> None:
    faults = FaultSet(["apimart/submit:500"])
    assert faults.take("submit", "dimilinks") == []
    assert [f.kind for f in faults.take("submit", "apimart")] == ["500"]


def test_config_checks_its_faults() -> None:
    assert EmulatorConfig(faults=["submit:429:1"]).faults == ["submit:429:1"]
    with pytest.raises(ValueError, match="unknown kind 'boom'"):
        EmulatorConfig(faults=["submit:boom"])
    with pytest.raises(ValueError, match="a list of fault specs"):
        EmulatorConfig(faults="submit:429")


def test_faults_endpoint_replaces_and_lists() -> None:
    config = EmulatorConfig(task_duration=0, faults=["submit:503:1"])
    with EmulatorServer(config) as server, httpx.Client() as http:
        endpoint = f"{server.origin}/_emulator/faults"
        [listed] = http.get(endpoint).json()
        assert listed == {
            "spec": "submit:503:1",
            "dialect": None,
            "phase": "submit",
            "kind": "503",
            "count": 1,
            "arg": None,
            "remaining": 1,
            "applied": 0,
        }
        answer = http.post(endpoint, json=["poll:never", "openai/download:expired:2"])
        assert [f["spec"] for f in answer.json()] == ["poll:never", "openai/download:expired:2"]
        bad = http.post(endpoint, json=["poll:never", "nope"])
        assert bad.status_code == 400
        assert "fault 'nope'" in bad.json()["error"]["message"]
        bodies: list[object] = [{"faults": []}, "poll:never", [1]]
        for body in bodies:
            assert http.post(endpoint, json=body).status_code == 400
        assert http.post(endpoint, content=b"{").status_code == 400
        assert len(http.get(endpoint).json()) == 2  # unchanged by the bad requests
        assert http.post(endpoint, json=[]).json() == []
        assert server.app_state.faults.describe() == []


def test_stats_count_per_dialect_and_reset() -> None:
    with EmulatorServer(EmulatorConfig(task_duration=0)) as server, httpx.Client() as http:
        http.headers.update(AUTH)
        stats_url = f"{server.origin}/_emulator/stats"
        assert http.get(stats_url).json()["submits"] == dict.fromkeys(DIALECTS, 0)
        task_id = http.post(
            server.url("apimart") + "/images/generations", json={"prompt": "x"}
        ).json()["data"][0]["task_id"]
        task = http.get(server.url("apimart") + f"/tasks/{task_id}").json()
        http.get(task["data"]["result"]["images"][0]["url"][0])
        http.post(server.url("apimart") + "/images/generations", json={})  # a 400: not accepted
        http.post(
            server.url("openai") + "/images/generations",
            json={"prompt": "x", "size": "256x256"},
            headers={"X-Emulator-Fault": "submit:503"},
        )
        http.get(f"{server.origin}/_emulator/requests")  # not counted
        stats = http.get(stats_url).json()
        none = dict.fromkeys(DIALECTS, 0)
        assert stats["submits"] == {**none, "openai": 1, "apimart": 2}
        assert stats["accepted"] == {**none, "apimart": 1}
        assert stats["polls"]["apimart"] == 1
        assert stats["downloads"]["apimart"] == 1
        assert stats["tasks"]["apimart"] == 1
        assert stats["faults_applied"] == 1
        assert server.app_state.stats() == stats
        http.post(f"{server.origin}/_emulator/reset")
        after = http.get(stats_url).json()
        assert after["submits"] == dict.fromkeys(DIALECTS, 0)
        assert after["faults_applied"] == 0
        assert after["tasks"]["apimart"] == 1  # tasks are kept: they can still be fetched


# -- imagebridge serve --fault ----------------------------------------------------------------
def test_serve_rejects_a_bad_fault() -> None:
    result = CliRunner().invoke(cli, ["serve", "--fault", "submit:teapot"])
    assert result.exit_code == 2
    assert "Invalid value for '--fault'" in result.stderr
    assert "unknown kind 'teapot'" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    script = Path(sys.executable).parent / "imagebridge"
    found = str(script) if script.is_file() else shutil.which("imagebridge")
    if found is None:
        pytest.skip("the imagebridge console script is not installed")
    port = _free_port()
    args = [found, "serve", "--port", str(port), "--task-duration", "0"]
    args += ["--fault", "submit:503:1", "--fault", "dimilinks/poll:html502:1"]
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, "the emulator exited"
            try:
                httpx.get(f"{origin}/_emulator/stats", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.05)
        yield origin, process
    finally:
        process.terminate()
        process.communicate(timeout=20)


def test_serve_with_faults(served: tuple[str, subprocess.Popen[str]]) -> None:
    origin, process = served
    with httpx.Client(headers=AUTH, timeout=10) as http:
        faults = http.get(f"{origin}/_emulator/faults").json()
        assert [f["spec"] for f in faults] == ["submit:503:1", "dimilinks/poll:html502:1"]
        submit = f"{origin}/dimilinks/v1/images/generations?async=true"
        refused = http.post(submit, json={"prompt": "x"})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "service_unavailable"
        task_id = http.post(submit, json={"prompt": "x"}).json()["task_id"]
        poll = f"{origin}/dimilinks/v1/tasks/{task_id}"
        assert http.get(poll).status_code == 502
        assert http.get(poll).json()["status"] == "succeeded"
        stats = http.get(f"{origin}/_emulator/stats").json()
        assert (stats["submits"]["dimilinks"], stats["accepted"]["dimilinks"]) == (2, 1)
    process.terminate()
    _, stderr = process.communicate(timeout=20)
    assert "imagebridge emulator: fault submit:503:1" in stderr
    assert "imagebridge emulator: fault dimilinks/poll:html502:1" in stderr
    assert "Traceback" not in stderr
