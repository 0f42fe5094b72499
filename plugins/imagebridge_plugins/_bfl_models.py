"""What each Black Forest Labs (FLUX) model takes, the ``provider_options["bfl"]`` model and
the rules capabilities cannot express (docs/dialects/bfl.md, 'Models').

Every model makes one image per task (no ``n`` on the wire), takes a ``seed`` and answers
``jpeg`` or ``png``; none takes a negative prompt or a user id. Sizes, from the API reference
(https://docs.bfl.ai/api-reference):

- ``flux-pro-1.1`` and ``flux-dev``: ``width``/``height``, multiples of 32 from 256 to 1440;
  a canonical ``W:H`` is sent as the pixel size of the table below (with a ``size_mapped``
  warning); one reference image as ``image_prompt``.
- ``flux-pro-1.1-ultra``: ``aspect_ratio`` (21:9 to 9:21), about 4 MP (the canonical ``2k``
  tier); one ``image_prompt``.
- ``flux-kontext-pro`` and ``flux-kontext-max``: ``aspect_ratio`` (3:7 to 7:3), about 1 MP;
  edits with ``input_image`` (and the experimental ``input_image_2`` to ``_4``).
- ``flux-pro-1.0-fill``: edits only, ``image`` + ``mask``; the output has the input's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from imagebridge.adapter import Capabilities, Operation, Problem, size_table

PROVIDER = "bfl"

PRO = "flux-pro-1.1"
ULTRA = "flux-pro-1.1-ultra"
DEV = "flux-dev"
KONTEXT_PRO = "flux-kontext-pro"
KONTEXT_MAX = "flux-kontext-max"
FILL = "flux-pro-1.0-fill"

MODELS: tuple[str, ...] = (PRO, ULTRA, DEV, KONTEXT_PRO, KONTEXT_MAX, FILL)
#: Models whose wire takes ``width``/``height``; the others take ``aspect_ratio`` (or nothing).
PIXEL_MODELS = frozenset({PRO, DEV})
KONTEXT_MODELS = frozenset({KONTEXT_PRO, KONTEXT_MAX})
#: Kontext's input image fields, in order ("Experimental Multiref" from the second on).
KONTEXT_INPUTS: tuple[str, ...] = ("input_image", "input_image_2", "input_image_3", "input_image_4")
#: Kontext inputs: "up to 20MB or 20 megapixels" (Kontext image editing guide).
MAX_INPUT_BYTES = 20_000_000

#: Canonical ratios sent to the width/height models: about 1 MP, both sides multiples of 32.
PIXEL_PRESETS = size_table(
    {
        "1:1": {"1k": "1024x1024"},
        "4:3": {"1k": "1152x864"},
        "3:2": {"1k": "1248x832"},
        "16:9": {"1k": "1344x768"},
        "21:9": {"1k": "1344x576"},
    },
    auto_as=None,
)
#: Ultra: ``aspect_ratio`` on the wire, about 4 MP out (the pixels are what to expect).
ULTRA_PRESETS = size_table(
    {
        "1:1": {"2k": "2048x2048"},
        "4:3": {"2k": "2368x1792"},
        "3:2": {"2k": "2496x1664"},
        "16:9": {"2k": "2752x1536"},
        "21:9": {"2k": "3136x1344"},
    },
    auto_as=None,
)
#: Kontext: ``aspect_ratio`` on the wire, about 1 MP out.
KONTEXT_PRESETS = size_table(
    {
        "1:1": {"1k": "1024x1024"},
        "4:3": {"1k": "1184x880"},
        "3:2": {"1k": "1248x832"},
        "16:9": {"1k": "1392x752"},
        "21:9": {"1k": "1568x672"},
    },
    auto_as=None,
)

_COMMON = Capabilities(
    max_n=1,
    max_images_per_call=1,
    output_formats=("jpeg", "png"),
    user=False,
    seed=True,
    negative_prompt=False,
    async_tasks=True,
    cancel=False,
)

CAPABILITIES: dict[str, Capabilities] = {
    PRO: _COMMON.replace(
        model=PRO,
        size_multiple_of=32,
        min_edge=256,
        max_edge=1440,
        size_presets=PIXEL_PRESETS,
        resolutions=("1k",),
        max_reference_images=1,
    ),
    DEV: _COMMON.replace(
        model=DEV,
        size_multiple_of=32,
        min_edge=256,
        max_edge=1440,
        size_presets=PIXEL_PRESETS,
        resolutions=("1k",),
        max_reference_images=1,
    ),
    ULTRA: _COMMON.replace(
        model=ULTRA,
        native_ratio=True,
        size_presets=ULTRA_PRESETS,
        resolutions=("2k",),
        max_reference_images=1,
    ),
    **{
        name: _COMMON.replace(
            model=name,
            native_ratio=True,
            size_presets=KONTEXT_PRESETS,
            resolutions=("1k",),
            edits=True,
            max_edit_images=len(KONTEXT_INPUTS),
            edit_image_urls=True,
            max_input_image_bytes=MAX_INPUT_BYTES,
        )
        for name in (KONTEXT_PRO, KONTEXT_MAX)
    },
    FILL: _COMMON.replace(model=FILL, generate=False, edits=True, max_edit_images=1, mask=True),
}


class BflOptions(BaseModel):
    """``provider_options["bfl"]``: BFL's own knobs (which model takes which: the dialect doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    #: Moderation of input and output: 0 most strict, 6 least strict (BFL's default: 2).
    safety_tolerance: int | None = Field(default=None, ge=0, le=6)
    #: Let BFL rewrite the prompt "for more creative generation".
    prompt_upsampling: bool | None = None
    #: Ultra only: the less processed, more natural "raw" look.
    raw: bool | None = None
    #: Ultra only: how much the reference image (``image_prompt``) weighs, 0 to 1.
    image_prompt_strength: float | None = Field(default=None, ge=0, le=1)
    #: flux-dev (1-50) and flux-pro-1.0-fill (15-50): denoising steps.
    steps: int | None = None
    #: flux-dev (1.5-5) and flux-pro-1.0-fill (1.5-100): guidance scale.
    guidance: float | None = None
    #: flux-pro-1.0-fill: ``alpha`` (default, the canonical mask: transparent where the image
    #: may change), converted to BFL's black-and-white mask (needs Pillow); ``luminance``:
    #: the mask is already BFL's (white where the image may change) and is sent as it is.
    #: Not sent.
    mask_mode: Literal["alpha", "luminance"] = "alpha"


