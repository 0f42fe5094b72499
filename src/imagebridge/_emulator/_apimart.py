"""The APIMart dialect (docs/dialects/apimart.md): always-async generations and task polling.

- ``POST /images/generations`` (JSON: ``model``, ``prompt``, ``n``, ``size`` as a ratio, ``auto``
  or ``WxH``, ``resolution`` ``1k|2k|4k``, ``image_urls``, ``mask_url``, ``quality``) answers
  ``{"code": 200, "data": [{"status": "submitted", "task_id": "task_..."}]}``. Sizes use the
  same ratio x tier table as dimilinks; reference images follow the dimilinks rules (up to 4,
  20 MB each, no ``blob:``).
- ``GET /tasks/{id}`` (``?language=en`` accepted) answers ``{"code": 200, "data": {"id",
  "status", "progress", "created", "estimated_time", ...}}``: ``pending`` (first 20 %) ->
  ``processing`` -> ``completed`` with ``result.images[] = {"url": [absolute signed URL],
  "expires_at": unix s}``, ``completed`` and ``actual_time``; or ``failed`` with
  ``error: {"code", "message"}``. Unknown ids are 404.
- Errors: ``{"code": <HTTP status>, "error": {"code", "message", "type"}}``. APIMart does not
  document its error body (docs/dialects/apimart.md, 'Error bodies'); this envelope is the
  emulator's choice.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._errors import ApiError
from ._http import Auth, Handler, StyleFor, endpoint, origin, progress, read_json
from ._images import ImageSpec, colour_for
from ._refs import check_references, collect_references
from ._scenario import failure_message, parse_scenario
from ._sizes import clamp_n, normalize_resolution, tier_pixels
from ._store import EmulatorState


class ApimartDialect:
    """Routes of the ``apimart`` dialect."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.style: str | StyleFor = "apimart"

    def routes(self) -> list[Route]:
        auth = Auth(missing_code="missing_api_key", invalid_code="invalid_api_key")

        def wrap(handler: Handler) -> Handler:
            return endpoint(self.state, self.style, handler, auth)

        return [
            Route("/images/generations", wrap(self.generations), methods=["POST"]),
            Route("/tasks/{task_id}", wrap(self.task), methods=["GET"]),
        ]

    async def generations(self, request: Request) -> Response:
        body = await read_json(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ApiError(400, "invalid_request_error", "prompt is required", param="prompt")
        scenario = parse_scenario(prompt)
        scenario.raise_submit_error()
        model = body.get("model") or "gpt-image-2"
        if not isinstance(model, str):
            raise ApiError(400, "invalid_request_error", "model must be a string", param="model")
        n = clamp_n(body.get("n"))
        width, height = tier_pixels(body.get("size") or "1:1", body.get("resolution"))
        references = check_references(collect_references(body, ("image_urls", "mask_url")))
        images = [ImageSpec(width, height, "png", colour_for(prompt, i)) for i in range(n)]
        task = self.state.add_task(
            dialect="apimart",
            prefix="task_",
            prompt=prompt,
            model=model,
            images=images,
            resolution=normalize_resolution(body.get("resolution")),
            fail_code=scenario.fail_code,
        )
        task.extra["references"] = references
        return JSONResponse({"code": 200, "data": [{"status": "submitted", "task_id": task.id}]})

    async def task(self, request: Request) -> Response:
        task_id = request.path_params["task_id"]
        task = self.state.get_task(task_id, "apimart")
        if task is None:
            raise ApiError(404, "not_found", f"task {task_id} not found")
        fraction = progress(request.scope, task.fraction(self.state.now()))
        data: dict[str, Any] = {
            "id": task.id,
            "created": task.created,
            "estimated_time": max(1, math.ceil(task.duration)),
        }
        if fraction >= 1.0:
            data.update(
                progress=100,
                completed=task.completed_at,
                actual_time=max(1, round(task.duration)),
            )
            if task.fail_code is not None:
                data.update(
                    status="failed",
                    error={"code": task.fail_code, "message": failure_message(task.fail_code)},
                )
            else:
                images: list[dict[str, Any]] = []
                for index in range(len(task.images)):
                    path, exp_ms = self.state.signed_path(task.id, index)
                    images.append({"url": [origin(request) + path], "expires_at": exp_ms // 1000})
                data.update(status="completed", result={"images": images})
        elif fraction < 0.2:
            data.update(status="pending", progress=0)
        else:
            data.update(status="processing", progress=min(99, max(1, int(fraction * 100))))
        return JSONResponse({"code": 200, "data": data})
