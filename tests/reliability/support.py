"""Helpers of the reliability suite: one client API for sync and async, the emulator's counters,
the journal, the console script and the secrets tripwire."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from imagebridge import (
    AsyncImageClient,
    ImageClient,
    ImageResult,
    JournalEntry,
    PollPolicy,
    RetryPolicy,
    TaskHandle,
    TaskJournal,
)
from imagebridge._emulator import EmulatorServer

#: The API key of every run: it must never show up anywhere but on the wire to the API.
KEY = "sk-TRIPWIRE-0123456789abcdef"
#: Fast polling for a fast emulator.
POLICY = PollPolicy(interval=0.05, max_interval=0.1)
#: The default retry RULES (max_retries=2, Retry-After honoured); only the backoff is shorter.
RETRY = RetryPolicy(backoff=0.01)
PROMPT = "a lighthouse in the fog"

#: Per provider: canonical fields that give URL results (so the download phase exists).
FIELDS: dict[str, dict[str, Any]] = {
    "openai": {
        "model": "dall-e-2",
        "size": "256x256",
        "provider_options": {"openai": {"response_format": "url"}},
    },
    "geeknow": {
        "model": "dall-e-2",
        "size": "256x256",
        "provider_options": {"geeknow": {"response_format": "url"}},
    },
    "dimilinks": {"size": "1:1"},
    "apimart": {"size": "1:1"},
    "fal": {"output_format": "png"},
    # No Prefer: wait, so that the prediction is polled (the held create is in
    # tests/providers/replicate).
    "replicate": {"output_format": "png", "provider_options": {"replicate": {"wait": 0}}},
    "google": {},
    "stability": {"output_format": "png"},
    "bfl": {"output_format": "png"},
}
#: Providers whose jobs are tasks (submit, then polls).
TASK_PROVIDERS = ("dimilinks", "apimart", "fal", "replicate", "bfl")
#: Providers whose images come inline in the answer (no result URL, so no download phase).
INLINE_PROVIDERS = ("google", "stability")
#: Every header that carries a key in some dialect (none may reach another origin).
KEY_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key", "x-key"})


class Bridge:
    """The same calls through an ImageClient ("sync") or an AsyncImageClient ("async")."""

    def __init__(self, mode: str, client: ImageClient | AsyncImageClient) -> None:
        self.mode = mode
        self.client = client

    async def generate(self, prompt: str = PROMPT, **fields: Any) -> ImageResult:
        if isinstance(self.client, ImageClient):
            return self.client.generate(prompt, **fields)
        return await self.client.generate(prompt, **fields)

    async def submit(self, prompt: str = PROMPT, **fields: Any) -> TaskHandle:
        if isinstance(self.client, ImageClient):
            return self.client.submit(prompt, **fields)
        return await self.client.submit(prompt, **fields)

    async def wait(self, task: TaskHandle | str, **options: Any) -> ImageResult:
        if isinstance(self.client, ImageClient):
            return self.client.wait(task, **options)
        return await self.client.wait(task, **options)

    async def save(self, result: ImageResult, folder: Path) -> list[Path]:
        if self.mode == "sync":
            return result.save(folder)
        return await result.asave(folder)


@contextlib.asynccontextmanager
async def bridge(
    mode: str, provider: str, server: EmulatorServer, **options: Any
) -> AsyncIterator[Bridge]:
    """A real client of ``mode`` against the emulator's ``provider`` dialect, over loopback."""
    options.setdefault("api_key", KEY)
    options.setdefault("base_url", server.url(provider))
    options.setdefault("poll_policy", POLICY)
    options.setdefault("retry", RETRY)
    options.setdefault("timeout", 30)
    if mode == "sync":
        with ImageClient(provider, **options) as client:
            yield Bridge(mode, client)
    else:
        async with AsyncImageClient(provider, **options) as aclient:
            yield Bridge(mode, aclient)


@dataclass(frozen=True)
class Counts:
    """What the emulator saw of one dialect since the last reset."""

    submits: int
    accepted: int
    polls: int
    downloads: int


def counts(server: EmulatorServer, dialect: str) -> Counts:
    stats = server.app_state.stats()
    return Counts(
        stats["submits"][dialect],
        stats["accepted"][dialect],
        stats["polls"][dialect],
        stats["downloads"][dialect],
    )


def fresh(server: EmulatorServer, faults: Iterable[str] = ()) -> EmulatorServer:
    """The emulator with ``faults`` active, an empty log and zero counters."""
    server.app_state.faults.replace(list(faults))
    server.app_state.reset()
    return server


def journal_entries(path: Path, **filters: Any) -> list[JournalEntry]:
    return TaskJournal(path).entries(**filters) if path.exists() else []


# -- the console script -----------------------------------------------------------------------
def script() -> str:
    """The installed ``imagebridge`` console script beside this interpreter."""
    path = Path(sys.executable).parent / "imagebridge"
    assert path.is_file(), f"no console script at {path}"
    return str(path)


def cli_env(journal: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI run: its own journal, no provider settings leaking in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and k != "IMAGEBRIDGE_PROVIDER"
    }
    env["IMAGEBRIDGE_JOURNAL"] = str(journal)
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``imagebridge ARGS`` to completion; its output must not hold the key."""
    done = subprocess.run(
        [script(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert_no_secret(done.stdout, done.stderr, where=f"imagebridge {' '.join(args[:2])}")
    return done


# -- the secrets tripwire ---------------------------------------------------------------------
def assert_no_secret(*texts: Any, where: str = "output") -> None:
    for text in texts:
        blob = text if isinstance(text, str) else repr(text)
        if isinstance(text, bytes):
            blob = text.decode("latin-1")
        assert KEY not in blob, f"the API key leaked into {where}: {blob[:300]!r}"


def exception_texts(error: BaseException) -> Iterator[str]:
    """Everything an exception (and its causes) shows: str, repr, args, body, the request."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(current.args)
        for name in ("message", "body", "partial", "task"):
            yield repr(getattr(current, name, None))
        if isinstance(current, httpx.RequestError | httpx.HTTPStatusError):
            with contextlib.suppress(RuntimeError):
                request = current.request
                yield repr(request.headers.raw)
                yield repr(request.url)
        current = current.__cause__ or current.__context__


def files_under(folder: Path) -> Iterator[Path]:
    if folder.exists():
        yield from (path for path in folder.rglob("*") if path.is_file())


def assert_clean(
    *,
    error: BaseException | None = None,
    logs: str = "",
    journal: Path | None = None,
    server: EmulatorServer | None = None,
    folders: Iterable[Path] = (),
) -> None:
    """The tripwire: the key is in no error, log, journal, request log or saved file."""
    if error is not None:
        assert_no_secret(*exception_texts(error), where="an exception")
    assert_no_secret(logs, where="the logs")
    if journal is not None and journal.exists():
        for path in journal.parent.glob(journal.name + "*"):  # the WAL files too
            assert_no_secret(path.read_bytes(), where=str(path))
    if server is not None:
        log = json.dumps(server.app_state.requests)
        assert_no_secret(log, where="the emulator's request log")
        for entry in server.app_state.requests:
            for name in KEY_HEADERS:
                assert entry["headers"].get(name) in (None, "[redacted]"), entry
    for folder in folders:
        for path in files_under(folder):
            assert_no_secret(path.read_bytes(), where=str(path))
