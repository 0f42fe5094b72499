"""Validation of OpenAI Images requests (docs/dialects/openai.md), and geeknow's variations.

:func:`build_job` turns the fields of a generations (JSON) or edits (multipart) request into a
:class:`Job` or raises an :class:`ApiError` with the code the real API uses (``invalid_size``,
``invalid_value``, ``unsupported_parameter``, ``missing_required_parameter``, ...).

Models: ``dall-e-2`` (the default), ``dall-e-3``, the gpt-image-1 family (``gpt-image-1``,
``gpt-image-1-mini``, ``gpt-image-1.5``) and the gpt-image-2 family (any other ``gpt-image-*``
or ``chatgpt-image-*`` name: any ``WxH`` with both sides multiples of 16, aspect within
1:3..3:1, at most 3840 px per edge and 3840x2160 worth of pixels). ``auto`` is 1024x1024.

geeknow (a new-api gateway, ``flavor.gateway``): ``model`` is required on JSON requests and the
dall-e sizes are checked by the gateway itself (``type: new_api_error``, code
``invalid_request``, new-api's own messages); an unknown model is new-api's 503
``model_not_found``. ``n`` missing or 0 is 1; ``response_format`` is ``url`` (default),
``b64_json`` or ``base64`` for every model; ``style``, ``background``, ``watermark`` and the
other gpt-image-only fields pass through unchecked. gpt-image-2 also takes geeknow's presets
(``1:1``, ``4:3``, ``3:2``, ``2:3``, ``16:9`` -> 1920x1080, ``9:16``, and those pixel sizes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ApiError
from ._images import FORMATS
from ._scenario import Scenario, parse_scenario
from ._sizes import MAX_EDGE, MAX_PIXELS, parse_pixels

DALLE2_SIZES = ("256x256", "512x512", "1024x1024")
DALLE3_SIZES = ("1024x1024", "1792x1024", "1024x1792")
GPT1_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
GPT1_MODELS = frozenset({"gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5"})
GEEKNOW_PRESETS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "4:3": (1536, 1152),
    "3:2": (1536, 1024),
    "2:3": (1024, 1536),
    "16:9": (1920, 1080),
    "9:16": (1080, 1920),
}
PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000, "gpt-image-1": 32000, "gpt-image-2": 32000}
QUALITIES = {
    "dall-e-2": ("auto", "standard"),
    "dall-e-3": ("auto", "standard", "hd"),
    "gpt-image-1": ("auto", "low", "medium", "high"),
    "gpt-image-2": ("auto", "low", "medium", "high"),
}
DEFAULT_QUALITY = {"dall-e-2": "standard", "dall-e-3": "standard"}
GPT_IMAGE_ONLY = ("output_format", "output_compression", "background", "moderation")
MAX_EDIT_IMAGES = {"dall-e-2": 1, "gpt-image-1": 16, "gpt-image-2": 16}


@dataclass(frozen=True)
class Flavor:
    """Which OpenAI-shaped dialect is answering: plain OpenAI or the geeknow gateway."""

    name: str
    gateway: bool


@dataclass(frozen=True)
class Job:
    """A validated OpenAI Images request."""

    model: str
    family: str
    prompt: str
    n: int
    width: int
    height: int
    fmt: str
    response_format: str
    quality: str
    background: str
    scenario: Scenario

    @property
    def gpt_image(self) -> bool:
        return self.family.startswith("gpt-image")


def family_of(model: str) -> str | None:
    if model in ("dall-e-2", "dall-e-3"):
        return model
    if model in GPT1_MODELS:
        return "gpt-image-1"
    if model.startswith(("gpt-image-", "chatgpt-image")):
        return "gpt-image-2"
    return None


def _bad(code: str, message: str, param: str | None) -> ApiError:
    return ApiError(400, code, message, param=param)


def _gateway(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message, type_="new_api_error")


def _int(value: Any, param: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise _bad("invalid_type", f"Invalid type for '{param}': expected an integer.", param)


def _str(fields: Mapping[str, Any], param: str) -> str | None:
    value = fields.get(param)
    if value is None or isinstance(value, str):
        return value
    raise _bad("invalid_type", f"Invalid type for '{param}': expected a string.", param)


def _choice(value: str | None, allowed: tuple[str, ...], param: str) -> None:
    if value is not None and value not in allowed:
        supported = ", ".join(repr(item) for item in allowed)
        raise _bad(
            "invalid_value",
            f"Invalid value: '{value}'. Supported values are: {supported}.",
            param,
        )


def build_job(
    fields: Mapping[str, Any], flavor: Flavor, *, edit: bool = False, image_count: int = 0
) -> Job:
    """Validate a request's fields (JSON values or multipart strings) into a :class:`Job`."""
    prompt = fields.get("prompt")
    scenario = parse_scenario(prompt) if isinstance(prompt, str) else Scenario()
    scenario.raise_submit_error()

    model = fields.get("model")
    if flavor.gateway and not edit and not model:
        raise _gateway("model is required")
    if not model:
        model = "dall-e-2"
    if not isinstance(model, str):
        raise _bad("invalid_type", "Invalid type for 'model': expected a string.", "model")
    family = family_of(model)
    if family is None:
        if flavor.gateway:
            raise ApiError(
                503,
                "model_not_found",
                f"No available channel for model {model} under group default",
                type_="new_api_error",
            )
        supported = "'dall-e-2', 'dall-e-3', 'gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5'"
        raise _bad(
            "invalid_value",
            f"Invalid value: '{model}'. Supported values are: {supported} and 'gpt-image-2'.",
            "model",
        )
    if edit and family == "dall-e-3":
        raise _bad("invalid_value", "Image edits are not supported by dall-e-3.", "model")

    if not isinstance(prompt, str) or not prompt:
        raise _bad("missing_required_parameter", "Missing required parameter: 'prompt'.", "prompt")
    if len(prompt) > PROMPT_LIMITS[family]:
        raise _bad(
            "string_above_max_length",
            f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{PROMPT_LIMITS[family]}, but got a string with length {len(prompt)} instead.",
            "prompt",
        )

    if edit:
        limit = MAX_EDIT_IMAGES[family]
        if image_count > limit:
            raise _bad(
                "invalid_value", f"{model} accepts at most {limit} image(s) to edit.", "image"
            )

    n = _check_n(fields.get("n"), family, flavor)
    width, height = _check_size(_str(fields, "size"), family, flavor, edit)

    quality = _str(fields, "quality")
    _choice(quality, QUALITIES[family], "quality")
    quality = quality or DEFAULT_QUALITY.get(family, "auto")

    response_format = _check_response_format(_str(fields, "response_format"), family, flavor)
    fmt, background = _check_gpt_fields(fields, family, flavor)
    return Job(
        model=model,
        family=family,
        prompt=prompt,
        n=n,
        width=width,
        height=height,
        fmt=fmt,
        response_format=response_format,
        quality=quality,
        background=background,
        scenario=scenario,
    )


