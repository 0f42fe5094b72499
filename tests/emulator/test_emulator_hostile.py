"""The hostile fault kinds over real HTTP: trickle, endless, oversize, deepjson,
retry-after-zero, redirect-foreign and link-local (every loop bounded in count and time)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer, parse_fault

from .conftest import AUTH
from .test_emulator_faults import FAULT, SUBMITS, submit, task_id_of

DURATION = 0.05
JSON_START = b'{"data":[{"b64_json":"'


@pytest.fixture(scope="module")
def running() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=DURATION)) as server:
        yield server


@pytest.fixture
def emu(emu: EmulatorServer) -> Iterator[EmulatorServer]:
    """conftest.py's clean emulator; no hostile stream may outlive its client."""
    yield emu
    wait_until(lambda: streams_open(emu) == 0, 3, "a hostile stream outlived its client")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(headers=AUTH, timeout=10) as client:
        yield client


def wait_until(done: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def streams_open(server: EmulatorServer) -> int:
    return int(server.app_state.stats()["streams_open"])


def finished_task(http: httpx.Client, server: EmulatorServer, dialect: str) -> str:
    """A task of ``dialect`` that has finished (no fault on its polls yet)."""
    task_id = task_id_of(submit(http, server, dialect))
    time.sleep(DURATION * 2)
    return task_id


def image_url(http: httpx.Client, server: EmulatorServer, dialect: str) -> str:
    """A result URL of ``dialect``: a /files URL (openai, geeknow) or a signed /p/img URL."""
    if dialect in ("openai", "geeknow"):
        body = {"prompt": "x", "model": "dall-e-2", "size": "256x256", "response_format": "url"}
        made = http.post(server.url(dialect) + "/images/generations", json=body).json()
        return str(made["data"][0]["url"])
    task_id = finished_task(http, server, dialect)
    task = http.get(server.url(dialect) + f"/tasks/{task_id}").json()
    if dialect == "apimart":
        return str(task["data"]["result"]["images"][0]["url"][0])
    return server.origin + str(task["result"]["data"][0]["url"])


def phase_request(
    http: httpx.Client, server: EmulatorServer, phase: str, fault: str
) -> httpx.Request:
    """A request of ``phase`` (apimart's; a download of one of its images) with ``fault``."""
    if phase == "submit":
        path, body = SUBMITS["apimart"]
        return http.build_request(
            "POST", server.url("apimart") + path, json=body, headers={FAULT: fault}
        )
    if phase == "poll":
        task_id = finished_task(http, server, "apimart")
        url = server.url("apimart") + f"/tasks/{task_id}"
        return http.build_request("GET", url, headers={FAULT: fault})
    return http.build_request("GET", image_url(http, server, "apimart"), headers={FAULT: fault})


# -- the grammar ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind", "arg"),
    [
        ("download:trickle:*:0.25", "trickle", "0.25"),
        ("submit:endless:1:1000", "endless", "1000"),
        ("poll:oversize", "oversize", None),
        ("poll:deepjson:1:50", "deepjson", "50"),
        ("poll:retry-after-zero:*:Wed, 21 Oct 2015 07:28:00 GMT", "retry-after-zero", None),
        ("poll:retry-after-zero:*:ms=0", "retry-after-zero", "ms=0"),
        ("download:redirect-foreign:1:localhost:8001", "redirect-foreign", "localhost:8001"),
        ("download:redirect-foreign:1:http://[::1]", "redirect-foreign", "http://[::1]"),
        ("poll:link-local:*:[fd00:ec2::254]", "link-local", "[fd00:ec2::254]"),
        ("submit:link-local:*:0xa9fea9fe", "link-local", "0xa9fea9fe"),
    ],
)
def test_grammar_of_the_hostile_kinds(text: str, kind: str, arg: str | None) -> None:
    fault = parse_fault(text)
    assert fault.kind == kind
    if arg is not None:
        assert fault.arg == arg
    assert parse_fault(fault.spec) == fault


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("download:deepjson", "deepjson only applies to submit/poll"),
        ("submit:retry-after-zero", "retry-after-zero only applies to poll"),
        ("poll:redirect-foreign", "redirect-foreign only applies to download"),
        ("download:link-local", "link-local only applies to submit/poll"),
        ("submit:trickle:1:-1", "ARG must be a number of seconds >= 0"),
        ("submit:endless:1:0", "ARG must be a whole number from 1 to 2147483648"),
        ("submit:oversize:1:5e9", "ARG must be a whole number"),
        ("poll:deepjson:1:100000000", "ARG must be a whole number from 1 to 10000000"),
        ("poll:link-local:1:http://169.254.169.254", "ARG must be a host"),
        ("download:redirect-foreign:1:evil.test/path", "ARG must be a host"),
        ("poll:retry-after-zero:1:0\r\nX-Evil: 1", "ARG must be printable ASCII"),
    ],
)
def test_bad_hostile_specs(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match="fault") as info:
        parse_fault(text)
    assert reason in str(info.value)


