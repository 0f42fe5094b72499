"""The ``pixelforge`` adapter: canonical requests in, PixelForge render jobs out.

PixelForge (DIALECT.md) renders asynchronously: ``POST /renders`` answers ``202`` with a
render id, ``GET /renders/{id}`` reports ``queued -> rendering -> done`` (or ``failed``), and
the outputs are presigned links to its CDN. Errors are ``{"problem": {"type", "detail"}}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field

from imagebridge.adapter import (
    Accepted,
    Adapter,
    AuthenticationError,
    BadRequestError,
    Capabilities,
    ContentPolicyError,
    ErrorCodes,
    Flow,
    GeneratedImage,
    ImageResult,
    InsufficientBalanceError,
    NotFoundError,
    Plan,
    PollPolicy,
    Progress,
    ProviderError,
    RateLimitError,
    ServerError,
    TaskHandle,
    TaskState,
    classify,
    error_from_task,
    parse_retry_after,
    size_table,
)

#: Aspect ratio x scale -> pixels (portrait rows are the transpositions; there is no "auto").
SIZES = size_table(
    {
        "1:1": {"1k": "1024x1024", "2k": "2048x2048"},
        "4:3": {"1k": "1152x864", "2k": "2304x1728"},
        "16:9": {"1k": "1280x720", "2k": "2560x1440"},
    },
    auto_as=None,
)
#: Canonical resolution tier -> PixelForge ``scale``.
SCALES = {"1k": "1x", "2k": "2x"}
#: Canonical quality -> PixelForge ``finish``.
FINISHES = {"low": "draft", "high": "fine"}
QUEUED = frozenset({"queued"})
RUNNING = frozenset({"rendering"})


class PixelForgeOptions(BaseModel):
    """``provider_options["pixelforge"]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: A fixed seed makes a render reproducible.
    seed: int | None = Field(default=None, ge=0)


