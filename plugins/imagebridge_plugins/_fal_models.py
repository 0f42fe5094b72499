"""The fal models the ``fal`` adapter knows, and how a canonical request becomes each one's
input JSON (wire facts and sources: docs/dialects/fal.md).

Each model's input schema is on its fal model page (``https://fal.ai/models/<id>/api``):

* ``fal-ai/flux/dev`` and ``fal-ai/flux-pro/v1.1``: ``image_size`` as a preset name
  (``square_hd``, ``landscape_4_3``, ...) or ``{"width", "height"}``, ``num_images`` 1-4,
  ``seed``, ``output_format`` ``jpeg|png``;
* ``fal-ai/recraft-v3``: ``image_size`` as above, ``style``, one image per request, no seed;
* ``fal-ai/imagen4/preview``: ``aspect_ratio`` and ``resolution`` (``1K``/``2K``),
  ``num_images`` 1-4, ``seed``, ``negative_prompt``;
* ``fal-ai/flux-pro/kontext``: an edit of one ``image_url`` (a URL or a data URL),
  ``aspect_ratio``, ``num_images`` 1-4, ``seed``, ``output_format`` ``jpeg|png``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from imagebridge import ImageRequest
from imagebridge.adapter import (
    Capabilities,
    InlineImage,
    Plan,
    Problem,
    size_table,
)

#: fal's ``image_size`` presets (the ImageSize enum of the FLUX and Recraft schemas), by the
#: canonical ratio they have and the pixels they make.
IMAGE_SIZE_PRESETS: dict[str, tuple[str, str]] = {
    "1:1": ("square_hd", "1024x1024"),
    "4:3": ("landscape_4_3", "1024x768"),
    "16:9": ("landscape_16_9", "1024x576"),
    "3:4": ("portrait_4_3", "768x1024"),
    "9:16": ("portrait_16_9", "576x1024"),
}
_PRESET_SIZES = {ratio: {"1k": px} for ratio, (_, px) in IMAGE_SIZE_PRESETS.items()}

#: Imagen 4's aspect ratios and the pixels of its 1K and 2K outputs.
IMAGEN_SIZES = size_table(
    {
        "1:1": {"1k": "1024x1024", "2k": "2048x2048"},
        "4:3": {"1k": "1280x896", "2k": "2560x1792"},
        "16:9": {"1k": "1408x768", "2k": "2816x1536"},
    },
    auto_as=None,
)

#: FLUX.1 Kontext [pro]'s aspect ratios; it makes about one megapixel at each, its exact
#: pixels are not documented (so none are expected).
KONTEXT_RATIOS = ("21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21")

#: Recraft V3's main styles (its schema also lists sub-styles such as
#: ``realistic_image/b_and_w``; those are refused before sending).
RECRAFT_STYLES = ("any", "realistic_image", "digital_illustration", "vector_illustration")

SafetyTolerance = Literal["1", "2", "3", "4", "5", "6"]


class FalOptions(BaseModel):
    """``provider_options["fal"]``: fal-only inputs, each sent only to a model that has it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    #: FLUX [pro] and Kontext moderation strictness, ``"1"`` (strictest) to ``"6"``.
    safety_tolerance: SafetyTolerance | None = None
    #: FLUX [dev], FLUX [pro] and Recraft: fal's own safety checker (default on).
    enable_safety_checker: bool | None = None
    #: FLUX [dev]: denoising steps (fal default 28).
    num_inference_steps: int | None = Field(default=None, ge=1, le=50)
    #: FLUX [dev] and Kontext: how closely the image follows the prompt (fal default 3.5).
    guidance_scale: float | None = Field(default=None, ge=1.0, le=20.0)
    #: FLUX [pro] and Kontext: let fal rewrite the prompt first.
    enhance_prompt: bool | None = None
    #: Ask the status endpoint for the runner's logs (``?logs=1``), shown as progress.
    logs: bool = True


DEFAULT_OPTIONS = FalOptions()
#: The options that are model inputs (``logs`` is how imagebridge polls).
_INPUT_OPTIONS = (
    "safety_tolerance",
    "enable_safety_checker",
    "num_inference_steps",
    "guidance_scale",
    "enhance_prompt",
)


@dataclass(frozen=True)
class FalModel:
    """One fal model: what it takes, declared once."""

    capabilities: Capabilities
    #: How the size goes: ``image_size`` (presets or pixels) or ``aspect_ratio``.
    size_field: Literal["image_size", "aspect_ratio"]
    #: Whether the input has ``num_images``.
    num_images: bool
    #: Which :class:`FalOptions` inputs the model takes.
    options: frozenset[str]
    #: Whether the model only edits (needs an input image).
    needs_image: bool = False


_TASKS = Capabilities(async_tasks=True, cancel=True, user=False, max_prompt_chars=None)
#: The models that take ``image_size`` (a preset or ``{width, height}``).
_IMAGE_SIZE = _TASKS.replace(
    native_ratio=True,
    size_presets=_PRESET_SIZES,
    size_auto=True,
    resolutions=("1k",),
    size_multiple_of=16,
    min_edge=256,
    max_edge=14142,
)
#: FLUX [dev] and FLUX1.1 [pro]: up to 4 images, jpeg or png, a seed.
_FLUX = _IMAGE_SIZE.replace(
    max_n=4, max_images_per_call=4, output_formats=("jpeg", "png"), seed=True
)

