"""One worker of the ``shared`` section's batch, in a process of its own:
``python -m bench._shared_worker DSN BASE_URL ITEMS OUTPUT BATCH_ID CONCURRENCY POLL RPM``
(``RPM`` 0: no rate limit). Every worker builds the same items, so they join one batch."""

from __future__ import annotations

import asyncio
import sys

import httpx

from imagebridge import AsyncImageClient, BatchItem, PollPolicy, RateLimit
from imagebridge._shared_batch import SharedBatch

KEY = "sk-bench-shared"


async def main(argv: list[str]) -> int:
    dsn, base_url, count, output, batch_id, concurrency, poll, rpm = argv
    # One prompt for all: the emulator renders an image per prompt (its colour), and the
    # bench measures the workers, not Pillow.
    items = [BatchItem(str(i), "a lighthouse") for i in range(int(count))]
    limit = RateLimit(requests_per_minute=float(rpm)) if float(rpm) > 0 else None
    # Idle connections go before uvicorn's 5 s keep-alive ends (see tests/shared_batch).
    http = httpx.AsyncClient(limits=httpx.Limits(keepalive_expiry=2.0))
    async with (
        http,
        AsyncImageClient(
            "dimilinks",
            http_client=http,
            api_key=KEY,
            base_url=base_url,
            poll_policy=PollPolicy(interval=float(poll), max_interval=float(poll), backoff=1.0),
            rate_limit=limit,
            journal=False,
            timeout=600,
        ) as client,
    ):
        outcomes = await client.batch(
            items,
            output,
            concurrency=int(concurrency),
            journal=SharedBatch(dsn, batch_id=batch_id, lease=1.5),
        )
    bad = [o for o in outcomes if o.status not in ("saved", "skipped")]
    return 1 if bad or len(outcomes) != len(items) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
