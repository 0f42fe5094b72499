"""The fal dialect (docs/dialects/fal.md): fal's queue API under ``/fal``.

- ``POST /{model_id}`` (``fal-ai/flux/dev``, ``fal-ai/imagen4/preview``, ...; JSON input,
  ``Authorization: Key <key>``) answers ``{"status": "IN_QUEUE", "request_id",
  "response_url", "status_url", "cancel_url", "queue_position"}``, the URLs under the
  model's app id (its first two path segments).
- ``GET /{app}/requests/{id}/status[?logs=1]``: ``IN_QUEUE`` (first 30 % of the task's
  time, ``queue_position`` counting down to 0), ``IN_PROGRESS`` (``logs`` growing, when asked
  for), ``COMPLETED`` (``metrics.inference_time``; a failed or cancelled request also has
  ``error`` and ``error_type``). ``logs`` is always present (null unless asked for).
- ``GET /{app}/requests/{id}``: the output, ``{"images": [{"url", "width", "height",
  "content_type"}], "seed", "has_nsfw_concepts", "prompt", "timings"}``; before completion
  400; a ``#fail=`` request its failure (422 with a ``detail`` list for moderation codes,
  else 500 ``{"detail", "error_type"}``); a cancelled one 499 ``client_cancelled``.
- ``PUT /{app}/requests/{id}/cancel``: 202 ``{"status": "CANCELLATION_REQUESTED"}``, or 400
  ``{"status": "ALREADY_COMPLETED"}`` once the request completed; unknown ids 404.
- ``GET /files/{id}/{index}``: the result images (no key: fal's CDN is public).
- Errors: 422 ``{"detail": [{"loc", "msg", "type", "url"}]}`` for input problems, else
  ``{"detail": "...", "error_type": code}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._errors import ApiError
from ._http import (
    Auth,
    Handler,
    StyleFor,
    endpoint,
    image_response,
    origin,
    progress,
    read_json,
    truthy,
)
from ._images import ImageSpec, colour_for
from ._names import MOUNTS
from ._scenario import MODERATION_CODES, failure_message, parse_scenario
from ._store import EmulatorState, Task

PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
IMAGEN: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "4:3": (1280, 896),
    "3:4": (896, 1280),
    "16:9": (1408, 768),
    "9:16": (768, 1408),
}
KONTEXT_RATIOS = ("21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21")
#: Model id -> (how the size is given, default output format, whether it has num_images).
MODELS: dict[str, tuple[str, str, bool]] = {
    "fal-ai/flux/dev": ("image_size", "jpeg", True),
    "fal-ai/flux-pro/v1.1": ("image_size", "jpeg", True),
    "fal-ai/recraft-v3": ("image_size", "webp", False),
    "fal-ai/imagen4/preview": ("imagen", "png", True),
    "fal-ai/flux-pro/kontext": ("kontext", "jpeg", True),
}
QUEUED_SHARE = 0.3
DOCS = "https://docs.fal.ai/errors#"


def error_body(error: ApiError) -> dict[str, Any]:
    """fal's error shapes: a ``detail`` list for input problems (422), else a string."""
    if error.status == 422:
        loc = ["body", error.param] if error.param else ["body"]
        return {
            "detail": [
                {"loc": loc, "msg": error.message, "type": error.code, "url": DOCS + error.code}
            ]
        }
    return {"detail": error.message, "error_type": error.code}


def locate(method: str, path: str, query: Mapping[str, str]) -> tuple[str, str | None] | None:
    """The phase of a request under ``/fal`` (faults apply by phase)."""
    parts = [part for part in path.split("/") if part]
    if method == "GET" and len(parts) == 3 and parts[0] == "files":
        return "download", parts[1]
    if "requests" in parts[2:3] and len(parts) >= 4:
        request_id = parts[3]
        if method == "PUT" and parts[4:] == ["cancel"]:
            return "cancel", request_id
        if method == "GET" and parts[4:] in ([], ["status"]):
            return "poll", request_id
        return None
    if method == "POST" and len(parts) >= 2:
        return "submit", None
    return None


def app_of(model: str) -> str:
    parts = model.split("/")
    return "/".join(parts[: 3 if parts[0] in ("workflows", "comfy") else 2])


