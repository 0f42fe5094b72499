"""What each Replicate model takes (docs/dialects/replicate.md, 'Models'), and the options of
``provider_options["replicate"]``.

Every model on Replicate has its own input schema (its ``/api`` page on replicate.com). The
canonical request maps onto it per model: ``size`` -> ``aspect_ratio`` (and ``width`` +
``height`` where the model takes ``aspect_ratio="custom"``), ``n`` -> ``num_outputs`` where
the model has it, ``seed``, ``negative_prompt``, ``output_format`` (``jpeg`` is ``jpg`` on the
wire) and a reference image -> the model's own image input, as a data URL or the URL given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from imagebridge.adapter import Capabilities, Problem, size_table

#: FLUX's pixel sizes per aspect ratio at 1 megapixel (the cog-flux table the Replicate FLUX
#: models use; SD 3.5 and FLUX 1.1 Pro make about the same 1 MP sizes).
FLUX_SIZES = size_table(
    {
        "1:1": {"1k": "1024x1024"},
        "16:9": {"1k": "1344x768"},
        "21:9": {"1k": "1536x640"},
        "3:2": {"1k": "1216x832"},
        "4:3": {"1k": "1152x896"},
        "5:4": {"1k": "1088x896"},
    },
    auto_as=None,
)
# 4:5 is not the transposition of 5:4 in cog-flux's table.
FLUX_SIZES["4:5"] = {"1k": "896x1088"}
#: FLUX 1.1 Pro's ratios: no 21:9 / 9:21.
PRO_SIZES = {ratio: row for ratio, row in FLUX_SIZES.items() if ratio not in ("21:9", "9:21")}

#: A model reference: ``owner/name`` or ``owner/name:version`` (the SDK's
#: ``ModelVersionIdentifier``, with each part one safe path segment), or a bare version id.
MODEL_REF = re.compile(
    r"^(?P<owner>[A-Za-z0-9][A-Za-z0-9_.-]*)/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)"
    r"(?::(?P<version>[A-Za-z0-9]+))?$"
)
VERSION_ID = re.compile(r"^[0-9a-f]{64}$")


class ReplicateOptions(BaseModel):
    """``provider_options["replicate"]``: Replicate's own knobs. Each model takes only the
    inputs its schema has; one it lacks is refused before sending."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    #: Seconds ``generate()``/``edit()`` ask Replicate to hold the create request open
    #: (``Prefer: wait=N``, 1-60) before polling; 0 sends no ``Prefer`` header. The driver
    #: asks for less when the call's deadline or read timeout leaves less (minus 2 s for
    #: the answer): a held create that outlasted them would lose its prediction's id.
    #: ``submit()`` never waits.
    wait: int = Field(default=5, ge=0, le=60)
    #: ``output_quality`` (0-100) of jpg and webp outputs.
    output_quality: int | None = Field(default=None, ge=0, le=100)
    #: ``num_inference_steps`` (FLUX schnell 1-4, FLUX dev 1-50).
    num_inference_steps: int | None = Field(default=None, ge=1, le=50)
    #: ``steps`` (SD 3.5, 1-50).
    steps: int | None = Field(default=None, ge=1, le=50)
    #: ``guidance`` (FLUX dev, 0-10).
    guidance: float | None = Field(default=None, ge=0, le=10)
    #: ``cfg`` (SD 3.5, 0-20).
    cfg: float | None = Field(default=None, ge=0, le=20)
    #: ``prompt_strength`` (0-1) when a reference image is given (FLUX dev, SD 3.5).
    prompt_strength: float | None = Field(default=None, ge=0, le=1)
    #: ``go_fast`` (FLUX schnell and dev: fp8, not deterministic even with a seed).
    go_fast: bool | None = None
    #: ``disable_safety_checker`` (FLUX schnell and dev).
    disable_safety_checker: bool | None = None
    #: ``safety_tolerance`` (FLUX 1.1 Pro 1-6, FLUX Kontext Pro 0-6).
    safety_tolerance: int | None = Field(default=None, ge=0, le=6)
    #: ``prompt_upsampling`` (FLUX 1.1 Pro, FLUX Kontext Pro).
    prompt_upsampling: bool | None = None


#: Options that are not model inputs.
NOT_INPUTS = frozenset({"wait"})


@dataclass(frozen=True)
class ModelSpec:
    """One model: its capabilities, the input that takes a reference image, whether it has
    ``num_outputs`` and ``width``/``height``, and the option inputs it takes."""

    caps: Capabilities
    image_input: str | None
    num_outputs: bool
    inputs: frozenset[str]
    custom_size: bool = False
    #: Narrower ranges than the options model's, per input.
    limits: Mapping[str, tuple[int, int]] = field(default_factory=dict)