def test_defaults_of_the_hostile_args() -> None:
    assert parse_fault("submit:trickle").seconds == 1.0
    assert parse_fault("submit:endless").number == 2 * 1024**3
    assert parse_fault("submit:oversize").number == 5_000_000_000
    assert parse_fault("poll:deepjson").number == 100_000


# -- trickle -----------------------------------------------------------------------------------
def test_trickle_sends_the_real_answer_one_byte_at_a_time(
    http: httpx.Client, emu: EmulatorServer
) -> None:
    plain = submit(http, emu, "openai").json()
    start = time.monotonic()
    with http.stream(
        "POST",
        emu.url("openai") + "/images/generations",
        json={"prompt": "x", "size": "256x256"},
        headers={FAULT: "submit:trickle:1:0.002"},
    ) as answer:
        assert answer.status_code == 200
        headers_at = time.monotonic() - start
        pieces = [piece for piece in answer.iter_raw()]
    elapsed = time.monotonic() - start
    body = b"".join(pieces)
    assert headers_at < 0.5  # the headers come at once
    assert len(pieces) > len(body) // 4  # arrived in many small pieces, not in one
    assert elapsed >= len(body) * 0.002
    trickled = json.loads(body)
    assert trickled.keys() == plain.keys()
    assert emu.app_state.stats()["accepted"]["openai"] == 2  # the dialect did the job


@pytest.mark.parametrize("phase", ["submit", "poll", "download"])
def test_trickle_stops_when_the_client_hangs_up(
    http: httpx.Client, emu: EmulatorServer, phase: str
) -> None:
    request = phase_request(http, emu, phase, f"{phase}:trickle:1:0.05")
    start = time.monotonic()
    answer = http.send(request, stream=True)
    got = b""
    for piece in answer.iter_raw():
        got += piece
        if len(got) >= 3:
            break
    answer.close()
    assert 0.1 <= time.monotonic() - start < 2
    assert got[:1] == (b"\x89" if phase == "download" else b"{")
    wait_until(lambda: streams_open(emu) == 0, 1, "the trickle went on after the hang-up")


# -- endless and oversize ----------------------------------------------------------------------
@pytest.mark.parametrize("phase", ["submit", "poll", "download"])
def test_endless_until_the_client_hangs_up(
    http: httpx.Client, emu: EmulatorServer, phase: str
) -> None:
    request = phase_request(http, emu, phase, f"{phase}:endless")
    answer = http.send(request, stream=True)
    assert answer.status_code == 200
    assert answer.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in answer.headers
    head, size, sending = b"", 0, 0
    for piece in answer.iter_raw():  # leaving the loop closes the connection
        head = head or piece[:64]
        size += len(piece)
        if size >= 8 * 1024 * 1024:
            sending = streams_open(emu)
            break
    answer.close()
    assert sending == 1
    start = JSON_START if phase != "download" else b"\x89PNG\r\n\x1a\n"
    assert head.startswith(start)
    assert head[len(start) :] == b"A" * (64 - len(start))
    wait_until(lambda: streams_open(emu) == 0, 2, "the endless answer outlived its client")


