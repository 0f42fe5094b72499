"""Many concurrent async generations against the emulator's dimilinks dialect.

``imagebridge``: ``AsyncImageClient("dimilinks")`` (one client; each task is generate +
``aread()`` of its image), with the default poll policy unless ``poll`` gives one.
``oracle``: raw httpx that *knows* the task duration: submit, sleep exactly that long, poll
once, download. Its wall time is the ideal (task duration + transfer) a poller can reach.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._mem import peak_rss_mib, rss_mib

PROMPT = "a lighthouse at dusk, bench task"
API_KEY = "sk-bench-0123456789"


async def _run_all(
    count: int, one: Callable[[], Awaitable[int]], deadline: float, **extra: Any
) -> dict[str, Any]:
    """Run ``count`` copies of ``one`` as asyncio tasks; time them (wall, CPU, finish times).

    A run with tasks still going after ``deadline`` seconds is reported as ``capped`` (its
    wall time is then a lower bound) and the process ends at once: cancelling a thousand
    requests queued in httpx's pool can take longer than the run itself.
    """
    rss_before = rss_mib()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    finished: list[float] = []

    async def timed() -> int:
        size = await one()
        finished.append(time.perf_counter() - wall0)
        return size

    tasks = [asyncio.create_task(timed()) for _ in range(count)]
    done, unfinished = await asyncio.wait(tasks, timeout=deadline)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    outcomes = [task.exception() or task.result() for task in done]
    errors = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    finished.sort()
    out = {
        "tasks": count,
        "ok": len(finished),
        "capped": bool(unfinished),
        "unfinished": len(unfinished),
        "errors": errors[:5],
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_ms_per_task": cpu / count * 1000,
        "first_done_s": finished[0] if finished else None,
        "median_done_s": finished[len(finished) // 2] if finished else None,
        "image_bytes": next((o for o in outcomes if isinstance(o, int)), None),
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_mib": rss_before,
        **extra,
    }
    if unfinished:
        print(json.dumps(out), flush=True)
        os._exit(0)
    return out


def _transport(args: dict[str, Any]) -> Any:
    """None (httpx's default pool) or an aiohttp-backed transport."""
    if args.get("transport") != "aiohttp":
        return None
    from httpx_aiohttp import AiohttpTransport

    return AiohttpTransport()


def imagebridge(args: dict[str, Any]) -> dict[str, Any]:
    from imagebridge import AsyncImageClient, PollPolicy

    transport = _transport(args)
    poll = PollPolicy(**args["poll"]) if args.get("poll") else None

    async def main() -> dict[str, Any]:
        client = AsyncImageClient(
            "dimilinks",
            api_key=API_KEY,
            base_url=args["base_url"],
            transport=transport,
            poll_policy=poll,
        )
        policy = client.adapter.poll_policy
        described = {
            "interval": policy.interval,
            "backoff": policy.backoff,
            "max_interval": policy.max_interval,
        }

        async def one() -> int:
            result = await client.generate(PROMPT)
            return len(await result.images[0].aread())

        try:
            return await _run_all(args["tasks"], one, args["deadline"], poll_policy=described)
        finally:
            await client.aclose()

    return asyncio.run(main())


def oracle(args: dict[str, Any]) -> dict[str, Any]:
    import httpx

    base_url: str = args["base_url"]
    duration: float = args["duration"]
    auth = {"Authorization": f"Bearer {API_KEY}"}
    body = {"model": "gpt-image-2", "prompt": PROMPT, "n": 1}

    async def main() -> dict[str, Any]:
        transport = _transport(args)
        async with httpx.AsyncClient(headers=auth, timeout=120, transport=transport) as client:

            async def one() -> int:
                submit = await client.post(
                    f"{base_url}/images/generations", params={"async": "true"}, json=body
                )
                submit.raise_for_status()
                task_id = submit.json()["task_id"]
                await asyncio.sleep(duration)
                while True:
                    poll = await client.get(f"{base_url}/tasks/{task_id}")
                    poll.raise_for_status()
                    state = poll.json()
                    if state["status"] == "succeeded":
                        break
                    await asyncio.sleep(0.05)
                url = httpx.URL(base_url).join(state["result"]["data"][0]["url"])
                image = await client.get(url)
                image.raise_for_status()
                return len(image.content)

            return await _run_all(args["tasks"], one, args["deadline"])

    return asyncio.run(main())
