"""Fault injection over real HTTP: every kind, in every dialect's shape, and how they combine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .conftest import AUTH

DURATION = 0.1
FAULT = "X-Emulator-Fault"


@pytest.fixture(scope="module")
def running() -> Iterator[EmulatorServer]:
    """The emulator of this module (``emu`` in conftest.py gives it to each test clean)."""
    with EmulatorServer(EmulatorConfig(task_duration=DURATION)) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(headers=AUTH, timeout=10) as client:
        yield client


SUBMITS = {
    "openai": ("/images/generations", {"prompt": "x", "size": "256x256"}),
    "geeknow": ("/images/generations", {"prompt": "x", "model": "gpt-image-1"}),
    "dimilinks": ("/images/generations?async=true", {"prompt": "x"}),
    "apimart": ("/images/generations", {"prompt": "x"}),
}


def submit(http: httpx.Client, server: EmulatorServer, dialect: str, **kw: Any) -> httpx.Response:
    path, body = SUBMITS[dialect]
    return http.post(server.url(dialect) + path, json=body, **kw)


def task_id_of(response: httpx.Response) -> str:
    body = response.json()
    return str(body.get("task_id") or body["data"][0]["task_id"])


def status_of(body: dict[str, Any]) -> str:
    return str(body.get("status") or body["data"]["status"])


def stats(server: EmulatorServer, dialect: str) -> tuple[int, int]:
    counts = server.app_state.stats()
    return counts["submits"][dialect], counts["accepted"][dialect]


def error_code(answer: httpx.Response) -> Any:
    return answer.json()["error"]["code"]


@pytest.mark.parametrize("dialect", list(SUBMITS))
def test_429_in_each_dialect_shape(http: httpx.Client, emu: EmulatorServer, dialect: str) -> None:
    emu.app_state.faults.replace(["submit:429:1", "submit:429:1:7"])
    first = submit(http, emu, dialect)
    assert first.status_code == 429
    assert first.headers["retry-after"] == "1"
    body = first.json()
    assert error_code(first) == "rate_limit_exceeded"
    if dialect == "apimart":
        assert body["code"] == 429
    if dialect == "geeknow":
        assert "(request id: " in body["error"]["message"]
    assert submit(http, emu, dialect).headers["retry-after"] == "7"
    assert submit(http, emu, dialect).status_code == 200
    assert stats(emu, dialect) == (3, 1)


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("dialect", list(SUBMITS))
def test_5xx(http: httpx.Client, emu: EmulatorServer, dialect: str, status: int) -> None:
    emu.app_state.faults.replace([f"submit:{status}:1", f"submit:{status}:1:billing_error"])
    first = submit(http, emu, dialect)
    assert first.status_code == status
    assert error_code(first) in (
        "internal_error",
        "upstream_error",
        "service_unavailable",
    )
    assert error_code(submit(http, emu, dialect)) == "billing_error"
    assert stats(emu, dialect) == (2, 0)


def test_dimilinks_compat_errors_carry_the_integer_status(
    http: httpx.Client, emu: EmulatorServer
) -> None:
    url = emu.url("dimilinks") + "/images/generations?compat=apimart"
    answer = http.post(url, json={"prompt": "x"}, headers={FAULT: "submit:503"})
    assert answer.json()["error"]["code"] == 503


def test_html502(http: httpx.Client, emu: EmulatorServer) -> None:
    answer = submit(http, emu, "dimilinks", headers={FAULT: "submit:html502"})
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("text/html")
    assert "<title>502 Bad Gateway</title>" in answer.text
    [entry] = emu.app_state.requests
    assert entry["faults"] == ["submit:html502"]
    assert entry["status"] == 502
    assert entry["json"] == {"prompt": "x"}
    assert entry["headers"]["authorization"] == "[redacted]"


def test_slow(http: httpx.Client, emu: EmulatorServer) -> None:
    start = time.monotonic()
    answer = submit(http, emu, "apimart", headers={FAULT: "submit:slow:1:0.3"})
    assert time.monotonic() - start >= 0.3
    assert answer.status_code == 200
    assert stats(emu, "apimart") == (1, 1)


def test_slow_server_still_does_the_job_when_the_client_gives_up(
    http: httpx.Client, emu: EmulatorServer
) -> None:
    before = len(emu.app_state.tasks)
    with pytest.raises(httpx.ReadTimeout):
        submit(http, emu, "apimart", headers={FAULT: "submit:slow:1:0.4"}, timeout=0.1)
    deadline = time.monotonic() + 5
    while len(emu.app_state.tasks) == before:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert stats(emu, "apimart") == (1, 1)


@pytest.mark.parametrize("dialect", list(SUBMITS))
def test_drop_answers_half_then_breaks(
    http: httpx.Client, emu: EmulatorServer, dialect: str
) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        submit(http, emu, dialect, headers={FAULT: "submit:drop"})
    assert stats(emu, dialect) == (1, 1)  # the job was done: paid for
    assert submit(http, emu, dialect).status_code == 200  # a new connection works


@pytest.mark.parametrize("dialect", list(SUBMITS))
def test_drop_before_sends_nothing(http: httpx.Client, emu: EmulatorServer, dialect: str) -> None:
    tasks = len(emu.app_state.tasks)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        submit(http, emu, dialect, headers={FAULT: "submit:drop-before"})
    assert stats(emu, dialect) == (1, 0)
    assert len(emu.app_state.tasks) == tasks
    [entry] = emu.app_state.requests
    assert (entry["status"], entry["faults"]) == (None, ["submit:drop-before"])


@pytest.mark.parametrize("dialect", ["dimilinks", "apimart"])
def test_timeout_after_accept(http: httpx.Client, emu: EmulatorServer, dialect: str) -> None:
    tasks = set(emu.app_state.tasks)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        submit(http, emu, dialect, headers={FAULT: "submit:timeout-after-accept"})
    [created] = set(emu.app_state.tasks) - tasks
    assert emu.app_state.tasks[created].dialect == dialect
    assert stats(emu, dialect) == (1, 1)
    poll = http.get(emu.url(dialect) + f"/tasks/{created}")
    assert poll.status_code == 200  # the task exists; only the client does not know it


def test_timeout_after_accept_holds_until_the_client_gives_up(
    http: httpx.Client, emu: EmulatorServer
) -> None:
    start = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        submit(
            http, emu, "openai", headers={FAULT: "submit:timeout-after-accept:1:30"}, timeout=0.3
        )
    assert time.monotonic() - start < 5
    assert stats(emu, "openai") == (1, 1)


@pytest.mark.parametrize("dialect", ["dimilinks", "apimart"])
def test_never_until_cleared(http: httpx.Client, emu: EmulatorServer, dialect: str) -> None:
    task_id = task_id_of(submit(http, emu, dialect))
    emu.app_state.faults.replace([f"{dialect}/poll:never"])
    poll = emu.url(dialect) + f"/tasks/{task_id}"
    time.sleep(DURATION * 2)
    for _ in range(3):
        body = http.get(poll).json()
        assert status_of(body) in ("in_progress", "processing")
    assert http.post(f"{emu.origin}/_emulator/faults", json=[]).json() == []
    assert status_of(http.get(poll).json()) in ("succeeded", "completed")


def test_never_with_a_count(http: httpx.Client, emu: EmulatorServer) -> None:
    task_id = task_id_of(submit(http, emu, "dimilinks"))
    time.sleep(DURATION * 2)
    emu.app_state.faults.replace(["poll:never:2"])
    poll = emu.url("dimilinks") + f"/tasks/{task_id}"
    assert [http.get(poll).json()["status"] for _ in range(3)] == [
        "in_progress",
        "in_progress",
        "succeeded",
    ]


@pytest.mark.parametrize("dialect", ["dimilinks", "apimart"])
def test_fail_ends_the_task(http: httpx.Client, emu: EmulatorServer, dialect: str) -> None:
    task_id = task_id_of(submit(http, emu, dialect))
    poll = emu.url(dialect) + f"/tasks/{task_id}"
    failed = http.get(poll, headers={FAULT: "poll:fail:1:content_moderation"}).json()
    again = http.get(poll).json()  # once failed, always failed
    for body in (failed, again):
        assert status_of(body) == "failed"
        inner = body.get("data", body)
        assert inner["error"]["code"] == "content_moderation"


def test_expired_download_links(http: httpx.Client, emu: EmulatorServer) -> None:
    task_id = task_id_of(submit(http, emu, "apimart"))
    time.sleep(DURATION * 1.5)
    image = http.get(emu.url("apimart") + f"/tasks/{task_id}").json()
    url = image["data"]["result"]["images"][0]["url"][0]
    expired = http.get(url, headers={FAULT: "download:expired"})
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "url_expired"
    assert http.get(url).status_code == 200
    url_body = {"prompt": "x", "size": "256x256", "model": "dall-e-2"}
    made = http.post(emu.url("openai") + "/images/generations", json=url_body).json()
    blob = http.get(made["data"][0]["url"], headers={FAULT: "openai/download:expired"})
    assert blob.status_code == 403
    assert "<Code>AuthenticationFailed</Code>" in blob.text
    downloads = emu.app_state.stats()["downloads"]
    assert {name: count for name, count in downloads.items() if count} == {
        "openai": 1,
        "apimart": 2,
    }


def test_download_faults_break_the_body(http: httpx.Client, emu: EmulatorServer) -> None:
    made = http.post(
        emu.url("geeknow") + "/images/generations",
        json={"prompt": "x", "model": "gpt-image-1", "response_format": "url"},
    ).json()
    url = made["data"][0]["url"]
    emu.app_state.faults.replace(["geeknow/download:drop:1", "download:503:1"])
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(url)
    assert http.get(url).status_code == 503
    whole = http.get(url)
    assert whole.status_code == 200
    assert whole.content.startswith(b"\x89PNG")


def test_count_and_the_faults_listing(http: httpx.Client, emu: EmulatorServer) -> None:
    emu.app_state.faults.replace(["submit:503:2"])
    assert [submit(http, emu, "dimilinks").status_code for _ in range(3)] == [503, 503, 200]
    [fault] = http.get(f"{emu.origin}/_emulator/faults").json()
    assert (fault["remaining"], fault["applied"]) == (0, 2)


def test_header_faults_apply_to_their_request_first(
    http: httpx.Client, emu: EmulatorServer
) -> None:
    emu.app_state.faults.replace(["submit:500:1"])
    start = time.monotonic()
    answer = submit(http, emu, "dimilinks", headers={FAULT: "poll:never, submit:slow:1:0.2"})
    assert time.monotonic() - start >= 0.2
    assert answer.status_code == 500  # slow (header), then the active 500
    first = submit(http, emu, "dimilinks", headers={FAULT: "submit:502"})
    assert first.status_code == 502
    assert submit(http, emu, "dimilinks").status_code == 200  # the 500 was spent above
    entries = emu.app_state.requests
    assert entries[0]["faults"] == ["submit:slow:1:0.2", "submit:500:1"]
    assert "faults" not in entries[-1]


def test_a_bad_fault_header_is_a_400(http: httpx.Client, emu: EmulatorServer) -> None:
    answer = submit(http, emu, "apimart", headers={FAULT: "submit:maybe"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_fault"
    assert "unknown kind 'maybe'" in answer.json()["error"]["message"]


def test_faults_leave_other_routes_alone(http: httpx.Client, emu: EmulatorServer) -> None:
    emu.app_state.faults.replace(["submit:503", "poll:503", "download:503"])
    assert http.get(f"{emu.origin}/_emulator/requests").status_code == 200
    assert http.get(emu.url("openai") + "/models").status_code == 404
    assert http.get(emu.url("openai") + "/tasks/x").status_code == 404  # not a task dialect