def test_endless_is_cut_by_the_emulator_at_its_limit(
    http: httpx.Client, emu: EmulatorServer
) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        submit(http, emu, "dimilinks", headers={FAULT: "submit:endless:1:200000"})
    assert emu.app_state.stats()["accepted"]["dimilinks"] == 1  # a 200: the job was done
    assert submit(http, emu, "dimilinks").status_code == 200


def test_oversize_announces_its_length_and_streams(http: httpx.Client, emu: EmulatorServer) -> None:
    request = phase_request(http, emu, "download", "download:oversize")
    answer = http.send(request, stream=True)
    assert answer.headers["content-length"] == "5000000000"
    size = 0
    for piece in answer.iter_raw():
        size += len(piece)
        if size >= 1024 * 1024:
            break
    answer.close()
    assert size >= 1024 * 1024
    wait_until(lambda: streams_open(emu) == 0, 2, "the oversize answer outlived its client")


def test_a_small_oversize_answer_is_sent_whole(http: httpx.Client, emu: EmulatorServer) -> None:
    answer = submit(http, emu, "geeknow", headers={FAULT: "submit:oversize:1:100000"})
    assert answer.headers["content-length"] == "100000"
    assert len(answer.content) == 100000
    assert answer.content.startswith(JSON_START)
    assert submit(http, emu, "geeknow").status_code == 200  # the connection was fine


# -- deepjson ----------------------------------------------------------------------------------
@pytest.mark.parametrize("phase", ["submit", "poll"])
def test_deepjson(http: httpx.Client, emu: EmulatorServer, phase: str) -> None:
    answer = http.send(phase_request(http, emu, phase, f"{phase}:deepjson"))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.content == b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(answer.content)
    shallow = http.send(phase_request(http, emu, phase, f"{phase}:deepjson:1:3"))
    assert shallow.json() == [[[]]]


# -- retry-after-zero --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arg", "header", "value"),
    [
        ("", "retry-after", "0"),
        (":*:-1", "retry-after", "-1"),
        (":*:nan", "retry-after", "nan"),
        (":*:past", "retry-after", "Sun, 09 Sep 2001 01:46:40 GMT"),
        (":*:ms=0", "retry-after-ms", "0"),
    ],
)
@pytest.mark.parametrize("dialect", ["dimilinks", "apimart"])
def test_retry_after_zero_holds_the_task(
    http: httpx.Client, emu: EmulatorServer, dialect: str, arg: str, header: str, value: str
) -> None:
    task_id = finished_task(http, emu, dialect)
    poll = emu.url(dialect) + f"/tasks/{task_id}"
    emu.app_state.faults.replace([f"poll:retry-after-zero{arg}"])
    for _ in range(3):
        answer = http.get(poll)
        assert answer.status_code == 200
        assert answer.headers[header] == value
        body = answer.json()
        assert (body.get("status") or body["data"]["status"]) in ("in_progress", "processing")
    emu.app_state.faults.clear()
    done = http.get(poll)
    assert "retry-after" not in done.headers
    assert (done.json().get("status") or done.json()["data"]["status"]) in (
        "succeeded",
        "completed",
    )


