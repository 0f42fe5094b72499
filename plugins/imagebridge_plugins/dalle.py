"""The dall-e model rules, applied whichever provider serves a dall-e model.

OpenAI's own API and every gateway that forwards to it (geeknow, ...) impose the same limits
on ``dall-e-2`` and ``dall-e-3``. They are declared here once, through the
``imagebridge_model_capabilities`` hook, instead of in each adapter (docs/dialects/openai.md,
'Models and sizes'; the spec's CreateImageRequest, CreateImageEditRequest and
CreateImageVariationRequest):

=============  ==============================  ===  =================  ==========
model          sizes                           n    quality            prompt
=============  ==============================  ===  =================  ==========
dall-e-2       256x256, 512x512, 1024x1024     1-10 standard           1000 chars
dall-e-3       1024x1024, 1792x1024, 1024x1792 1    standard, hd       4000 chars
=============  ==============================  ===  =================  ==========

``style`` (vivid, natural) is dall-e-3 only; ``output_format``, ``output_compression``,
``background`` and ``moderation`` are GPT image options and are rejected for dall-e.
Canonical ratios map to the one size of that shape (``1:1`` -> 1024x1024, ``7:4`` ->
1792x1024), reported as a warning. A dall-e-3 request with ``n>1`` is split into calls.
dall-e-2 edits one square PNG of at most 4 MB, uploaded (JSON edits are for GPT image models
only), and makes variations of one where the provider has the endpoint; dall-e-3 does
neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from imagebridge import ImageRequest, hookimpl
from imagebridge.adapter import Capabilities, Operation, Problem

from ._openai_images import input_format_problems, input_names
from ._openai_prices import DALL_E_PRICES


def _dall_e_2(capabilities: Capabilities) -> Capabilities:
    return capabilities.replace(
        model="dall-e-2",
        sizes=("256x256", "512x512", "1024x1024"),
        size_presets={"1:1": {"1k": "1024x1024"}},
        size_auto=False,
        size_multiple_of=None,
        native_ratio=False,
        max_n=10,
        max_images_per_call=10,
        qualities=("standard",),
        styles=None,
        output_formats=None,
        output_compression=False,
        backgrounds=None,
        moderations=None,
        max_prompt_chars=1000,
        max_edit_images=1,
        max_input_image_bytes=4 * 1024 * 1024,
        # JSON edits are for GPT image models only (EditImageBodyJsonParam). ``variations``
        # stays as the provider declares it: the endpoint is the provider's.
        edit_image_urls=False,
        known=True,
    )


def _dall_e_3(capabilities: Capabilities) -> Capabilities:
    return capabilities.replace(
        model="dall-e-3",
        sizes=("1024x1024", "1792x1024", "1024x1792"),
        size_presets={
            "1:1": {"1k": "1024x1024"},
            "7:4": {"1k": "1792x1024"},
            "4:7": {"1k": "1024x1792"},
        },
        size_auto=False,
        size_multiple_of=None,
        native_ratio=False,
        max_n=10,
        max_images_per_call=1,
        qualities=("standard", "hd"),
        styles=("vivid", "natural"),
        output_formats=None,
        output_compression=False,
        backgrounds=None,
        moderations=None,
        max_prompt_chars=4000,
        edits=False,
        mask=False,
        max_edit_images=0,
        edit_image_urls=False,
        variations=False,
        known=True,
    )


#: Model rules only: each one overrides the fields it names and keeps the provider's own
#: abilities (edits endpoint, references, ...).
RULES: Mapping[str, Callable[[Capabilities], Capabilities]] = {
    "dall-e-2": _dall_e_2,
    "dall-e-3": _dall_e_3,
}


@hookimpl
def imagebridge_model_capabilities(
    provider: str, model: str, capabilities: Capabilities
) -> Capabilities | None:
    rules = RULES.get(model)
    if rules is None:
        return None
    # OpenAI's published dall-e prices are OpenAI's own: a gateway's are not known here.
    price = DALL_E_PRICES.get(model) if provider == "openai" else capabilities.price
    return rules(capabilities).replace(price=price)


@hookimpl
def imagebridge_validate_request(
    model: str, operation: Operation, request: ImageRequest
) -> Iterable[Problem] | None:
    """dall-e-2's input image: "a square png file less than 4MB" (CreateImageEditRequest.image,
    CreateImageVariationRequest.image); the core checks the bytes."""
    if model != "dall-e-2" or operation == "generate":
        return None
    named = input_names(request, operation)
    problems = input_format_problems(named, ("image/png",), "dall-e-2")
    refused = {problem.field for problem in problems}
    for name, image in named:
        size = image.pixel_size()
        if name not in refused and size is not None and size[0] != size[1]:
            reason = f"is {size[0]}x{size[1]}; dall-e-2 takes a square image"
            problems.append(Problem(name, image.describe(), reason))
    return problems
