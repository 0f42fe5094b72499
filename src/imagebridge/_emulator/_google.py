"""The Gemini API dialect (docs/dialects/google.md), mounted at ``/google/v1beta``.

- ``POST /models/{model}:generateContent``: ``contents[].parts[]`` (``text``, ``inlineData
  {mimeType, data}``), ``generationConfig {responseModalities, imageConfig {aspectRatio,
  imageSize}, seed, candidateCount}``. Answers one candidate with a text part and one
  ``inlineData`` PNG at the ratio and tier asked for (the edited image's ratio when none is
  asked and an image was given), ``finishReason: STOP`` and ``usageMetadata``. A
  ``candidateCount`` above 1 is 400 INVALID_ARGUMENT, as for Google's image models.
- ``POST /models/{model}:predict`` (``imagen-*``): ``instances[0].prompt``, ``parameters
  {sampleCount 1-4, aspectRatio, sampleImageSize|imageSize, personGeneration,
  includeRaiReason, outputOptions {mimeType, compressionQuality}}``. ``negativePrompt``,
  ``seed``, ``addWatermark``, ``storageUri``, ``labels`` and ``enhancePrompt`` are Vertex-only:
  400 INVALID_ARGUMENT. Answers ``{"predictions": [{"bytesBase64Encoded", "mimeType"}]}``.
- Markers (:mod:`._scenario`): ``#error=STATUS:CODE`` answers that HTTP status with ``CODE``
  as the ``status`` when it is a google.rpc code name (else the status of the HTTP code, with
  ``CODE`` as the ErrorInfo reason). ``#fail=CODE``: generateContent answers a candidate with
  ``finishReason: CODE`` and no image; ``#fail=blocked_REASON`` a ``promptFeedback
  .blockReason`` and no candidates. On ``:predict`` ``#fail=CODE`` filters every image
  (``{}``, or ``raiFilteredReason`` entries with ``includeRaiReason``) and
  ``#fail=partial_CODE`` only the first one.
- Auth: ``x-goog-api-key`` holds the bare key; a missing key is 403 PERMISSION_DENIED, a wrong
  one 400 INVALID_ARGUMENT "API key not valid" with reason ``API_KEY_INVALID`` (Google's
  answers). A ``key=`` query parameter is refused (400): imagebridge never sends one.
- Errors: ``{"error": {"code", "message", "status", "details": [ErrorInfo]}}``. Faults apply to
  both endpoints in the submit phase (images are inline: no poll, download or cancel).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._errors import ApiError
from ._http import Auth, Handler, StyleFor, check_auth, endpoint, read_json
from ._images import ImageSpec, colour_for
from ._scenario import parse_scenario
from ._store import EmulatorState

#: google.rpc.Code name by HTTP status.
STATUS_BY_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
#: The google.rpc.Code names an error's ``status`` may be.
RPC_NAMES = frozenset(
    {
        *STATUS_BY_HTTP.values(),
        "FAILED_PRECONDITION",
        "OUT_OF_RANGE",
        "ALREADY_EXISTS",
        "DATA_LOSS",
        "UNKNOWN",
    }
)
#: ratio -> (1K, 2K, 4K) pixels; the Gemini 3 table (2.5 answers the 1K row of its own).
GEMINI_PIXELS: dict[str, tuple[tuple[int, int], ...]] = {
    "1:1": ((1024, 1024), (2048, 2048), (4096, 4096)),
    "3:2": ((1264, 848), (2528, 1696), (5056, 3392)),
    "4:3": ((1200, 896), (2400, 1792), (4800, 3584)),
    "5:4": ((1152, 928), (2304, 1856), (4608, 3712)),
    "16:9": ((1376, 768), (2752, 1536), (5504, 3072)),
    "21:9": ((1584, 672), (3168, 1344), (6336, 2688)),
}
GEMINI_25_PIXELS = {
    "1:1": (1024, 1024),
    "3:2": (1248, 832),
    "4:3": (1184, 864),
    "5:4": (1152, 896),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
IMAGEN_PIXELS = {"1:1": (1024, 1024), "4:3": (1280, 896), "16:9": (1408, 768)}
IMAGE_SIZES = ("1K", "2K", "4K")
VERTEX_ONLY = ("negativePrompt", "seed", "addWatermark", "storageUri", "labels", "enhancePrompt")
RAI_MESSAGE = (
    "Unable to show generated images. All images were filtered out because they violated"
    " the usage guidelines. Support codes: 56562880"
)
_MIME_FORMATS = {"image/png": "png", "image/jpeg": "jpeg"}


def error_body(error: ApiError) -> dict[str, Any]:
    """Google's error shape."""
    code = error.code
    status = code if code in RPC_NAMES else STATUS_BY_HTTP.get(error.status, "UNKNOWN")
    body: dict[str, Any] = {"code": error.status, "message": error.message, "status": status}
    if code != status:
        body["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": code,
                "domain": "googleapis.com",
            }
        ]
    return {"error": body}


