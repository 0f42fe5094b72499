"""The dimilinks dialect (gpt2api behind new-api; docs/dialects/dimilinks.md).

- ``POST /images/generations`` (JSON): sync by default (sleeps ``task_duration``, then answers
  ``{"created", "task_id", "data": [{"url", "file_id"}]}``); async on ``?async=true``,
  ``?wait_for_result=false``, ``Prefer: respond-async``, body ``"wait_for_result": false`` or
  APIMart compat mode, answering HTTP 200 ``{"created", "task_id", "data": []}``.
- APIMart compat mode (query ``compat``/``response_schema``/``schema``/``format`` =
  ``apimart``, query ``apimart=1|true|yes|on``, headers ``X-Response-Format``/``X-API-Format``/
  ``X-Compat-Mode: apimart``; case, ``-``, ``_`` and spaces ignored): forces async, answers
  ``{"code": 200, "data": [{"status": "submitted", "task_id"}]}``, errors carry ``error.code``
  as the integer HTTP status (as gpt2api's ``oaierr`` does).
- ``GET /tasks/{id}``: ``queued`` (first 20 %) -> ``in_progress`` -> ``succeeded`` with
  ``result``, or ``failed`` with ``error`` (plus the backend's flat fields); ``#pending``
  prompts report ``pending`` for the first half. Unknown ids are 404 ``not_found``.
- ``POST /images/edits`` (multipart, sync only): files ``image``, ``image[]``, ``images``,
  ``images[]``, ``image_1``, ``image_2``, ..., and ``mask`` (one more reference image).
- Result URLs follow ``config.result_url_style``: signed ``/p/img/...`` (relative or absolute)
  or a ``data:`` URL.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._errors import ApiError
from ._http import (
    Auth,
    Handler,
    StyleFor,
    endpoint,
    falsey,
    origin,
    progress,
    read_form,
    read_json,
    truthy,
)
from ._images import ImageSpec, colour_for, normalize_format
from ._refs import (
    MAX_REFERENCE_BYTES,
    MAX_REFERENCE_IMAGES,
    check_references,
    collect_references,
    too_large,
)
from ._scenario import Scenario, failure_message, parse_scenario
from ._sizes import clamp_n, normalize_resolution, tier_pixels
from ._store import EmulatorState, Task

_COMPAT_QUERY_KEYS = ("compat", "response_schema", "schema", "format")
_COMPAT_HEADERS = ("x-response-format", "x-api-format", "x-compat-mode")
_COMPAT_TRUTHY = ("apimart", "apimartcompatible", "1", "true", "yes", "on")
_EDIT_FILE_RE = re.compile(r"^(image|image\[\]|images|images\[\]|image_\d+|mask)$")


def _compat_value(value: str | None) -> str:
    if value is None:
        return ""
    return re.sub(r"[-_\s]", "", value.strip().lower())


def wants_apimart(request: Request) -> bool:
    """Whether the request asks for APIMart compat mode."""
    query = request.query_params
    if any(
        _compat_value(query.get(key)) in ("apimart", "apimartcompatible")
        for key in _COMPAT_QUERY_KEYS
    ):
        return True
    if _compat_value(query.get("apimart")) in _COMPAT_TRUTHY:
        return True
    return any(
        _compat_value(request.headers.get(name)) in ("apimart", "apimartcompatible")
        for name in _COMPAT_HEADERS
    )


def error_style(request: Request) -> str:
    return "dimilinks-compat" if wants_apimart(request) else "dimilinks"


def _bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request_error", message, param=param)


class DimilinksDialect:
    """Routes of the ``dimilinks`` dialect."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.style: str | StyleFor = error_style

    def routes(self) -> list[Route]:
        auth = Auth(missing_code="missing_api_key", invalid_code="invalid_api_key")

        def wrap(handler: Handler) -> Handler:
            return endpoint(self.state, self.style, handler, auth)

        return [
            Route("/images/generations", wrap(self.generations), methods=["POST"]),
            Route("/images/edits", wrap(self.edits), methods=["POST"]),
            Route("/tasks/{task_id}", wrap(self.task), methods=["GET"]),
        ]

    # -- generations -------------------------------------------------------------------------

    async def generations(self, request: Request) -> Response:
        body = await read_json(request)
        prompt, scenario = _prompt(body.get("prompt"))
        wait = body.get("wait_for_result")
        if wait is not None and not isinstance(wait, bool):
            raise _bad_request("wait_for_result must be a boolean", "wait_for_result")
        references = check_references(collect_references(body))
        task = self._submit(body, prompt, scenario)
        task.extra["references"] = references
        compat = wants_apimart(request)
        query = request.query_params
        prefer = [part.strip().lower() for part in request.headers.get("prefer", "").split(",")]
        is_async = (
            compat
            or truthy(query.get("async"))
            or falsey(query.get("wait_for_result"))
            or "respond-async" in prefer
            or wait is False
        )
        if not is_async:
            return await self._finish_sync(request, task, scenario)
        if compat:
            return JSONResponse(
                {"code": 200, "data": [{"status": "submitted", "task_id": task.id}]}
            )
        return JSONResponse({"created": task.created, "task_id": task.id, "data": []})

    # -- edits -------------------------------------------------------------------------------

    async def edits(self, request: Request) -> Response:
        form = await read_form(request)
        try:
            fields = {key: value for key, value in form.items() if isinstance(value, str)}
            prompt, scenario = _prompt(fields.get("prompt"))
            uploads: list[UploadFile] = []
            texts: list[str] = []
            has_image = False
            for key, value in form.multi_items():
                if not _EDIT_FILE_RE.match(key):
                    continue
                if isinstance(value, UploadFile):
                    uploads.append(value)
                elif value.strip():
                    texts.append(value.strip())
                else:
                    continue
                has_image = has_image or key != "mask"
            if not has_image:
                raise _bad_request("at least one image file is required", "image")
            if len(uploads) + len(texts) > MAX_REFERENCE_IMAGES:
                raise ApiError(
                    400,
                    "invalid_reference_image",
                    f"too many reference images: {len(uploads) + len(texts)} "
                    f"(at most {MAX_REFERENCE_IMAGES})",
                )
            check_references(texts)
            for index, upload in enumerate(uploads):
                if upload.size is not None and upload.size > MAX_REFERENCE_BYTES:
                    raise too_large(index, upload.size)
            task = self._submit(fields, prompt, scenario)
            return await self._finish_sync(request, task, scenario)
        finally:
            await form.close()

    # -- tasks -------------------------------------------------------------------------------

    async def task(self, request: Request) -> Response:
        task_id = request.path_params["task_id"]
        task = self.state.get_task(task_id, "dimilinks")
        if task is None:
            raise ApiError(404, "not_found", f"task {task_id} not found")
        fraction = progress(request.scope, task.fraction(self.state.now()))
        body: dict[str, Any] = {
            "id": task.id,
            "task_id": task.id,
            "object": "image.task",
            "created_at": task.created,
            "resolution": task.resolution,
        }
        if fraction >= 1.0:
            body.update(progress=100, completed_at=task.completed_at)
            if task.fail_code is not None:
                message = failure_message(task.fail_code)
                body.update(
                    status="failed",
                    error={"code": task.fail_code, "message": message},
                    error_code=task.fail_code,
                    error_message=message,
                    fail_reason=message,
                )
            else:
                data = await self._result_data(request, task)
                body.update(status="succeeded", result={"created": task.created, "data": data})
        elif task.pending_first_half and fraction < 0.5:
            body.update(status="pending", progress=0)
        elif fraction < 0.2:
            body.update(status="queued", progress=0)
        else:
            body.update(status="in_progress", progress=min(99, max(1, int(fraction * 100))))
        return JSONResponse(body)

    # -- shared ------------------------------------------------------------------------------

    def _submit(self, fields: dict[str, Any], prompt: str, scenario: Scenario) -> Task:
        model = fields.get("model") or "gpt-image-2"
        if not isinstance(model, str):
            raise _bad_request("model must be a string", "model")
        n = clamp_n(fields.get("n"))
        width, height = tier_pixels(fields.get("size"), fields.get("resolution"))
        output_format = fields.get("output_format")
        fmt = normalize_format(output_format if isinstance(output_format, str) else None)
        if fmt is None or (output_format is not None and not isinstance(output_format, str)):
            raise _bad_request("output_format must be png, jpeg or webp", "output_format")
        transparent = fields.get("background") == "transparent"
        images = [
            ImageSpec(width, height, fmt, colour_for(prompt, index), transparent)
            for index in range(n)
        ]
        return self.state.add_task(
            dialect="dimilinks",
            prefix="img_",
            prompt=prompt,
            model=model,
            images=images,
            resolution=normalize_resolution(fields.get("resolution")),
            fail_code=scenario.fail_code,
            pending_first_half=scenario.pending,
        )

    async def _finish_sync(self, request: Request, task: Task, scenario: Scenario) -> Response:
        await asyncio.sleep(task.duration)
        task.forced_done = True
        failure = scenario.sync_failure()
        if failure is not None:
            raise failure
        data = await self._result_data(request, task)
        return JSONResponse({"created": task.created, "task_id": task.id, "data": data})

    async def _result_data(self, request: Request, task: Task) -> list[dict[str, Any]]:
        style = self.state.config.result_url_style
        data: list[dict[str, Any]] = []
        for index, spec in enumerate(task.images):
            if style == "data":
                url = await run_in_threadpool(spec.data_url)
            else:
                path, _exp = self.state.signed_path(task.id, index)
                url = path if style == "relative" else origin(request) + path
            data.append({"url": url, "file_id": task.file_ids[index]})
        return data


def _prompt(value: Any) -> tuple[str, Scenario]:
    if not isinstance(value, str) or not value.strip():
        raise _bad_request("prompt must not be empty", "prompt")
    scenario = parse_scenario(value)
    scenario.raise_submit_error()
    return value, scenario
