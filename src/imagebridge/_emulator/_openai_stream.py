"""``stream: true`` answers of the openai dialect: server-sent events, sent as they are made.

The official OpenAPI document answers ``/images/generations`` and ``/images/edits`` with
``text/event-stream`` whose events are ``ImageGenStreamEvent`` (``image_generation.partial_image``,
``image_generation.completed``) and ``ImageEditStreamEvent`` (``image_edit.*``), each sent as
``event: <type>`` and ``data: <json>``. For every image asked for (``n``), in turn: the
``partial_images`` (0-3, ``PartialImages``) partial-image events, ``partial_image_index`` 0 up,
then one completed event with ``usage``. Every event carries ``b64_json``, ``created_at``,
``size``, ``quality``, ``background`` and ``output_format`` (resolved values, as the non-stream
answer has them). A partial image is a real image of the requested size and format: the final
one revealed from the top, ``(k + 1) / (partial_images + 1)`` of its rows, over grey.

Each event is rendered, then written on its own (a real streamed body, never one buffered
write), after a pause of ``EmulatorConfig.stream_delay`` seconds, so a client can observe the
time to the first partial image. The usage of a completed event is that of its one image.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from ._images import ImageSpec
from ._openai_models import GENERATE
from ._openai_rules import Job


def event_prefix(job: Job) -> str:
    """The event type prefix: ``image_generation`` (``ImageGenStreamEvent``) or
    ``image_edit`` (``ImageEditStreamEvent``)."""
    return "image_generation" if job.operation == GENERATE else "image_edit"


def stream_response(
    job: Job, specs: list[ImageSpec], usage: list[dict[str, Any]], delay: float
) -> StreamingResponse:
    """The ``text/event-stream`` answer for the images ``specs`` (one ``usage`` each)."""
    return StreamingResponse(
        _events(job, specs, usage, delay),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    job: Job, specs: list[ImageSpec], usage: list[dict[str, Any]], delay: float
) -> AsyncIterator[bytes]:
    prefix = event_prefix(job)
    for spec, image_usage in zip(specs, usage, strict=True):
        for index in range(job.partial_images):
            await asyncio.sleep(delay)
            partial = replace(spec, reveal=(index + 1) / (job.partial_images + 1))
            body = _common(job, await run_in_threadpool(partial.b64))
            body["partial_image_index"] = index
            yield encode(f"{prefix}.partial_image", body)
        await asyncio.sleep(delay)
        body = _common(job, await run_in_threadpool(spec.b64))
        body["usage"] = image_usage
        yield encode(f"{prefix}.completed", body)


def _common(job: Job, b64: str) -> dict[str, Any]:
    return {
        "b64_json": b64,
        "created_at": int(time.time()),
        "size": f"{job.width}x{job.height}",
        "quality": job.quality,
        "background": job.background,
        "output_format": job.fmt,
    }


def encode(event: str, body: dict[str, Any]) -> bytes:
    """One server-sent event: its ``event:`` line, its ``data:`` line (``type`` first), and
    the blank line that ends it."""
    data = json.dumps({"type": event, **body}, separators=(",", ":"))
    return f"event: {event}\ndata: {data}\n\n".encode()
