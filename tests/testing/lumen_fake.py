"""A fake Lumen API over loopback HTTP (127.0.0.1, a free port), as a plugin author writes one
to record cassettes from, and the ``lumen`` plugin package (``lumen_plugin/``) installed
into a folder the way a wheel installs it.

Lumen: ``POST /api/jobs`` -> ``{"job": {"id", "state"}}``; ``GET /api/jobs/{id}`` reports
``waiting``, ``working``, then ``done`` with base64 ``outputs`` or ``error`` with
``{"code", "message"}`` (each poll moves a job one state on); the key in ``X-Lumen-Key``;
errors ``{"error": {"code", "message"}}``. Like most fakes it understands the kit's prompt
markers by echoing them: ``#error=<status>:<code>`` answers the submit with that error and
``#fail=<code>`` makes the job end in ``error`` with that code.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import secrets
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from imagebridge.testing import sample_png

PLUGIN = Path(__file__).parent / "lumen_plugin"
KEY = "lk-live-5b1e9f0c2d7a4e86"
_ERROR = re.compile(r"#error=(\d{3}):(\w+)")
_FAIL = re.compile(r"#fail=(\w+)")
_STATES = ("waiting", "working")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"error": {"code": code, "message": f"lumen says {code}"}}, headers)

    def do_POST(self) -> None:
        self.server.fake.seen.append(("POST", self.path, dict(self.headers)))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.headers.get("X-Lumen-Key") != self.server.fake.key:
            return self._error(401, "bad_key")
        if self.path != "/api/jobs":
            return self._error(404, "no_route")
        prompt = str(body.get("prompt") or "")
        marker = _ERROR.search(prompt)
        if marker:
            status, code = int(marker.group(1)), marker.group(2)
            return self._error(status, code, {"Retry-After": "1"} if status == 429 else None)
        fail = _FAIL.search(prompt)
        count = body.get("count", 1)
        job = {"id": f"job_{secrets.token_hex(6)}", "count": count, "polls": 0}
        job["fail"] = fail.group(1) if fail else None
        self.server.fake.jobs[job["id"]] = job
        self._send(202, {"job": {"id": job["id"], "state": "waiting"}})

    def do_GET(self) -> None:
        self.server.fake.seen.append(("GET", self.path, dict(self.headers)))
        if self.headers.get("X-Lumen-Key") != self.server.fake.key:
            return self._error(401, "bad_key")
        job = self.server.fake.jobs.get(self.path.removeprefix("/api/jobs/"))
        if not self.path.startswith("/api/jobs/") or job is None:
            return self._error(404, "no_such_job")
        polls = job["polls"]
        job["polls"] += 1
        answer: dict[str, Any] = {"id": job["id"]}
        if polls < len(_STATES):
            answer["state"] = _STATES[polls]
        elif job["fail"]:
            answer.update(state="error", error={"code": job["fail"], "message": "it broke"})
        else:
            png = base64.b64encode(sample_png(64, 64)).decode()
            answer.update(state="done", outputs=[{"b64": png}] * job["count"])
        self._send(200, {"job": answer})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLumen


class FakeLumen:
    """The fake, serving on 127.0.0.1 while the ``with`` block runs."""

    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.jobs: dict[str, dict[str, Any]] = {}
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))

    @property
    def url(self) -> str:
        """The API's base URL (``.../api``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api"

    def __enter__(self) -> FakeLumen:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def install_plugin(site: Path) -> Path:
    """Copy the lumen package into ``site`` with the dist-info a wheel leaves (its entry
    point in the ``imagebridge`` group); put ``site`` on PYTHONPATH to use it. Returns the
    package's copy (``site/imagebridge-lumen``), whose ``tests/`` holds the record file."""
    package = site / "imagebridge-lumen"
    shutil.copytree(PLUGIN, package)
    shutil.copytree(package / "src" / "imagebridge_lumen", site / "imagebridge_lumen")
    info = site / "imagebridge_lumen-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: imagebridge-lumen\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text("[imagebridge]\nlumen = imagebridge_lumen\n")
    (info / "RECORD").write_text("")
    return package


def load_plugin() -> ModuleType:
    """The lumen plugin module, imported from ``lumen_plugin/`` (for in-process tests)."""
    path = PLUGIN / "src" / "imagebridge_lumen" / "__init__.py"
    spec = importlib.util.spec_from_file_location("imagebridge_lumen_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
