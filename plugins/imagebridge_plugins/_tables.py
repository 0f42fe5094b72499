"""Size tables and capability declarations shared by several built-in adapters.

The gpt-image-2 tier table comes from the dimilinks backend (docs/dialects/dimilinks.md,
'Sizes and resolution'; 16-px aligned, portrait rows are the transpositions). OpenAI's API,
dimilinks and APIMart agree on it; geeknow documents other presets, kept in its own module.
"""

from __future__ import annotations

from imagebridge.adapter import Capabilities, size_table

GPT_IMAGE_2_TIERS = size_table(
    {
        "1:1": {"1k": "1024x1024", "2k": "2048x2048", "4k": "2880x2880"},
        "3:2": {"1k": "1536x1024", "2k": "2016x1344", "4k": "3504x2336"},
        "4:3": {"1k": "1536x1152", "2k": "2048x1536", "4k": "3264x2448"},
        "5:4": {"1k": "1600x1280", "2k": "2000x1600", "4k": "3200x2560"},
        "16:9": {"1k": "1536x864", "2k": "2048x1152", "4k": "3840x2160"},
        "2:1": {"1k": "1536x768", "2k": "2048x1024", "4k": "3840x1920"},
        "21:9": {"1k": "1568x672", "2k": "2016x864", "4k": "3808x1632"},
    }
)


def gpt_image_2_pixels(capabilities: Capabilities) -> Capabilities:
    """``capabilities`` with gpt-image-2's pixel rule: sides divisible by 16, aspect 1:3..3:1,
    at most 3840x2160."""
    return capabilities.replace(
        size_multiple_of=16,
        aspect_range=(1 / 3, 3.0),
        max_pixels=3840 * 2160,
        max_edge=3840,
    )


#: What gpt-image-2 task gateways (dimilinks, APIMart) share: ratio + tier on the wire with
#: the tier table above, the gpt-image-2 pixel rule, 1-4 images per task, up to 4 reference
#: images of 20 MB (the backend's limits; a declared capability, not a buried constant).
#: Neither gateway documents a prompt limit (docs/dialects/dimilinks.md and
#: docs/dialects/apimart.md, 'Where the docs and the adapter differ'): the 32,000 characters
#: OpenAI documents for the gpt-image models they forward to is declared.
#: Each adapter refines it with ``.replace(model=..., ...)``.
GPT_IMAGE_2_TASKS = gpt_image_2_pixels(
    Capabilities(
        native_ratio=True,
        size_presets=GPT_IMAGE_2_TIERS,
        size_auto=True,
        max_n=4,
        max_images_per_call=4,
        output_formats=("png", "jpeg", "webp"),
        output_compression=True,
        backgrounds=("auto", "transparent", "opaque"),
        moderations=("auto", "low"),
        max_reference_images=4,
        max_input_image_bytes=20 * 1024 * 1024,
        async_tasks=True,
        max_prompt_chars=32000,
    )
)
