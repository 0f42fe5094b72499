"""Dialect-specific conformance scenarios of the ``google`` provider, and how the kit's shared
scenarios are recorded from its emulator dialect (merged by ``builtin_scenarios.py``)."""

from __future__ import annotations

from typing import Any

from imagebridge.testing import Hint, Scenario

IMAGEN = "imagen-4.0-generate-001"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "google_prompt_blocked",
        "A prompt blocked before generation (promptFeedback.blockReason, no candidates) is a"
        " ContentPolicyError carrying the block reason.",
        expect="ContentPolicyError",
        marker="#fail=blocked_PROHIBITED_CONTENT",
    ),
    Scenario(
        "google_imagen_sample_count",
        "Imagen returns up to 4 images in one :predict call (sampleCount), at 2K.",
        fields={"model": IMAGEN, "n": 3, "size": "16:9", "resolution": "2k"},
    ),
    Scenario(
        "google_imagen_all_filtered",
        "Imagen answers {} when every image was filtered: a ContentPolicyError (RAI_FILTERED).",
        expect="ContentPolicyError",
        marker="#fail=RAI_FILTERED",
        fields={"model": IMAGEN},
    ),
    Scenario(
        "google_imagen_seed_refused",
        "seed is Vertex-only on Imagen: refused before sending.",
        expect="InvalidRequestError",
        fields={"model": IMAGEN, "seed": 7},
    ),
    Scenario(
        "google_gemini_n_refused",
        "Gemini image models make one image per call: n=2 is refused before sending.",
        expect="InvalidRequestError",
        fields={"n": 2},
    ),
)
#: Shared scenario name -> how it is recorded from this dialect.
HINTS: dict[str, Hint] = {
    "content_policy": Hint(marker="#fail=IMAGE_SAFETY"),
    "rate_limited": Hint(marker="#error=429:RESOURCE_EXHAUSTED"),
    "server_error": Hint(marker="#error=503:UNAVAILABLE"),
    "n_multiple": Hint(model=IMAGEN),
    "output_format": Hint(model=IMAGEN),
}
#: Shared scenario name -> why it does not apply to this provider.
NOT_APPLICABLE: dict[str, str] = {
    "result_url": "the Gemini API answers every image inline (base64), never as a URL"
    " (docs/dialects/google.md)",
    "insufficient_balance": "the Gemini API has no balance error: an exhausted quota is"
    " 429 RESOURCE_EXHAUSTED, a RateLimitError (docs/dialects/google.md, 'Errors')",
}
#: Scenario name -> emulator settings it needs.
SETUPS: dict[str, dict[str, Any]] = {}
