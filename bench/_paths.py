"""Section 12: what each newer path adds per call (in-process transport, no network).

Two jobs, each timed like section 1 (interleaved rounds, medians of wall and CPU time, raw
httpx as the floor), sync and async:

* **images call**: one OpenAI-Images generation, the first image's URL (section 1's canned
  body); imagebridge with the journal off, with the default SQLite journal, with a
  PostgreSQL journal, and through ``from_routes`` over one route (SQLite journal): the
  **routing overhead per call** is the routed row minus the SQLite row;
* **dimilinks task**: submit + one poll (the mock answers the poll ``succeeded``; the poll
  policy waits 0 s) and the first image's URL, journal off / SQLite / PostgreSQL: the
  **journal cost per task** is each journal's row minus the journal-off row (on
  PostgreSQL mostly wall time: each write is a round trip to the server).

The PostgreSQL server is a throwaway one (``tests/pgserver.py``, as in section 10); without
``initdb`` its rows are left out with a note. No targets: these rows show what the paths
cost, so that a regression in one shows up in its own row.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from imagebridge import AsyncImageClient, ImageClient, PollPolicy, Route

from ._clients import (
    API_KEY,
    MOCK_BASE_URL,
    PROMPT,
    Async,
    Sync,
    Target,
    mock_transport,
    raw_async,
    raw_sync,
    time_async_clients,
    time_sync_clients,
)
from ._config import Settings
from ._overhead import FLOOR
from ._proc import pgserver
from ._report import SectionResult, Table
from ._stats import summarize

TASK_BASE_URL = "https://dimilinks.bench.invalid/v1"
_NO_WAIT = PollPolicy(interval=0.0, min_interval=0.0)
_AUTH = {"Authorization": f"Bearer {API_KEY}"}
_JSON = {"content-type": "application/json"}


def task_transport() -> httpx.MockTransport:
    """A dimilinks gateway in a function: every submit gets a new task id (the journal keys
    tasks by id), and every poll of it answers ``succeeded`` with a relative signed URL."""
    ids = itertools.count(1)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            task_id = f"img_{next(ids):024x}"
            body: dict[str, Any] = {"created": 1700000000, "task_id": task_id, "data": []}
        else:
            task_id = request.url.path.rsplit("/", 1)[-1]
            url = f"/p/img/{task_id}/0?exp=4102444800000&sig=0f1e2d3c"
            body = {
                "id": task_id,
                "task_id": task_id,
                "object": "image.task",
                "created_at": 1700000000,
                "progress": 100,
                "completed_at": 1700000001,
                "status": "succeeded",
                "result": {"created": 1700000000, "data": [{"url": url, "file_id": "file_1"}]},
            }
        return httpx.Response(200, content=json.dumps(body).encode(), headers=_JSON)

    return httpx.MockTransport(handle)


def _raw_task_sync() -> Sync:
    client = httpx.Client(transport=task_transport(), headers=_AUTH)
    body = {"model": "gpt-image-2", "prompt": PROMPT, "n": 1}

    def call() -> str:
        submit = client.post(
            f"{TASK_BASE_URL}/images/generations", params={"async": "true"}, json=body
        )
        task_id = submit.raise_for_status().json()["task_id"]
        state = client.get(f"{TASK_BASE_URL}/tasks/{task_id}").raise_for_status().json()
        return str(httpx.URL(TASK_BASE_URL).join(state["result"]["data"][0]["url"]))

    return Sync(call, client.close)


def _raw_task_async() -> Async:
    client = httpx.AsyncClient(transport=task_transport(), headers=_AUTH)
    body = {"model": "gpt-image-2", "prompt": PROMPT, "n": 1}

    async def call() -> str:
        submit = await client.post(
            f"{TASK_BASE_URL}/images/generations", params={"async": "true"}, json=body
        )
        task_id = submit.raise_for_status().json()["task_id"]
        state = (await client.get(f"{TASK_BASE_URL}/tasks/{task_id}")).raise_for_status().json()
        return str(httpx.URL(TASK_BASE_URL).join(state["result"]["data"][0]["url"]))

    return Async(call, client.aclose)


def _sync(client: Any, fields: dict[str, Any]) -> Sync:
    def call() -> str | None:
        url: str | None = client.generate(PROMPT, **fields).images[0].url
        return url

    return Sync(call, client.close)


def _async(client: Any, fields: dict[str, Any]) -> Async:
    async def call() -> str | None:
        url: str | None = (await client.generate(PROMPT, **fields)).images[0].url
        return url

    return Async(call, client.aclose)


@contextmanager
def _postgres() -> Iterator[str | None]:
    """A throwaway PostgreSQL server's DSN, or None when none can be started here."""
    module = pgserver()
    if module.available() is not None:
        yield None
        return
    with module.PostgresServer() as server:
        yield server.dsn


