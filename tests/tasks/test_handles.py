"""submit() / wait() / resume: task handles, their JSON, waiting in a new client, and what is
refused."""

from __future__ import annotations

import httpx
import pytest
import respx

from imagebridge import (
    ConfigurationError,
    ImageTimeoutError,
    InvalidRequestError,
    TaskFailedError,
    TaskHandle,
)

from .fakes import (
    API_KEY,
    BASE,
    ORIGIN,
    SIGNED,
    TASK,
    FakeClock,
    accepted,
    dimilinks_routes,
    failed,
    open_client,
    png,
    succeeded,
    task,
)

pytestmark = pytest.mark.anyio


async def test_submit_returns_a_handle_without_polling(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    submit, poll, _ = dimilinks_routes(api, succeeded())
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        handle = await client.submit("a cat", size="16:9", resolution="2k")
    assert isinstance(handle, TaskHandle)
    assert (handle.provider, handle.base_url, handle.task_id) == ("dimilinks", BASE, TASK)
    assert handle.model == "gpt-image-2"
    assert handle.n == 1
    assert handle.expected_size == (2048, 1152)
    assert handle.adapter_state == {}
    assert (submit.call_count, poll.call_count) == (1, 0)
    assert clock.sleeps == []
    assert dict(submit.calls.last.request.url.params) == {"async": "true"}
    text = handle.to_json()
    assert API_KEY not in text
    assert "SECRET" not in text
    assert "Bearer" not in text
    assert TaskHandle.from_json(text) == handle
    assert TaskHandle.from_json(text.encode()) == handle


async def test_submit_in_compat_mode_keeps_the_mode_on_the_handle(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    submit, _, _ = dimilinks_routes(api)
    submit.mock(
        return_value=httpx.Response(
            200, json={"code": 200, "data": [{"status": "submitted", "task_id": TASK}]}
        )
    )
    options = {"dimilinks": {"compat": "apimart"}}
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        handle = await client.submit("a cat", provider_options=options)
    assert handle.adapter_state == {"compat": "apimart"}
    assert TaskHandle.from_json(handle.to_json()).adapter_state == {"compat": "apimart"}


async def test_a_handle_is_waited_for_in_a_new_client(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    dimilinks_routes(api, image=png(1024, 1024))
    async with open_client(mode, "dimilinks", api, clock=clock) as first:
        text = (await first.submit("a cat", size="16:9", resolution="2k")).to_json()
    api.get(f"{BASE}/tasks/{TASK}").mock(side_effect=[task("in_progress", 40), succeeded()])
    later = FakeClock()
    async with open_client(mode, "dimilinks", api, clock=later) as second:
        result = await second.wait(TaskHandle.from_json(text))
        assert result.task_ids == [TASK]
        assert result.model == "gpt-image-2"
        assert result.images[0].url == ORIGIN + SIGNED
        await second.read(result.images[0])
    # 40 % after 2 s: done in 3 s, waited for (the policy's max_interval is 3.0).
    assert later.sleeps == [2.0, 3.0]
    # The handle remembers the size asked for: the 1024x1024 image is flagged.
    assert [w.code for w in result.warnings] == ["size_mismatch"]


async def test_wait_for_a_task_id_string(mode: str, api: respx.Router, clock: FakeClock) -> None:
    poll = api.get(f"{BASE}/tasks/img_other").mock(
        side_effect=[task("queued", 0, "img_other"), succeeded(task_id="img_other")]
    )
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.wait("img_other")
    assert poll.call_count == 2
    assert result.task_ids == ["img_other"]
    assert len(api.calls) == 2


async def test_wait_per_call_timeout(mode: str, api: respx.Router, clock: FakeClock) -> None:
    api.get(f"{BASE}/tasks/{TASK}").mock(side_effect=[task("in_progress") for _ in range(9)])
    async with open_client(mode, "dimilinks", api, clock=clock, timeout=600) as client:
        with pytest.raises(ImageTimeoutError):
            await client.wait(TASK, timeout=5)
    assert clock.sleeps == [2.0, 2.0]


async def test_wait_timeout_carries_the_task(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    api.get(f"{BASE}/tasks/{TASK}").mock(side_effect=[task("in_progress") for _ in range(9)])
    handle = TaskHandle(provider="dimilinks", base_url=BASE, task_id=TASK)
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(ImageTimeoutError) as info:
            await client.wait(handle, timeout=5)
    assert info.value.task_id == TASK
    assert info.value.task == handle


async def test_wait_failure_carries_the_handle(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    api.get(f"{BASE}/tasks/{TASK}").mock(return_value=failed("upstream_error"))
    handle = TaskHandle(provider="dimilinks", base_url=BASE, task_id=TASK)
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(TaskFailedError) as info:
            await client.wait(handle)
    assert info.value.task_id == TASK
    assert info.value.task == handle


async def test_a_handle_of_another_provider_is_refused(mode: str, api: respx.Router) -> None:
    handle = TaskHandle(provider="apimart", base_url="https://apimart.test/v1", task_id="t1")
    async with open_client(mode, "dimilinks", api) as client:
        with pytest.raises(ConfigurationError) as info:
            await client.wait(handle)
    assert len(api.calls) == 0
    assert "apimart" in str(info.value)


async def test_a_handle_of_another_endpoint_is_not_polled_here(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    api.get(f"{BASE}/tasks/{TASK}").mock(return_value=succeeded())
    handle = TaskHandle(provider="dimilinks", base_url="https://gw.example/v1", task_id=TASK)
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(ConfigurationError):
            await client.wait(handle)
    assert len(api.calls) == 0


async def test_submit_on_a_provider_without_tasks(mode: str, api: respx.Router) -> None:
    async with open_client(mode, "openai", api) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.submit("a cat", model="gpt-image-1")
    assert len(api.calls) == 0
    assert info.value.field == "submit"


async def test_handles_are_immutable_and_strict() -> None:
    handle = TaskHandle(provider="dimilinks", base_url=BASE, task_id=TASK)
    with pytest.raises(ValueError, match="frozen"):
        handle.task_id = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="api_key"):
        TaskHandle.from_json(handle.to_json()[:-1] + ', "api_key": "x"}')
    with pytest.raises(ValueError, match="task_id"):
        TaskHandle(provider="dimilinks", base_url=BASE, task_id="")


async def test_submit_accepts_then_generate_continues_from_the_same_id(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    """generate() is submit + wait: the accepted id is the one polled and reported."""
    api.post(f"{BASE}/images/generations").mock(return_value=accepted("img_42"))
    poll = api.get(f"{BASE}/tasks/img_42").mock(return_value=succeeded(task_id="img_42"))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat")
    assert poll.call_count == 1
    assert result.task_ids == ["img_42"]
