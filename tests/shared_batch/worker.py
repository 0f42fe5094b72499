"""One worker of a shared batch, as a process of its own (the chaos test starts several and
kills some): ``python worker.py DSN BASE_URL REQUESTS OUTPUT BATCH_ID WORKER_ID``.

The same as ``imagebridge batch REQUESTS --journal DSN --batch-id ... --worker-id ...``,
with the fast polling a fast emulator needs (the CLI polls every 2 s at first)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx

from imagebridge import AsyncImageClient, BatchItem, PollPolicy, RetryPolicy
from imagebridge._shared_batch import SharedBatch


async def main(argv: list[str]) -> int:
    dsn, base_url, requests, output, batch_id, worker_id = argv
    lines = Path(requests).read_text(encoding="utf-8").splitlines()
    items = [BatchItem.from_json(json.loads(line), n) for n, line in enumerate(lines, 1)]
    concurrency = int(os.environ.get("WORKER_CONCURRENCY", "16"))
    lease = float(os.environ.get("WORKER_LEASE", "3"))
    # Idle connections are dropped before the emulator's (uvicorn's) 5 s keep-alive ends:
    # with both at 5 s, a submit sent on a connection the server is closing that instant
    # fails with no answer, and is rightly ``unknown`` (never resent).
    http = httpx.AsyncClient(limits=httpx.Limits(keepalive_expiry=2.0))
    async with (
        http,
        AsyncImageClient(
            "dimilinks",
            http_client=http,
            api_key=os.environ["DIMILINKS_API_KEY"],
            base_url=base_url,
            poll_policy=PollPolicy(interval=0.05, max_interval=0.1),
            retry=RetryPolicy(backoff=0.01),
            journal=False,
            timeout=60,
        ) as client,
    ):
        outcomes = await client.batch(
            items,
            output,
            concurrency=concurrency,
            journal=SharedBatch(dsn, batch_id=batch_id, worker_id=worker_id, lease=lease),
        )
    print(json.dumps({"statuses": sorted({o.status for o in outcomes}), "count": len(outcomes)}))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
