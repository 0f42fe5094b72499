"""Subprocesses: measurement workers (a fresh interpreter each) and the emulator server.

The emulator always runs in its own process so that its CPU time never counts as the
client's; it is bound to 127.0.0.1 and stopped when the ``with`` block ends.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import httpx

from ._config import REPO_ROOT

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every child: loopback never goes through a proxy."""
    env = dict(os.environ)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra or {})
    return env


def run_json(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> Any:
    """Run ``argv`` from the repository root; return the JSON object on its last stdout line."""
    done = subprocess.run(  # noqa: S603 (argv is built by the bench itself)
        list(argv),
        cwd=REPO_ROOT,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(argv[:4])} exited {done.returncode}:\n{tail}")
    for line in reversed(done.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{' '.join(argv[:4])} printed no JSON:\n{done.stdout[-2000:]}")


def pgserver() -> ModuleType:
    """``tests/pgserver.py``, the throwaway PostgreSQL server (not a package: loaded from
    its file)."""
    spec = importlib.util.spec_from_file_location("pgserver", REPO_ROOT / "tests" / "pgserver.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worker(name: str, args: dict[str, Any], *, timeout: float = 240.0) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (``python -m bench._worker name args``);
    ``name`` is ``module.function`` of :mod:`bench.workers`."""
    argv = [sys.executable, "-m", "bench._worker", name, json.dumps(args)]
    result: dict[str, Any] = run_json(argv, timeout=timeout)
    return result


def wall_of(argv: Sequence[str], *, timeout: float = 60.0) -> float:
    """Wall seconds of one run of ``argv`` (output discarded; it must succeed)."""
    start = time.perf_counter()
    subprocess.run(  # noqa: S603 (argv is built by the bench itself)
        list(argv),
        cwd=REPO_ROOT,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=timeout,
        check=True,
    )
    return time.perf_counter() - start


class Server:
    """A running emulator subprocess (see ``bench/_server.py``)."""

    def __init__(self, process: subprocess.Popen[str], origin: str) -> None:
        self.process = process
        self.origin = origin

    def url(self, dialect: str) -> str:
        return f"{self.origin}/{dialect}/v1"

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far."""
        with open(f"/proc/{self.process.pid}/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK

    def reset_log(self) -> None:
        httpx.post(f"{self.origin}/_emulator/reset", trust_env=False).raise_for_status()

    def request_log(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.origin}/_emulator/requests", trust_env=False, timeout=60)
        response.raise_for_status()
        log: list[dict[str, Any]] = response.json()
        return log


@contextmanager
def emulator(
    dialect: str = "openai",
    task_duration: float = 3.0,
    blob_bytes: int = 0,
    *,
    stream_delay: float = 0.02,
    noise_stream: str = "",
) -> Iterator[Server]:
    """Start the emulator in its own process on a free 127.0.0.1 port; always stop it.
    (``blob_bytes``, ``stream_delay`` and ``noise_stream``: see ``bench/_server.py``.)"""
    argv = [
        sys.executable,
        "-m",
        "bench._server",
        "--dialect",
        dialect,
        "--task-duration",
        str(task_duration),
        "--blob-bytes",
        str(blob_bytes),
        "--stream-delay",
        str(stream_delay),
        "--noise-stream",
        noise_stream,
    ]
    process = subprocess.Popen(  # noqa: S603 (argv is built by the bench itself)
        argv,
        cwd=REPO_ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the emulator did not start (said {line!r})")
        yield Server(process, line)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
