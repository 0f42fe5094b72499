"""The ``apimart`` provider: APIMart's always-asynchronous image tasks (docs/dialects/apimart.md).

``POST /images/generations`` answers ``{"code": 200, "data": [{"status": "submitted",
"task_id": ...}]}`` (older models: ``data`` as one object with ``id``), then
``GET /tasks/{id}`` is polled until ``completed`` (``failed`` and ``cancelled`` are failures).
Image ``url`` is a list (a string in one doc example), ``error`` an object or a string, and
each image's ``expires_at`` is kept. Bodies carry their own integer ``code``: a body whose
``code`` is not 200 is an error even under HTTP 200.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from imagebridge import hookimpl
from imagebridge.adapter import (
    Accepted,
    Adapter,
    Capabilities,
    Flow,
    GeneratedImage,
    ImageResult,
    InlineImage,
    Plan,
    PollPolicy,
    Progress,
    TaskHandle,
    TaskState,
    classify,
    json_request,
)

from ._tables import GPT_IMAGE_2_TASKS
from ._task_status import submitted_id, task_result, task_state


class ApimartAdapter(Adapter):
    name = "apimart"
    description = "APIMart async image tasks (gpt-image-2)"
    default_base_url = "https://api.apimart.ai/v1"
    default_model = "gpt-image-2"
    models = ("gpt-image-2",)
    poll_policy = PollPolicy(interval=2.0, backoff=1.25, max_interval=5.0)
    wire_fields: ClassVar[Mapping[str, str]] = {
        "prompt": "`prompt`",
        "model": "`model` (always sent)",
        "n": "`n`",
        "size": "`size` as given: ratio `W:H`, pixels `WxH` or `auto`",
        "resolution": "`resolution` (`1k`, `2k`, `4k`)",
        "quality": "`quality`",
        "output_format": "`output_format`",
        "output_compression": "`output_compression`",
        "background": "`background`",
        "moderation": "`moderation`",
        "user": "`user`",
        "reference_images": "`image_urls` (files as data URLs)",
        "mask": "`mask_url` (a file as a data URL)",
    }

    def capabilities(self, model: str) -> Capabilities:
        return GPT_IMAGE_2_TASKS.replace(
            model=model,
            qualities=("auto", "low", "medium", "high"),
            generate_mask=True,  # mask_url
            known=model in self.models,
        )

    def body(self, plan: Plan) -> dict[str, Any]:
        request = plan.request
        body: dict[str, Any] = {"model": plan.model, "prompt": request.prompt, "n": plan.n}
        if plan.wire_size is not None:
            body["size"] = plan.wire_size
        if plan.wire_resolution is not None:
            body["resolution"] = plan.wire_resolution
        body.update(request.option_values())
        if request.reference_images:
            body["image_urls"] = [InlineImage(image) for image in request.reference_images]
        if request.mask is not None:
            body["mask_url"] = InlineImage(request.mask)
        return body

    # -- flows --------------------------------------------------------------------------------
    def generate(self, plan: Plan) -> Flow[ImageResult]:
        handle = yield from self.submit(plan)
        return (yield from self.wait(handle))

    def submit(self, plan: Plan) -> Flow[TaskHandle]:
        yield Progress("submitting", provider=self.name)
        response = yield json_request("POST", self.url("/images/generations"), self.body(plan))
        assert response is not None
        body = self._envelope(response)
        data = body.get("data")
        entry = data[0] if isinstance(data, list) and data else data
        task_id = None
        if isinstance(entry, Mapping):
            task_id = entry.get("task_id") or entry.get("id")
        handle = TaskHandle(
            provider=self.name,
            base_url=self.base_url,
            task_id=submitted_id(self, response, task_id),
            model=plan.model,
            n=plan.n,
            expected_size=plan.expected_size,
        )
        yield Accepted(handle)
        return handle

    def poll_request(self, task: TaskHandle) -> httpx.Request:
        return httpx.Request(
            "GET", self.url(f"/tasks/{quote(task.task_id, safe='')}"), params={"language": "en"}
        )

    def collect(self, task: TaskHandle, state: TaskState) -> ImageResult:
        payload: Mapping[str, Any] = state.payload if isinstance(state.payload, Mapping) else {}
        result = payload.get("result")
        entries = result.get("images") if isinstance(result, Mapping) else None
        images = [
            image
            for entry in entries or ()
            if isinstance(entry, Mapping)
            for image in _images(entry, self.resolve_url)
        ]
        return task_result(self.name, task, images, payload)

    # -- reading ------------------------------------------------------------------------------
    def _envelope(self, response: httpx.Response, task_id: str | None = None) -> Mapping[str, Any]:
        """The body, after checking both the HTTP status and the body's own ``code``."""
        body = self.mapping(response, task_id=task_id)
        code = body.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and code != 200:
            error = body.get("error")
            inner = error if isinstance(error, Mapping) else {}
            message = inner.get("message") or (error if isinstance(error, str) else "")
            inner_code = str(inner.get("code") or code)
            cls = classify(code if code >= 400 else None, inner_code, str(inner.get("type") or ""))
            raise cls(
                str(message or body.get("msg") or f"error code {code}"),
                provider=self.name,
                status_code=response.status_code,
                code=inner_code,
                task_id=task_id,
                body=dict(body),
            )
        return body

    def read_task(self, response: httpx.Response, task: TaskHandle) -> TaskState:
        task_id = task.task_id
        envelope = self._envelope(response, task_id)
        data = envelope.get("data")
        body: Mapping[str, Any] = data if isinstance(data, Mapping) else envelope
        return task_state(
            body, provider=self.name, task_id=task_id, codes=self.error_codes or None, payload=body
        )


def _images(entry: Mapping[str, Any], resolve: Callable[[str], str]) -> list[GeneratedImage]:
    urls = entry.get("url")
    if isinstance(urls, str):
        urls = [urls]
    expires_at = _timestamp(entry.get("expires_at"))
    return [
        GeneratedImage(url=resolve(url), expires_at=expires_at)
        for url in urls or ()
        if isinstance(url, str) and url
    ]


def _timestamp(value: Any) -> float | None:
    """A Unix time as a float, or None for anything that is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer of 400 digits
        return None
    return seconds if math.isfinite(seconds) else None


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return [ApimartAdapter]
