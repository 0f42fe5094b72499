"""What each Stability AI model takes (docs/dialects/stability.md), and the request rules that
capabilities cannot express, checked before anything is sent.

Every table here is read from the v2beta API reference
(https://platform.stability.ai/docs/api-reference): the Stable Image services ``ultra`` and
``core``, the Stable Diffusion 3.5 models behind ``generate/sd3``, and the ``inpaint`` edit
service. One image per request everywhere (the client splits ``n`` into that many requests,
each priced, with an ``n_split`` warning).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from imagebridge import ImageRequest, PerImage
from imagebridge.adapter import Capabilities, Operation, Problem

ULTRA = "stable-image-ultra"
CORE = "stable-image-core"
SD35 = ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium")
INPAINT = "inpaint"
MODELS = (ULTRA, CORE, *SD35, INPAINT)

#: Model -> the path of its request under the base URL.
PATHS: Mapping[str, str] = {
    ULTRA: "/stable-image/generate/ultra",
    CORE: "/stable-image/generate/core",
    **{model: "/stable-image/generate/sd3" for model in SD35},
    INPAINT: "/stable-image/edit/inpaint",
}

#: ``aspect_ratio``: the nine ratios every generate endpoint takes (default 1:1).
ASPECT_RATIOS = ("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")
#: ``style_preset`` of Stable Image Core.
STYLE_PRESETS = (
    "3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance",
    "fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk",
    "origami", "photographic", "pixel-art", "tile-texture",
)  # fmt: skip
#: ``seed``: 0 asks for a random seed, so a reproducible seed is 1..4294967294.
MAX_SEED = 4294967294
#: ``prompt`` and ``negative_prompt``: at most 10,000 characters.
MAX_PROMPT_CHARS = 10000
#: "maximum request size is 10MiB" (the reference's generate and edit pages).
MAX_REQUEST_BYTES = 10 * 1024 * 1024
#: Input images: "every side must be at least 64 pixels", at most 9,437,184 pixels in all,
#: aspect ratio between 1:2.5 and 2.5:1.
MIN_INPUT_EDGE = 64
MAX_INPUT_PIXELS = 9437184
INPUT_ASPECT = (1 / 2.5, 2.5)
INPUT_MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp")

_PRICES_PAGE = "https://platform.stability.ai/pricing"
_AS_OF = datetime.date(2026, 12, 2)
#: Credits per successful image (1 credit = $0.01), from Stability's pricing page.
CREDITS: Mapping[str, str] = {
    ULTRA: "8",
    CORE: "3",
    "sd3.5-large": "6.5",
    "sd3.5-large-turbo": "4",
    "sd3.5-medium": "3.5",
    INPAINT: "3",
}


class StabilityOptions(BaseModel):
    """``provider_options["stability"]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    #: ``json`` (default): ``accept: application/json``, the image as base64 with
    #: ``finish_reason`` and ``seed`` in the body; ``image``: ``accept: image/*``, the image
    #: bytes as the body and ``finish-reason``/``seed`` as headers.
    accept: Literal["json", "image"] = "json"
    #: A reply whose ``finish_reason`` is ``CONTENT_FILTERED`` carries a blurred image:
    #: ``error`` (default) raises ContentPolicyError; ``warn`` returns it with a warning.
    on_filtered: Literal["error", "warn"] = "error"
    #: Image-to-image (a reference image with ultra or an sd3.5 model): how much the image
    #: may change, 0 (keep it) to 1 (ignore it). Required with a reference image.
    strength: float | None = Field(default=None, ge=0, le=1)
    #: sd3.5 models: how strictly the image follows the prompt (1 to 10).
    cfg_scale: float | None = Field(default=None, ge=1, le=10)
    #: inpaint: pixels the mask is grown by, with a blurred edge (0 to 20; Stability's
    #: default 5).
    grow_mask: int | None = Field(default=None, ge=0, le=20)
    #: ``alpha`` (default, the canonical mask): transparent where the image may change,
    #: converted to Stability's black-and-white mask (needs Pillow); ``luminance``: the mask
    #: is already Stability's (white where the image may change) and is sent as it is.
    mask_mode: Literal["alpha", "luminance"] = "alpha"
    #: The ``stability-client-id``, ``-user-id`` and ``-version`` headers (at most 256
    #: characters each).
    client_id: str | None = Field(default=None, min_length=1, max_length=256)
    client_user_id: str | None = Field(default=None, min_length=1, max_length=256)
    client_version: str | None = Field(default=None, min_length=1, max_length=256)


def _price(model: str) -> PerImage:
    dollars = Decimal(CREDITS[model]) / 100
    return PerImage(prices={"*": dollars}, source=_PRICES_PAGE, as_of=_AS_OF)