def _caps(model: str, sizes: Mapping[str, Mapping[str, str]], **changes: Any) -> Capabilities:
    values: dict[str, Any] = {
        "model": model,
        "native_ratio": True,
        "size_presets": {ratio: dict(row) for ratio, row in sizes.items()},
        "resolutions": ("1k",),
        "max_n": 10,
        "max_images_per_call": 1,
        "output_formats": ("png", "jpeg", "webp"),
        "user": False,
        "seed": True,
        "async_tasks": True,
        "cancel": True,
        "edit_image_urls": True,
        **changes,
    }
    return Capabilities(**values)


_FLUX_OPEN = frozenset(
    {"output_quality", "num_inference_steps", "go_fast", "disable_safety_checker"}
)

MODELS: dict[str, ModelSpec] = {
    # https://replicate.com/black-forest-labs/flux-schnell/api
    "black-forest-labs/flux-schnell": ModelSpec(
        _caps("black-forest-labs/flux-schnell", FLUX_SIZES, max_images_per_call=4),
        image_input=None,
        num_outputs=True,
        inputs=_FLUX_OPEN,
        limits={"num_inference_steps": (1, 4)},
    ),
    # https://replicate.com/black-forest-labs/flux-dev/api
    "black-forest-labs/flux-dev": ModelSpec(
        _caps(
            "black-forest-labs/flux-dev", FLUX_SIZES, max_images_per_call=4, max_reference_images=1
        ),
        image_input="image",
        num_outputs=True,
        inputs=_FLUX_OPEN | {"guidance", "prompt_strength"},
    ),
    # https://replicate.com/black-forest-labs/flux-1.1-pro/api
    "black-forest-labs/flux-1.1-pro": ModelSpec(
        _caps(
            "black-forest-labs/flux-1.1-pro",
            PRO_SIZES,
            size_multiple_of=32,
            min_edge=256,
            max_edge=1440,
            max_reference_images=1,
        ),
        image_input="image_prompt",
        num_outputs=False,
        inputs=frozenset({"output_quality", "safety_tolerance", "prompt_upsampling"}),
        custom_size=True,
        limits={"safety_tolerance": (1, 6)},
    ),
    # https://replicate.com/stability-ai/stable-diffusion-3.5-large/api
    "stability-ai/stable-diffusion-3.5-large": ModelSpec(
        _caps(
            "stability-ai/stable-diffusion-3.5-large",
            FLUX_SIZES,
            negative_prompt=True,
            max_reference_images=1,
        ),
        image_input="image",
        num_outputs=False,
        inputs=frozenset({"output_quality", "steps", "cfg", "prompt_strength"}),
    ),
    # https://replicate.com/black-forest-labs/flux-kontext-pro/api
    "black-forest-labs/flux-kontext-pro": ModelSpec(
        _caps(
            "black-forest-labs/flux-kontext-pro",
            FLUX_SIZES,
            size_auto=True,  # aspect_ratio=match_input_image
            output_formats=("png", "jpeg"),
            max_reference_images=1,
            edits=True,
            max_edit_images=1,
        ),
        image_input="input_image",
        num_outputs=False,
        inputs=frozenset({"safety_tolerance", "prompt_upsampling"}),
    ),
}

DEFAULT_MODEL = "black-forest-labs/flux-schnell"


def base_model(model: str) -> str:
    """``owner/name`` of ``owner/name:version`` (the model itself otherwise)."""
    return model.partition(":")[0]


def spec_of(model: str) -> ModelSpec | None:
    return MODELS.get(base_model(model))


def capabilities(model: str) -> Capabilities:
    """A known model's declaration (a pinned version of it too); any other is unchecked."""
    spec = spec_of(model)
    if spec is None:
        return Capabilities.unchecked(
            model, async_tasks=True, cancel=True, max_images_per_call=1, max_reference_images=1
        )
    return spec.caps.replace(model=model)


def model_problems(model: str, options: Mapping[str, Any]) -> Iterable[Problem]:
    """What capabilities cannot say: a model reference Replicate cannot route, and options
    the model's schema does not have."""
    if MODEL_REF.match(model) is None and VERSION_ID.match(model) is None:
        yield Problem(
            "model",
            model,
            "not a Replicate model: give owner/name, owner/name:version or a version id",
        )
        return
    spec = spec_of(model)
    if spec is None:
        return
    for name, value in options.items():
        if name in NOT_INPUTS or value is None:
            continue
        if name not in spec.inputs:
            allowed = tuple(sorted(spec.inputs)) or None
            yield Problem(
                f"provider_options.replicate.{name}", value, f"{model} has no such input", allowed
            )
        elif name in spec.limits:
            low, high = spec.limits[name]
            if not low <= value <= high:
                yield Problem(
                    f"provider_options.replicate.{name}", value, f"{model} takes {low}..{high}"
                )
