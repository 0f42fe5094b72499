"""Section 4: many concurrent async generations (dimilinks dialect, async tasks + polling).

The emulator runs in its own process with a fixed ``--task-duration``. Every measurement
is a fresh client subprocess (so peak RSS figures never mix) running all the tasks as
asyncio tasks over one client; each task submits, polls until done and downloads its image.
HTTP requests are counted from the emulator's own request log.

The ideal is a raw-httpx "oracle" that knows the duration (submit, sleep exactly that long,
poll once, download) over the aiohttp transport: httpx's default pool scans every waiting
request on each state change, so with hundreds of requests queued it is quadratic and is
no floor at all (its own row shows it). A run still going after ``task_deadline`` seconds is
stopped; its wall time is then a lower bound, marked ``>``.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

import httpx

from ._config import Settings
from ._proc import Server, emulator, worker
from ._report import Check, SectionResult, Table
from ._stats import median
from .workers.tasks import API_KEY, PROMPT

TARGET_WALL = 1.10
TARGET_RSS_MIB = 150.0

IDEAL = "ideal: raw httpx+aiohttp oracle"
MAIN = "imagebridge"
AIOHTTP = "imagebridge+aiohttp"
RAW_DEFAULT = "raw httpx oracle, default pool"

#: label -> (worker, extra args), in running order.
RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    IDEAL: ("tasks.oracle", {"transport": "aiohttp"}),
    MAIN: ("tasks.imagebridge", {}),
    AIOHTTP: ("tasks.imagebridge", {"transport": "aiohttp"}),
    RAW_DEFAULT: ("tasks.oracle", {}),
}


def _count(log: list[dict[str, Any]]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for entry in log:
        path = str(entry.get("path", ""))
        if path.endswith("/images/generations"):
            kinds["submit"] += 1
        elif "/tasks/" in path:
            kinds["poll"] += 1
        elif path.startswith("/p/img/"):
            kinds["download"] += 1
        else:
            kinds["other"] += 1
    return kinds


def _warm_up(server: Server, duration: float) -> None:
    """One task end to end, so the first measured run does not pay the server's first
    request, first task and first image render (the image is cached after that)."""
    base = server.url("dimilinks")
    headers = {"Authorization": f"Bearer {API_KEY}"}
    body = {"model": "gpt-image-2", "prompt": PROMPT, "n": 1}
    with httpx.Client(headers=headers, timeout=60, trust_env=False) as client:
        submit = client.post(f"{base}/images/generations", params={"async": "true"}, json=body)
        task_id = submit.raise_for_status().json()["task_id"]
        time.sleep(duration)
        state = client.get(f"{base}/tasks/{task_id}").raise_for_status().json()
        url = httpx.URL(base).join(state["result"]["data"][0]["url"])
        client.get(url).raise_for_status()


def _measure(server: Server, label: str, settings: Settings) -> dict[str, Any]:
    name, extra = RUNS[label]
    server.reset_log()
    args = {
        "base_url": server.url("dimilinks"),
        "tasks": settings.tasks,
        "duration": settings.task_duration,
        "deadline": settings.task_deadline,
        **extra,
    }
    out = worker(name, args, timeout=settings.task_deadline + 120)
    time.sleep(0.5)  # let the server finish what a capped client left behind
    kinds = _count(server.request_log())
    out["requests"] = dict(kinds)
    out["requests_per_task"] = sum(kinds.values()) / settings.tasks
    return out


def _aggregate(measured: list[dict[str, Any]], ideal: float) -> dict[str, Any]:
    row: dict[str, Any] = {
        "wall_s": median([r["wall_s"] for r in measured]),
        "capped": any(r["capped"] for r in measured),
        "cpu_ms_per_task": median([r["cpu_ms_per_task"] for r in measured]),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in measured),
        "requests_per_task": max(r["requests_per_task"] for r in measured),
        "ok": min(r["ok"] for r in measured),
        "runs": measured,
    }
    row["wall_vs_ideal"] = row["wall_s"] / ideal
    return row


def run(settings: Settings) -> SectionResult:
    title = (
        f"4. {settings.tasks} concurrent async generations (dimilinks emulator,"
        f" task duration {settings.task_duration:g} s)"
    )
    result = SectionResult("tasks", title)
    labels = [label for label in RUNS if not (settings.quick and label == RAW_DEFAULT)]
    order = labels + [IDEAL] * (settings.task_repeats - 1)
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
    with emulator("dimilinks", task_duration=settings.task_duration) as server:
        _warm_up(server, settings.task_duration)
        for label in order:
            runs[label].append(_measure(server, label, settings))
    ideal = median([r["wall_s"] for r in runs[IDEAL]])
    rows = {label: _aggregate(measured, ideal) for label, measured in runs.items()}
    result.tables.append(_table(rows, settings))
    main = rows[MAIN]
    interval = main["runs"][0]["poll_policy"]["interval"]
    allowed = math.ceil(settings.task_duration / interval) + 2
    result.data = {
        "tasks": settings.tasks,
        "task_duration_s": settings.task_duration,
        "deadline_s": settings.task_deadline,
        "ideal_s": ideal,
        "transfer_s": ideal - settings.task_duration,
        "clients": rows,
    }
    for label, transport in ((MAIN, "default transport"), (AIOHTTP, "aiohttp transport")):
        row = rows[label]
        capped = "; capped: a lower bound" if row["capped"] else ""
        result.checks += [
            Check(
                f"{transport}: all {settings.tasks} tasks done",
                row["ok"],
                ">=",
                settings.tasks,
                unit="",
                note=f"in {row['wall_s']:.1f} s" if row["capped"] else "",
            ),
            Check(
                f"{transport}: wall vs ideal (duration + transfer)",
                row["wall_vs_ideal"],
                "<=",
                TARGET_WALL,
                note=f"{row['wall_s']:.2f} s vs {ideal:.2f} s{capped}",
            ),
            Check(
                f"{transport}: HTTP requests per task",
                math.nan if row["capped"] else row["requests_per_task"],
                "<=",
                allowed,
                unit="",
                note="the run was capped before its tasks finished"
                if row["capped"]
                else f"ceil({settings.task_duration:g}/{interval:g})+2, download included",
            ),
            Check(
                f"{transport}: peak RSS of the client",
                row["peak_rss_mib"],
                "<",
                TARGET_RSS_MIB,
                unit="MiB",
            ),
        ]
    result.notes.append(
        f"ideal {ideal:.2f} s = {settings.task_duration:g} s task + "
        f"{ideal - settings.task_duration:.2f} s transfer (3 requests per task through one"
        " emulator process); each run is a fresh client process; peak RSS is VmHWM"
    )
    return result


def _table(rows: dict[str, dict[str, Any]], settings: Settings) -> Table:
    table = Table(
        [
            "client",
            "done",
            "wall s",
            "vs ideal",
            "req/task",
            "submit/poll/dl",
            "CPU ms/task",
            "peak RSS MiB",
        ]
    )
    for label, row in rows.items():
        kinds = row["runs"][-1]["requests"]
        bound = ">" if row["capped"] else ""
        table.add(
            label,
            f"{row['ok']}/{settings.tasks}",
            f"{bound}{row['wall_s']:.2f}",
            f"{bound}{row['wall_vs_ideal']:.2f}x",
            row["requests_per_task"],
            f"{kinds.get('submit', 0)}/{kinds.get('poll', 0)}/{kinds.get('download', 0)}",
            row["cpu_ms_per_task"],
            row["peak_rss_mib"],
        )
    return table
