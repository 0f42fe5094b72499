"""Dialect-specific conformance scenarios of the ``fal`` provider, and how the kit's shared
scenarios are recorded from its emulator dialect (merged by ``builtin_scenarios.py``)."""

from __future__ import annotations

from typing import Any

from imagebridge.testing import Hint, Scenario

IMAGEN = "fal-ai/imagen4/preview"
KONTEXT = "fal-ai/flux-pro/kontext"
RECRAFT = "fal-ai/recraft-v3"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "fal_runner_failure",
        "A request that completes with an error (status COMPLETED with error_type, the result"
        " 500 {detail, error_type}) is a TaskFailedError with fal's code and the request id.",
        expect="TaskFailedError",
        marker="#fail=runner_server_error",
    ),
    Scenario(
        "fal_imagen_ratio_tier_negative_prompt",
        "Imagen 4 takes aspect_ratio, resolution 2K and a negative prompt: 16:9 at 2k is"
        " 2816x1536.",
        fields={
            "model": IMAGEN,
            "size": "16:9",
            "resolution": "2k",
            "negative_prompt": "blurry",
            "seed": 9,
        },
    ),
    Scenario(
        "fal_recraft_style",
        "Recraft V3 takes the canonical style as its style; it makes one image per request.",
        fields={"model": RECRAFT, "style": "digital_illustration", "size": "4:3"},
    ),
    Scenario(
        "fal_kontext_generate_refused",
        "FLUX.1 Kontext [pro] edits an image: a generation without one is refused before sending.",
        expect="InvalidRequestError",
        fields={"model": KONTEXT},
    ),
    Scenario(
        "fal_option_not_taken_refused",
        "provider_options.fal.safety_tolerance is a FLUX [pro] input: with flux/dev it is"
        " refused before sending, never dropped.",
        expect="InvalidRequestError",
        fields={"provider_options": {"fal": {"safety_tolerance": "4"}}},
    ),
)
#: Shared scenario name -> how it is recorded from this dialect.
HINTS: dict[str, Hint] = {
    "content_policy": Hint(marker="#fail=content_policy_violation"),
    "insufficient_balance": Hint(marker="#error=403:exhausted_balance"),
    "rate_limited": Hint(marker="#error=429:rate_limited"),
    "server_error": Hint(marker="#error=500:internal_error"),
    "task_failed": Hint(marker="#fail=runner_server_error"),
    "size_ratio_tier": Hint(model=IMAGEN),
    "edit_one_image": Hint(model=KONTEXT),
}
#: Shared scenario name -> why it does not apply to this provider.
NOT_APPLICABLE: dict[str, str] = {
    "result_b64": "fal's queue answers every image as a URL on its CDN; inline data URLs"
    " come only with sync_mode, which the queue does not use (docs/dialects/fal.md)",
}
#: Scenario name -> emulator settings it needs.
SETUPS: dict[str, dict[str, Any]] = {
    "task_statuses": {"task_duration": 12.0},
}
