"""The ``replicate`` provider: Replicate's predictions API (docs/dialects/replicate.md).

A prediction is created with ``POST /models/{owner}/{name}/predictions`` (an official model)
or ``POST /predictions`` with ``{"version": ...}`` (a pinned version), both with ``{"input":
{...}}`` in the model's own schema. ``generate()``/``edit()`` send ``Prefer: wait=N`` so a
fast model answers finished at once; the create answer is accepted (journaled) before
anything else, whether it is finished or not, and an unfinished one is polled at
``GET /predictions/{id}`` through the shared engine. ``submit()`` sends no ``Prefer``.
Statuses ``starting`` / ``processing`` / ``succeeded`` / ``failed`` / ``canceled``;
``output`` is a file URL or a list of them; errors are problem details (``title``,
``detail``, ``status``); ``POST /predictions/{id}/cancel`` cancels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from imagebridge import ImageRequest, hookimpl
from imagebridge.adapter import (
    IDEMPOTENT,
    Accepted,
    Adapter,
    Capabilities,
    ContentPolicyError,
    ErrorCodes,
    Flow,
    GeneratedImage,
    ImageResult,
    InlineImage,
    InsufficientBalanceError,
    Operation,
    Plan,
    PollPolicy,
    Problem,
    Progress,
    ProviderError,
    RateLimitError,
    TaskHandle,
    TaskState,
    classify,
    cut,
    error_from_task,
    json_request,
    parse_retry_after,
)

from ._replicate_models import (
    DEFAULT_MODEL,
    MODEL_REF,
    MODELS,
    NOT_INPUTS,
    ReplicateOptions,
    capabilities,
    model_problems,
    spec_of,
)
from ._task_status import submitted_id, task_result

_DEFAULT_OPTIONS = ReplicateOptions()
#: A failure's own code at the end of its text: ``... (E005)``.
_TRAILING_CODE = re.compile(r"\(([A-Za-z0-9_.\-]{1,64})\)\s*$")
#: What Replicate's (and its partners') safety failures say.
_MODERATION = re.compile(r"nsfw|sensitive|safety|flagged|moderat", re.IGNORECASE)
#: A progress bar in the logs (the SDK's ``Prediction.Progress``): ``50%|#####     | 2/4``.
_PROGRESS = re.compile(r"(\d{1,3})%\|")
_LOG_TAIL = 4096


class ReplicateAdapter(Adapter):
    name = "replicate"
    description = "Replicate predictions (FLUX, Stable Diffusion 3.5, FLUX Kontext)"
    default_base_url = "https://api.replicate.com/v1"
    default_model = DEFAULT_MODEL
    models = tuple(MODELS)
    options_model = ReplicateOptions
    poll_policy = PollPolicy(interval=1.0, backoff=1.5, max_interval=5.0)
    #: Codes are the problem's ``title`` in snake case, or a failure's trailing ``(CODE)``.
    error_codes: ClassVar[ErrorCodes] = {
        "insufficient_credit": InsufficientBalanceError,
        "request_was_throttled": RateLimitError,
        "nsfw": ContentPolicyError,
        "e005": ContentPolicyError,
    }
    wire_fields: ClassVar[Mapping[str, str]] = {
        "prompt": "`input.prompt`",
        "model": "the URL path `/models/{owner}/{name}/predictions`, or `version` in the body"
        " for `owner/name:version` and bare version ids",
        "n": "`input.num_outputs` (FLUX schnell and dev, up to 4 per prediction); other models"
        " make one image per prediction and larger `n` is split into predictions",
        "size": "`input.aspect_ratio` (`W:H`; `auto` as `match_input_image`); pixels as"
        " `aspect_ratio=custom` + `width` + `height` (FLUX 1.1 Pro)",
        "resolution": "only `1k`, the models' default of about one megapixel: nothing sent",
        "output_format": "`input.output_format` (`jpeg` as `jpg`)",
        "seed": "`input.seed`",
        "negative_prompt": "`input.negative_prompt` (SD 3.5)",
        "reference_images": "the model's image input (`image`, `image_prompt` or"
        " `input_image`): a file as a data URL, a URL as given",
    }

    def request_problems(
        self,
        model: str,
        operation: Operation,
        request: ImageRequest,
        capabilities: Capabilities,
    ) -> Iterable[Problem]:
        """Replicate model references, and options the model's schema lacks."""
        options = request.provider_options.get(self.name) or {}
        return model_problems(model, options if isinstance(options, Mapping) else {})

    def capabilities(self, model: str) -> Capabilities:
        return capabilities(model)

    # -- requests -----------------------------------------------------------------------------
    def input(self, plan: Plan) -> dict[str, Any]:
        """The prediction's ``input``: the canonical fields in the model's schema."""
        request = plan.request
        spec = spec_of(plan.model)
        body: dict[str, Any] = {"prompt": request.prompt}
        size = plan.wire_size
        if size == "auto":
            body["aspect_ratio"] = "match_input_image"
        elif size is not None and "x" in size:
            width, _, height = size.partition("x")
            if spec is not None and spec.custom_size:
                body["aspect_ratio"] = "custom"
            body.update(width=int(width), height=int(height))
        elif size is not None:
            body["aspect_ratio"] = size
        if spec is not None and spec.num_outputs:
            body["num_outputs"] = plan.n
        if request.seed is not None:
            body["seed"] = request.seed
        if request.negative_prompt is not None:
            body["negative_prompt"] = request.negative_prompt
        if request.output_format is not None:
            body["output_format"] = (
                "jpg" if request.output_format == "jpeg" else request.output_format
            )
        if request.reference_images:
            key = spec.image_input if spec is not None and spec.image_input else "image"
            body[key] = InlineImage(request.reference_images[0])
        options = _options(plan).model_dump(exclude_none=True, exclude=set(NOT_INPUTS))
        body.update(options)
        return body

    def create_request(self, plan: Plan, *, wait: int) -> httpx.Request:
        """The create request of one prediction; ``wait`` > 0 adds ``Prefer: wait=N``."""
        headers = {"Prefer": f"wait={wait}"} if wait > 0 else None
        body: dict[str, Any] = {"input": self.input(plan)}
        match = MODEL_REF.match(plan.model)
        if match is not None and match["version"] is None:
            path = f"/models/{match['owner']}/{match['name']}/predictions"
        else:
            body["version"] = match["version"] if match is not None else plan.model
            path = "/predictions"
        return json_request("POST", self.url(path), body, headers=headers)

    def poll_request(self, task: TaskHandle) -> httpx.Request:
        given = task.adapter_state.get("get")
        if isinstance(given, str) and self.may_send_key(given):
            return httpx.Request("GET", given)
        return httpx.Request("GET", self.url(f"/predictions/{quote(task.task_id, safe='')}"))

    # -- flows --------------------------------------------------------------------------------
    def generate(self, plan: Plan) -> Flow[ImageResult]:
        return (yield from self._run(plan))

    def edit(self, plan: Plan) -> Flow[ImageResult]:
        return (yield from self._run(plan))

    def submit(self, plan: Plan) -> Flow[TaskHandle]:
        task, _ = yield from self._create(plan, wait=0)
        return task

    def _run(self, plan: Plan) -> Flow[ImageResult]:
        """Create with ``Prefer: wait``; a prediction finished in the answer is collected at
        once (it was accepted first, like any other), an unfinished one is waited for."""
        task, state = yield from self._create(plan, wait=_options(plan).wait)
        if state.phase == "succeeded":
            return self.collect(task, state)
        if state.phase == "failed" and state.error is not None:
            raise state.error
        return (yield from self.wait(task))

    def _create(self, plan: Plan, *, wait: int) -> Flow[tuple[TaskHandle, TaskState]]:
        yield Progress("submitting", provider=self.name)
        response = yield self.create_request(plan, wait=wait)
        assert response is not None
        prediction = self.mapping(response)
        task = TaskHandle(
            provider=self.name,
            base_url=self.base_url,
            task_id=submitted_id(self, response, prediction.get("id")),
            model=plan.model,
            n=plan.n,
            expected_size=plan.expected_size,
            adapter_state=self._state(prediction),
        )
        yield Accepted(task)
        return task, self.read_prediction(prediction, task)

    def cancel(self, task: TaskHandle) -> Flow[bool]:
        request = httpx.Request(
            "POST", self.url(f"/predictions/{quote(task.task_id, safe='')}/cancel")
        )
        request.extensions[IDEMPOTENT] = True  # cancelling twice cancels once
        response = yield request
        assert response is not None
        prediction = self.mapping(response, task_id=task.task_id)
        status = str(prediction.get("status") or "").lower()
        if status in ("succeeded", "failed"):
            return False  # it had ended; its images (if any) can still be fetched
        if status in ("canceled", "starting", "processing"):
            return True
        raise self.unexpected(
            response, f"the cancel answer has status {cut(status, 40)!r}", task_id=task.task_id
        )

    # -- reading ------------------------------------------------------------------------------
    def _state(self, prediction: Mapping[str, Any]) -> dict[str, Any]:
        """The poll URL the answer gave, kept only where the key may go (never foreign)."""
        urls = prediction.get("urls")
        given = urls.get("get") if isinstance(urls, Mapping) else None
        if isinstance(given, str) and len(given) <= 2048 and self.may_send_key(given):
            return {"get": given}
        return {}

    def read_task(self, response: httpx.Response, task: TaskHandle) -> TaskState:
        return self.read_prediction(self.mapping(response, task_id=task.task_id), task)

    def read_prediction(self, prediction: Mapping[str, Any], task: TaskHandle) -> TaskState:
        status = str(prediction.get("status") or "unknown").lower()
        if status == "succeeded":
            return TaskState(status, "succeeded", 100.0, prediction)
        if status in ("failed", "canceled", "aborted"):
            return TaskState(status, "failed", error=self._failure(prediction, task, status))
        percent = _percent(prediction.get("logs"))
        if status == "starting":
            return TaskState(status, "queued", percent)
        return TaskState(status, "running", percent)

    def _failure(
        self, prediction: Mapping[str, Any], task: TaskHandle, status: str
    ) -> ProviderError:
        error = prediction.get("error")
        if isinstance(error, Mapping):
            error = error.get("detail") or error.get("message")
        message = cut(str(error), 2000) if error else f"the prediction ended as {status}"
        found = _TRAILING_CODE.search(message)
        code = found.group(1) if found else ("canceled" if status == "canceled" else "")
        body = _without_input(prediction)
        if status != "canceled" and _MODERATION.search(message):
            cls = classify(None, code, "", self.error_codes)
            if cls is not ContentPolicyError:
                return ContentPolicyError(
                    message,
                    provider=self.name,
                    code=code or "nsfw",
                    task_id=task.task_id,
                    body=body,
                )
        return error_from_task(
            provider=self.name,
            task_id=task.task_id,
            code=code or "prediction_failed",
            message=message,
            codes=self.error_codes,
            body=body,
        )

    def collect(self, task: TaskHandle, state: TaskState) -> ImageResult:
        payload: Mapping[str, Any] = state.payload if isinstance(state.payload, Mapping) else {}
        output = payload.get("output")
        urls = [output] if isinstance(output, str) else output if isinstance(output, list) else []
        images = [
            GeneratedImage(url=self.resolve_url(url))
            for url in urls[: max(task.n, 10)]
            if isinstance(url, str) and url
        ]
        return task_result(self.name, task, images, _without_input(payload))

    def error(self, response: httpx.Response, *, task_id: str | None = None) -> ProviderError:
        """Problem details (``title``, ``detail``, ``status``); the code is the title in snake
        case (``Insufficient credit`` -> ``insufficient_credit``). Other bodies: the shared
        parser."""
        problem = _problem(response)
        if problem is None:
            return super().error(response, task_id=task_id)
        title = cut(str(problem.get("title") or ""), 200)
        detail = cut(str(problem.get("detail") or ""), 2000)
        code = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:64]
        cls = classify(response.status_code, code, "", self.error_codes)
        error = cls(
            detail or title or f"HTTP {response.status_code}",
            provider=self.name,
            status_code=response.status_code,
            code=code,
            task_id=task_id,
            body=dict(problem),
        )
        if isinstance(error, RateLimitError):
            error.retry_after = parse_retry_after(response.headers)
        return error


def _options(plan: Plan) -> ReplicateOptions:
    return plan.options if isinstance(plan.options, ReplicateOptions) else _DEFAULT_OPTIONS


def _problem(response: httpx.Response) -> Mapping[str, Any] | None:
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return None
    if isinstance(body, Mapping) and ("title" in body or "detail" in body):
        return body
    return None


def _without_input(prediction: Mapping[str, Any]) -> dict[str, Any]:
    """The prediction without its echoed ``input`` (which may hold whole images)."""
    return {key: value for key, value in prediction.items() if key != "input"}


def _percent(logs: Any) -> float | None:
    if not isinstance(logs, str):
        return None
    found = _PROGRESS.findall(logs[-_LOG_TAIL:])
    return min(100.0, float(found[-1])) if found else None


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return [ReplicateAdapter]
