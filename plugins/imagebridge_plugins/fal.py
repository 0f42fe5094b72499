"""The ``fal`` provider: fal's queue API (wire facts and sources: docs/dialects/fal.md).

``POST {base}/{model_id}`` with the model's input JSON answers ``{"request_id",
"status_url", "response_url", "cancel_url", "queue_position"}`` (accepted at once); then
``GET {base}/{app}/requests/{id}/status?logs=1`` is polled by the shared engine through
``IN_QUEUE`` (with ``queue_position``) and ``IN_PROGRESS`` (with ``logs``) to
``COMPLETED``, and one more ``GET {base}/{app}/requests/{id}`` fetches the output (or the
failure) of the finished request. ``{app}`` is the model id's first two segments. The
answer's URLs are used only when the key may go to them (:meth:`Adapter.may_send_key`);
otherwise they are built from the base URL. ``PUT .../requests/{id}/cancel`` cancels.
Errors are ``{"detail": "..."}`` (with ``error_type``) or ``{"detail": [{"loc", "msg",
"type", ...}]}``; the key goes as ``Authorization: Key <key>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError

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
    ImageWarning,
    InsufficientBalanceError,
    InvalidRequestError,
    Operation,
    Plan,
    PollPolicy,
    Problem,
    Progress,
    ProviderError,
    TaskFailedError,
    TaskHandle,
    TaskState,
    json_request,
    poll_task,
)

from ._fal_errors import ERROR_CODES, fal_error
from ._fal_models import MODELS, FalOptions, app_id, arguments, options_of, problems, unknown_model
from ._task_status import submitted_id, task_result

_URL_KEYS = ("status_url", "response_url", "cancel_url")


class FalAdapter(Adapter):
    name = "fal"
    description = "fal queue API (FLUX, Recraft, Imagen 4, Kontext edits; cancel)"
    default_base_url = "https://queue.fal.run"
    default_model = "fal-ai/flux/dev"
    models = tuple(MODELS)
    options_model = FalOptions
    error_codes: ClassVar[ErrorCodes] = ERROR_CODES
    # fal_client polls every 0.1 s; a image takes seconds, so a gentler start.
    poll_policy = PollPolicy(interval=1.0, backoff=1.5, max_interval=5.0)
    wire_fields: ClassVar[Mapping[str, str]] = {
        "prompt": "`prompt`",
        "model": "the URL path: `POST /{model_id}` (status, result and cancel: its app id)",
        "n": "`num_images` (models that have it; Recraft makes one per request)",
        "size": "`image_size`: a ratio as fal's preset (`square_hd`, `landscape_4_3`, ...),"
        " pixels as `{width, height}`; Imagen 4 and Kontext: `aspect_ratio`; `auto`: not"
        " sent (the model's default)",
        "resolution": "Imagen 4: `resolution` (`1K`, `2K`)",
        "output_format": "`output_format` (`jpeg`, `png`)",
        "style": "Recraft: `style`",
        "seed": "`seed`",
        "negative_prompt": "Imagen 4: `negative_prompt`",
        "reference_images": "Kontext: `image_url` (a URL as given, a file as a data URL)",
        "provider_options.fal.safety_tolerance": "`safety_tolerance` (FLUX [pro], Kontext)",
        "provider_options.fal.enable_safety_checker": "`enable_safety_checker`",
        "provider_options.fal.num_inference_steps": "`num_inference_steps` (FLUX [dev])",
        "provider_options.fal.guidance_scale": "`guidance_scale` (FLUX [dev], Kontext)",
        "provider_options.fal.enhance_prompt": "`enhance_prompt` (FLUX [pro], Kontext)",
        "provider_options.fal.logs": "the status poll's `?logs=1` (default on)",
    }

    def request_problems(
        self,
        model: str,
        operation: Operation,
        request: ImageRequest,
        capabilities: Capabilities,
    ) -> Iterable[Problem]:
        found = [] if _safe_path(model) else [_model_problem(model)]
        try:
            options = FalOptions.model_validate(request.provider_options.get(self.name) or {})
        except ValidationError:
            return found  # pre-flight reports it
        return found + problems(model, request, options)

    def capabilities(self, model: str) -> Capabilities:
        spec = MODELS.get(model)
        if spec is None:
            return unknown_model(model)
        return spec.capabilities.replace(model=model)

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """fal takes ``Authorization: Key <key>``."""
        return {"Authorization": f"Key {api_key}"}

    def error(self, response: httpx.Response, *, task_id: str | None = None) -> ProviderError:
        return fal_error(response, self.name, self.error_codes, task_id) or super().error(
            response, task_id=task_id
        )

    # -- flows --------------------------------------------------------------------------------
    def generate(self, plan: Plan) -> Flow[ImageResult]:
        task = yield from self.submit(plan)
        return (yield from self.wait(task))

    def edit(self, plan: Plan) -> Flow[ImageResult]:
        task = yield from self.submit(plan)
        return (yield from self.wait(task))

    def submit(self, plan: Plan) -> Flow[TaskHandle]:
        spec = MODELS.get(plan.model)
        path = _model_path(plan)
        yield Progress("submitting", provider=self.name)
        response = yield json_request("POST", self.url(path), arguments(plan, spec))
        assert response is not None
        body = self.mapping(response)
        request_id = submitted_id(self, response, body.get("request_id"))
        state: dict[str, Any] = {"app": app_id(plan.model)}
        if not options_of(plan).logs:
            state["logs"] = False
        for key in _URL_KEYS:
            url = body.get(key)
            # A URL the key may not go to (another host) is not used: built from the base URL.
            if isinstance(url, str) and len(url) <= 2048 and self.may_send_key(url):
                state[key] = url
        task = TaskHandle(
            provider=self.name,
            base_url=self.base_url,
            task_id=request_id,
            model=plan.model,
            n=plan.n,
            expected_size=plan.expected_size,
            adapter_state=state,
        )
        yield Accepted(task)
        return task

    def cancel(self, task: TaskHandle) -> Flow[bool]:
        request = httpx.Request("PUT", self._task_url(task, "cancel_url", "/cancel"))
        request.extensions[IDEMPOTENT] = True
        response = yield request
        assert response is not None
        status = _status_word(response)
        if response.is_success:
            return status != "ALREADY_COMPLETED"
        if response.status_code == 400 and status == "ALREADY_COMPLETED":
            return False
        raise self.error(response, task_id=task.task_id)

    # -- polling ------------------------------------------------------------------------------
    def poll_request(self, task: TaskHandle) -> httpx.Request:
        url = self._task_url(task, "status_url", "/status")
        logs = options_logs(task)
        return httpx.Request("GET", url, params={"logs": "1"} if logs else None)

    def read_task(self, response: httpx.Response, task: TaskHandle) -> TaskState:
        body = self.mapping(response, task_id=task.task_id)
        status = body.get("status")
        if not isinstance(status, str) or not status:
            raise self.unexpected(response, "the status answer has no status", task_id=task.task_id)
        if status == "IN_QUEUE":
            position = body.get("queue_position")
            shown = status
            if isinstance(position, int) and not isinstance(position, bool) and position >= 0:
                shown = f"IN_QUEUE (position {min(position, 10**9)})"
            return TaskState(shown, "queued")
        if status == "IN_PROGRESS":
            return TaskState(_with_log(status, body.get("logs")), "running", payload=body)
        if status == "COMPLETED":
            return TaskState(status, "succeeded", 100.0, payload=dict(body))
        # Not in fal's docs (a newer status?): not finished; the deadline bounds the wait.
        return TaskState(_printable(status, 40), "running")

    def poll(self, task: TaskHandle) -> Flow[TaskState]:
        state = yield from super().poll(task)
        return (yield from self._result(task, state))

    def check(self, task: TaskHandle) -> Flow[TaskState]:
        state = yield from super().check(task)
        if state.phase != "succeeded":
            return state
        return (yield from self._result(task, state))

    def _result(self, task: TaskHandle, completed: TaskState) -> Flow[TaskState]:
        """The one GET that fetches a completed request's output (or its failure), through
        the shared polling engine: transient failures retried, a 404 ends it."""
        status = completed.payload if isinstance(completed.payload, Mapping) else {}
        failed = bool(status.get("error") or status.get("error_type"))

        def error(response: httpx.Response) -> ProviderError:
            found = self.error(response, task_id=task.task_id)
            client_error = 400 <= response.status_code < 500 and response.status_code != 429
            if response.status_code != 404 and (failed or client_error):
                return _as_task_failure(found, status)
            return found

        return (
            yield from poll_task(
                task_id=task.task_id,
                provider=self.name,
                request=lambda: httpx.Request("GET", self._task_url(task, "response_url", "")),
                read=lambda response: TaskState(
                    "COMPLETED", "succeeded", 100.0, self.mapping(response, task_id=task.task_id)
                ),
                error=error,
                policy=self.poll_policy,
                first_wait=0.0,
                max_polls=1,
                report=False,  # the status poll said done already
            )
        )

    def collect(self, task: TaskHandle, state: TaskState) -> ImageResult:
        payload: Mapping[str, Any] = state.payload if isinstance(state.payload, Mapping) else {}
        entries = payload.get("images")
        if isinstance(payload.get("image"), Mapping) and not isinstance(entries, list):
            entries = [payload["image"]]  # some fal models answer one "image"
        images = [
            GeneratedImage(url=self.resolve_url(entry["url"]))
            for entry in (entries if isinstance(entries, list) else ())
            if isinstance(entry, Mapping) and isinstance(entry.get("url"), str) and entry["url"]
        ]
        result = task_result(self.name, task, images, payload)
        flags = payload.get("has_nsfw_concepts")
        if isinstance(flags, list) and any(flag is True for flag in flags):
            flagged = [str(index) for index, flag in enumerate(flags) if flag is True]
            result.warnings.append(
                ImageWarning(
                    "content_filtered",
                    f"fal's safety checker flagged image(s) {', '.join(flagged)}: such images"
                    " come back blacked out",
                    "images",
                )
            )
        return result

    # -- URLs -----------------------------------------------------------------------------------
    def _task_url(self, task: TaskHandle, key: str, suffix: str) -> str:
        given = task.adapter_state.get(key)
        if isinstance(given, str) and self.may_send_key(given):
            return given
        app = task.adapter_state.get("app")
        if not isinstance(app, str) or not _safe_path(app):
            app = app_id(task.model or self.default_model)
        return self.url(f"/{app}/requests/{quote(task.task_id, safe='')}{suffix}")


def options_logs(task: TaskHandle) -> bool:
    """Whether polls ask for logs (``provider_options["fal"]["logs"]``, kept in the handle)."""
    return task.adapter_state.get("logs", True) is not False


def _model_path(plan: Plan) -> str:
    """``/{model_id}`` with each segment quoted (the id was checked by
    :meth:`FalAdapter.request_problems` in pre-flight; checked again for direct callers)."""
    if not _safe_path(plan.model):
        raise InvalidRequestError([_model_problem(plan.model)], provider=plan.provider)
    return "/" + "/".join(quote(segment, safe="") for segment in plan.model.split("/"))


def _model_problem(model: str) -> Problem:
    return Problem("model", model, "a fal model id is owner/name[/path] (e.g. fal-ai/flux/dev)")


def _safe_path(path: str) -> bool:
    segments = path.split("/")
    return len(segments) >= 2 and all(
        s and s not in (".", "..") and s.isprintable() and " " not in s for s in segments
    )


def _status_word(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    status = body.get("status") if isinstance(body, dict) else None
    return status if isinstance(status, str) else ""


def _printable(text: str, limit: int) -> str:
    clean = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _with_log(status: str, logs: Any) -> str:
    """``IN_PROGRESS`` with the runner's last log line (printable text only, cut short)."""
    if isinstance(logs, list) and logs:
        last = logs[-1]
        message = last.get("message") if isinstance(last, Mapping) else None
        if isinstance(message, str) and message.strip():
            return f"{status}: {_printable(message, 80)}"
    return status


def _as_task_failure(error: ProviderError, status: Mapping[str, Any]) -> ProviderError:
    """A completed request's failure, as the task's own (no HTTP status, so the journal
    marks it failed): moderation and balance keep their classes, anything else is a
    :class:`TaskFailedError` (with fal's code, or the status answer's ``error_type``)."""
    if isinstance(error, ContentPolicyError | InsufficientBalanceError):
        error.status_code = None
        return error
    return TaskFailedError(
        error.message,
        provider=error.provider,
        code=error.code or str(status.get("error_type") or ""),
        task_id=error.task_id,
        body=error.body,
    )


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return [FalAdapter]
