"""Dialect-specific conformance scenarios of the ``bfl`` provider, and how the kit's shared
scenarios are recorded from its emulator dialect (merged by ``builtin_scenarios.py``)."""

from __future__ import annotations

from typing import Any

from imagebridge.testing import Hint, Scenario

KONTEXT = "flux-kontext-pro"
ULTRA = "flux-pro-1.1-ultra"
FILL = "flux-pro-1.0-fill"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "bfl_request_moderated",
        "A task whose input BFL flags before processing ends as 'Request Moderated': a"
        " ContentPolicyError with the code request_moderated and the task id.",
        expect="ContentPolicyError",
        marker="#fail=request_moderated",
    ),
    Scenario(
        "bfl_kontext_aspect_ratio",
        "Kontext takes the ratio itself (aspect_ratio) and answers about 1 MP: 21:9 is 1568x672.",
        fields={"model": KONTEXT, "size": "21:9"},
    ),
    Scenario(
        "bfl_fill_generate_refused",
        "flux-pro-1.0-fill only edits (an image and a mask): generate() is refused before sending.",
        expect="InvalidRequestError",
        fields={"model": FILL},
    ),
    Scenario(
        "bfl_seed_and_safety_tolerance",
        "seed and provider_options.bfl.safety_tolerance go on the wire under their own names.",
        fields={"seed": 1234, "provider_options": {"bfl": {"safety_tolerance": 5}}},
    ),
)
#: Shared scenario name -> how it is recorded from this dialect.
HINTS: dict[str, Hint] = {
    "content_policy": Hint(marker="#fail=content_moderated"),
    "insufficient_balance": Hint(marker="#error=402:insufficient_credits"),
    "rate_limited": Hint(marker="#error=429:too_many_active_tasks"),
    "size_ratio_tier": Hint(model=ULTRA),
    "edit_one_image": Hint(model=KONTEXT),
    "edit_several_images": Hint(model=KONTEXT),
    # The kit's mask is a plain image: sent as a mask already in BFL's form (white: change).
    "edit_with_mask": Hint(
        model=FILL, fields={"provider_options": {"bfl": {"mask_mode": "luminance"}}}
    ),
}
#: Shared scenario name -> why it does not apply to this provider.
NOT_APPLICABLE: dict[str, str] = {
    "result_b64": "BFL answers every image as a signed URL (result.sample), never inline"
    " (docs/dialects/bfl.md, 'Results')",
}
#: Scenario name -> emulator settings it needs.
SETUPS: dict[str, dict[str, Any]] = {
    "task_statuses": {"task_duration": 12.0},
}
