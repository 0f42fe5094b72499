"""The ``geeknow`` provider: an OpenAI-Images gateway run on new-api (docs/dialects/geeknow.md).

Differences from OpenAI's own API: ``model`` is required (always sent), ``response_format``
(``url`` or ``b64_json``) works for every model, ``style`` and ``background`` are forwarded
to whichever upstream serves the model, and ``watermark`` is a provider option where
``False`` (explicitly off) is sent and differs from leaving it out (the gateway's default).
gpt-image-2 takes geeknow's own preset sizes, not OpenAI's tier table. geeknow documents
generations only: its edits are OpenAI's multipart edits, forwarded (no URL references, no
``moderation``), and it makes no variations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from imagebridge import ImageRequest, hookimpl
from imagebridge.adapter import ANY, Adapter, Capabilities, Operation, Plan, Problem

from ._openai_images import (
    GENERATION_FIELDS,
    MULTIPART_EDIT_FIELDS,
    OpenAIImagesAdapter,
    wire_problems,
)
from .openai import (
    DALL_E,
    GPT_IMAGE_1_FAMILY,
    GPT_IMAGE_2,
    gpt_image_capabilities,
    gpt_image_input_problems,
)

#: geeknow's documented gpt-image-2 presets (1k only; tier tables differ between gateways).
GEEKNOW_GPT_IMAGE_2_PRESETS = {
    "1:1": {"1k": "1024x1024"},
    "4:3": {"1k": "1536x1152"},
    "3:2": {"1k": "1536x1024"},
    "2:3": {"1k": "1024x1536"},
    "16:9": {"1k": "1920x1080"},
    "9:16": {"1k": "1080x1920"},
}


class GeeknowOptions(BaseModel):
    """``provider_options["geeknow"]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    response_format: Literal["url", "b64_json"] | None = None
    #: True or False is sent as given; None (the default) leaves it to the gateway.
    watermark: bool | None = None


class GeeknowAdapter(OpenAIImagesAdapter):
    name = "geeknow"
    description = "geeknow gateway (new-api, OpenAI Images shape)"
    default_base_url = "https://www.geeknow.top/v1"
    default_model = "gpt-image-1"
    models = (*GPT_IMAGE_1_FAMILY, GPT_IMAGE_2, *DALL_E)
    options_model = GeeknowOptions
    # geeknow's documentation describes no streaming (docs/dialects/geeknow.md): no
    # partial_images, and no model declares Capabilities.streaming.
    wire_fields: ClassVar[Mapping[str, str]] = {
        **{k: v for k, v in OpenAIImagesAdapter.wire_fields.items() if k != "partial_images"},
        "style": "`style` (forwarded to the upstream as given)",
        "provider_options.geeknow.response_format": "`response_format` (`url` or `b64_json`)",
        "provider_options.geeknow.watermark": "`watermark` (sent only when set; `false` is"
        " explicit off)",
    }
    #: The gateway forwards ``style`` in edits too (docs/dialects/geeknow.md, 'Requests');
    #: its upstream's multipart edit has no ``moderation``, and there are no JSON edits.
    generation_fields: ClassVar[frozenset[str]] = GENERATION_FIELDS - {"partial_images"}
    multipart_edit_fields: ClassVar[frozenset[str]] = (MULTIPART_EDIT_FIELDS | {"style"}) - {
        "partial_images"
    }
    json_edit_fields: ClassVar[frozenset[str]] = frozenset()

    def request_problems(
        self,
        model: str,
        operation: Operation,
        request: ImageRequest,
        capabilities: Capabilities,
    ) -> Iterable[Problem]:
        return [
            *wire_problems(GeeknowAdapter, operation, request, capabilities),
            *gpt_image_input_problems(model, operation, request),
        ]

    def capabilities(self, model: str) -> Capabilities:
        if model in DALL_E:
            return Capabilities.unchecked(model, edits=True, mask=True, max_edit_images=1)
        if model not in self.models:
            return Capabilities.unchecked(model, edits=True, max_edit_images=16, mask=True)
        caps = gpt_image_capabilities(model).replace(styles=(ANY,))
        if model != GPT_IMAGE_2:
            return caps
        return caps.replace(
            sizes=tuple(row["1k"] for row in GEEKNOW_GPT_IMAGE_2_PRESETS.values()),
            size_multiple_of=None,
            aspect_range=None,
            max_pixels=None,
            max_edge=None,
            size_presets=GEEKNOW_GPT_IMAGE_2_PRESETS,
        )

    def extra_fields(self, plan: Plan) -> dict[str, Any]:
        options = plan.options
        if not isinstance(options, GeeknowOptions):
            return {}
        return options.model_dump(exclude_none=True)


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return [GeeknowAdapter]
