"""Dialect-specific conformance scenarios of the ``replicate`` provider, and how the kit's shared
scenarios are recorded from its emulator dialect (merged by ``builtin_scenarios.py``)."""

from __future__ import annotations

from typing import Any

from imagebridge.testing import Hint, Scenario

DEV = "black-forest-labs/flux-dev"
PRO = "black-forest-labs/flux-1.1-pro"
SD35 = "stability-ai/stable-diffusion-3.5-large"
KONTEXT = "black-forest-labs/flux-kontext-pro"
VERSION = (
    "black-forest-labs/flux-schnell:"
    + "5599ed30703defd1d160a25a63321b4dec97101d98b4674bcc56e41f62f35637"
)
#: generate() without ``Prefer: wait``: the create answers ``starting`` and the task is polled.
NO_WAIT = {"provider_options": {"replicate": {"wait": 0}}}

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "replicate_nsfw",
        "A prediction whose output the safety checker flags fails with an NSFW error text: a"
        " ContentPolicyError with the code nsfw and the prediction id.",
        expect="ContentPolicyError",
        marker="#fail=nsfw",
    ),
    Scenario(
        "replicate_pinned_version",
        "owner/name:version goes to POST /predictions with the version id in the body.",
        fields={"model": VERSION},
    ),
    Scenario(
        "replicate_negative_prompt_and_seed",
        "SD 3.5 takes negative_prompt and seed as inputs of their own names.",
        fields={"model": SD35, "negative_prompt": "blurry", "seed": 42, "size": "2:3"},
    ),
    Scenario(
        "replicate_polled_without_wait",
        "provider_options.replicate.wait=0 sends no Prefer header: the prediction is polled.",
        fields=NO_WAIT,
    ),
)
#: Shared scenario name -> how it is recorded from this dialect.
HINTS: dict[str, Hint] = {
    "content_policy": Hint(marker="#fail=E005"),
    "insufficient_balance": Hint(marker="#error=402:insufficient_credit"),
    "rate_limited": Hint(marker="#error=429:request_was_throttled"),
    "size_pixels": Hint(model=PRO),
    "size_auto": Hint(model=KONTEXT),
    "reference_images": Hint(model=DEV),
    "edit_one_image": Hint(model=KONTEXT),
    # Polled (no Prefer: wait), so that the statuses and the poll retry are on the wire.
    "task_statuses": Hint(fields=NO_WAIT),
    "task_poll_retried": Hint(fields=NO_WAIT),
    "task_failed": Hint(fields=NO_WAIT),
}
#: Shared scenario name -> why it does not apply to this provider.
NOT_APPLICABLE: dict[str, str] = {
    "result_b64": "Replicate answers every output as a file URL (output is a URL or a list"
    " of them), never inline (docs/dialects/replicate.md, 'Outputs')",
}
#: Scenario name -> emulator settings it needs.
SETUPS: dict[str, dict[str, Any]] = {
    "task_statuses": {"task_duration": 3.0},
}
