"""The ``openai`` provider: the official OpenAI Images API (see docs/dialects/openai.md).

The model table (docs/dialects/openai.md, 'Models and sizes') is the spec's: the GPT image
models here, dall-e-2/3 in the ``dalle`` plugin (it applies to every provider). What the
capability declaration cannot say is checked in :meth:`OpenAIAdapter.request_problems`:
``response_format`` (dall-e only) and ``input_fidelity`` (edits, some models), both provider
options, the fields each request takes, and the formats of input images.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from imagebridge import ImageRequest, hookimpl
from imagebridge.adapter import Adapter, Capabilities, Operation, Plan, Problem

from ._openai_images import (
    OpenAIImagesAdapter,
    input_format_problems,
    input_names,
    wire_problems,
)
from ._openai_prices import GPT_IMAGE_PRICES
from ._tables import GPT_IMAGE_2_TIERS, gpt_image_2_pixels

GPT_IMAGE_1_FAMILY = ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5")
#: "follows the same input constraints as GPT image models" (CreateImageEditRequest.image);
#: the standard sizes (only gpt-image-2 takes arbitrary ones).
CHATGPT_IMAGE_LATEST = "chatgpt-image-latest"
GPT_IMAGE_2 = "gpt-image-2"
#: gpt-image-2 and its dated snapshot, with the same rules.
GPT_IMAGE_2_FAMILY = (GPT_IMAGE_2, "gpt-image-2-2026-04-21")
GPT_IMAGE_MODELS = (*GPT_IMAGE_1_FAMILY, *GPT_IMAGE_2_FAMILY, CHATGPT_IMAGE_LATEST)
DALL_E = ("dall-e-2", "dall-e-3")

#: InputFidelity: "only supported for gpt-image-1 and gpt-image-1.5 and later models,
#: unsupported for gpt-image-1-mini"; chatgpt-image-latest is ChatGPT's current model,
#: later than gpt-image-1.5. Edits only (CreateImageEditRequest, EditImageBodyJsonParam).
INPUT_FIDELITY_MODELS = ("gpt-image-1", "gpt-image-1.5", *GPT_IMAGE_2_FAMILY, CHATGPT_IMAGE_LATEST)
#: PartialImages: "the number of partial images to generate ... between 0 and 3".
MAX_PARTIAL_IMAGES = 3
#: CreateImageEditRequest.image: "each image should be a png, webp, or jpg file".
GPT_IMAGE_INPUTS = ("image/png", "image/jpeg", "image/webp")

#: What every GPT image model takes on the OpenAI Images API (CreateImageRequest,
#: CreateImageEditRequest); each model adds its sizes.
_GPT_IMAGE = Capabilities(
    size_auto=True,
    max_n=10,
    max_images_per_call=10,
    qualities=("auto", "low", "medium", "high"),
    output_formats=("png", "jpeg", "webp"),
    output_compression=True,
    backgrounds=("auto", "transparent", "opaque"),
    moderations=("auto", "low"),
    max_prompt_chars=32000,
    edits=True,
    max_edit_images=16,
    mask=True,
    max_input_image_bytes=50 * 1024 * 1024,
)


def gpt_image_capabilities(model: str) -> Capabilities:
    """The GPT image rules of the OpenAI Images API (also used by gateways that forward it).
    Edits by URL reference (JSON edits) are the OpenAI API's own: its adapter adds them."""
    if model not in GPT_IMAGE_MODELS:
        return Capabilities.unchecked(model, edits=True, max_edit_images=16, mask=True)
    if model in GPT_IMAGE_2_FAMILY:
        return gpt_image_2_pixels(_GPT_IMAGE.replace(model=model, size_presets=GPT_IMAGE_2_TIERS))
    return _GPT_IMAGE.replace(
        model=model,
        sizes=("1024x1024", "1536x1024", "1024x1536"),
        size_presets={
            "1:1": {"1k": "1024x1024"},
            "3:2": {"1k": "1536x1024"},
            "2:3": {"1k": "1024x1536"},
        },
    )


