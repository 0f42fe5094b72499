"""The ``bfl`` provider: Black Forest Labs' FLUX API (wire facts: docs/dialects/bfl.md).

``POST {base}/{model}`` (JSON; the key in ``x-key``) answers ``{"id", "polling_url"}``; the
task is accepted at once, then polled until ``Ready`` (``result.sample``: a signed URL valid
about ten minutes) or ``Request Moderated`` / ``Content Moderated`` / ``Error`` /
``Task not found``. The ``polling_url`` is polled, with the key, only when the driver would
send the key there (:meth:`~imagebridge.adapter.Adapter.may_send_key`: the API's own origin,
or BFL's documented API hosts while the base URL is one of them); otherwise the task is
polled at ``{base}/get_result?id=...``. Errors are FastAPI's ``{"detail": ...}``.
"""

from __future__ import annotations

import base64
import calendar
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx

from imagebridge import ImageRequest, hookimpl
from imagebridge.adapter import (
    Accepted,
    Adapter,
    AuthenticationError,
    Capabilities,
    ContentPolicyError,
    ErrorCodes,
    Flow,
    GeneratedImage,
    ImageInput,
    ImageResult,
    InlineImage,
    InsufficientBalanceError,
    NotFoundError,
    Operation,
    Plan,
    PollPolicy,
    Problem,
    Progress,
    ProviderError,
    RateLimitError,
    TaskHandle,
    TaskPhase,
    TaskState,
    classify,
    cut,
    error_from_task,
    json_request,
    parse_retry_after,
)

from . import _bfl_models as models
from ._bfl_models import BflOptions
from ._masks import luminance_mask, mask_problems
from ._task_status import percent_of, submitted_id, task_result

#: BFL's documented API hosts (Integration guidelines, 'API Endpoints Overview'; the legacy
#: ``api.bfl.ml``): the hosts a ``polling_url`` may be on and still get the key.
KEY_HOSTS = frozenset(
    {
        "api.bfl.ai",
        "api.eu.bfl.ai",
        "api.us.bfl.ai",
        "api.eu1.bfl.ai",
        "api.us1.bfl.ai",
        "api.bfl.ml",
    }
)
_PENDING = "Pending"
_READY = "Ready"
#: Failed statuses -> the code the error keeps.
_FAILED = {
    "Request Moderated": "request_moderated",
    "Content Moderated": "content_moderated",
    "Error": "task_error",
    "Failed": "task_error",
    "Task not found": "task_not_found",
}


