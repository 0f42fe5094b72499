"""Streamed replies of the OpenAI Images dialect (``stream: true``): the spec's server-sent events.

``ImageGenStreamEvent`` / ``ImageEditStreamEvent``: for each image asked for, in turn, its
``image_generation.partial_image`` (``image_edit.partial_image``) events, ``partial_image_index``
0 up, then one ``*.completed`` event with the image and its ``usage``. Each event's data is a
JSON object read through the adapter's bounded JSON reader, as a reply is; an ``error`` event
is the provider's error, mapped by the adapter's error table; event types the spec does not
have yet are skipped. The completed images are kept as they arrive: a stream that breaks
after all of them lost nothing and returns them, one that breaks earlier raises with the
finished ones as ``error.partial`` (and the last partial image, which the job keeps).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from imagebridge import ImageBridgeError
from imagebridge.adapter import (
    Adapter,
    Flow,
    GeneratedImage,
    ImageResult,
    PartialImage,
    Plan,
    Progress,
    ServerSentEvent,
    StreamInterruptedError,
    Usage,
    read_event,
)

#: How the dialect reads one image entry (``OpenAIImagesAdapter.image``).
ImageReader = Callable[[Mapping[str, Any]], GeneratedImage]

__all__ = ["read_stream"]


def read_stream(
    adapter: Adapter, image: ImageReader, response: httpx.Response, plan: Plan
) -> Flow[ImageResult]:
    """The result of an open event-stream ``response``, its partial images yielded as they come."""
    yield Progress("running", provider=adapter.name)
    images: list[GeneratedImage] = []
    completed: list[Mapping[str, Any]] = []
    seen = 0
    while True:
        try:
            event = yield from read_event()
        except ImageBridgeError as error:
            if len(images) >= plan.n:
                break  # every image arrived: only the end of the body was lost
            if images:
                error.partial = _result(adapter, plan, images, completed)
            raise
        if event is None:
            break
        seen += 1
        reply = _as_reply(response, event)
        data = adapter.mapping(reply)
        kind = str(data.get("type") or event.event)
        if event.event == "error" or "error" in data:
            raise adapter.error(reply)
        if kind.endswith((".partial_image", ".completed")) and not _has_b64(data):
            raise adapter.unexpected(response, f"a {kind} event has no b64_json string")
        partial: PartialImage | None = None
        if kind.endswith(".partial_image"):
            index = data.get("partial_image_index")
            partial = PartialImage(
                index=index if isinstance(index, int) else 0,
                image=image(data),
                image_index=len(images),
            )
        elif kind.endswith(".completed"):
            images.append(image(data))
            completed.append({k: v for k, v in data.items() if k != "b64_json"})
        # An event's text and its JSON each hold a whole image: let them go before the
        # caller handles this one and the next arrives, so a stream holds about one image
        # (the last partial, which the job keeps for errors) beside the one being read.
        del event, data, reply
        if partial is not None:
            yield partial
    if not images:
        raise StreamInterruptedError(
            f"the event stream from {adapter.name} ended after {seen} event(s) without a"
            " completed image; it was not requested again (that could pay twice)",
            provider=adapter.name,
        )
    return _result(adapter, plan, images, completed)


def _result(
    adapter: Adapter,
    plan: Plan,
    images: list[GeneratedImage],
    completed: list[Mapping[str, Any]],
) -> ImageResult:
    usage: Usage | None = None
    for data in completed:
        event_usage = Usage.from_dict(data.get("usage"))
        if event_usage is not None:
            usage = event_usage if usage is None else usage + event_usage
    created = completed[0].get("created_at")
    return ImageResult(
        images=list(images),
        provider=adapter.name,
        model=plan.model,
        created=created if isinstance(created, int) else None,
        usage=usage,
        raw=list(completed),
    )


def _has_b64(data: Mapping[str, Any]) -> bool:
    # Not _openai_images.has_image(): that module imports this one.
    value = data.get("b64_json")
    return isinstance(value, str) and bool(value)


def _as_reply(response: httpx.Response, event: ServerSentEvent) -> httpx.Response:
    """One event's data as a JSON reply of the stream's status, for the dialect's JSON and
    error readers."""
    return httpx.Response(
        response.status_code,
        headers={"content-type": "application/json"},
        content=event.data.encode(),
        request=response.request,
    )