def locate(method: str, path: str, query: Mapping[str, str]) -> tuple[str, str | None] | None:
    """Both endpoints are the submit phase; nothing else is faulted."""
    if method == "POST" and re.fullmatch(r"/models/[^/:]+:(generateContent|predict)", path):
        return "submit", None
    return None


def _invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


def _ratio(value: Any, table: dict[str, Any], where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f"{where}: aspectRatio must be a string")
    text = value.strip()
    if text in table:
        return text
    width, _, height = text.partition(":")
    flipped = f"{height}:{width}"
    if flipped in table and flipped != "9:21" and text != "9:21":
        return text
    raise _invalid(f"{where}: aspect ratio {text!r} is not supported")


def _pixels(ratio: str | None, row: dict[str, Any], default: str) -> Any:
    key = ratio or default
    if key in row:
        return row[key]
    width, _, height = key.partition(":")
    value = row[f"{height}:{width}"]
    if isinstance(value[0], tuple):
        return tuple((h, w) for w, h in value)
    return value[1], value[0]


def _inline_images(parts: list[Any]) -> list[tuple[int, int] | None]:
    sizes: list[tuple[int, int] | None] = []
    for index, part in enumerate(parts):
        if not isinstance(part, dict):
            raise _invalid(f"contents[0].parts[{index}] must be an object")
        # Proto3 JSON: the lowerCamel and the original field names are both accepted (the SDK
        # sends inlineData.mime_type).
        inline = part.get("inlineData", part.get("inline_data"))
        if inline is None:
            if not isinstance(part.get("text"), str):
                raise _invalid(f"contents[0].parts[{index}] needs text or inlineData")
            continue
        if not isinstance(inline, dict) or not isinstance(inline.get("data"), str):
            raise _invalid(f"contents[0].parts[{index}].inlineData.data must be base64")
        mime = inline.get("mimeType", inline.get("mime_type"))
        if mime not in ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"):
            raise _invalid(f"contents[0].parts[{index}].inlineData.mimeType {mime!r}")
        try:
            # Proto3 JSON bytes: standard or URL-safe base64 (the SDK sends URL-safe).
            raw = base64.b64decode(
                inline["data"].replace("-", "+").replace("_", "/"), validate=True
            )
        except (binascii.Error, ValueError):
            raise _invalid(f"contents[0].parts[{index}].inlineData.data is not base64") from None
        sizes.append(_png_size(raw))
    return sizes


def _png_size(raw: bytes) -> tuple[int, int] | None:
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) >= 24:
        return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    return None


