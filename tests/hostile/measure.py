"""Issue 10's hostile-server figures (not a test): ``python tests/hostile/measure.py [SECTION]``.

- deadline overshoot: a 1-byte/s trickle in every phase and part, ``timeout=5``, both clients;
- peak RSS growth of a fresh process whose reply never ends (default ``max_response_bytes``);
- polls per second when every unfinished poll says ``Retry-After: 0``.

Loopback only; every run is bounded by its own deadline.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from hostile.proxy import Flood, Trickle, hostile_proxy
from imagebridge import AsyncImageClient, ImageBridgeError, ImageClient, PollPolicy
from imagebridge._emulator import EmulatorConfig, EmulatorServer

KEY = "sk-measure-0123456789"
TIMEOUT = 5.0


async def _job(mode: str, base_url: str, folder: Path, **options: Any) -> None:
    settings: dict[str, Any] = {"api_key": KEY, "base_url": base_url, "journal": False}
    settings.update(options)
    if mode == "sync":
        with ImageClient("dimilinks", **settings) as client:
            client.generate("a lighthouse", size="1:1").save(folder)
        return
    async with AsyncImageClient("dimilinks", **settings) as aclient:
        await (await aclient.generate("a lighthouse", size="1:1")).asave(folder)


def overshoot(server: EmulatorServer) -> None:
    print(f"deadline overshoot, 1 byte/s trickle, timeout={TIMEOUT:g} s")
    print("phase     part     client  elapsed  overshoot  error")
    for phase in ("submit", "poll", "download"):
        for part in ("status", "headers", "body"):
            for mode in ("sync", "async"):
                rule = Trickle(phase, part, interval=1.0)
                with hostile_proxy(server.origin, rule) as origin, TemporaryDirectory() as tmp:
                    began = time.monotonic()
                    error = "none"
                    try:
                        # The download is a job of its own: time only the phase trickled.
                        options: dict[str, Any] = {"timeout": TIMEOUT}
                        asyncio.run(_job(mode, f"{origin}/dimilinks/v1", Path(tmp), **options))
                    except ImageBridgeError as exc:
                        error = type(exc).__name__
                    elapsed = time.monotonic() - began
                # A download starts after generate() (~0.3 s): its own deadline counts from there.
                start = rule.requests[-1][2] - began if phase == "download" else 0.0
                over = elapsed - start - TIMEOUT
                print(f"{phase:9} {part:8} {mode:7} {elapsed:6.2f}s  {over:+8.2f}s  {error}")


_RSS = """
import resource, sys
from imagebridge import ImageClient, ServerError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with ImageClient("dimilinks", api_key=sys.argv[2], base_url=sys.argv[1] + "/dimilinks/v1",
                 journal=False) as client:
    try:
        client.generate("a lighthouse", size="1:1")
    except ServerError as error:
        print(error.code, end=" ")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
"""


def rss(server: EmulatorServer) -> None:
    rule = Flood("submit", "endless", limit=4 * 1024**3)
    with hostile_proxy(server.origin, rule) as origin:
        done = subprocess.run(
            [sys.executable, "-c", _RSS, origin, KEY],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    code, growth = done.stdout.split()
    cap = 256 * 1024**2
    print(
        f"endless reply (server offers 4 GiB): {code}, peak RSS growth"
        f" {int(growth) / 2**20:.1f} MiB, cap {cap / 2**20:.0f} MiB,"
        f" sent by the server before the client hung up {max(rule.sent) / 2**20:.1f} MiB"
    )


def spin(server: EmulatorServer) -> None:
    for value in ("0", "-1", "nan", "past", "ms=0"):
        server.app_state.faults.replace([f"dimilinks/poll:retry-after-zero:*:{value}"])
        server.app_state.reset()
        policy = PollPolicy()
        began = time.monotonic()
        with (
            ImageClient(
                "dimilinks", api_key=KEY, base_url=server.url("dimilinks"), journal=False
            ) as client,
            contextlib.suppress(ImageBridgeError),
        ):
            client.generate("a lighthouse", size="1:1", timeout=TIMEOUT)
        elapsed = time.monotonic() - began
        polls = server.app_state.stats()["polls"]["dimilinks"]
        print(
            f"Retry-After {value!r}: {polls} polls in {elapsed:.1f} s ="
            f" {polls / elapsed:.2f}/s (default PollPolicy: {policy})"
        )
    server.app_state.faults.clear()


def main() -> None:
    """Every section, or those named on the command line (overshoot, rss, spin)."""
    sections = {"overshoot": overshoot, "rss": rss, "spin": spin}
    chosen = sys.argv[1:] or list(sections)
    with EmulatorServer(EmulatorConfig(task_duration=0.3, api_key=KEY)) as server:
        for name in chosen:
            sections[name](server)


if __name__ == "__main__":
    main()
