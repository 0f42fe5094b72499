"""The Stability AI dialect (stable-image v2beta; docs/dialects/stability.md), written from the
API reference (https://platform.stability.ai/docs/api-reference).

- ``POST /stable-image/generate/ultra``, ``/core``, ``/sd3`` and ``/stable-image/edit/inpaint``:
  multipart/form-data only (a JSON or urlencoded body is a 400), ``Authorization: Bearer``.
  Generations make one image of ``aspect_ratio`` (default 1:1) at about one megapixel;
  image-to-image (``image`` with ``strength``; sd3 also ``mode=image-to-image``) and inpaint
  make the input image's size. ``output_format`` png (default), jpeg or webp (sd3: png or
  jpeg).
- ``accept: image/*`` (the default) answers the image bytes with ``content-type``,
  ``finish-reason`` and ``seed`` headers; ``accept: application/json`` answers
  ``{"image": base64, "finish_reason", "seed"}``; any other accept is a 400.
- Markers: ``#error=STATUS:NAME`` answers ``{"id", "name": NAME, "errors": [...]}`` with that
  status; ``#fail=...`` answers 200 with ``finish_reason`` ``CONTENT_FILTERED`` and a blurred
  (uniform grey) image, as Stability does when its filter flags the output.
- Every request is the ``submit`` phase for fault injection (there are no tasks).
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Mapping
from typing import Any

from PIL import Image, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._errors import ApiError
from ._http import Auth, Handler, StyleFor, endpoint, read_form
from ._images import ImageSpec, colour_for
from ._scenario import parse_scenario
from ._store import EmulatorState

STYLE = "stability"
#: aspect_ratio -> the pixels made (about one megapixel, sides multiples of 64).
RATIO_PIXELS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "16:9": (1344, 768),
    "9:16": (768, 1344),
    "21:9": (1536, 640),
    "9:21": (640, 1536),
    "3:2": (1216, 832),
    "2:3": (832, 1216),
    "5:4": (1088, 896),
    "4:5": (896, 1088),
}
SD3_MODELS = ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash")
STYLE_PRESETS = frozenset(
    {
        "3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance",
        "fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk",
        "origami", "photographic", "pixel-art", "tile-texture",
    }
)  # fmt: skip
MAX_SEED = 4294967294
MAX_TEXT = 10000
MAX_INPUT_PIXELS = 9437184
_ROUTES = {
    "/stable-image/generate/ultra": "ultra",
    "/stable-image/generate/core": "core",
    "/stable-image/generate/sd3": "sd3",
    "/stable-image/edit/inpaint": "inpaint",
}
_MEDIA = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def error_body(error: ApiError) -> dict[str, Any]:
    """Stability's error shape: ``{"id", "name", "errors": [message]}``."""
    return {"id": secrets.token_hex(16), "name": error.code, "errors": [error.message]}


def locate(method: str, path: str, query: Mapping[str, str]) -> tuple[str, str | None] | None:
    """Every request of the dialect is a submit (one request, one image, no task)."""
    if method == "POST" and path.rstrip("/") in _ROUTES:
        return ("submit", None)
    return None


