"""The Replicate dialect (docs/dialects/replicate.md): predictions, ``Prefer: wait``, cancel.

Written from Replicate's HTTP reference (https://replicate.com/docs/reference/http) and the
model pages' input schemas, mounted at ``/replicate/v1``:

- ``POST /models/{owner}/{name}/predictions`` and ``POST /predictions`` (``{"version"}``), both
  with ``{"input": {...}}``, answer ``201`` with the prediction: ``id``, ``model``,
  ``version``, ``input``, ``status``, ``output``, ``error``, ``logs``, ``metrics``,
  ``created_at``/``started_at``/``completed_at`` and ``urls`` (``get``, ``cancel``, ``web``).
  ``Prefer: wait`` (60 s) or ``Prefer: wait=N`` (1-60) holds the answer until the prediction
  ends or N seconds passed.
- ``GET /predictions/{id}``: ``starting`` (first 20 % of the task's duration) ->
  ``processing`` (with a progress bar in ``logs``) -> ``succeeded`` (``output``: a list of file
  URLs, or one URL for the single-output models) or ``failed`` (``error`` a string).
- ``POST /predictions/{id}/cancel``: the prediction, ``canceled``; an ended one answers as
  it is.
- ``GET /delivery/{id}/out-{i}.{ext}``: the output files (``replicate.delivery`` in
  production; here on the emulator's origin, so faults apply as downloads).
- Errors are problem details: ``{"title", "detail", "status"}``; a 422 lists
  ``invalid_fields``. ``#fail=CODE`` ends a prediction as failed with ``... (CODE)`` (an NSFW
  text for moderation codes); ``#error=STATUS:CODE`` answers the create with that status and
  the title the code spells (``insufficient_credit`` -> ``Insufficient credit``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._errors import ApiError
from ._http import Auth, Handler, StyleFor, endpoint, image_response, origin, progress, read_json
from ._images import ImageSpec, colour_for
from ._names import MOUNTS
from ._refs import check_references, collect_references
from ._scenario import MODERATION_CODES, parse_scenario
from ._store import EmulatorState, Task

MOUNT = MOUNTS["replicate"]
DIALECT = "replicate"
#: cog-flux's sizes per aspect ratio at 1 megapixel.
RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "16:9": (1344, 768),
    "21:9": (1536, 640),
    "3:2": (1216, 832),
    "2:3": (832, 1216),
    "4:5": (896, 1088),
    "5:4": (1088, 896),
    "3:4": (896, 1152),
    "4:3": (1152, 896),
    "9:16": (768, 1344),
    "9:21": (640, 1536),
}
#: Models whose output is one URL, not a list (their output schema is a string).
SINGLE_OUTPUT = frozenset({"black-forest-labs/flux-1.1-pro", "black-forest-labs/flux-kontext-pro"})
#: Models with ``num_outputs`` (1-4).
MULTI_OUTPUT = frozenset({"black-forest-labs/flux-schnell", "black-forest-labs/flux-dev"})
IMAGE_INPUTS = ("image", "input_image", "image_prompt")
FORMATS = {"webp": "webp", "jpg": "jpeg", "png": "png"}
EXTENSIONS = {"webp": "webp", "jpeg": "jpg", "png": "png"}
MAX_WAIT = 60
_PREFER = re.compile(r"^\s*wait(?:\s*=\s*(\d+))?\s*$", re.IGNORECASE)
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def title_for(code: str) -> str:
    """The problem title a code spells: ``insufficient_credit`` -> ``Insufficient credit``."""
    words = code.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else "Error"


def error_body(error: ApiError) -> dict[str, Any]:
    """Replicate's problem details."""
    body: dict[str, Any] = {
        "title": title_for(error.code),
        "detail": error.message,
        "status": error.status,
    }
    if error.status == 422 and error.param:
        body["invalid_fields"] = [
            {"type": "invalid", "field": error.param, "description": error.message}
        ]
    return body


def locate(method: str, path: str, query: Mapping[str, str]) -> tuple[str, str | None] | None:
    """The phase (and prediction id) of a request under the mount."""
    parts = [part for part in path.split("/") if part]
    if method == "POST" and (
        parts == ["predictions"]
        or (len(parts) == 4 and parts[0] == "models" and parts[3] == "predictions")
    ):
        return "submit", None
    if len(parts) == 2 and parts[0] == "predictions" and method == "GET":
        return "poll", parts[1]
    if len(parts) == 3 and parts[0] == "predictions" and parts[2] == "cancel" and method == "POST":
        return "cancel", parts[1]
    if len(parts) == 3 and parts[0] == "delivery" and method == "GET":
        return "download", parts[1]
    return None