class FalDialect:
    """Routes of the ``fal`` dialect."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.style: str | StyleFor = "fal"

    def routes(self) -> list[Route]:
        auth = Auth(missing_code="unauthorized", invalid_code="unauthorized", scheme="Key")

        def wrap(handler: Handler) -> Handler:
            return endpoint(self.state, self.style, handler, auth)

        requests = "/{owner}/{alias}/requests/{request_id}"
        return [
            Route("/files/{task_id}/{index:int}", endpoint(self.state, "fal", self.file)),
            Route(requests + "/status", wrap(self.status), methods=["GET"]),
            Route(requests + "/cancel", wrap(self.cancel), methods=["PUT"]),
            Route(requests, wrap(self.result), methods=["GET"]),
            Route("/{model_id:path}", wrap(self.submit), methods=["POST"]),
        ]

    # -- submit -------------------------------------------------------------------------------
    async def submit(self, request: Request) -> Response:
        model = request.path_params["model_id"].strip("/")
        if model.count("/") < 1:
            raise ApiError(404, "not_found", f"Application {model!r} not found")
        body = await read_json(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ApiError(422, "missing", "Field required", param="prompt")
        scenario = parse_scenario(prompt)
        scenario.raise_submit_error()
        kind, default_format, has_n = MODELS.get(model, ("image_size", "jpeg", True))
        width, height = _size(kind, body)
        fmt = _format(body.get("output_format"), default_format, kind)
        n = _count(body.get("num_images")) if has_n else 1
        if kind == "kontext":
            _image_url(body.get("image_url"))
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ApiError(422, "int_type", "Input should be a valid integer", param="seed")
        images = [ImageSpec(width, height, fmt, colour_for(prompt, i)) for i in range(n)]
        task = self.state.add_task(
            dialect="fal",
            prefix="",
            prompt=prompt,
            model=model,
            images=images,
            resolution="1k",
            fail_code=scenario.fail_code,
        )
        task.extra.update(app=app_of(model), seed=seed if seed is not None else 42)
        urls = self._urls(request, task)
        return JSONResponse(
            {"status": "IN_QUEUE", "request_id": task.id, **urls, "queue_position": 2}
        )

    def _urls(self, request: Request, task: Task) -> dict[str, str]:
        base = f"{origin(request)}{MOUNTS['fal']}/{task.extra['app']}/requests/{task.id}"
        return {
            "response_url": base,
            "status_url": base + "/status",
            "cancel_url": base + "/cancel",
        }

    # -- the queue ----------------------------------------------------------------------------
    def _task(self, request: Request) -> Task:
        params = request.path_params
        task = self.state.get_task(params["request_id"], "fal")
        if task is None or task.extra.get("app") != f"{params['owner']}/{params['alias']}":
            raise ApiError(404, "not_found", "Request not found")
        return task

    def _fraction(self, request: Request, task: Task) -> float:
        if task.cancelled_at is not None:
            return 1.0
        return progress(request.scope, task.fraction(self.state.now()))

    async def status(self, request: Request) -> Response:
        task = self._task(request)
        fraction = self._fraction(request, task)
        with_logs = truthy(request.query_params.get("logs"))
        logs = _logs(task, fraction) if with_logs else None
        data: dict[str, Any] = {"request_id": task.id, **self._urls(request, task), "logs": logs}
        if fraction < QUEUED_SHARE:
            position = max(0, 2 - int(fraction / (QUEUED_SHARE / 3)))
            data.update(status="IN_QUEUE", queue_position=position)
        elif fraction < 1.0:
            data.update(status="IN_PROGRESS")
        else:
            data.update(status="COMPLETED", metrics={"inference_time": round(task.duration, 3)})
            if task.cancelled_at is not None:
                data.update(error="Request was cancelled", error_type="client_cancelled")
            elif task.fail_code is not None:
                data.update(error=failure_message(task.fail_code), error_type=task.fail_code)
        return JSONResponse(data)

    async def result(self, request: Request) -> Response:
        task = self._task(request)
        if task.cancelled_at is not None:
            raise ApiError(499, "client_cancelled", "Request was cancelled")
        if self._fraction(request, task) < 1.0:
            raise ApiError(400, "bad_request", "Request is still in progress")
        code = task.fail_code
        if code is not None:
            if code in MODERATION_CODES:
                message = "The content was flagged by a content checker."
                raise ApiError(422, code, message, param="prompt")
            raise ApiError(500, code, failure_message(code))
        base = f"{origin(request)}{MOUNTS['fal']}/files/{task.id}"
        images = [
            {
                "url": f"{base}/{index}",
                "width": spec.width,
                "height": spec.height,
                "content_type": spec.media_type,
            }
            for index, spec in enumerate(task.images)
        ]
        return JSONResponse(
            {
                "images": images,
                "seed": task.extra.get("seed"),
                "has_nsfw_concepts": [False] * len(images),
                "prompt": task.prompt,
                "timings": {"inference": round(task.duration, 3)},
            }
        )

    async def cancel(self, request: Request) -> Response:
        params = request.path_params
        task = self.state.get_task(params["request_id"], "fal")
        if task is None or task.extra.get("app") != f"{params['owner']}/{params['alias']}":
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        if task.cancelled_at is None and task.finished(self.state.now()):
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
        if task.cancelled_at is None:
            task.cancelled_at = self.state.now()
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    async def file(self, request: Request) -> Response:
        task = self.state.get_task(request.path_params["task_id"], "fal")
        index: int = request.path_params["index"]
        if task is None or not 0 <= index < len(task.images) or task.cancelled_at is not None:
            raise ApiError(404, "not_found", "File not found")
        spec = task.images[index]
        return await image_response(spec)


def _logs(task: Task, fraction: float) -> list[dict[str, Any]]:
    """The runner's log lines so far (one per tenth of the time in progress)."""
    if fraction < QUEUED_SHARE:
        return []
    steps = min(10, int((fraction - QUEUED_SHARE) / (1 - QUEUED_SHARE) * 10) + 1)
    return [
        {"message": f"step {step}/10", "level": "INFO", "source": "user", "timestamp": ""}
        for step in range(1, steps + 1)
    ]


