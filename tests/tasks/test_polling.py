"""The polling engine through the dimilinks adapter: exact sleeps, poll counts and progress
events on a fake clock, statuses, Retry-After, 404 and the overall deadline."""

from __future__ import annotations

import httpx
import pytest
import respx

from imagebridge import (
    ImageTimeoutError,
    NotFoundError,
    PollPolicy,
    Progress,
    TaskHandle,
)

from .fakes import TASK, FakeClock, dimilinks_routes, open_client, succeeded, task

pytestmark = pytest.mark.anyio


def events(progress: list[Progress]) -> list[tuple[str, str | None, float | None, str | None]]:
    return [(p.stage, p.status, p.percent, p.task_id) for p in progress]


async def test_default_policy_sleeps_and_progress(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    submit, poll, _ = dimilinks_routes(
        api,
        task("queued", 0),
        task("in_progress", 30),
        task("in_progress", 30),  # unchanged: no new progress event
        task("in_progress", 75),
        task("in_progress", 90),
        succeeded(),
    )
    seen: list[Progress] = []
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat", on_progress=seen.append)
    # PollPolicy(interval=2.0, backoff=1.25, max_interval=3.0): the first wait is the
    # interval, which grows by 1.25 per poll up to 3.0; a percentage that advances sets the
    # next wait to when the task should be done (5 % + 0.05 s past it), within [floor, 3.0]:
    # 0 % -> 2.0; 30 % after 4 s (done in 9.3 s) -> 3.0; 30 % again -> the interval, 3.0;
    # 75 % 3 s later (15 %/s) -> 25/15 s; 90 % then (15 % in 1.8 s) -> 10/(15/1.8) s.
    first = 25 / 15 * 1.05 + 0.05
    assert clock.sleeps == pytest.approx(
        [2.0, 2.0, 3.0, 3.0, first, 10 / (15 / first) * 1.05 + 0.05]
    )
    assert submit.call_count == 1
    assert poll.call_count == 6
    assert events(seen) == [
        ("submitting", None, None, None),
        ("queued", None, None, TASK),
        ("queued", "queued", 0.0, TASK),
        ("running", "in_progress", 30.0, TASK),
        ("running", "in_progress", 75.0, TASK),
        ("running", "in_progress", 90.0, TASK),
        ("done", "succeeded", 100.0, TASK),
    ]
    assert all(p.provider == "dimilinks" for p in seen)
    assert result.task_ids == [TASK]
    assert result.task_id == TASK


async def test_client_on_progress_is_used_when_the_call_has_none(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    dimilinks_routes(api, task("in_progress", 50), succeeded())
    seen: list[Progress] = []
    async with open_client(mode, "dimilinks", api, clock=clock, on_progress=seen.append) as c:
        await c.generate("a cat")
    assert [p.stage for p in seen] == ["submitting", "queued", "running", "done"]


async def test_undocumented_pending_status_is_not_finished(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    _, poll, _ = dimilinks_routes(
        api, task("pending", 0), task("pending", 0), task("in_progress", 10), succeeded()
    )
    seen: list[Progress] = []
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        result = await client.generate("a cat", on_progress=seen.append)
    assert poll.call_count == 4
    assert clock.sleeps == [2.0, 2.0, 2.5, 3.0]
    statuses = [(p.stage, p.status) for p in seen if p.status]
    assert statuses == [
        ("queued", "pending"),
        ("running", "in_progress"),
        ("done", "succeeded"),
    ]
    assert len(result.images) == 1


async def test_custom_poll_policy(mode: str, api: respx.Router, clock: FakeClock) -> None:
    dimilinks_routes(api, *[task("in_progress") for _ in range(5)], succeeded())
    policy = PollPolicy(interval=1.0, backoff=2.0, max_interval=5.0)
    async with open_client(mode, "dimilinks", api, clock=clock, poll_policy=policy) as client:
        await client.generate("a cat")
    assert clock.sleeps == [1.0, 1.0, 2.0, 4.0, 5.0, 5.0]


async def test_retry_after_on_a_normal_poll_is_honoured(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    slow = task("in_progress")
    slow.headers["Retry-After"] = "4"
    _, poll, _ = dimilinks_routes(api, slow, task("in_progress"), succeeded())
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        await client.generate("a cat")
    # Retry-After replaces the wait once; the interval itself is not grown by it.
    assert clock.sleeps == [2.0, 4.0, 2.0]
    assert poll.call_count == 3


async def test_retry_after_is_capped_at_a_minute(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    slow = task("in_progress", 10)
    slow.headers["Retry-After"] = "3600"
    dimilinks_routes(api, slow, succeeded())
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        await client.generate("a cat")
    assert clock.sleeps == [2.0, 60.0]


async def test_404_on_poll_stops_at_once(mode: str, api: respx.Router, clock: FakeClock) -> None:
    gone = httpx.Response(404, json={"error": {"code": "not_found", "message": "no such task"}})
    _, poll, _ = dimilinks_routes(api, task("queued", 0), gone, succeeded())
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(NotFoundError) as info:
            await client.generate("a cat")
    assert poll.call_count == 2
    assert clock.sleeps == [2.0, 2.0]
    error = info.value
    assert error.task_id == TASK
    assert error.code == "not_found"
    assert error.status_code == 404
    assert TASK in str(error)


async def test_404_without_a_json_body_is_still_not_found(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    _, poll, _ = dimilinks_routes(api, httpx.Response(404, text="Not Found"))
    async with open_client(mode, "dimilinks", api, clock=clock) as client:
        with pytest.raises(NotFoundError) as info:
            await client.generate("a cat")
    assert poll.call_count == 1
    assert info.value.task_id == TASK


async def test_deadline_while_polling(mode: str, api: respx.Router, clock: FakeClock) -> None:
    _, poll, _ = dimilinks_routes(api, *[task("in_progress") for _ in range(20)])
    async with open_client(mode, "dimilinks", api, clock=clock, timeout=10) as client:
        with pytest.raises(ImageTimeoutError) as info:
            await client.generate("a cat")
    # 2 + 2 + 2.5 + 3 = 9.5 s; the next 3 s sleep would cross the 10 s deadline.
    assert clock.sleeps == [2.0, 2.0, 2.5, 3.0]
    assert poll.call_count == 4
    assert clock.elapsed <= 10
    error = info.value
    assert isinstance(error, TimeoutError)
    assert error.task_id == TASK
    assert isinstance(error.task, TaskHandle)
    assert error.task.task_id == TASK
    assert error.task.provider == "dimilinks"
    assert error.timeout == 10
    assert TASK in str(error)


async def test_request_timeouts_are_cut_to_the_deadline(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    dimilinks_routes(api, *[task("in_progress") for _ in range(20)])
    async with open_client(
        mode, "dimilinks", api, clock=clock, timeout=10, request_timeout=5
    ) as client:
        with pytest.raises(ImageTimeoutError):
            await client.generate("a cat")
    # Submit at t=0, polls at t=2, 4, 6.5 and 9.5: each request gets min(5, time left).
    reads = [s.timeout["read"] for s in client.sent]
    assert reads == [5.0, 5.0, 5.0, 3.5, 0.5]
    assert [s.timeout["connect"] for s in client.sent] == reads


@pytest.mark.parametrize(
    ("call_timeout", "sleeps"),
    [
        (5, [2.0, 2.0]),
        # the last wait is cut short so that one final poll fits before the deadline
        (20, [2.0, 2.0, 2.5, 3.0, 3.0, 3.0, 3.0, 0.5]),
    ],
)
async def test_per_call_timeout_overrides_the_client(
    mode: str, api: respx.Router, clock: FakeClock, call_timeout: float, sleeps: list[float]
) -> None:
    _, poll, _ = dimilinks_routes(api, *[task("in_progress") for _ in range(20)])
    async with open_client(mode, "dimilinks", api, clock=clock, timeout=10) as client:
        with pytest.raises(ImageTimeoutError) as info:
            await client.generate("a cat", timeout=call_timeout)
    assert clock.sleeps == sleeps
    assert poll.call_count == len(sleeps)
    assert clock.elapsed <= call_timeout
    assert info.value.timeout == call_timeout


async def test_deadline_checked_before_each_request(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    """A slow poll answer that eats the deadline: no further request is sent."""

    def slow(request: httpx.Request) -> httpx.Response:
        clock.now += 9.0  # the answer took 9 s of the 10 s deadline
        answer = task("in_progress", 50)
        answer.headers["Retry-After"] = "0"  # poll again at once: no sleep to check
        return answer

    api.post("https://dimilinks.test/v1/images/generations").mock(
        return_value=httpx.Response(200, json={"task_id": TASK, "data": []})
    )
    poll = api.get(f"https://dimilinks.test/v1/tasks/{TASK}").mock(side_effect=slow)
    async with open_client(mode, "dimilinks", api, clock=clock, timeout=10) as client:
        with pytest.raises(ImageTimeoutError) as info:
            await client.generate("a cat")
    assert poll.call_count == 1
    assert clock.sleeps == [2.0]
    assert info.value.task_id == TASK


async def test_a_percentage_paces_the_polls_to_when_the_task_is_done(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    """A task that reports its percentage is polled when it should be done: 40 % after 2 s
    of a 5 s job means 3 s more, so the second poll finds it finished (the policy alone
    would poll at 2, 4 and 6.5 s)."""
    _, poll, _ = dimilinks_routes(api, task("in_progress", 40), succeeded())
    policy = PollPolicy(interval=2.0, backoff=1.25, max_interval=5.0)
    async with open_client(mode, "dimilinks", api, clock=clock, poll_policy=policy) as client:
        await client.generate("a cat")
    assert clock.sleeps == pytest.approx([2.0, 3.0 * 1.05 + 0.05])
    assert poll.call_count == 2


async def test_pacing_stays_within_the_policy(
    mode: str, api: respx.Router, clock: FakeClock
) -> None:
    """A slow task waits at most max_interval, a fast one at least the floor; a percentage
    that goes nowhere (or back) leaves the policy's interval."""
    states = [task("in_progress", 1), task("in_progress", 99), task("in_progress", 50)]
    dimilinks_routes(api, *states, task("in_progress", 60), succeeded())
    policy = PollPolicy(interval=2.0, backoff=1.0, max_interval=4.0, min_interval=0.5)
    async with open_client(mode, "dimilinks", api, clock=clock, poll_policy=policy) as client:
        await client.generate("a cat")
    # 1 % after 2 s: 198 s to go -> max_interval 4.0; 99 % 4 s later: 0.04 s -> the floor;
    # 50 % (back): the interval 2.0; 60 % 2 s after 50 %: 8 s to go -> 4.0.
    assert clock.sleeps == [2.0, 4.0, 0.5, 2.0, 4.0]
