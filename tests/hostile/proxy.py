"""A hostile proxy in front of the emulator: it answers like the emulator, but slowly or
without end.

Starlette cannot trickle a status line or headers, so this proxy does it at the socket: it
reads each request, forwards it to the emulator (with the client's ``Host``, so the URLs the
emulator builds point back at the proxy), and writes the emulator's answer back byte by
byte from a chosen point on: the status line, the headers or the body, of the submit, the
polls or the download (:class:`Trickle`); or it answers one phase with a body that never
ends (:class:`Flood`). Bound to 127.0.0.1 only; every answer stops by itself after its
``limit`` or when the client hangs up, and every thread is a daemon.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

PHASES = ("submit", "poll", "download")
PARTS = ("status", "headers", "body")


def phase_of(method: str, path: str) -> str:
    """Which phase of a job a request is: every dialect submits with POST and polls under
    ``/tasks/``; any other GET is a download."""
    if method == "POST":
        return "submit"
    return "poll" if "/tasks/" in path else "download"


def _start(raw: bytes, part: str) -> int:
    """Where the trickle starts in a serialised response."""
    if part == "status":
        return 0
    if part == "headers":
        return raw.index(b"\r\n") + 2
    return raw.index(b"\r\n\r\n") + 4


@dataclass
class Trickle:
    """Answer requests of ``phase`` one byte every ``interval`` seconds from ``part`` on."""

    phase: str
    part: str = "status"
    interval: float = 1.0
    #: The longest any one answer trickles, whatever the client does.
    limit: float = 30.0
    requests: list[tuple[str, str, float]] = field(default_factory=list)
    #: How long each trickled answer would take to send in full.
    planned: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.phase in PHASES
        assert self.part in PARTS

    def answer(self, connection: socket.socket, raw: bytes) -> None:
        start = _start(raw, self.part)
        connection.sendall(raw[:start])
        self.planned.append((len(raw) - start) * self.interval)
        began = time.monotonic()
        for offset in range(start, len(raw)):
            if time.monotonic() - began > self.limit:
                break
            connection.sendall(raw[offset : offset + 1])
            time.sleep(self.interval)


@dataclass
class Flood:
    """Answer requests of ``phase`` with a 200 whose body never ends: chunked
    (``"endless"``) or under a ``Content-Length`` of 5 GB (``"oversize"``). The body looks
    like the start of a JSON reply with one huge base64 image. Stops after ``limit`` bytes
    or when the client hangs up."""

    phase: str
    kind: str = "endless"
    limit: int = 2 * 1024**3
    requests: list[tuple[str, str, float]] = field(default_factory=list)
    #: Bytes written to the client per answer, counted until it hung up.
    sent: list[int] = field(default_factory=list)

    def answer(self, connection: socket.socket, raw: bytes) -> None:
        framing = (
            "Transfer-Encoding: chunked"
            if self.kind == "endless"
            else f"Content-Length: {5 * 1000**3}"
        )
        connection.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode()
        )
        block = b"A" * 65536
        start = b'{"data": [{"b64_json": "'
        chunked = self.kind == "endless"
        total = 0
        try:
            for piece in [start] + [block] * (self.limit // len(block)):
                data = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
                connection.sendall(data)
                total += len(piece)
        finally:
            self.sent.append(total)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        while self._one():
            pass

    def _one(self) -> bool:
        line = self.rfile.readline(65536)
        if not line.strip():
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: list[tuple[str, str]] = []
        while True:
            header = self.rfile.readline(65536).decode("latin-1")
            if header in ("\r\n", "\n", ""):
                break
            name, _, value = header.partition(":")
            headers.append((name.strip(), value.strip()))
        length = int(next((v for n, v in headers if n.lower() == "content-length"), "0"))
        body = self.rfile.read(length) if length else b""
        raw = self.server.forward(method, target, headers, body)
        phase = phase_of(method, target.split("?", 1)[0])
        rule = self.server.rule
        rule.requests.append((method, target, time.monotonic()))
        if rule.phase != phase:
            self.wfile.write(raw)
            self.wfile.flush()
            return True
        self.wfile.flush()
        # The client hanging up (OSError) is what the test waits for.
        with contextlib.suppress(OSError):
            rule.answer(self.connection, raw)
        return False


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: str, rule: Trickle | Flood) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.rule = rule
        self.http = httpx.Client(base_url=upstream, timeout=10)

    def forward(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> bytes:
        skip = {"content-length", "connection", "transfer-encoding", "accept-encoding"}
        sent = [(n, v) for n, v in headers if n.lower() not in skip]
        response = self.http.request(method, target, headers=sent, content=body)
        head = f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n"
        keep = [
            (n, v)
            for n, v in response.headers.items()
            if n.lower()
            not in {"content-length", "transfer-encoding", "connection", "content-encoding"}
        ]
        keep += [("Content-Length", str(len(response.content))), ("Connection", "close")]
        head += "".join(f"{n}: {v}\r\n" for n, v in keep) + "\r\n"
        return head.encode("latin-1") + response.content


@contextlib.contextmanager
def hostile_proxy(upstream_origin: str, rule: Trickle | Flood) -> Iterator[str]:
    """Run the proxy in front of ``upstream_origin``; yields the proxy's origin."""
    server = _Server(upstream_origin, rule)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        server.http.close()
        thread.join(timeout=5)