def capabilities(model: str) -> Capabilities:
    """The declared capabilities of one Stability model (unknown models: unchecked)."""
    if model not in MODELS:
        # Sent to generate/sd3 as its ``model``, one image per request.
        return Capabilities.unchecked(model, max_images_per_call=1, max_reference_images=1)
    common = Capabilities(
        model=model,
        native_ratio=True,
        # The reference gives ratios, not the pixels each makes: no pixels to expect.
        size_presets={ratio: {} for ratio in ASPECT_RATIOS},
        resolutions=(),
        max_n=10,
        max_images_per_call=1,
        output_formats=("png", "jpeg", "webp"),
        user=False,
        seed=True,
        negative_prompt=True,
        max_prompt_chars=MAX_PROMPT_CHARS,
        max_input_image_bytes=MAX_REQUEST_BYTES,
        price=_price(model),
    )
    if model == ULTRA:
        return common.replace(max_reference_images=1)
    if model == CORE:
        return common.replace(styles=STYLE_PRESETS)
    if model == INPAINT:
        # The edit service: the output has the input image's size, so no ratios.
        return common.replace(
            size_presets={},
            native_ratio=False,
            generate=False,
            edits=True,
            max_edit_images=1,
            mask=True,
        )
    # sd3.5: png or jpeg only; "negative_prompt ... does not work with" the turbo model.
    return common.replace(
        output_formats=("png", "jpeg"),
        max_reference_images=1,
        negative_prompt=model != "sd3.5-large-turbo",
    )


def request_problems(
    model: str,
    operation: Operation,
    request: ImageRequest,
    options: StabilityOptions | None,
) -> list[Problem]:
    """What the request of ``operation`` on ``model`` cannot carry (the validate hook)."""
    problems: list[Problem] = []
    if request.seed == 0:
        problems.append(
            Problem(
                "seed",
                0,
                "Stability reads 0 as 'pick a random seed'; give 1..4294967294, or leave it out",
            )
        )
    elif request.seed is not None and request.seed > MAX_SEED:
        problems.append(Problem("seed", request.seed, f"Stability takes at most {MAX_SEED}"))
    negative = request.negative_prompt
    if negative is not None and len(negative) > MAX_PROMPT_CHARS:
        reason = f"longer than the {MAX_PROMPT_CHARS} characters Stability accepts"
        problems.append(Problem("negative_prompt", f"<{len(negative)} characters>", reason))
    if model not in MODELS:
        return problems
    problems += _option_problems(model, request, options)
    return problems


def _option_problems(
    model: str, request: ImageRequest, options: StabilityOptions | None
) -> list[Problem]:
    problems: list[Problem] = []
    field = "provider_options.stability."
    image_to_image = bool(request.reference_images) and model != INPAINT
    if options is not None and options.strength is not None and not image_to_image:
        problems.append(
            Problem(
                field + "strength",
                options.strength,
                "applies to image-to-image only (a reference image with ultra or sd3.5)",
            )
        )
    if image_to_image:
        if options is None or options.strength is None:
            problems.append(
                Problem(
                    field + "strength",
                    None,
                    "image-to-image needs a strength, 0 (keep the image) to 1 (ignore it)",
                )
            )
        if request.size is not None:
            problems.append(
                Problem(
                    "size",
                    str(request.size),
                    "image-to-image makes the reference image's aspect ratio; leave size out",
                )
            )
    if options is not None and options.cfg_scale is not None and model not in SD35:
        problems.append(Problem(field + "cfg_scale", options.cfg_scale, "sd3.5 models only"))
    if options is not None and options.grow_mask is not None and model != INPAINT:
        problems.append(Problem(field + "grow_mask", options.grow_mask, "inpaint only"))
    if options is not None and options.grow_mask is not None and request.mask is None:
        problems.append(Problem(field + "grow_mask", options.grow_mask, "grows a mask: give one"))
    return problems


def input_problems(request: ImageRequest, operation: Operation) -> list[Problem]:
    """Input images Stability would refuse: format, smallest side, pixels, aspect ratio."""
    name = "images" if operation == "edit" else "reference_images"
    named = [(f"{name}[{i}]", image) for i, image in enumerate(request.reference_images)]
    if request.mask is not None:
        named.append(("mask", request.mask))
    problems = []
    for field, image in named:
        if image.is_remote:
            problems.append(
                Problem(field, image.describe(), "Stability takes uploaded files: pass a path")
            )
            continue
        if image.media_type() not in INPUT_MEDIA_TYPES:
            problems.append(Problem(field, image.describe(), "is not a PNG, JPEG or WebP image"))
        size = image.pixel_size()
        if size is None:
            continue
        width, height = size
        low, high = INPUT_ASPECT
        if min(width, height) < MIN_INPUT_EDGE:
            reason = f"is {width}x{height}; each side must be at least {MIN_INPUT_EDGE} pixels"
            problems.append(Problem(field, image.describe(), reason))
        elif width * height > MAX_INPUT_PIXELS:
            reason = f"is {width}x{height}; at most {MAX_INPUT_PIXELS:,} pixels"
            problems.append(Problem(field, image.describe(), reason))
        elif not low <= width / height <= high and field != "mask":
            reason = f"is {width}x{height}; the aspect ratio must be between 1:2.5 and 2.5:1"
            problems.append(Problem(field, image.describe(), reason))
    return problems