def _check_n(value: Any, family: str, flavor: Flavor) -> int:
    n = 1 if value is None or value == "" else _int(value, "n")
    if flavor.gateway and n == 0:
        n = 1
    if n < 1:
        raise _bad("integer_below_min_value", f"Invalid 'n': {n} is below the minimum of 1.", "n")
    if n > 10:
        raise _bad("integer_above_max_value", f"Invalid 'n': {n} is above the maximum of 10.", "n")
    if family == "dall-e-3" and n != 1:
        raise _bad("invalid_value", "You must provide n=1 for this model.", "n")
    return n


def _check_size(size: str | None, family: str, flavor: Flavor, edit: bool) -> tuple[int, int]:
    if family in ("dall-e-2", "dall-e-3"):
        allowed = DALLE2_SIZES if family == "dall-e-2" else DALLE3_SIZES
        size = size or "1024x1024"
        if size not in allowed:
            if flavor.gateway and not edit:
                names = "256x256, 512x512, or 1024x1024 for dall-e-2 or dall-e"
                if family == "dall-e-3":
                    names = "1024x1024, 1024x1792 or 1792x1024 for dall-e-3"
                raise _gateway(f"size must be one of {names}")
            raise _size_error(size, f"Supported sizes are {', '.join(allowed)}.")
        return _pixels(size)
    size = size or "auto"
    if size == "auto":
        return 1024, 1024
    if family == "gpt-image-1":
        if size not in GPT1_SIZES:
            raise _size_error(size, f"Supported sizes are {', '.join(GPT1_SIZES)}.")
        return _pixels(size)
    if flavor.gateway:
        if size in GEEKNOW_PRESETS:
            return GEEKNOW_PRESETS[size]
        if size in ("1920x1080", "1080x1920"):
            return _pixels(size)
    pixels = parse_pixels(size)
    if pixels is None:
        raise _size_error(size, "Use 'auto' or WIDTHxHEIGHT.")
    width, height = pixels
    if (
        width % 16
        or height % 16
        or min(width, height) == 0
        or max(width, height) > 3 * min(width, height)
        or max(width, height) > MAX_EDGE
        or width * height > MAX_PIXELS
    ):
        raise _size_error(
            size,
            "Width and height must both be divisible by 16, the aspect ratio must be between "
            "1:3 and 3:1, and the size must be at most 3840x2160.",
        )
    return width, height


