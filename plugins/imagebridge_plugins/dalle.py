"""The dall-e model rules, applied whichever provider serves a dall-e model.

OpenAI's own API and every gateway that forwards to it (geeknow, ...) impose the same limits
on ``dall-e-2`` and ``dall-e-3``. They are declared here once, through the
``imagebridge_model_capabilities`` hook, instead of in each adapter (docs/dialects/openai.md,
'Models and sizes'):

=============  ==============================  ===  =================  ==========
model          sizes                           n    quality            prompt
=============  ==============================  ===  =================  ==========
dall-e-2       256x256, 512x512, 1024x1024     1-10 standard           1000 chars
dall-e-3       1024x1024, 1792x1024, 1024x1792 1    standard, hd       4000 chars
=============  ==============================  ===  =================  ==========

``style`` (vivid, natural) is dall-e-3 only; ``output_format``, ``output_compression``,
``background`` and ``moderation`` are gpt-image options and are rejected for dall-e.
Canonical ratios map to the one size of that shape (``1:1`` -> 1024x1024, ``7:4`` ->
1792x1024), reported as a warning. A dall-e-3 request with ``n>1`` is split into calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from imagebridge import hookimpl
from imagebridge.adapter import Capabilities


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
        known=True,
    )


#: Model rules only: each one overrides the fields it names and keeps the provider's own
#: abilities (edits endpoint, references, ...).
RULES: Mapping[str, Callable[[Capabilities], Capabilities]] = {
    "dall-e-2": _dall_e_2,
    "dall-e-3": _dall_e_3,
}


@hookimpl
def imagebridge_model_capabilities(model: str, capabilities: Capabilities) -> Capabilities | None:
    rules = RULES.get(model)
    return None if rules is None else rules(capabilities)