class OpenAIOptions(BaseModel):
    """``provider_options["openai"]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    #: dall-e only: return URLs (valid for 60 minutes) or base64.
    response_format: Literal["url", "b64_json"] | None = None
    #: Edits only, on :data:`INPUT_FIDELITY_MODELS`: how closely the output keeps the
    #: style and features (faces) of the input images.
    input_fidelity: Literal["high", "low"] | None = None


class OpenAIAdapter(OpenAIImagesAdapter):
    name = "openai"
    description = "OpenAI Images API (GPT image and dall-e models)"
    default_base_url = "https://api.openai.com/v1"
    default_model = "gpt-image-1"
    models = (*GPT_IMAGE_MODELS, *DALL_E)
    options_model = OpenAIOptions
    wire_fields: ClassVar[Mapping[str, str]] = {
        **OpenAIImagesAdapter.wire_fields,
        "provider_options.openai.response_format": "`response_format` (dall-e only)",
        "provider_options.openai.input_fidelity": "`input_fidelity` (edits only; not"
        " gpt-image-1-mini or dall-e-2)",
    }

    def request_problems(
        self,
        model: str,
        operation: Operation,
        request: ImageRequest,
        capabilities: Capabilities,
    ) -> Iterable[Problem]:
        return [
            *option_problems(model, operation, request),
            *wire_problems(OpenAIAdapter, operation, request, capabilities),
            *gpt_image_input_problems(model, operation, request),
        ]

    def capabilities(self, model: str) -> Capabilities:
        if model in DALL_E:
            # The dall-e rules come from the dalle plugin; without it they are unchecked.
            # The variations endpoint is this API's, for dall-e-2 only.
            return Capabilities.unchecked(
                model, edits=True, mask=True, max_edit_images=1, variations=model == "dall-e-2"
            )
        # EditImageBodyJsonParam: "JSON edits support GPT image models only".
        caps = gpt_image_capabilities(model).replace(edit_image_urls=True)
        if model in GPT_IMAGE_MODELS:
            # CreateImageRequest.stream: "only supported for the GPT image models";
            # PartialImages: 0 to 3 (generations and both kinds of edit).
            caps = caps.replace(streaming=True, max_partial_images=MAX_PARTIAL_IMAGES)
        # OpenAI's own prices, for this API only (gateways that forward it price their own).
        return caps.replace(price=GPT_IMAGE_PRICES.get(model))

    def extra_fields(self, plan: Plan) -> dict[str, Any]:
        options = plan.options
        if not isinstance(options, OpenAIOptions):
            return {}
        fields: dict[str, Any] = {}
        if options.response_format is not None:
            fields["response_format"] = options.response_format
        if options.input_fidelity is not None and plan.operation == "edit":
            fields["input_fidelity"] = options.input_fidelity
        return fields


def option_problems(model: str, operation: Operation, request: ImageRequest) -> list[Problem]:
    """The rules of ``provider_options.openai`` that depend on the model and the request."""
    options = request.provider_options.get("openai", {})
    problems = []
    response_format = options.get("response_format")
    if response_format and model not in DALL_E:
        problems.append(
            Problem(
                "provider_options.openai.response_format",
                response_format,
                f"{model} always returns base64; response_format is for dall-e models",
            )
        )
    fidelity = options.get("input_fidelity")
    if fidelity is None:
        return problems
    field = "provider_options.openai.input_fidelity"
    if operation != "edit":
        request_name = "generations" if operation == "generate" else "variations"
        reason = f"input_fidelity is an edit parameter; {request_name} take none"
        problems.append(Problem(field, fidelity, reason))
    elif model in (*GPT_IMAGE_MODELS, *DALL_E) and model not in INPUT_FIDELITY_MODELS:
        problems.append(
            Problem(
                field,
                fidelity,
                f"{model} takes no input_fidelity: gpt-image-1, gpt-image-1.5 and later models"
                " do, gpt-image-1-mini and dall-e-2 do not",
                INPUT_FIDELITY_MODELS,
            )
        )
    return problems


def gpt_image_input_problems(
    model: str, operation: Operation, request: ImageRequest
) -> list[Problem]:
    """A GPT image model edits PNG, JPEG and WebP images (CreateImageEditRequest.image)."""
    if operation != "edit" or model not in GPT_IMAGE_MODELS:
        return []
    return input_format_problems(input_names(request, operation), GPT_IMAGE_INPUTS, model)


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return [OpenAIAdapter]
