"""Dialect-specific conformance scenarios of the ``stability`` provider, and how the kit's shared
scenarios are recorded from its emulator dialect (merged by ``builtin_scenarios.py``)."""

from __future__ import annotations

from typing import Any

from imagebridge.testing import Hint, Scenario

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "stability_filtered_warn",
        "A CONTENT_FILTERED reply (a blurred image) with on_filtered='warn': the image comes"
        " back with a warning instead of a ContentPolicyError.",
        marker="#fail=CONTENT_FILTERED",
        fields={"provider_options": {"stability": {"on_filtered": "warn"}}},
    ),
    Scenario(
        "stability_request_moderated",
        "A prompt refused by Stability's moderation: HTTP 403 {name: content_moderation}.",
        expect="ContentPolicyError",
        marker="#error=403:content_moderation",
    ),
    Scenario(
        "stability_bad_request",
        "HTTP 400 {id, name: bad_request, errors: [...]}: the errors become the message.",
        expect="BadRequestError",
        marker="#error=400:bad_request",
        check_message=True,
    ),
    Scenario(
        "stability_core_style_preset",
        "Stable Image Core with a style preset, a negative prompt and a seed (multipart parts).",
        fields={
            "model": "stable-image-core",
            "style": "anime",
            "negative_prompt": "blurry",
            "seed": 42,
        },
    ),
    Scenario(
        "stability_sd35_jpeg",
        "An sd3.5 model on generate/sd3 (its name in the `model` part), as JPEG.",
        fields={"model": "sd3.5-medium", "output_format": "jpeg", "size": "2:3"},
    ),
)
#: Shared scenario name -> how it is recorded from this dialect.
HINTS: dict[str, Hint] = {
    "insufficient_balance": Hint(marker="#error=402:payment_required"),
    "content_policy": Hint(marker="#fail=CONTENT_FILTERED"),
}
_SMALL = (
    "the kit's input images are 4x4 pixels, below the 64-pixel side Stability requires of"
    " every input image (refused before sending, as the reference says); image-to-image and"
    " inpaint run end to end in tests/providers/stability"
)
#: Shared scenario name -> why it does not apply to this provider.
NOT_APPLICABLE: dict[str, str] = {
    "result_url": "Stability answers with the image itself (bytes or base64), never a URL",
    "reference_images": _SMALL,
    "edit_one_image": _SMALL,
    "edit_with_mask": _SMALL,
}
#: Scenario name -> emulator settings it needs.
SETUPS: dict[str, dict[str, Any]] = {}