MODELS: dict[str, FalModel] = {
    "fal-ai/flux/dev": FalModel(
        _FLUX,
        "image_size",
        True,
        frozenset({"enable_safety_checker", "num_inference_steps", "guidance_scale"}),
    ),
    "fal-ai/flux-pro/v1.1": FalModel(
        _FLUX,
        "image_size",
        True,
        frozenset({"enable_safety_checker", "safety_tolerance", "enhance_prompt"}),
    ),
    "fal-ai/recraft-v3": FalModel(
        _IMAGE_SIZE.replace(max_images_per_call=1, styles=RECRAFT_STYLES),
        "image_size",
        False,
        frozenset({"enable_safety_checker"}),
    ),
    "fal-ai/imagen4/preview": FalModel(
        _TASKS.replace(
            native_ratio=True,
            size_presets=IMAGEN_SIZES,
            size_auto=True,
            resolutions=("1k", "2k"),
            max_n=4,
            max_images_per_call=4,
            seed=True,
            negative_prompt=True,
        ),
        "aspect_ratio",
        True,
        frozenset(),
    ),
    "fal-ai/flux-pro/kontext": FalModel(
        _TASKS.replace(
            native_ratio=True,
            size_presets={ratio: {} for ratio in KONTEXT_RATIOS},
            size_auto=True,
            resolutions=("1k",),
            max_n=4,
            max_images_per_call=4,
            output_formats=("jpeg", "png"),
            seed=True,
            edits=True,
            max_edit_images=1,
            edit_image_urls=True,
            max_reference_images=1,
        ),
        "aspect_ratio",
        True,
        frozenset({"safety_tolerance", "guidance_scale", "enhance_prompt"}),
        needs_image=True,
    ),
}


def app_id(model: str) -> str:
    """The app a model belongs to: its first two path segments (``fal-ai/flux/dev`` ->
    ``fal-ai/flux``), which the status, result and cancel URLs use (fal_client's
    ``AppId.from_endpoint_id``; the ``workflows/`` and ``comfy/`` namespaces keep three)."""
    parts = model.strip("/").split("/")
    keep = 3 if parts[0] in ("workflows", "comfy") else 2
    return "/".join(parts[:keep])


def options_of(plan: Plan) -> FalOptions:
    return plan.options if isinstance(plan.options, FalOptions) else DEFAULT_OPTIONS


def problems(model: str, request: ImageRequest, options: FalOptions) -> list[Problem]:
    """What capabilities cannot say, found before anything is sent: an option the model does
    not take, or a generation without the image an edit-only model needs."""
    spec = MODELS.get(model)
    if spec is None:
        return []
    found: list[Problem] = []
    for name in _INPUT_OPTIONS:
        value = getattr(options, name)
        if value is not None and name not in spec.options:
            found.append(
                Problem(
                    f"provider_options.fal.{name}",
                    value,
                    f"{model} does not take it",
                    tuple(sorted(spec.options)),
                )
            )
    if spec.needs_image and not request.reference_images:
        found.append(
            Problem("reference_images", 0, f"{model} edits an image: give one (or edit())")
        )
    return found


def arguments(plan: Plan, spec: FalModel | None) -> dict[str, Any]:
    """The model input JSON for one call of a validated plan."""
    request = plan.request
    body: dict[str, Any] = {"prompt": request.prompt}
    size_field = spec.size_field if spec is not None else "image_size"
    size = _size(plan, size_field)
    if size is not None:
        body[size_field] = size
    takes_tier = spec is not None and "2k" in spec.capabilities.resolutions
    if plan.wire_resolution is not None and takes_tier:
        body["resolution"] = plan.wire_resolution.upper()
    if spec is None or spec.num_images:
        body["num_images"] = plan.n
    if request.seed is not None:
        body["seed"] = request.seed
    if request.negative_prompt is not None:
        body["negative_prompt"] = request.negative_prompt
    if request.output_format is not None:
        body["output_format"] = request.output_format
    if request.style is not None:
        body["style"] = request.style
    if request.reference_images:
        # One image (max_edit_images=1): a URL as given, a file or bytes as a data URL.
        body["image_url"] = InlineImage(request.reference_images[0])
    options = options_of(plan)
    for name in _INPUT_OPTIONS:
        value = getattr(options, name)
        if value is not None:
            body[name] = value
    return body


def _size(plan: Plan, size_field: str) -> Any:
    size = plan.wire_size
    if size is None or size == "auto":
        return None  # the model's own default
    if "x" in size:
        width, _, height = size.partition("x")
        return {"width": int(width), "height": int(height)}
    if size_field == "aspect_ratio":
        return size
    preset = IMAGE_SIZE_PRESETS.get(size) or IMAGE_SIZE_PRESETS.get(_lowest(size))
    return preset[0] if preset else size


def _lowest(ratio: str) -> str:
    w, _, h = ratio.partition(":")
    a, b = int(w), int(h)
    g = math.gcd(a, b) or 1
    return f"{a // g}:{b // g}"


def unknown_model(model: str) -> Capabilities:
    """An unlisted model: sent unchecked, with only the fields this adapter can put in a fal
    input (the others are refused, never dropped)."""
    return Capabilities.unchecked(
        model,
        async_tasks=True,
        cancel=True,
        native_ratio=True,
        size_presets=_PRESET_SIZES,
        qualities=None,
        backgrounds=None,
        moderations=None,
        output_compression=False,
        output_formats=("jpeg", "png", "webp"),
        user=False,
        seed=True,
        negative_prompt=True,
        resolutions=("1k",),
    )