def _size(kind: str, body: dict[str, Any]) -> tuple[int, int]:
    if kind == "imagen":
        ratio = body.get("aspect_ratio", "1:1")
        if ratio not in IMAGEN:
            raise _enum("aspect_ratio", ratio, tuple(IMAGEN))
        resolution = body.get("resolution", "1K")
        if resolution not in ("1K", "2K"):
            raise _enum("resolution", resolution, ("1K", "2K"))
        width, height = IMAGEN[ratio]
        scale = 2 if resolution == "2K" else 1
        return width * scale, height * scale
    if kind == "kontext":
        ratio = body.get("aspect_ratio", "1:1")
        if ratio not in KONTEXT_RATIOS:
            raise _enum("aspect_ratio", ratio, KONTEXT_RATIOS)
        w, _, h = ratio.partition(":")
        aspect = int(w) / int(h)
        return _multiple(math.sqrt(1024 * 1024 * aspect)), _multiple(
            math.sqrt(1024 * 1024 / aspect)
        )
    value = body.get("image_size", "landscape_4_3")
    if isinstance(value, str):
        if value not in PRESETS:
            raise _enum("image_size", value, tuple(PRESETS))
        return PRESETS[value]
    if isinstance(value, dict):
        sides = [value.get("width"), value.get("height")]
        for name, side in zip(("width", "height"), sides, strict=True):
            if not isinstance(side, int) or isinstance(side, bool) or not 1 <= side <= 14142:
                message = "Input should be an integer between 1 and 14142"
                raise ApiError(422, "less_than_equal", message, param=f"image_size.{name}")
        return int(sides[0] or 0), int(sides[1] or 0)
    raise ApiError(
        422, "invalid_type", "image_size: a preset name or {width, height}", param="image_size"
    )


def _multiple(value: float) -> int:
    return max(16, round(value / 16) * 16)


def _format(value: Any, default: str, kind: str) -> str:
    if value is None:
        return default
    allowed = ("jpeg", "png", "webp") if kind == "imagen" else ("jpeg", "png")
    if value not in allowed:
        raise _enum("output_format", value, allowed)
    return str(value)


def _count(value: Any) -> int:
    if value is None:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4:
        raise ApiError(422, "less_than_equal", "num_images must be 1 to 4", param="num_images")
    return value


def _image_url(value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ApiError(422, "missing", "Field required", param="image_url")
    if not value.startswith(("http://", "https://", "data:image/")):
        raise ApiError(422, "image_load_error", "Failed to load the image", param="image_url")


def _enum(param: str, value: Any, allowed: tuple[str, ...]) -> ApiError:
    return ApiError(
        422, "enum", f"Input should be one of {', '.join(allowed)} (got {value!r})", param=param
    )
