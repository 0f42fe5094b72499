"""The ``dimilinks`` provider: asynchronous image tasks (wire facts: docs/dialects/dimilinks.md).

Generations go out in async mode by default (``?async=true``; the other three documented
triggers can be chosen with ``provider_options={"dimilinks": {"async_trigger": ...}}``), then
``GET /tasks/{id}`` is polled by the shared engine until ``succeeded`` or ``failed``. Result
URLs may be relative signed links (``/p/img/...?exp=&sig=``, resolved against the API origin
with the query kept), absolute, or ``data:`` URLs. ``compat="apimart"`` selects the
APIMart-compatible response mode of the same API. Edits are multipart and synchronous.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, model_validator

from imagebridge import hookimpl
from imagebridge.adapter import (
    Accepted,
    Adapter,
    Capabilities,
    Flow,
    ImageResult,
    InlineImage,
    Plan,
    PollPolicy,
    Progress,
    TaskHandle,
    TaskState,
    json_request,
)

from ._openai_images import MULTIPART_EDIT_FIELDS, OpenAIImagesAdapter, has_image
from ._tables import GPT_IMAGE_2_TASKS
from ._task_status import submitted_id, task_result, task_state

AsyncTrigger = Literal["query", "wait_for_result_query", "prefer_header", "body"]


class DimilinksOptions(BaseModel):
    """``provider_options["dimilinks"]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    #: ``async`` submits a task and polls it; ``sync`` waits for the image in one request.
    mode: Literal["async", "sync"] = "async"
    #: How async mode is asked for (all four are documented; ``query`` is ``?async=true``).
    async_trigger: AsyncTrigger = "query"
    #: ``apimart``: the APIMart-compatible response mode (always async).
    compat: Literal["apimart"] | None = None

    @model_validator(mode="after")
    def _compat_is_async(self) -> DimilinksOptions:
        if self.compat == "apimart" and self.mode == "sync":
            raise ValueError("compat='apimart' is always asynchronous; it cannot be mode='sync'")
        return self


_DEFAULT_OPTIONS = DimilinksOptions()