def _bad(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


class StabilityDialect:
    """Routes of the ``stability`` dialect."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.style: str | StyleFor = STYLE

    def routes(self) -> list[Route]:
        auth = Auth(missing_code="unauthorized", invalid_code="unauthorized")
        routes = []
        for path, service in _ROUTES.items():
            handler: Handler = endpoint(self.state, self.style, self._handler(service), auth)
            routes.append(Route(path, handler, methods=["POST"]))
        return routes

    def _handler(self, service: str) -> Handler:
        async def handle(request: Request) -> Response:
            return await self.generate(request, service)

        return handle

    async def generate(self, request: Request, service: str) -> Response:
        accept = request.headers.get("accept", "image/*").strip().lower() or "image/*"
        if accept not in ("image/*", "application/json"):
            raise _bad("accept: must be image/* or application/json")
        form = await read_form(request)
        try:
            fields = {key: value for key, value in form.items() if isinstance(value, str)}
            prompt = fields.get("prompt", "")
            if not prompt.strip():
                raise _bad("prompt: is required")
            scenario = parse_scenario(prompt)
            scenario.raise_submit_error()
            fmt = _format(fields, service)
            seed = _seed(fields.get("seed"))
            _check_text(fields)
            width, height = await self._size(form, fields, service)
        finally:
            await form.close()
        filtered = scenario.fail_code is not None
        colour = (128, 128, 128) if filtered else colour_for(prompt)
        spec = ImageSpec(width, height, fmt, colour)
        content = await run_in_threadpool(spec.render)
        finish = "CONTENT_FILTERED" if filtered else "SUCCESS"
        if accept == "application/json":
            image = await run_in_threadpool(spec.b64)
            return JSONResponse({"image": image, "finish_reason": finish, "seed": seed})
        headers = {"finish-reason": finish, "seed": str(seed)}
        return Response(content, media_type=_MEDIA[fmt], headers=headers)

    async def _size(self, form: FormData, fields: dict[str, str], service: str) -> tuple[int, int]:
        image = form.get("image")
        mode = fields.get("mode", "text-to-image")
        if service == "sd3":
            model = fields.get("model", "sd3.5-large")
            if model not in SD3_MODELS:
                raise _bad(f"model: must be one of {', '.join(SD3_MODELS)}")
            if mode not in ("text-to-image", "image-to-image"):
                raise _bad("mode: must be text-to-image or image-to-image")
            if (mode == "image-to-image") != isinstance(image, UploadFile):
                raise _bad("image: is required with mode image-to-image, and only then")
        if "style_preset" in fields:
            if service not in ("core", "inpaint"):
                raise _bad("style_preset: is not a parameter of this endpoint")
            if fields["style_preset"] not in STYLE_PRESETS:
                raise _bad("style_preset: is not a known preset")
        if service == "inpaint" or isinstance(image, UploadFile):
            return await _input_size(image, fields, service)
        ratio = fields.get("aspect_ratio", "1:1")
        if ratio not in RATIO_PIXELS:
            raise _bad(f"aspect_ratio: must be one of {', '.join(RATIO_PIXELS)}")
        return RATIO_PIXELS[ratio]


async def _input_size(image: Any, fields: dict[str, str], service: str) -> tuple[int, int]:
    """The size of the uploaded ``image`` (required here), checked as the reference says."""
    if not isinstance(image, UploadFile):
        raise _bad("image: is required")
    if service != "inpaint":
        strength = fields.get("strength")
        try:
            value = float(strength) if strength is not None else None
        except ValueError:
            value = None
        if value is None or not 0 <= value <= 1:
            raise _bad("strength: is required with an image, a number from 0 to 1")
        if "aspect_ratio" in fields:
            raise _bad("aspect_ratio: is only valid for text-to-image requests")
    data = await image.read()
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise _bad("image: is not a valid image") from None
    if min(width, height) < 64 or width * height > MAX_INPUT_PIXELS:
        raise _bad(f"image: is {width}x{height}; sides of 64+ pixels, at most 9,437,184 pixels")
    if service == "inpaint" and "grow_mask" in fields:
        grow = fields["grow_mask"]
        if not grow.isdigit() or int(grow) > 20:
            raise _bad("grow_mask: must be an integer from 0 to 20")
    return width, height


def _format(fields: dict[str, str], service: str) -> str:
    fmt = fields.get("output_format", "png")
    allowed = ("png", "jpeg") if service == "sd3" else ("png", "jpeg", "webp")
    if fmt not in allowed:
        raise _bad(f"output_format: must be one of {', '.join(allowed)}")
    return fmt


def _seed(value: str | None) -> int:
    if value is None:
        return secrets.randbelow(MAX_SEED) + 1
    if not value.isdigit() or int(value) > MAX_SEED:
        raise _bad(f"seed: must be an integer from 0 to {MAX_SEED}")
    return int(value) or secrets.randbelow(MAX_SEED) + 1


def _check_text(fields: dict[str, str]) -> None:
    for name in ("prompt", "negative_prompt"):
        if len(fields.get(name, "")) > MAX_TEXT:
            raise _bad(f"{name}: must be at most {MAX_TEXT} characters")
    cfg = fields.get("cfg_scale")
    if cfg is not None:
        try:
            ok = 1 <= float(cfg) <= 10
        except ValueError:
            ok = False
        if not ok:
            raise _bad("cfg_scale: must be a number from 1 to 10")