class _Journals:
    """The journal settings measured: off, a SQLite file, PostgreSQL (when available)."""

    def __init__(self, folder: Path, dsn: str | None) -> None:
        self.settings: dict[str, Any] = {"journal off": False, "SQLite journal": None}
        self.folder = folder
        if dsn is not None:
            self.settings["PostgreSQL journal"] = dsn
        self.files = 0

    def journal(self, label: str) -> Any:
        """``label``'s journal setting; every client gets its own SQLite file."""
        setting = self.settings[label]
        if setting is None:
            self.files += 1
            return str(self.folder / f"journal-{self.files}.sqlite3")
        return setting


def _factories(journals: _Journals, job: str, mode: str) -> dict[str, Callable[[], Any]]:
    """The contenders of ``job`` (``images`` or ``task``) in ``mode`` (``sync``/``async``)."""
    cls = ImageClient if mode == "sync" else AsyncImageClient
    wrap: Callable[[Any, dict[str, Any]], Any] = _sync if mode == "sync" else _async
    target = Target()
    factories: dict[str, Callable[[], Any]] = {}
    if job == "images":
        base, provider, fields = MOCK_BASE_URL, "openai", target.imagebridge_fields()
        make_transport: Callable[[], httpx.MockTransport] = mock_transport
        raw = raw_sync if mode == "sync" else raw_async
        factories[FLOOR] = partial(raw, target, mock_transport())
        extra: dict[str, Any] = {}
    else:
        base, provider, fields = TASK_BASE_URL, "dimilinks", {}
        make_transport = task_transport
        factories[FLOOR] = _raw_task_sync if mode == "sync" else _raw_task_async
        extra = {"poll_policy": _NO_WAIT}

    def plain(label: str) -> Any:
        client = cls(
            provider,
            api_key=API_KEY,
            base_url=base,
            transport=make_transport(),
            journal=journals.journal(label),
            **extra,
        )
        return wrap(client, fields)

    def routed() -> Any:
        route = Route(provider=provider, base_url=base, api_key=API_KEY)
        journal = journals.journal("SQLite journal")
        return wrap(cls.from_routes([route], transport=make_transport(), journal=journal), fields)

    for label in journals.settings:
        factories[f"imagebridge, {label}"] = partial(plain, label)
    if job == "images":
        factories["imagebridge, from_routes (1 route)"] = routed
    return factories


def run(settings: Settings) -> SectionResult:
    result = SectionResult("paths", "12. What each path adds per call (in-process transport)")
    counts = {
        "rounds": settings.paths_rounds,
        "batch": settings.paths_batch,
        "warmup": settings.paths_warmup,
    }
    with (
        _postgres() as dsn,
        tempfile.TemporaryDirectory(prefix="imagebridge-bench-paths-") as folder,
    ):
        journals = _Journals(Path(folder), dsn)
        for job in ("images", "task"):
            for mode in ("sync", "async"):
                factories = _factories(journals, job, mode)
                timer = time_sync_clients if mode == "sync" else time_async_clients
                samples = timer(factories, **counts)
                result.data[f"{job}_{mode}"] = summarize(samples, FLOOR)
    if dsn is None:
        result.notes.append("PostgreSQL rows not run: no server can be started here")
    _tables(result)
    return result


def _tables(result: SectionResult) -> None:
    """One table per job: per-call medians, the ratio to raw httpx and the cost over the
    path's baseline (journal off; for the routed row, the SQLite journal row)."""
    for job, title in (("images", "images call"), ("task", "dimilinks task")):
        table = Table(
            [
                f"mode  {title}",
                "wall med us",
                "CPU med us",
                "CPU ratio",
                "added wall us",
                "added CPU us",
            ]
        )
        for mode in ("sync", "async"):
            rows = result.data[f"{job}_{mode}"]
            for name, row in rows.items():
                base_name = (
                    "imagebridge, SQLite journal"
                    if "from_routes" in name
                    else "imagebridge, journal off"
                )
                base = rows.get(base_name)
                added = name != FLOOR and base is not None and name != base_name
                table.add(
                    f"{mode:5} {name}",
                    row["wall_median_us"],
                    row["cpu_median_us"],
                    f"{row['cpu_ratio']:.2f}x",
                    row["wall_median_us"] - base["wall_median_us"] if added and base else "-",
                    row["cpu_median_us"] - base["cpu_median_us"] if added and base else "-",
                )
        result.tables.append(table)
    result.notes.append(
        "added = this row minus its baseline: journal rows minus 'journal off' (the journal's"
        " cost per call or task), the from_routes row minus 'SQLite journal' (routing's cost)"
    )