class BflAdapter(Adapter):
    name = "bfl"
    description = "Black Forest Labs FLUX API (flux-pro-1.1, ultra, dev, kontext, fill)"
    default_base_url = "https://api.bfl.ai/v1"
    default_model = models.PRO
    models = models.MODELS
    options_model = BflOptions
    key_hosts = KEY_HOSTS
    # The docs' examples poll every 0.5 s; results take a few seconds.
    poll_policy = PollPolicy(interval=0.5, backoff=1.5, max_interval=4.0)
    error_codes: ClassVar[ErrorCodes] = {
        "request_moderated": ContentPolicyError,
        "content_moderated": ContentPolicyError,
        "insufficient_credits": InsufficientBalanceError,
        "too_many_active_tasks": RateLimitError,
        "not_authenticated": AuthenticationError,
        "task_not_found": NotFoundError,
    }
    wire_fields: ClassVar[Mapping[str, str]] = {
        "prompt": "`prompt`",
        "model": "the path: `POST {base}/{model}`",
        "n": "not sent: one image per task (n=1 declared)",
        "size": "flux-pro-1.1, flux-dev: `width` + `height` (a ratio as its preset pixels);"
        " ultra, kontext: `aspect_ratio`",
        "resolution": "not sent: checked against the model's one tier",
        "output_format": "`output_format` (`jpeg`, `png`)",
        "seed": "`seed`",
        "reference_images": "generations: `image_prompt` (base64); kontext edits: `input_image`,"
        " `input_image_2` .. `_4` (base64, or a URL as given); fill edits: `image` (base64)",
        "mask": "fill edits: `mask` (base64; the canonical alpha mask converted to BFL's"
        " white-where-it-changes form unless mask_mode='luminance')",
        "provider_options.bfl.safety_tolerance": "`safety_tolerance` (0-6)",
        "provider_options.bfl.prompt_upsampling": "`prompt_upsampling`",
        "provider_options.bfl.raw": "`raw` (ultra)",
        "provider_options.bfl.image_prompt_strength": "`image_prompt_strength` (ultra)",
        "provider_options.bfl.steps": "`steps` (flux-dev, fill)",
        "provider_options.bfl.guidance": "`guidance` (flux-dev, fill)",
    }

    def request_problems(
        self,
        model: str,
        operation: Operation,
        request: ImageRequest,
        capabilities: Capabilities,
    ) -> Iterable[Problem]:
        options = request.provider_options.get(self.name) or {}
        if not isinstance(options, Mapping):
            options = {}
        problems = list(models.problems(model, operation, options))
        mask = request.mask
        alpha = options.get("mask_mode", "alpha") == "alpha"
        if mask is not None and operation == "edit" and alpha:
            if mask.is_remote:
                problems.append(
                    Problem(
                        "mask",
                        mask.describe(),
                        "a canonical mask is converted to BFL's black-and-white form before it is"
                        " sent, so it must be a file or bytes, not a URL (a URL to a mask in BFL's"
                        " form: provider_options={'bfl': {'mask_mode': 'luminance'}})",
                    )
                )
            problems += mask_problems(mask, BflAdapter.name)
        return problems

    def capabilities(self, model: str) -> Capabilities:
        known = models.CAPABILITIES.get(model)
        if known is not None:
            return known
        return Capabilities.unchecked(model, async_tasks=True, max_images_per_call=1, max_n=1)

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-key": api_key}

    # -- wire ---------------------------------------------------------------------------------
    def body(self, plan: Plan) -> dict[str, Any]:
        """The JSON of ``POST /{model}`` for a validated plan."""
        request = plan.request
        model = plan.model
        body: dict[str, Any] = {"prompt": request.prompt}
        size = plan.wire_size
        if size is not None and "x" in size:
            width, _, height = size.partition("x")
            body["width"], body["height"] = int(width), int(height)
        elif size is not None and ":" in size:
            body["aspect_ratio"] = size
        if request.seed is not None:
            body["seed"] = request.seed
        if request.output_format is not None:
            body["output_format"] = request.output_format
        images = request.reference_images
        if plan.operation == "edit" and model == models.FILL:
            body["image"] = _inline(images[0])
            if request.mask is not None:
                options = plan.options if isinstance(plan.options, BflOptions) else None
                if options is not None and options.mask_mode == "luminance":
                    body["mask"] = _inline(request.mask)
                else:  # the canonical mask, in BFL's form (_masks)
                    body["mask"] = base64.b64encode(luminance_mask(request.mask.read())).decode()
        elif plan.operation == "edit":
            for field, image in zip(models.KONTEXT_INPUTS, images, strict=False):
                body[field] = _inline(image)
        elif images:
            body["image_prompt"] = _inline(images[0])
        options = plan.options if isinstance(plan.options, BflOptions) else None
        if options is not None:
            body.update(options.model_dump(exclude_none=True, exclude={"mask_mode"}))
        return body

    # -- flows --------------------------------------------------------------------------------
    def generate(self, plan: Plan) -> Flow[ImageResult]:
        handle = yield from self.submit(plan)
        return (yield from self.wait(handle))

    def edit(self, plan: Plan) -> Flow[ImageResult]:
        handle = yield from self.submit(plan)
        return (yield from self.wait(handle))

    def submit(self, plan: Plan) -> Flow[TaskHandle]:
        yield Progress("submitting", provider=self.name)
        response = yield json_request("POST", self.url(f"/{plan.model}"), self.body(plan))
        assert response is not None
        body = self.mapping(response)
        task_id = submitted_id(self, response, body.get("id"))
        state: dict[str, Any] = {}
        polling_url = body.get("polling_url")
        if isinstance(polling_url, str) and polling_url and self.may_send_key(polling_url):
            state["polling_url"] = polling_url
        options = plan.options
        if isinstance(options, BflOptions) and options.prompt_upsampling:
            state["prompt_upsampling"] = True
        handle = TaskHandle(
            provider=self.name,
            base_url=self.base_url,
            task_id=task_id,
            model=plan.model,
            n=1,
            expected_size=plan.expected_size,
            adapter_state=state,
        )
        yield Accepted(handle)
        return handle

    def poll_request(self, task: TaskHandle) -> httpx.Request:
        polling_url = task.adapter_state.get("polling_url")
        # Checked again: a handle read back from a journal is data too.
        if isinstance(polling_url, str) and self.may_send_key(polling_url):
            return httpx.Request("GET", polling_url)
        return httpx.Request("GET", self.url("/get_result"), params={"id": task.task_id})

    def read_task(self, response: httpx.Response, task: TaskHandle) -> TaskState:
        body = self.mapping(response, task_id=task.task_id)
        status = body.get("status")
        if not isinstance(status, str):
            raise self.unexpected(response, "the task has no status", task_id=task.task_id)
        progress = percent_of(body.get("progress"))
        if progress is not None and progress <= 1.0:
            progress *= 100  # BFL reports progress as a fraction
        if status == _READY:
            return TaskState(status, "succeeded", 100.0, dict(body))
        code = _FAILED.get(status)
        if code is not None:
            error = self._task_error(status, code, body, task, response.status_code)
            return TaskState(status, "failed", progress, error=error)
        # Pending covers waiting and running alike (its progress is kept); a status BFL adds
        # later is taken as not finished (the overall deadline bounds the wait).
        phase: TaskPhase = "queued" if status == _PENDING else "running"
        return TaskState(status, phase, progress)

    def collect(self, task: TaskHandle, state: TaskState) -> ImageResult:
        payload: Mapping[str, Any] = state.payload if isinstance(state.payload, Mapping) else {}
        result = payload.get("result")
        images: list[GeneratedImage] = []
        if isinstance(result, Mapping):
            sample = result.get("sample")
            if isinstance(sample, str) and sample:
                revised = (
                    result.get("prompt") if task.adapter_state.get("prompt_upsampling") else None
                )
                images.append(
                    GeneratedImage(
                        url=self.resolve_url(sample),
                        expires_at=sample_expiry(sample),
                        revised_prompt=revised if isinstance(revised, str) else None,
                    )
                )
        return task_result(self.name, task, images, payload)

    # -- errors -------------------------------------------------------------------------------
    def _task_error(
        self, status: str, code: str, body: Mapping[str, Any], task: TaskHandle, http: int
    ) -> ProviderError:
        message = f"the task ended as {status!r}"
        details = body.get("details")
        if details:
            message += f": {cut(_detail_text(details), 300)}"
        if code == "task_not_found":
            # Not a failure of the task: BFL does not know the id (any more). It says so in a
            # successful answer, whose HTTP status the error keeps.
            return NotFoundError(
                message,
                provider=self.name,
                status_code=http,
                code=code,
                task_id=task.task_id,
                body=dict(body),
            )
        return error_from_task(
            provider=self.name,
            task_id=task.task_id,
            code=code,
            message=message,
            codes=self.error_codes,
            body=dict(body),
        )

    def error(self, response: httpx.Response, *, task_id: str | None = None) -> ProviderError:
        """FastAPI's ``{"detail": "..."}`` or ``{"detail": [{"loc", "msg", "type"}]}``; the
        status names the code (BFL sends none). Anything else: the shared parser."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "detail" not in body:
            return super().error(response, task_id=task_id)
        status = response.status_code
        message = cut(_detail_text(body["detail"]), 500) or response.reason_phrase
        code = _status_code(status, message)
        param = _first_param(body["detail"])
        cls = classify(status, code, "", self.error_codes)
        error = cls(
            message,
            provider=self.name,
            status_code=status,
            code=code,
            param=param,
            task_id=task_id,
            body=body,
        )
        if isinstance(error, RateLimitError):
            error.retry_after = parse_retry_after(response.headers)
        return error


def _inline(image: ImageInput) -> InlineImage:
    """An input image in a JSON body: a URL as given, anything else as bare base64."""
    return InlineImage(image, "data_url" if image.kind == "url" else "base64")


def _status_code(status: int, message: str) -> str:
    if status == 402:
        return "insufficient_credits"
    if status == 429:
        return "too_many_active_tasks"
    if status in (401, 403) and "authenticat" in message.lower():
        return "not_authenticated"
    if status == 404:
        return "not_found"
    if status == 422:
        return "validation_error"
    return f"http_{status}"


def _detail_text(detail: Any) -> str:
    """FastAPI's detail as one line: a string, or each validation error as ``loc: msg``."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail[:10]:
            if isinstance(item, Mapping):
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
                parts.append(
                    f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", ""))
                )
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(detail, Mapping):
        return "; ".join(f"{key}: {value}" for key, value in list(detail.items())[:10])
    return str(detail)


def _first_param(detail: Any) -> str | None:
    """The body field a validation error names (``loc: ["body", "width"]`` -> ``width``)."""
    if isinstance(detail, list) and detail and isinstance(detail[0], Mapping):
        loc = detail[0].get("loc")
        if isinstance(loc, list) and loc:
            return str(loc[-1])
    return None


def sample_expiry(url: str) -> float | None:
    """When a signed sample URL stops working: its ``se`` (signed expiry, an Azure SAS
    ``YYYY-MM-DDTHH:MM:SSZ``) when it has one, else None."""
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return None
    values = query.get("se")
    if not values:
        return None
    try:
        parsed = time.strptime(values[0], "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return float(calendar.timegm(parsed))


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return [BflAdapter]
