"""Field checks shared by the OpenAI Images rules: errors, typed reads, choices and sizes.

Sizes (``CreateImageRequest.size`` and ``CreateImageEditRequest.size`` in the official OpenAPI
document): a model's named sizes, ``auto`` (made as 1024x1024), and for gpt-image-2 and its
snapshot any ``WIDTHxHEIGHT`` with both sides divisible by 16, an aspect ratio within
1:3..3:1 and at most 3840x2160; JSON edits take the ``EditImageBodyJsonParam.size`` enum only.
On geeknow, gpt-image-2 also takes the gateway's presets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import ApiError
from ._openai_models import EDIT_JSON, GENERATE, GPT_SIZES, ModelRules, supported
from ._sizes import MAX_EDGE, MAX_PIXELS, parse_pixels

GEEKNOW_PRESETS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "4:3": (1536, 1152),
    "3:2": (1536, 1024),
    "2:3": (1024, 1536),
    "16:9": (1920, 1080),
    "9:16": (1080, 1920),
}


def bad(code: str, message: str, param: str | None) -> ApiError:
    """A 400 ``invalid_request_error`` naming ``param``."""
    return ApiError(400, code, message, param=param)


def gateway_error(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message, type_="new_api_error")


def as_int(value: Any, param: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise bad(
        "invalid_type", f"Invalid type for '{param}': expected an integer, got {value!r}.", param
    )


def as_str(fields: Mapping[str, Any], param: str) -> str | None:
    value = fields.get(param)
    if value is None or isinstance(value, str):
        return value
    raise bad(
        "invalid_type", f"Invalid type for '{param}': expected a string, got {value!r}.", param
    )


def choice(value: str | None, allowed: tuple[str, ...], param: str, model: str = "") -> None:
    """A 400 unless ``value`` is None or one of ``allowed`` (for ``model``, when named)."""
    if value is not None and value not in allowed:
        scope = f" for {model}" if model else ""
        raise bad(
            "invalid_value",
            f"Invalid value for '{param}': '{value}'. Supported values{scope} are: "
            f"{supported(allowed)}.",
            param,
        )


def check_size(
    size: str | None, rules: ModelRules, gateway: bool, operation: str
) -> tuple[int, int]:
    json_request = operation in (GENERATE, EDIT_JSON)
    if not rules.gpt_image:
        size = size or "1024x1024"
        if size not in rules.sizes:
            if gateway and json_request:
                names = "256x256, 512x512, or 1024x1024 for dall-e-2 or dall-e"
                if rules.kind == "dall-e-3":
                    names = "1024x1024, 1024x1792 or 1792x1024 for dall-e-3"
                raise gateway_error(f"size must be one of {names}")
            raise size_error(size, f"{rules.name} takes {supported(rules.sizes)}.")
        return pixels_of(size)
    size = size or "auto"
    if size == "auto":
        return 1024, 1024  # what the emulator makes for auto, and reports as the size
    if operation == EDIT_JSON and size not in GPT_SIZES:
        raise size_error(size, f"JSON image edits take {supported(GPT_SIZES)}.")
    if size in rules.sizes:
        return pixels_of(size)
    if not rules.flexible_sizes:
        raise size_error(size, f"{rules.name} takes {supported(rules.sizes)}.")
    if gateway:
        if size in GEEKNOW_PRESETS:
            return GEEKNOW_PRESETS[size]
        if size in ("1920x1080", "1080x1920"):
            return pixels_of(size)
    pixels = parse_pixels(size)
    if pixels is None:
        raise size_error(size, f"{rules.name} takes 'auto' or WIDTHxHEIGHT.")
    width, height = pixels
    if (
        width % 16
        or height % 16
        or min(width, height) == 0
        or max(width, height) > 3 * min(width, height)
        or max(width, height) > MAX_EDGE
        or width * height > MAX_PIXELS
    ):
        raise size_error(
            size,
            f"For {rules.name} width and height must both be divisible by 16, the aspect ratio "
            "must be between 1:3 and 3:1, and the size must be at most 3840x2160.",
        )
    return width, height


def size_error(size: str, detail: str) -> ApiError:
    return bad("invalid_size", f"Invalid size '{size}'. {detail}", "size")


def pixels_of(size: str) -> tuple[int, int]:
    pixels = parse_pixels(size)
    assert pixels is not None
    return pixels