def _size_error(size: str, detail: str) -> ApiError:
    return _bad("invalid_size", f"Invalid size '{size}'. {detail}", "size")


def _pixels(size: str) -> tuple[int, int]:
    pixels = parse_pixels(size)
    assert pixels is not None
    return pixels


def _check_response_format(value: str | None, family: str, flavor: Flavor) -> str:
    if flavor.gateway:
        _choice(value, ("url", "b64_json", "base64"), "response_format")
        return "url" if value in (None, "url") else "b64_json"
    if family.startswith("gpt-image"):
        if value not in (None, "b64_json"):
            raise _bad(
                "unsupported_parameter",
                "Unsupported parameter: 'response_format' is not supported for GPT image "
                "models, which always return b64_json.",
                "response_format",
            )
        return "b64_json"
    _choice(value, ("url", "b64_json"), "response_format")
    return value or "url"


def _check_gpt_fields(fields: Mapping[str, Any], family: str, flavor: Flavor) -> tuple[str, str]:
    """Check output_format / output_compression / background / moderation / style."""
    output_format = _str(fields, "output_format")
    if flavor.gateway:
        background = fields.get("background")
        if not family.startswith("gpt-image"):
            return "png", "auto"
        _choice(output_format, FORMATS, "output_format")
        fmt = output_format or "png"
        return fmt, background if background in ("transparent", "opaque") else "auto"
    style = _str(fields, "style")
    if style is not None:
        if family != "dall-e-3":
            raise _bad(
                "unsupported_parameter",
                f"Unsupported parameter: 'style' is not supported with {family}.",
                "style",
            )
        _choice(style, ("vivid", "natural"), "style")
    if not family.startswith("gpt-image"):
        for param in GPT_IMAGE_ONLY:
            if fields.get(param) is not None:
                raise _bad(
                    "unsupported_parameter",
                    f"Unsupported parameter: '{param}' is only supported for GPT image models.",
                    param,
                )
        return "png", "auto"
    _choice(output_format, FORMATS, "output_format")
    fmt = output_format or "png"
    background = _str(fields, "background")
    _choice(background, ("transparent", "opaque", "auto"), "background")
    if background == "transparent" and fmt == "jpeg":
        raise _bad(
            "invalid_value",
            "Transparent background requires output_format 'png' or 'webp'.",
            "background",
        )
    _choice(_str(fields, "moderation"), ("low", "auto"), "moderation")
    compression = fields.get("output_compression")
    if compression is not None:
        level = _int(compression, "output_compression")
        if not 0 <= level <= 100:
            raise _bad(
                "invalid_value",
                "Invalid 'output_compression': must be between 0 and 100.",
                "output_compression",
            )
        if fmt == "png" and level < 100:
            raise _bad(
                "invalid_value",
                "Compression less than 100 is not supported for PNG output format.",
                "output_compression",
            )
    return fmt, background or "auto"
