"""Every way of finishing a task goes through the adapter's own ``wait()`` flow and the same
bookkeeping: ``generate()``, ``submit()`` + ``wait()``, resuming a journaled task by its
handle in a new client, and batch items. An adapter that overrides ``wait()`` (as the
``Adapter`` docstring invites) is honoured by all of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imagebridge import (
    AsyncImageClient,
    BatchItem,
    ImageClient,
    PollPolicy,
    TaskJournal,
    create_registry,
    hookimpl,
)
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from imagebridge.adapter import Adapter, Flow, ImageResult, ImageWarning, TaskHandle
from imagebridge_plugins.dimilinks import DimilinksAdapter

pytestmark = pytest.mark.anyio

KEY = "sk-one-path-0123456789"
POLICY = PollPolicy(interval=0.02, max_interval=0.05)


class WaitingAdapter(DimilinksAdapter):
    """dimilinks with its own wait(): it counts the calls and marks the result."""

    name = "dimilinks-own-wait"
    waited: list[str] = []  # noqa: RUF012 (shared by the test, on purpose)

    def wait(self, task: TaskHandle) -> Flow[ImageResult]:
        type(self).waited.append(task.task_id)
        result = yield from super().wait(task)
        result.warnings.append(ImageWarning("other", "finished by the override"))
        return result


class _Plugin:
    @hookimpl
    def imagebridge_adapters(self) -> list[type[Adapter]]:
        return [WaitingAdapter]


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.1, api_key=KEY)) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh() -> None:
    WaitingAdapter.waited.clear()


def _options(server: EmulatorServer, journal: TaskJournal) -> dict[str, Any]:
    return {
        "api_key": KEY,
        "base_url": server.url("dimilinks"),
        "registry": create_registry(plugins=[_Plugin()]),
        "poll_policy": POLICY,
        "journal": journal,
        "timeout": 20,
    }


def _overridden(result: ImageResult) -> bool:
    return "finished by the override" in [w.message for w in result.warnings]


async def test_wait_generate_and_resume_run_the_adapters_own_wait(
    mode: str, server: EmulatorServer, tmp_path: Path
) -> None:
    journal = TaskJournal(tmp_path / "journal.sqlite3")
    options = _options(server, journal)
    if mode == "sync":
        with ImageClient(WaitingAdapter.name, **options) as client:
            generated = client.generate("a kite")
            handle = client.submit("a kite")
            waited = client.wait(handle)
        with ImageClient(WaitingAdapter.name, **options) as other:
            resumed = other.wait(TaskHandle.from_json(handle.to_json()))
    else:
        async with AsyncImageClient(WaitingAdapter.name, **options) as aclient:
            generated = await aclient.generate("a kite")
            handle = await aclient.submit("a kite")
            waited = await aclient.wait(handle)
        async with AsyncImageClient(WaitingAdapter.name, **options) as aother:
            resumed = await aother.wait(TaskHandle.from_json(handle.to_json()))
    assert all(_overridden(r) for r in (generated, waited, resumed))
    assert WaitingAdapter.waited == [generated.task_id, handle.task_id, handle.task_id]
    # The client attached the task and journaled it, once, whatever the adapter did.
    assert [t.task_id for t in waited.tasks] == [handle.task_id]
    assert waited.task_ids == [handle.task_id]
    states = {e.task.task_id: e.state for e in journal.entries()}
    assert states == {generated.task_id: "fetched", handle.task_id: "fetched"}


async def test_batch_items_run_the_adapters_own_wait_and_resume_without_a_new_submit(
    server: EmulatorServer, tmp_path: Path
) -> None:
    journal = TaskJournal(tmp_path / "journal.sqlite3")
    items = [BatchItem("a", "a kite"), BatchItem("b", "a boat")]
    async with AsyncImageClient(WaitingAdapter.name, **_options(server, journal)) as client:
        outcomes = await client.batch(items, tmp_path / "out")
    assert [o.status for o in outcomes] == ["saved", "saved"]
    assert all("finished by the override" in o.warnings for o in outcomes)
    assert sorted(WaitingAdapter.waited) == sorted(o.task_id for o in outcomes)
    labels = {e.label for e in journal.entries()}
    assert all(label and label.startswith("batch:") for label in labels)
    assert {e.state for e in journal.entries()} == {"saved"}