class DimilinksAdapter(OpenAIImagesAdapter):
    name = "dimilinks"
    description = "dimilinks async image tasks (gpt-image-2; APIMart-compatible mode)"
    default_base_url = "https://dimilinks.com/v1"
    # The dimilinks backend takes moderation on its multipart edits too.
    multipart_edit_fields = MULTIPART_EDIT_FIELDS | {"moderation"}
    default_model = "gpt-image-2"
    models = ("gpt-image-2",)
    options_model = DimilinksOptions
    # The docs advise polling every 2-3 s.
    poll_policy = PollPolicy(interval=2.0, backoff=1.25, max_interval=3.0)
    wire_fields: ClassVar[Mapping[str, str]] = {
        "prompt": "`prompt`",
        "model": "`model` (always sent)",
        "n": "`n` (1-4 per task)",
        "size": "`size` as given: ratio `W:H`, pixels `WxH` or `auto`",
        "resolution": "`resolution` (`1k`, `2k`, `4k`)",
        "output_format": "`output_format`",
        "output_compression": "`output_compression`",
        "background": "`background`",
        "moderation": "`moderation`",
        "user": "`user`",
        "reference_images": "generations: `image_urls` (files as data URLs); edits: multipart"
        " `image` (one) or repeated `image[]`",
        "mask": "edits only: multipart `mask`",
        "provider_options.dimilinks.mode": "`async` (default: submit + poll) or `sync`",
        "provider_options.dimilinks.async_trigger": "`?async=true` (default),"
        " `?wait_for_result=false`, `Prefer: respond-async` or body `wait_for_result: false`",
        "provider_options.dimilinks.compat": "`apimart`: `?compat=apimart`",
    }

    def capabilities(self, model: str) -> Capabilities:
        return GPT_IMAGE_2_TASKS.replace(
            model=model,
            edits=True,  # multipart, synchronous
            max_edit_images=4,
            mask=True,
            known=model in self.models,
        )

    # -- wire ---------------------------------------------------------------------------------
    def extra_fields(self, plan: Plan) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if plan.wire_resolution is not None:
            fields["resolution"] = plan.wire_resolution
        if plan.request.reference_images:
            # URLs, data URLs and bare base64 go as given; files and bytes as data URLs.
            fields["image_urls"] = [
                InlineImage(image, "base64" if image.kind == "base64" else "data_url")
                for image in plan.request.reference_images
            ]
        return fields

    def edit_extra_fields(self, plan: Plan) -> dict[str, Any]:
        if plan.wire_resolution is not None:
            return {"resolution": plan.wire_resolution}
        return {}

    def _submit_request(self, plan: Plan, options: DimilinksOptions) -> httpx.Request:
        """The generation request: plain in sync mode, else with the chosen async trigger."""
        body = self.body(plan)
        params: dict[str, str] = {}
        headers: dict[str, str] = {}
        if options.mode == "sync":
            pass
        elif options.compat == "apimart":
            params["compat"] = "apimart"
        elif options.async_trigger == "query":
            params["async"] = "true"
        elif options.async_trigger == "wait_for_result_query":
            params["wait_for_result"] = "false"
        elif options.async_trigger == "prefer_header":
            headers["Prefer"] = "respond-async"
        else:
            body["wait_for_result"] = False
        return json_request(
            "POST", self.url("/images/generations"), body, params=params, headers=headers
        )

    # -- flows --------------------------------------------------------------------------------
    def generate(self, plan: Plan) -> Flow[ImageResult]:
        options = _options(plan)
        yield Progress("submitting", provider=self.name)
        response = yield self._submit_request(plan, options)
        assert response is not None
        body = self.mapping(response)
        if _has_images(body) or (options.mode == "sync" and not _submitted_task_id(body)):
            # Images at once: sync mode, or a gateway ignoring async mode.
            return self.result(response, plan)
        # A task (async mode, or a gateway forcing it): poll it, never return empty.
        handle = yield from self._accept(response, body, plan, options)
        return (yield from self.wait(handle))

    def submit(self, plan: Plan) -> Flow[TaskHandle]:
        options = _options(plan)
        yield Progress("submitting", provider=self.name)
        response = yield self._submit_request(plan, options)
        assert response is not None
        return (yield from self._accept(response, self.mapping(response), plan, options))

    def _accept(
        self,
        response: httpx.Response,
        body: Mapping[str, Any],
        plan: Plan,
        options: DimilinksOptions,
    ) -> Flow[TaskHandle]:
        task_id = submitted_id(self, response, _submitted_task_id(body))
        handle = TaskHandle(
            provider=self.name,
            base_url=self.base_url,
            task_id=task_id,
            model=plan.model,
            n=plan.n,
            expected_size=plan.expected_size,
            adapter_state={"compat": options.compat} if options.compat else {},
        )
        yield Accepted(handle)
        return handle

    def poll_request(self, task: TaskHandle) -> httpx.Request:
        return httpx.Request("GET", self.url(f"/tasks/{quote(task.task_id, safe='')}"))

    def collect(self, task: TaskHandle, state: TaskState) -> ImageResult:
        payload = state.payload if isinstance(state.payload, Mapping) else {}
        items = payload.get("data")
        entries = items if isinstance(items, list) else []
        usable = [item for item in entries if has_image(item)]
        images = [self.image(item) for item in usable] if len(usable) == len(entries) else []
        return task_result(self.name, task, images, payload)

    def result(self, response: httpx.Response, plan: Plan) -> ImageResult:
        result = super().result(response, plan)
        body = self.mapping(response)
        task_id = body.get("task_id")
        if isinstance(task_id, str) and task_id:
            result.task_ids.append(task_id)
        return result

    def read_task(self, response: httpx.Response, task: TaskHandle) -> TaskState:
        task_id = task.task_id
        body = self.mapping(response, task_id=task_id)
        if isinstance(body.get("data"), Mapping) and "status" not in body:
            body = body["data"]  # tolerate an APIMart-style envelope
        result = body.get("result")
        return task_state(
            body,
            provider=self.name,
            task_id=task_id,
            codes=self.error_codes or None,
            payload=result if isinstance(result, Mapping) else {"data": body.get("data")},
        )


def _has_images(body: Mapping[str, Any]) -> bool:
    data = body.get("data")
    return isinstance(data, list) and any(has_image(item) for item in data)


def _options(plan: Plan) -> DimilinksOptions:
    return plan.options if isinstance(plan.options, DimilinksOptions) else _DEFAULT_OPTIONS


def _submitted_task_id(body: Mapping[str, Any]) -> str | None:
    """The task id of a submit answer, in the native or the APIMart-compatible shape."""
    task_id = body.get("task_id") or body.get("id")
    data = body.get("data")
    if not task_id and isinstance(data, list) and data and isinstance(data[0], Mapping):
        task_id = data[0].get("task_id") or data[0].get("id")
    elif not task_id and isinstance(data, Mapping):
        task_id = data.get("task_id") or data.get("id")
    return str(task_id) if task_id else None


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return [DimilinksAdapter]