def failure_text(code: str) -> str:
    """What a failed prediction's ``error`` says for a ``#fail=`` code."""
    if code in MODERATION_CODES or code.lower() in ("nsfw", "e005"):
        return (
            "NSFW content detected: the input or output was flagged as sensitive."
            f" Try running it again with a different prompt. ({code})"
        )
    return f"Prediction failed: emulated failure ({code})"


def _iso(seconds: float) -> str:
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return stamp.isoformat(timespec="microseconds").replace("+00:00", "Z")


class ReplicateDialect:
    """Routes of the ``replicate`` dialect."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.style: str | StyleFor = DIALECT

    def routes(self) -> list[Route]:
        auth = Auth(missing_code="unauthenticated", invalid_code="unauthenticated")

        def wrap(handler: Handler, authed: bool = True) -> Handler:
            return endpoint(self.state, self.style, handler, auth if authed else None)

        return [
            Route(
                "/models/{owner}/{name}/predictions", wrap(self.create_for_model), methods=["POST"]
            ),
            Route("/predictions", wrap(self.create_for_version), methods=["POST"]),
            Route("/predictions/{prediction_id}", wrap(self.get), methods=["GET"]),
            Route("/predictions/{prediction_id}/cancel", wrap(self.cancel), methods=["POST"]),
            # Output files are public (replicate.delivery takes no key).
            Route("/delivery/{prediction_id}/{file}", wrap(self.file, False), methods=["GET"]),
        ]

    # -- create -------------------------------------------------------------------------------
    async def create_for_model(self, request: Request) -> Response:
        owner, name = request.path_params["owner"], request.path_params["name"]
        if not (_SEGMENT.match(owner) and _SEGMENT.match(name)):
            raise ApiError(404, "not_found", f"Model {owner}/{name} not found")
        body = await read_json(request)
        return await self._create(request, body, f"{owner}/{name}", None)

    async def create_for_version(self, request: Request) -> Response:
        body = await read_json(request)
        version = body.get("version")
        if not isinstance(version, str) or not version:
            raise ApiError(422, "input_validation_failed", "version is required", param="version")
        model, _, version_id = version.rpartition(":")
        return await self._create(request, body, model or "unknown/version", version_id)

    async def _create(
        self, request: Request, body: dict[str, Any], model: str, version: str | None
    ) -> Response:
        inputs = body.get("input")
        if not isinstance(inputs, dict):
            raise ApiError(422, "input_validation_failed", "input is required", param="input")
        prompt = inputs.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ApiError(
                422,
                "input_validation_failed",
                "input.prompt: prompt is required",
                param="input.prompt",
            )
        scenario = parse_scenario(prompt)
        scenario.raise_submit_error()
        width, height = _size(inputs)
        fmt = _format(inputs, model)
        count = _count(inputs, model)
        references = check_references(collect_references(inputs, IMAGE_INPUTS), limit=1)
        images = [ImageSpec(width, height, fmt, colour_for(prompt, i)) for i in range(count)]
        task = self.state.add_task(
            dialect=DIALECT,
            prefix="",
            prompt=prompt,
            model=model,
            images=images,
            resolution="1k",
            fail_code=scenario.fail_code,
        )
        task.extra.update(references=references, version=version, input=inputs)
        task.extra["single"] = model in SINGLE_OUTPUT
        wait = _prefer_wait(request.headers.get("prefer"))
        deadline = time.monotonic() + wait
        for _ in range(wait * 100):  # 10 ms steps, at most ``wait`` seconds on the wall clock
            if time.monotonic() >= deadline or self._ended(task, request):
                break
            await asyncio.sleep(0.01)
        return JSONResponse(self._prediction(task, request), status_code=201)

    # -- the prediction -------------------------------------------------------------------------
    async def get(self, request: Request) -> Response:
        return JSONResponse(self._prediction(self._task(request), request))

    async def cancel(self, request: Request) -> Response:
        task = self._task(request)
        if task.cancelled_at is None and not self._ended(task, request):
            task.cancelled_at = self.state.now()
        return JSONResponse(self._prediction(task, request))

    async def file(self, request: Request) -> Response:
        task = self.state.get_task(request.path_params["prediction_id"], DIALECT)
        found = re.fullmatch(r"out-(\d+)\.(\w+)", request.path_params["file"])
        if task is None or found is None or self._status(task, request) != "succeeded":
            raise ApiError(404, "not_found", "File not found")
        index = int(found.group(1))
        if index >= len(task.images):
            raise ApiError(404, "not_found", "File not found")
        return await image_response(task.images[index])

    def _task(self, request: Request) -> Task:
        prediction_id = request.path_params["prediction_id"]
        task = self.state.get_task(prediction_id, DIALECT)
        if task is None:
            raise ApiError(404, "not_found", f"Prediction {prediction_id} not found")
        return task

    def _ended(self, task: Task, request: Request) -> bool:
        return self._status(task, request) in ("succeeded", "failed", "canceled")

    def _status(self, task: Task, request: Request) -> str:
        if task.cancelled_at is not None:
            return "canceled"
        fraction = progress(request.scope, task.fraction(self.state.now()))
        if fraction >= 1.0:
            return "failed" if task.fail_code is not None else "succeeded"
        return "starting" if fraction < 0.2 else "processing"

    def _prediction(self, task: Task, request: Request) -> dict[str, Any]:
        base = origin(request) + MOUNT
        status = self._status(task, request)
        fraction = progress(request.scope, task.fraction(self.state.now()))
        body: dict[str, Any] = {
            "id": task.id,
            "model": task.model,
            "version": task.extra.get("version") or "hidden",
            "input": task.extra.get("input", {}),
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "status": status,
            "created_at": _iso(task.created),
            "started_at": None,
            "completed_at": None,
            "urls": {
                "cancel": f"{base}/predictions/{task.id}/cancel",
                "get": f"{base}/predictions/{task.id}",
                "web": f"https://replicate.com/p/{task.id}",
            },
        }
        if status != "starting":
            body["started_at"] = _iso(task.created + 0.2 * task.duration)
            done = max(1, int(fraction * len(task.images) * 4))
            percent = min(100, int(fraction * 100))
            body["logs"] = f"Using seed: 42\n{percent:3d}%|{'#' * (percent // 10):<10}| {done}/4"
        if status in ("succeeded", "failed", "canceled"):
            body["completed_at"] = _iso(task.created + task.duration)
        if status == "succeeded":
            urls = [
                f"{origin(request)}{MOUNT}/delivery/{task.id}/out-{index}.{EXTENSIONS[spec.fmt]}"
                for index, spec in enumerate(task.images)
            ]
            body["output"] = urls[0] if task.extra.get("single") else urls
            body["metrics"] = {"predict_time": round(task.duration, 3), "image_count": len(urls)}
        elif status == "failed":
            body["error"] = failure_text(task.fail_code or "failed")
        return body


def _prefer_wait(header: str | None) -> int:
    """Seconds a ``Prefer: wait[=N]`` header asks for (0: none; N outside 1-60: refused)."""
    if not header:
        return 0
    for item in header.split(","):
        found = _PREFER.match(item)
        if found is None:
            continue
        if found.group(1) is None:
            return MAX_WAIT
        seconds = int(found.group(1))
        if not 1 <= seconds <= MAX_WAIT:
            raise ApiError(
                400, "invalid_prefer_header", "Prefer: wait=N takes N from 1 to 60 seconds"
            )
        return seconds
    return 0


def _size(inputs: dict[str, Any]) -> tuple[int, int]:
    ratio = inputs.get("aspect_ratio", "1:1")
    if ratio in (None, "match_input_image"):
        return RATIOS["1:1"]
    if ratio == "custom":
        width, height = inputs.get("width"), inputs.get("height")
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, int) or not 256 <= value <= 1440:
                raise ApiError(
                    422,
                    "input_validation_failed",
                    f"input.{name}: must be an integer from 256 to 1440",
                    param=f"input.{name}",
                )
        assert isinstance(width, int)
        assert isinstance(height, int)
        return round(width / 32) * 32, round(height / 32) * 32
    if not isinstance(ratio, str) or ratio not in RATIOS:
        raise ApiError(
            422,
            "input_validation_failed",
            f"input.aspect_ratio: must be one of {', '.join(RATIOS)}",
            param="input.aspect_ratio",
        )
    return RATIOS[ratio]


def _format(inputs: dict[str, Any], model: str) -> str:
    default = "png" if model == "black-forest-labs/flux-kontext-pro" else "webp"
    value = inputs.get("output_format", default)
    if not isinstance(value, str) or value not in FORMATS:
        raise ApiError(
            422,
            "input_validation_failed",
            "input.output_format: must be one of webp, jpg, png",
            param="input.output_format",
        )
    return FORMATS[value]


def _count(inputs: dict[str, Any], model: str) -> int:
    value = inputs.get("num_outputs", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4:
        raise ApiError(
            422,
            "input_validation_failed",
            "input.num_outputs: must be an integer from 1 to 4",
            param="input.num_outputs",
        )
    return value if model in MULTI_OUTPUT else 1
