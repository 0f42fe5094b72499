"""The ``openai`` provider: the official OpenAI Images API (see docs/dialects/openai.md).

Models and their rules: the gpt-image family here, dall-e-2/3 in the ``dalle`` plugin (it
applies to every provider). ``response_format`` is a dall-e option on this API (gpt-image
models always answer base64), so it lives in ``provider_options["openai"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from imagebridge import hookimpl
from imagebridge.adapter import Adapter, Capabilities, Plan, Problem

from ._openai_images import OpenAIImagesAdapter
from ._tables import GPT_IMAGE_2_TIERS, gpt_image_2_pixels

GPT_IMAGE_1_FAMILY = ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5")
GPT_IMAGE_2 = "gpt-image-2"
DALL_E = ("dall-e-2", "dall-e-3")

#: What every gpt-image model takes on the OpenAI Images API; each model adds its sizes.
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
    """The gpt-image rules of the OpenAI Images API (also used by gateways that forward it)."""
    if model not in (*GPT_IMAGE_1_FAMILY, GPT_IMAGE_2):
        return Capabilities.unchecked(model, edits=True, max_edit_images=16, mask=True)
    if model == GPT_IMAGE_2:
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


class OpenAIAdapter(OpenAIImagesAdapter):
    name = "openai"
    description = "OpenAI Images API (gpt-image and dall-e models)"
    default_base_url = "https://api.openai.com/v1"
    default_model = "gpt-image-1"
    models = (*GPT_IMAGE_1_FAMILY, GPT_IMAGE_2, *DALL_E)
    options_model = OpenAIOptions
    wire_fields: ClassVar[Mapping[str, str]] = {
        **OpenAIImagesAdapter.wire_fields,
        "provider_options.openai.response_format": "`response_format` (dall-e only)",
    }

    def capabilities(self, model: str) -> Capabilities:
        if model in DALL_E:
            # The dall-e rules come from the dalle plugin; without it they are unchecked.
            return Capabilities.unchecked(model, edits=True, mask=True, max_edit_images=1)
        return gpt_image_capabilities(model)

    def extra_fields(self, plan: Plan) -> dict[str, Any]:
        options = plan.options
        if isinstance(options, OpenAIOptions) and options.response_format is not None:
            return {"response_format": options.response_format}
        return {}


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return [OpenAIAdapter]


@hookimpl
def imagebridge_validate_request(
    provider: str, model: str, request: Any
) -> Iterable[Problem] | None:
    options = request.provider_options.get("openai", {})
    if provider == "openai" and options.get("response_format") and model not in DALL_E:
        return [
            Problem(
                "provider_options.openai.response_format",
                options["response_format"],
                f"{model} always returns base64; response_format is for dall-e models",
            )
        ]
    return None