#: Option -> the models that take it (and, for numbers, their range there).
OPTION_MODELS: dict[str, dict[str, tuple[float, float] | None]] = {
    "safety_tolerance": dict.fromkeys(MODELS),
    "prompt_upsampling": dict.fromkeys(MODELS),
    "raw": {ULTRA: None},
    "image_prompt_strength": {ULTRA: None},
    "steps": {DEV: (1, 50), FILL: (15, 50)},
    "guidance": {DEV: (1.5, 5), FILL: (1.5, 100)},
    "mask_mode": {FILL: None},
}


def problems(
    model: str, operation: Operation, request_options: Mapping[str, Any]
) -> Iterable[Problem]:
    """What capabilities cannot say about a request to a known model: each option belongs
    to some models (numbers within their range there)."""
    if model not in CAPABILITIES:
        return
    for name, value in request_options.items():
        takers = OPTION_MODELS.get(name)
        if takers is None or value is None:
            continue  # not an option at all: the options model reports it
        if model not in takers:
            yield Problem(
                f"provider_options.bfl.{name}", value, f"{model} does not take it", tuple(takers)
            )
            continue
        bounds = takers[model]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if bounds is not None and number and not bounds[0] <= value <= bounds[1]:
            low, high = bounds
            yield Problem(
                f"provider_options.bfl.{name}",
                value,
                f"out of range for {model}",
                (f"{low}..{high}",),
            )
