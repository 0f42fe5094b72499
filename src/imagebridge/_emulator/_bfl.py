"""The Black Forest Labs (FLUX) dialect (docs/dialects/bfl.md), mounted at ``/bfl/v1``.

Written from BFL's API reference (https://docs.bfl.ai/api-reference) and its Integration
guidelines, not from the adapter:

- ``POST /{model}`` (``flux-pro-1.1``, ``flux-pro-1.1-ultra``, ``flux-dev``,
  ``flux-kontext-pro``, ``flux-kontext-max``, ``flux-pro-1.0-fill``), JSON, key in ``x-key``:
  answers ``{"id", "polling_url", "cost", "input_mp", "output_mp"}``. ``polling_url`` is
  absolute, on the emulator's own origin (``{origin}/bfl/v1/get_result?id=...``), or on the
  ``host:port`` a ``#polling-host=HOST:PORT`` prompt marker names (a foreign host, for tests).
- ``GET /get_result?id=...``: ``Pending`` with ``progress`` (a fraction, on the emulator's
  clock), then ``Ready`` with ``result.sample`` (a signed URL on this origin with an Azure-style
  ``se`` expiry ten minutes on), or for ``#fail=CODE`` ``Request Moderated``
  (``request_moderated``), ``Content Moderated`` (the moderation codes) or ``Error`` (any
  other code). An unknown id answers ``Task not found``.
- ``GET /delivery/{task}/{index}?se=&sig=``: the image (no key needed; a bad signature 403, an
  expired ``se`` 403, as a blob store answers).
- Errors: FastAPI's ``{"detail": "..."}``; validation errors (422) ``{"detail": [{"loc",
  "msg", "type"}]}``; a missing or wrong key 403 ``Not authenticated - Invalid
  Authentication``. There is no cancel.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import io
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from PIL import Image, UnidentifiedImageError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._errors import ApiError
from ._http import Auth, Handler, StyleFor, endpoint, image_response, origin, progress, read_json
from ._images import ImageSpec, colour_for
from ._scenario import MODERATION_CODES, parse_scenario
from ._store import EmulatorState, Task

DIALECT = "bfl"
PIXEL_MODELS = frozenset({"flux-pro-1.1", "flux-dev"})
ULTRA = "flux-pro-1.1-ultra"
KONTEXT = frozenset({"flux-kontext-pro", "flux-kontext-max"})
FILL = "flux-pro-1.0-fill"
MODELS = PIXEL_MODELS | KONTEXT | {ULTRA, FILL}
#: How long a sample URL is valid ("Our signed URLs are only valid for 10 minutes").
SAMPLE_TTL = 600
NOT_AUTHENTICATED = "Not authenticated - Invalid Authentication"
_POLLING_HOST = re.compile(r"#polling-host=([A-Za-z0-9.\-]+(?::\d{1,5})?)")
_RATIO = re.compile(r"^(\d{1,2}):(\d{1,2})$")
_STATUS_FOR = {"request_moderated": "Request Moderated", "task_not_found": "Task not found"}
#: Output pixels of the common ratios (landscape; portraits are transposed): ultra ~4 MP,
#: kontext ~1 MP. Other ratios in range get the nearest size of that area (multiples of 32).
_ULTRA_SIZES = {
    (1, 1): (2048, 2048),
    (4, 3): (2368, 1792),
    (3, 2): (2496, 1664),
    (16, 9): (2752, 1536),
    (21, 9): (3136, 1344),
}
_KONTEXT_SIZES = {
    (1, 1): (1024, 1024),
    (4, 3): (1184, 880),
    (3, 2): (1248, 832),
    (16, 9): (1392, 752),
    (21, 9): (1568, 672),
}


def locate(method: str, path: str, query: Mapping[str, str]) -> tuple[str, str | None] | None:
    """The phase of a request under ``/bfl/v1`` (the poll's task id is its ``id`` query)."""
    parts = path.strip("/").split("/")
    if method == "POST" and len(parts) == 1 and parts[0] in MODELS:
        return "submit", None
    if method == "GET" and parts == ["get_result"]:
        return "poll", query.get("id")
    if method == "GET" and len(parts) == 3 and parts[0] == "delivery":
        return "download", parts[1]
    return None


def error_body(error: ApiError) -> dict[str, Any]:
    """FastAPI's shapes: a validation list for 422, the auth text for a bad key."""
    if error.code == "not_authenticated":
        return {"detail": NOT_AUTHENTICATED}
    if error.status == 422:
        loc = ["body", error.param] if error.param else ["body"]
        return {"detail": [{"loc": loc, "msg": error.message, "type": "value_error"}]}
    return {"detail": error.message}


def _invalid(param: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", message, param=param)


class BflDialect:
    """Routes of the ``bfl`` dialect."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.style: str | StyleFor = DIALECT

    def routes(self) -> list[Route]:
        auth = Auth(
            missing_code="not_authenticated",
            invalid_code="not_authenticated",
            header="x-key",
            scheme=None,
            status=403,
        )

        def wrap(handler: Handler, key: bool = True) -> Handler:
            return endpoint(self.state, self.style, handler, auth if key else None)

        return [
            Route("/get_result", wrap(self.get_result), methods=["GET"]),
            Route("/delivery/{task_id}/{index:int}", wrap(self.delivery, False), methods=["GET"]),
            *(Route(f"/{model}", wrap(self.submit), methods=["POST"]) for model in sorted(MODELS)),
        ]

    # -- submit ------------------------------------------------------------------------------

    async def submit(self, request: Request) -> Response:
        model = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        body = await read_json(request)
        prompt = body.get("prompt", "")
        if prompt is None:
            prompt = ""
        if not isinstance(prompt, str) or (model != FILL and not prompt.strip()):
            raise _invalid("prompt", "Field required: a non-empty prompt")
        scenario = parse_scenario(prompt)
        scenario.raise_submit_error()
        _check_common(body)
        if model in PIXEL_MODELS:
            width, height = _pixels(body)
        elif model == FILL:
            width, height = _image_size(body.get("image"), "image")
            mask = body.get("mask")
            if mask is not None and _image_size(mask, "mask") != (width, height):
                raise _invalid("mask", "The mask must have the dimensions of the image")
        else:
            width, height = _ratio_size(body.get("aspect_ratio"), model)
            if model in KONTEXT:
                _check_inputs(body)
        default_format = "png" if model in KONTEXT else "jpeg"
        fmt = body.get("output_format") or default_format
        task = self.state.add_task(
            dialect=DIALECT,
            prefix="",
            prompt=prompt,
            model=model,
            images=[ImageSpec(width, height, fmt, colour_for(prompt))],
            resolution="1k",
            fail_code=scenario.fail_code,
        )
        seed = body.get("seed")
        task.extra["seed"] = seed if isinstance(seed, int) else int(task.created) % 2**31
        task.extra["upsampled"] = body.get("prompt_upsampling") is True
        host = _POLLING_HOST.search(prompt)
        base = f"{request.url.scheme}://{host.group(1)}" if host else origin(request)
        mount = request.url.path[: -len(model) - 1]
        megapixels = round(width * height / 1_000_000, 2)
        return JSONResponse(
            {
                "id": task.id,
                "polling_url": f"{base}{mount}/get_result?id={task.id}",
                "cost": 4.0,
                "input_mp": 0.0,
                "output_mp": megapixels,
            }
        )

    # -- poll --------------------------------------------------------------------------------

    async def get_result(self, request: Request) -> Response:
        task_id = request.query_params.get("id")
        if not task_id:
            raise _invalid("id", "Field required")
        task = self.state.get_task(task_id, DIALECT)
        if task is None:
            return JSONResponse({"id": task_id, "status": "Task not found"})
        fraction = progress(request.scope, task.fraction(self.state.now()))
        if fraction < 1.0:
            shown = round(fraction, 2) if fraction >= 0.1 else None
            return JSONResponse({"id": task.id, "status": "Pending", "progress": shown})
        if task.fail_code is not None:
            return JSONResponse(_failed(task))
        sample = self._sample_url(request, task)
        result = {
            "sample": sample,
            "prompt": f"{task.prompt} (upsampled)" if task.extra.get("upsampled") else task.prompt,
            "seed": task.extra.get("seed"),
            "start_time": task.created,
            "end_time": task.created + task.duration,
            "duration": task.duration,
        }
        return JSONResponse(
            {"id": task.id, "status": "Ready", "result": result, "progress": None, "details": None}
        )

    def _sample_url(self, request: Request, task: Task) -> str:
        expires = int(time.time()) + SAMPLE_TTL
        se = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        sig = self.state.sign(task.id, 0, expires * 1000)
        mount = request.url.path[: -len("/get_result")]
        return f"{origin(request)}{mount}/delivery/{task.id}/0?se={se}&sp=r&sig={sig}"

    # -- download ----------------------------------------------------------------------------

    async def delivery(self, request: Request) -> Response:
        task_id: str = request.path_params["task_id"]
        index: int = request.path_params["index"]
        try:
            exp_ms = _utc_ms(request.query_params.get("se", ""))
        except ValueError:
            raise ApiError(403, "authentication_failed", "Signature not valid") from None
        if not self.state.signature_ok(task_id, index, exp_ms, request.query_params.get("sig", "")):
            raise ApiError(403, "authentication_failed", "Signature not valid")
        if exp_ms < time.time() * 1000:
            raise ApiError(403, "authentication_failed", "Signed expiry time has passed")
        task = self.state.get_task(task_id, DIALECT)
        if task is None or not 0 <= index < len(task.images):
            raise ApiError(404, "not_found", "The specified blob does not exist")
        spec = task.images[index]
        return await image_response(spec)


def _utc_ms(text: str) -> int:
    """Unix milliseconds of an ``se`` expiry (``YYYY-MM-DDTHH:MM:SSZ``); ValueError if not."""
    return int(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))) * 1000


def _failed(task: Task) -> dict[str, Any]:
    code = task.fail_code or "error"
    if code in _STATUS_FOR:
        status = _STATUS_FOR[code]
    elif code in MODERATION_CODES or code == "content_moderated":
        status = "Content Moderated"
    else:
        status = "Error"
    details: dict[str, Any] = {"code": code, "message": f"emulated task failure: {code}"}
    if "Moderated" in status:
        details = {"Moderation Reasons": [code]}
    return {"id": task.id, "status": status, "result": None, "progress": None, "details": details}


def _check_common(body: dict[str, Any]) -> None:
    fmt = body.get("output_format")
    if fmt is not None and fmt not in ("jpeg", "png"):
        raise _invalid("output_format", "Input should be 'jpeg' or 'png'")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _invalid("seed", "Input should be a valid integer")
    tolerance = body.get("safety_tolerance")
    if tolerance is not None and (
        isinstance(tolerance, bool) or not isinstance(tolerance, int) or not 0 <= tolerance <= 6
    ):
        raise _invalid("safety_tolerance", "Input should be an integer from 0 to 6")
    for name in ("image_prompt",):
        if body.get(name) is not None:
            _decoded(body[name], name)


def _pixels(body: dict[str, Any]) -> tuple[int, int]:
    sides = []
    for name, default in (("width", 1024), ("height", 768)):
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(name, "Input should be a valid integer")
        if not 256 <= value <= 1440 or value % 32:
            raise _invalid(name, "Must be a multiple of 32 from 256 to 1440")
        sides.append(value)
    return sides[0], sides[1]


def _ratio_size(value: Any, model: str) -> tuple[int, int]:
    table = _ULTRA_SIZES if model == ULTRA else _KONTEXT_SIZES
    if value is None:
        w, h = (16, 9) if model == ULTRA else (1, 1)
    else:
        match = _RATIO.match(value) if isinstance(value, str) else None
        if match is None:
            raise _invalid("aspect_ratio", "Aspect ratio must be in the form 'W:H'")
        w, h = int(match.group(1)), int(match.group(2))
    low, high = (9 / 21, 21 / 9) if model == ULTRA else (3 / 7, 7 / 3)
    if h == 0 or w == 0 or not low <= w / h <= high:
        raise _invalid("aspect_ratio", "Aspect ratio must be between 21:9 and 9:21")
    g = math.gcd(w, h)
    w, h = w // g, h // g
    if (w, h) in table:
        return table[(w, h)]
    if (h, w) in table:
        width, height = table[(h, w)]
        return height, width
    area = 2048 * 2048 if model == ULTRA else 1024 * 1024
    width = round(math.sqrt(area * w / h) / 32) * 32
    return width, round(area / width / 32) * 32


def _check_inputs(body: dict[str, Any]) -> None:
    for name in ("input_image", "input_image_2", "input_image_3", "input_image_4"):
        value = body.get(name)
        if value is not None and not (isinstance(value, str) and value.startswith("http")):
            _decoded(value, name)


def _decoded(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(name, "Input should be a base64 encoded image or a URL")
    try:
        data = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(name, "Invalid base64 image") from None
    if len(data) > 20_000_000:
        raise _invalid(name, "Image exceeds 20MB")
    return data


def _image_size(value: Any, name: str) -> tuple[int, int]:
    if value is None:
        raise _invalid(name, "Field required")
    data = _decoded(value, name)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise _invalid(name, "Could not decode the image") from None
    return width, height