class PixelForgeAdapter(Adapter):
    """PixelForge Render API v2: asynchronous render jobs, images on a CDN."""

    name = "pixelforge"
    description = "PixelForge render jobs (example third-party plugin)"
    default_base_url = "https://api.pixelforge.example/v2"
    default_model = "forge-1"
    models = ("forge-1",)
    options_model = PixelForgeOptions
    poll_policy = PollPolicy(interval=1.0, backoff=1.5, max_interval=4.0)
    #: Problem types (and failure reasons) -> error classes.
    error_codes: ClassVar[ErrorCodes] = {
        "auth": AuthenticationError,
        "quota": InsufficientBalanceError,
        "throttle": RateLimitError,
        "policy": ContentPolicyError,
        "invalid": BadRequestError,
        "not_found": NotFoundError,
        "internal": ServerError,
    }
    wire_fields: ClassVar[Mapping[str, str]] = {
        "prompt": "`prompt`",
        "model": "`engine`",
        "n": "`count`",
        "size": "`aspect` (a ratio)",
        "resolution": "`scale` (`1x`, `2x`)",
        "quality": "`finish` (`draft`, `fine`)",
        "output_format": "`encoding` (`png`)",
        "reference_images": "`style_refs` (URLs, files as data URLs)",
    }

    def capabilities(self, model: str) -> Capabilities:
        """What forge-1 supports; anything else is sent unchecked (with a warning)."""
        if model not in self.models:
            return Capabilities.unchecked(model, async_tasks=True)
        return Capabilities(
            model=model,
            native_ratio=True,
            size_presets=SIZES,
            resolutions=("1k", "2k"),
            max_n=4,
            max_images_per_call=4,
            qualities=("low", "high"),
            output_formats=("png",),
            user=False,
            max_prompt_chars=2000,
            max_reference_images=2,
            max_input_image_bytes=8 * 1024 * 1024,
            async_tasks=True,
        )

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """PixelForge takes the key in its own header, not ``Authorization: Bearer``."""
        return {"X-PixelForge-Key": api_key}

    # -- requests ---------------------------------------------------------------------------
    def body(self, plan: Plan) -> dict[str, Any]:
        """The JSON of ``POST /renders`` for one call of a validated plan."""
        request = plan.request
        body: dict[str, Any] = {
            "engine": plan.model,
            "prompt": request.prompt,
            "count": plan.n,
            # A fresh id per submit: PixelForge ignores a second submit with the same one.
            "client_ref": uuid.uuid4().hex,
        }
        if plan.wire_size is not None:
            body["aspect"] = plan.wire_size
        if plan.wire_resolution is not None:
            body["scale"] = SCALES[plan.wire_resolution]
        if request.quality is not None:
            body["finish"] = FINISHES[request.quality]
        if request.output_format is not None:
            body["encoding"] = request.output_format
        if request.reference_images:
            body["style_refs"] = [image.as_url() for image in request.reference_images]
        if isinstance(plan.options, PixelForgeOptions) and plan.options.seed is not None:
            body["seed"] = plan.options.seed
        return body

    def poll_request(self, task: TaskHandle) -> httpx.Request:
        """``GET /renders/{id}``: the shared polling engine sends it."""
        return httpx.Request("GET", self.url(f"/renders/{quote(task.task_id, safe='')}"))

    # -- flows ------------------------------------------------------------------------------
    def generate(self, plan: Plan) -> Flow[ImageResult]:
        """Submit a render, then poll it and return its images."""
        task = yield from self.submit(plan)
        return (yield from self.wait(task))

    def submit(self, plan: Plan) -> Flow[TaskHandle]:
        """Submit a render and return its handle once PixelForge has accepted it."""
        yield Progress("submitting", provider=self.name)
        response = yield httpx.Request("POST", self.url("/renders"), json=self.body(plan))
        assert response is not None
        render = self._render(response)
        render_id = render.get("id")
        if not isinstance(render_id, str) or not render_id:
            raise self.unexpected(response, "the answer has no render id")
        task = TaskHandle(
            provider=self.name,
            base_url=self.base_url,
            task_id=render_id,
            model=plan.model,
            n=plan.n,
            expected_size=plan.expected_size,
        )
        yield Accepted(task)
        return task

    # -- responses --------------------------------------------------------------------------
    def read_task(self, response: httpx.Response, task: TaskHandle) -> TaskState:
        """One poll's answer: ``queued``, ``rendering``, ``done`` or ``failed``."""
        render = self._render(response, task.task_id)
        state = str(render.get("state") or "unknown")
        progress = render.get("progress")
        percent = float(progress) * 100 if isinstance(progress, int | float) else None
        if state == "done":
            return TaskState(state, "succeeded", 100.0, render)
        if state == "failed":
            failure = render.get("failure")
            failure = failure if isinstance(failure, Mapping) else {}
            error = error_from_task(
                provider=self.name,
                task_id=task.task_id,
                code=failure.get("reason"),
                message=failure.get("detail"),
                codes=self.error_codes,
                body=dict(render),
            )
            return TaskState(state, "failed", percent, error=error)
        return TaskState(state, "queued" if state in QUEUED else "running", percent)

    def collect(self, task: TaskHandle, state: TaskState) -> ImageResult:
        """The images of a finished render: CDN links, downloaded later without the key."""
        render: Mapping[str, Any] = state.payload
        outputs = render.get("outputs")
        images = [
            GeneratedImage(url=output["href"])
            for output in outputs or ()
            if isinstance(output, Mapping) and isinstance(output.get("href"), str)
        ]
        if not images:
            raise ServerError(
                "the render is done but has no outputs",
                provider=self.name,
                code="empty_result",
                task_id=task.task_id,
            )
        created = render.get("created")
        return ImageResult(
            images=images,
            provider=self.name,
            model=task.model,
            task_ids=[task.task_id],
            created=created if isinstance(created, int) else None,
            raw=[dict(render)],
        )

    def error(self, response: httpx.Response, *, task_id: str | None = None) -> ProviderError:
        """PixelForge's ``{"problem": {"type", "detail"}}``; anything else (an HTML page from
        a proxy) is read by the shared parser."""
        try:
            problem = response.json().get("problem")
        except (ValueError, AttributeError):
            problem = None
        if not isinstance(problem, Mapping):
            return super().error(response, task_id=task_id)
        kind = str(problem.get("type") or "")
        cls = classify(response.status_code, kind, "", self.error_codes)
        error = cls(
            str(problem.get("detail") or kind or f"HTTP {response.status_code}"),
            provider=self.name,
            status_code=response.status_code,
            code=kind,
            request_id=problem.get("request") or None,
            task_id=task_id,
            body=response.json(),
        )
        if isinstance(error, RateLimitError):
            error.retry_after = parse_retry_after(response.headers)
        return error

    def _render(self, response: httpx.Response, task_id: str | None = None) -> Mapping[str, Any]:
        body = self.mapping(response, task_id=task_id)
        render = body.get("render")
        if not isinstance(render, Mapping):
            raise self.unexpected(response, "the answer has no render", task_id=task_id)
        return render
