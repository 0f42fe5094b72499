"""Section 11: image ready at the provider -> file on disk (dimilinks, one task at a time).

The emulator runs in its own process with a fixed ``--task-duration`` D and reports each
task's progress. A task is ready at the provider D seconds after its submit reached the
emulator (the arrival time is in the emulator's request log, read with ``time.time()``,
the clock the client reads too: both processes run on this machine). A contender's
**delay** is the moment its file is on disk minus that ready moment.

Contenders, in turn, one task at a time, each saving to a new file:

* ``imagebridge`` (sync, then async): ``generate`` + ``images[0].save(path)`` with the
  default poll policy (progress-aware: it aims the next poll at the moment the reported
  rate says the task is done);
* ``raw httpx, same polls`` (the floor): right after each imagebridge task, raw httpx does
  the same job and sends its polls at the same offsets from its submit as imagebridge's
  polls reached the server, then downloads and writes the file. The two delays differ only
  by what each client does with the answers;
* ``raw httpx, policy intervals``: raw httpx polling at the default policy's intervals
  (``interval``, times ``backoff`` up to ``max_interval``) without reading the progress:
  what the progress-aware schedule saves.

Targets: imagebridge's delay <= 1.05x the floor's, and <= one poll interval (the default
policy's ``interval``).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from ._config import Settings
from ._proc import Server, emulator
from ._report import Check, SectionResult, Table
from ._stats import median, ratio
from .workers.tasks import API_KEY, PROMPT

TARGET_RATIO = 1.05

SYNC, ASYNC = "imagebridge sync", "imagebridge async"
FLOOR = "raw httpx, same polls"
NAIVE = "raw httpx, policy intervals"
#: A replay poll that finds the task still running (the server's clock and ours differ by
#: the submit's transit) polls again this soon.
_RETRY = 0.02


def run(settings: Settings) -> SectionResult:
    result = SectionResult("ready", "11. Image ready at the provider -> file on disk (dimilinks)")
    duration = settings.ready_duration
    runs: dict[str, list[dict[str, Any]]] = {SYNC: [], ASYNC: [], FLOOR: [], NAIVE: []}
    with (
        emulator("dimilinks", task_duration=duration) as server,
        tempfile.TemporaryDirectory(prefix="imagebridge-bench-ready-") as folder,
    ):
        jobs = _Jobs(server, Path(folder), duration, settings.ready_interval)
        try:
            policy = jobs.sync_client.adapter.poll_policy
            schedule = _policy_offsets(policy, horizon=duration + 2 * policy.max_interval)
            jobs.warm_up()
            for _ in range(settings.ready_rounds):
                for label, job in ((SYNC, jobs.imagebridge_sync), (ASYNC, jobs.imagebridge_async)):
                    measured = jobs.measure(job)
                    replay = jobs.measure(partial(jobs.raw, measured["polls"]))
                    measured["vs_floor"] = ratio(measured["delay_s"], replay["delay_s"])
                    runs[label].append(measured)
                    runs[FLOOR].append(replay)
                runs[NAIVE].append(jobs.measure(partial(jobs.raw, schedule)))
        finally:
            jobs.close()
    rows = {label: _row(measured) for label, measured in runs.items()}
    floor = rows[FLOOR]["delay_s"]
    for label, row in rows.items():
        # imagebridge's rows: the median of each task's ratio to its own replay.
        paired = [m["vs_floor"] for m in runs[label] if "vs_floor" in m]
        row["vs_floor"] = median(paired) if paired else ratio(row["delay_s"], floor)
    result.data = {
        "task_duration_s": duration,
        "rounds": settings.ready_rounds,
        "poll_policy": {
            "interval": policy.interval,
            "backoff": policy.backoff,
            "max_interval": policy.max_interval,
        },
        "rows": rows,
        "runs": runs,
    }
    result.tables.append(_table(rows))
    for label in (SYNC, ASYNC):
        row = rows[label]
        result.checks.append(
            Check(
                f"{label.removeprefix('imagebridge ')}: ready -> on disk vs raw httpx, same polls",
                row["vs_floor"],
                "<=",
                TARGET_RATIO,
                note=f"median of each task's ratio to its replay; {row['delay_s'] * 1000:.0f} ms"
                f" vs {floor * 1000:.0f} ms",
            )
        )
        result.checks.append(
            Check(
                f"{label.removeprefix('imagebridge ')}: ready -> on disk, seconds",
                row["delay_s"],
                "<=",
                policy.interval,
                unit="s",
                note=f"one poll interval: the policy's interval, {policy.interval:g} s",
            )
        )
    result.notes.append(
        f"task duration {duration:g} s; delay = file on disk - (submit reached the emulator"
        f" + {duration:g} s); medians of {settings.ready_rounds} tasks per imagebridge row"
        " (the floor replays each of them: 'vs floor' is the median of the paired ratios);"
        " 'after last poll' = on disk - the last poll reached the emulator (what the client"
        " does with the answer)"
    )
    return result


class _Jobs:
    """The contenders' clients (built once, outside the timed window) and their jobs."""

    def __init__(
        self, server: Server, folder: Path, duration: float, interval: float | None
    ) -> None:
        from imagebridge import AsyncImageClient, ImageClient, PollPolicy

        poll = PollPolicy(interval=interval) if interval is not None else None

        self.server = server
        self.duration = duration
        self.folder = folder
        self.base = server.url("dimilinks")
        self.files = 0
        self.sync_client = ImageClient(
            "dimilinks", api_key=API_KEY, base_url=self.base, poll_policy=poll
        )
        self.loop = asyncio.new_event_loop()
        self.async_client = AsyncImageClient(
            "dimilinks", api_key=API_KEY, base_url=self.base, poll_policy=poll
        )
        self.http = httpx.Client(
            headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60, trust_env=False
        )

    def close(self) -> None:
        self.sync_client.close()
        self.loop.run_until_complete(self.async_client.aclose())
        self.loop.close()
        self.http.close()

    def path(self) -> Path:
        """A new file for each save (replacing a file would time the kernel freeing it)."""
        self.files += 1
        return self.folder / f"image-{self.files}.png"

    def warm_up(self) -> None:
        """One task each, so the first measured ones pay no first request, first task,
        first image render or first journal write."""
        self.imagebridge_sync()
        self.imagebridge_async()
        self.raw([self.duration])

    def imagebridge_sync(self) -> float:
        result = self.sync_client.generate(PROMPT)
        result.images[0].save(self.path())
        return time.time()

    def imagebridge_async(self) -> float:
        async def job() -> float:
            result = await self.async_client.generate(PROMPT)
            await result.images[0].asave(self.path())
            return time.time()

        return self.loop.run_until_complete(job())

    def raw(self, offsets: list[float]) -> float:
        """Submit, poll at ``offsets`` seconds after the submit (then every ``_RETRY`` s
        until done), download the first image and write it to a new file."""
        started = time.time()
        submit = self.http.post(
            f"{self.base}/images/generations",
            params={"async": "true"},
            json={"model": "gpt-image-2", "prompt": PROMPT, "n": 1},
        )
        task_id = submit.raise_for_status().json()["task_id"]
        pending = list(offsets)
        while True:
            wait = (started + pending.pop(0)) - time.time() if pending else _RETRY
            if wait > 0:
                time.sleep(wait)
            state = self.http.get(f"{self.base}/tasks/{task_id}").raise_for_status().json()
            if state["status"] == "succeeded":
                break
        url = httpx.URL(self.base).join(state["result"]["data"][0]["url"])
        image = self.http.get(url).raise_for_status()
        self.path().write_bytes(image.content)
        return time.time()

    def measure(self, job: Callable[[], float]) -> dict[str, Any]:
        """Run one job; read its submit and polls off the emulator's log."""
        self.server.reset_log()
        on_disk = job()
        log = self.server.request_log()
        submits = [e["time"] for e in log if e["path"].endswith("/images/generations")]
        polls = [e["time"] for e in log if "/tasks/" in e["path"]]
        if len(submits) != 1 or not polls:
            raise RuntimeError(f"expected one submit and some polls, the log has {log!r}")
        ready = submits[0] + self.duration
        return {
            "delay_s": on_disk - ready,
            "after_last_poll_s": on_disk - polls[-1],
            "polls": [t - submits[0] for t in polls],
            "requests": len(log),
        }


def _policy_offsets(policy: Any, horizon: float) -> list[float]:
    """When a poller following ``policy``'s intervals alone polls, up to ``horizon`` s."""
    offsets: list[float] = []
    at, interval = 0.0, float(policy.interval)
    while at < horizon:
        at += policy.clamp(interval)
        offsets.append(at)
        interval = policy.next_interval(interval)
    return offsets


def _row(measured: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "delay_s": median([m["delay_s"] for m in measured]),
        "after_last_poll_s": median([m["after_last_poll_s"] for m in measured]),
        "polls": median([float(len(m["polls"])) for m in measured]),
        "requests": median([float(m["requests"]) for m in measured]),
        "tasks": len(measured),
    }


def _table(rows: dict[str, dict[str, Any]]) -> Table:
    table = Table(["contender", "ready -> on disk", "vs floor", "after last poll", "polls"])
    for label, row in rows.items():
        table.add(
            label,
            f"{row['delay_s'] * 1000:.0f} ms",
            f"{row['vs_floor']:.2f}x",
            f"{row['after_last_poll_s'] * 1000:.1f} ms",
            f"{row['polls']:g}",
        )
    return table