class GoogleDialect:
    """Routes of the ``google`` dialect."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.style: str | StyleFor = "google"

    def routes(self) -> list[Route]:
        def wrap(handler: Handler) -> Handler:
            return endpoint(self.state, self.style, self._authed(handler))

        return [Route("/models/{call:path}", wrap(self.call), methods=["POST"])]

    def _authed(self, handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            if "key" in request.query_params:
                raise _invalid("imagebridge's emulator refuses a key in the URL query")
            if not request.headers.get("x-goog-api-key", "").strip():
                raise ApiError(
                    403,
                    "PERMISSION_DENIED",
                    "Method doesn't allow unregistered callers (callers without established"
                    " identity). Please use API Key or other form of API consumer identity to"
                    " call this API.",
                )
            try:
                check_auth(request, self.state.config.api_key, _AUTH)
            except ApiError:
                raise ApiError(
                    400, "API_KEY_INVALID", "API key not valid. Please pass a valid API key."
                ) from None
            return await handler(request)

        return run

    async def call(self, request: Request) -> Response:
        model, _, method = request.path_params["call"].partition(":")
        if not model or "/" in model or method not in ("generateContent", "predict"):
            raise ApiError(404, "NOT_FOUND", f"Unknown route: POST {request.url.path}")
        body = await read_json(request)
        if method == "predict":
            if not model.startswith("imagen-"):
                raise _invalid(f"models/{model} is not found for predict")
            return self.predict(model, body)
        if model.startswith("imagen-"):
            raise _invalid(f"models/{model} does not support generateContent")
        return self.generate_content(model, body)

    def generate_content(self, model: str, body: dict[str, Any]) -> Response:
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents or not isinstance(contents[0], dict):
            raise _invalid("* GenerateContentRequest.contents: contents is not specified")
        parts = contents[0].get("parts")
        if not isinstance(parts, list) or not parts:
            raise _invalid("* GenerateContentRequest.contents[0].parts: must not be empty")
        prompt = " ".join(p["text"] for p in parts if isinstance(p, dict) and "text" in p)
        inputs = _inline_images(parts)
        scenario = parse_scenario(prompt)
        scenario.raise_submit_error()
        config = body.get("generationConfig") or {}
        if not isinstance(config, dict):
            raise _invalid("generationConfig must be an object")
        count = config.get("candidateCount", 1)
        if count != 1:
            raise _invalid("Multiple candidates is not enabled for this model")
        modalities = config.get("responseModalities") or ["TEXT", "IMAGE"]
        if "IMAGE" not in modalities:
            raise _invalid("responseModalities must include IMAGE for an image model")
        image_config = config.get("imageConfig") or {}
        if not isinstance(image_config, dict):
            raise _invalid("generationConfig.imageConfig must be an object")
        ratio = _ratio(image_config.get("aspectRatio"), GEMINI_PIXELS, "imageConfig")
        tier = image_config.get("imageSize", "1K")
        if tier not in IMAGE_SIZES or (model == "gemini-2.5-flash-image" and tier != "1K"):
            raise _invalid(f"imageConfig.imageSize {tier!r} is not supported by {model}")
        if model == "gemini-2.5-flash-image":
            width, height = _pixels(ratio, GEMINI_25_PIXELS, "1:1")
        else:
            width, height = _pixels(ratio, GEMINI_PIXELS, "1:1")[IMAGE_SIZES.index(tier)]
        first_input = next((size for size in inputs if size is not None), None)
        if ratio is None and first_input is not None:
            width, height = first_input  # an edit keeps the image's size by default
        usage = {"promptTokenCount": 8 + 258 * len(inputs), "candidatesTokenCount": 1290}
        usage["totalTokenCount"] = usage["promptTokenCount"] + usage["candidatesTokenCount"]
        fail = scenario.fail_code
        if fail is not None and fail.startswith("blocked_"):
            feedback = {"blockReason": fail.removeprefix("blocked_")}
            return JSONResponse({"promptFeedback": feedback, "modelVersion": model})
        if fail is not None:
            candidate: dict[str, Any] = {
                "content": {"role": "model", "parts": [{"text": "I can't make that image."}]},
                "finishReason": fail,
                "index": 0,
            }
        else:
            image = ImageSpec(width, height, "png", colour_for(prompt))
            candidate = {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Here is the image."},
                        {"inlineData": {"mimeType": "image/png", "data": image.b64()}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        answer = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}
        return JSONResponse(answer)

    def predict(self, model: str, body: dict[str, Any]) -> Response:
        instances = body.get("instances")
        instance = instances[0] if isinstance(instances, list) and instances else None
        prompt = instance.get("prompt") if isinstance(instance, dict) else None
        if not isinstance(prompt, str) or not prompt.strip():
            raise _invalid("instances[0].prompt is required")
        scenario = parse_scenario(prompt)
        scenario.raise_submit_error()
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise _invalid("parameters must be an object")
        for name in VERTEX_ONLY:
            if name in parameters:
                raise _invalid(f"{name} parameter is not supported in Gemini API.")
        count = parameters.get("sampleCount", 4)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 4:
            raise _invalid("sampleCount must be between 1 and 4")
        ratio = _ratio(parameters.get("aspectRatio"), IMAGEN_PIXELS, "parameters")
        if ratio in ("21:9", "3:2", "2:3", "5:4", "4:5"):
            raise _invalid(f"parameters: aspect ratio {ratio!r} is not supported")
        tier = parameters.get("sampleImageSize", parameters.get("imageSize", "1K"))
        if tier not in ("1K", "2K") or ("fast" in model and tier != "1K"):
            raise _invalid(f"image size {tier!r} is not supported by {model}")
        width, height = _pixels(ratio, IMAGEN_PIXELS, "1:1")
        if tier == "2K":
            width, height = width * 2, height * 2
        output = parameters.get("outputOptions") or {}
        mime = output.get("mimeType", "image/png") if isinstance(output, dict) else None
        if mime not in _MIME_FORMATS:
            raise _invalid(f"outputOptions.mimeType {mime!r} is not supported")
        fmt = _MIME_FORMATS[mime]
        fail = scenario.fail_code
        filtered = 0
        if fail is not None:
            filtered = 1 if fail.startswith("partial") else count
        predictions: list[dict[str, Any]] = []
        if filtered and parameters.get("includeRaiReason") is True:
            predictions += [{"raiFilteredReason": RAI_MESSAGE}] * filtered
        for index in range(filtered, count):
            image = ImageSpec(width, height, fmt, colour_for(prompt, index))
            predictions.append({"bytesBase64Encoded": image.b64(), "mimeType": mime})
        return JSONResponse({"predictions": predictions} if predictions else {})


_AUTH = Auth(header="x-goog-api-key", scheme=None, status=400)