# -- redirect-foreign --------------------------------------------------------------------------
@pytest.mark.parametrize("dialect", ["openai", "geeknow", "dimilinks", "apimart"])
def test_redirect_foreign_sends_the_download_to_another_origin(
    http: httpx.Client, emu: EmulatorServer, dialect: str
) -> None:
    url = image_url(http, emu, dialect)
    port = httpx.URL(url).port
    emu.app_state.faults.replace(["download:redirect-foreign:1"])
    headers = {"X-Forge-Key": "forge-secret"}
    moved = http.get(url, headers=headers)
    assert moved.status_code == 302
    location = httpx.URL(moved.headers["location"])
    assert (location.host, location.port) == ("localhost", port)
    assert (location.path, location.query) == (httpx.URL(url).path, httpx.URL(url).query)
    image = http.get(location, headers=headers)  # what a careful client sends: no Authorization
    assert image.status_code == 200
    assert image.content.startswith(b"\x89PNG")
    # Followed by httpx, which drops Authorization across origins (but not other headers).
    emu.app_state.faults.replace(["download:redirect-foreign:1"])
    followed = http.get(url, headers=headers, follow_redirects=True)
    assert followed.content == image.content
    *_, redirected, hop = emu.app_state.requests
    assert (redirected["status"], redirected["headers"]["authorization"]) == (302, "[redacted]")
    assert "foreign_hop" not in redirected
    assert hop["foreign_hop"] is True
    assert hop["headers"]["host"] == f"localhost:{port}"
    assert "authorization" not in hop["headers"]
    assert hop["headers"]["x-forge-key"] == "forge-secret"  # the log shows what crossed
    assert emu.app_state.stats()["downloads"][dialect] == 4  # both hops are downloads


def test_redirect_foreign_to_a_host_of_the_tests_own(
    http: httpx.Client, emu: EmulatorServer
) -> None:
    seen: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(5)
        port = listener.getsockname()[1]

        def serve_one() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                seen.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

        thread = threading.Thread(target=serve_one, daemon=True)
        thread.start()
        url = image_url(http, emu, "apimart")
        spec = f"download:redirect-foreign:1:http://127.0.0.1:{port}"
        answer = http.get(url, headers={FAULT: spec}, follow_redirects=True)
        thread.join(5)
    assert answer.text == "ok"
    [request] = seen
    assert request.startswith(b"GET /p/img/")
    assert b"authorization" not in request.lower()  # httpx dropped it: another origin


def test_redirect_foreign_back_to_127_when_the_request_came_to_localhost(
    http: httpx.Client, emu: EmulatorServer
) -> None:
    url = httpx.URL(image_url(http, emu, "openai"))
    local = url.copy_with(host="localhost")
    moved = http.get(local, headers={FAULT: "download:redirect-foreign"})
    assert httpx.URL(moved.headers["location"]).host == "127.0.0.1"


# -- link-local --------------------------------------------------------------------------------
def _urls(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if "/p/img/" in value or "/files/" in value else []
    if isinstance(value, list):
        return [url for item in value for url in _urls(item)]
    if isinstance(value, dict):
        return [url for item in value.values() for url in _urls(item)]
    return []


@pytest.mark.parametrize(
    ("dialect", "phase"),
    [("openai", "submit"), ("geeknow", "submit"), ("dimilinks", "poll"), ("apimart", "poll")],
)
@pytest.mark.parametrize("host", [None, "[fd00:ec2::254]", "0xa9fea9fe"])
def test_link_local_result_urls(
    http: httpx.Client, emu: EmulatorServer, dialect: str, phase: str, host: str | None
) -> None:
    spec = f"{phase}:link-local" + (f":1:{host}" if host else "")
    want = f"http://{host or '169.254.169.254'}/"
    if phase == "submit":
        body = {"prompt": "x", "model": "dall-e-2", "size": "256x256", "response_format": "url"}
        url = emu.url(dialect) + "/images/generations"
        answer = http.post(url, json=body, headers={FAULT: spec})
    else:
        task_id = finished_task(http, emu, dialect)
        answer = http.get(emu.url(dialect) + f"/tasks/{task_id}", headers={FAULT: spec})
    assert answer.status_code == 200
    assert answer.headers["content-length"] == str(len(answer.content))
    urls = _urls(answer.json())
    assert urls
    assert all(url.startswith(want) for url in urls), urls
    assert emu.origin not in answer.text


def test_link_local_in_a_dimilinks_sync_answer(http: httpx.Client, emu: EmulatorServer) -> None:
    url = emu.url("dimilinks") + "/images/generations"
    answer = http.post(url, json={"prompt": "x"}, headers={FAULT: "submit:link-local"})
    [result] = answer.json()["data"]
    assert result["url"].startswith("http://169.254.169.254/p/img/")  # was a relative URL
