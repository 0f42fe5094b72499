"""The scenarios every adapter is put through, and the capabilities each one needs.

A :class:`Scenario` names a canonical call (built from the model's declared capabilities when
it is recorded) and what it is about (success, or an error class). Its ``requires`` are
:data:`REQUIREMENTS` names: a scenario whose requirements the adapter's declaration does not
meet is skipped, with the reason, instead of replayed (:mod:`._requirements`). Error scenarios
carry a prompt marker (``#error=429:rate_limit_exceeded``, ``#fail=...``) understood by the
imagebridge emulator, or an emulator fault sent as the ``X-Emulator-Fault`` header while
recording (a stream cut after its partial images); against a live endpoint only the scenarios
that endpoint can be made to produce get recorded. Streaming scenarios make their call through
``stream()`` and check every event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._capabilities import Capabilities
from ._cassette import Cassette, Interaction, RecordedResponse, TextBody
from ._requirements import (
    REQUIREMENTS,
    Requirement,
    accepted_pixel_size,
    extra_formats,
    partial_count,
    ratios,
    tiered_sizes,
    unmet,
)

__all__ = [
    "REQUIREMENTS",
    "SCENARIOS",
    "Hint",
    "Requirement",
    "Scenario",
    "accepted_pixel_size",
    "unmet",
]

DEFAULT_PROMPT = "a red cube on a white table"


@dataclass(frozen=True)
class Hint:
    """How to record one scenario against one provider (recording only; replay uses the
    cassette): a prompt marker, extra canonical fields or another model."""

    marker: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None


Sources = Literal["url", "inline"]


@dataclass(frozen=True)
class Scenario:
    """One conformance scenario. See :data:`SCENARIOS` for the shared ones."""

    name: str
    description: str
    requires: tuple[str, ...] = ()
    #: ``success`` or the error class name the call must raise.
    expect: str = "success"
    method: Literal["generate", "edit", "vary", "submit", "wait"] = "generate"
    marker: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    #: Fields computed from the model's capabilities (sizes the model accepts).
    dynamic: Callable[[Capabilities], dict[str, Any]] | None = None
    images: int = 0
    reference_images: int = 0
    mask: bool = False
    task_id: str | None = None
    invalid_key: bool = False
    check_progress: bool = False
    check_message: bool = False
    #: The call goes through ``stream()`` (``method`` is its operation); every event is kept.
    stream: bool = False
    #: An emulator fault spec sent as ``X-Emulator-Fault`` while recording (``{name}`` is
    #: filled in from the call's fields); a live endpoint ignores it.
    fault: str = ""
    #: For success scenarios: every image must come as a URL, or inline.
    sources: Sources | None = None
    #: A change applied to the recording for shapes no endpoint can be asked for.
    edit: Callable[[Cassette], None] | None = None
    edit_note: str = ""
    #: Extra matching rules (volatile JSON paths, headers) for its cassettes.
    ignore_json_paths: tuple[str, ...] = ()
    match_headers: tuple[str, ...] = ()


def _pick_ratio(caps: Capabilities) -> dict[str, Any]:
    offered = ratios(caps) or ["16:9"]
    for preferred in ("16:9", "3:2", "4:3"):
        if preferred in offered:
            return {"size": preferred}
    return {"size": next((r for r in offered if r != "1:1"), offered[0])}


def _pick_tier(caps: Capabilities) -> dict[str, Any]:
    pairs = tiered_sizes(caps)
    for preferred in (("16:9", "2k"), ("3:2", "2k")):
        if preferred in pairs:
            return {"size": preferred[0], "resolution": preferred[1]}
    ratio, tier = pairs[0]
    return {"size": ratio, "resolution": tier}


def _pick_pixels(caps: Capabilities) -> dict[str, Any]:
    return {"size": accepted_pixel_size(caps)}


def _pick_partials(caps: Capabilities) -> dict[str, Any]:
    return {"partial_images": partial_count(caps)}


_BAD_GATEWAY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _bad_gateway() -> RecordedResponse:
    return RecordedResponse(
        status=502,
        headers={"content-type": "text/html; charset=utf-8"},
        body=TextBody(text=_BAD_GATEWAY),
    )


def html_error_page(cassette: Cassette) -> None:
    """Replace the last response by the HTML error page a proxy in front of the API sends."""
    cassette.interactions[-1].response = _bad_gateway()


def transient_poll_failure(cassette: Cassette) -> None:
    """Answer the first poll (the first GET after the submit) with an HTML 502 page, and play
    the recorded answer to the same request after it."""
    index = next(
        i for i, item in enumerate(cassette.interactions) if i and item.request.method == "GET"
    )
    poll = cassette.interactions[index].request.model_copy(deep=True)
    cassette.interactions.insert(index, Interaction(request=poll, response=_bad_gateway()))


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("text_to_image", "Text to image with nothing but a prompt."),
    Scenario(
        "size_ratio",
        "An aspect ratio without a tier (sent as the ratio, or mapped to pixels with a warning).",
        requires=("ratio_sizes",),
        dynamic=_pick_ratio,
    ),
    Scenario(
        "size_ratio_tier",
        "An aspect ratio with a 2k/4k resolution tier.",
        requires=("resolution_tiers",),
        dynamic=_pick_tier,
    ),
    Scenario(
        "size_pixels",
        "An explicit WxH pixel size the model accepts.",
        requires=("pixel_sizes",),
        dynamic=_pick_pixels,
    ),
    Scenario("size_auto", "size='auto'.", requires=("auto_size",), fields={"size": "auto"}),
    Scenario(
        "n_multiple",
        "n=2: every image is returned.",
        requires=("multiple_images",),
        fields={"n": 2},
    ),
    Scenario(
        "output_format",
        "A non-png output format (webp where offered): the media type is read from the bytes.",
        requires=("output_formats",),
        dynamic=lambda caps: {"output_format": extra_formats(caps)[0]},
    ),
    Scenario("result_url", "Images returned as URLs, then downloaded.", sources="url"),
    Scenario("result_b64", "Images returned inline (base64 or data: URLs).", sources="inline"),
    Scenario(
        "reference_images",
        "generate() with a reference image.",
        requires=("reference_images",),
        reference_images=1,
    ),
    Scenario(
        "reference_images_mask",
        "generate() with a reference image and a mask.",
        requires=("reference_images", "generate_mask"),
        reference_images=1,
        mask=True,
    ),
    Scenario(
        "edit_one_image", "edit() with one image.", requires=("edits",), method="edit", images=1
    ),
    Scenario(
        "variation",
        "vary() of one image (no prompt).",
        requires=("variations",),
        method="vary",
        images=1,
    ),
    Scenario(
        "edit_several_images",
        "edit() with two images.",
        requires=("edits", "multi_image_edits"),
        method="edit",
        images=2,
    ),
    Scenario(
        "edit_with_mask",
        "edit() with one image and a mask.",
        requires=("edits", "mask"),
        method="edit",
        images=1,
        mask=True,
    ),
    Scenario(
        "task_statuses",
        "submit() then wait(): every non-terminal status is polled through to success.",
        requires=("async_tasks",),
        method="submit",
        check_progress=True,
    ),
    Scenario(
        "task_poll_retried",
        "A poll answered by a proxy's HTML 502 page is retried; the task still completes.",
        requires=("async_tasks",),
        edit=transient_poll_failure,
        edit_note=(
            "Hand-edited: an HTML 502 answer to the first poll was inserted before the recorded"
            " one (transient_poll_failure in imagebridge.testing)."
        ),
    ),
    Scenario(
        "task_failed",
        "An accepted task that ends as failed: TaskFailedError with the provider's code.",
        requires=("async_tasks",),
        expect="TaskFailedError",
        marker="#fail=upstream_error",
    ),
    Scenario(
        "task_unknown",
        "wait() on a task id the provider does not know: NotFoundError, polling stops.",
        requires=("async_tasks",),
        expect="NotFoundError",
        method="wait",
        task_id="task-unknown-000000",
    ),
    Scenario(
        "stream_partial_images",
        "stream() with partial images (the model's most, at most 2): the events in order, each"
        " partial image decodable at the final size, then the completed result with the"
        " recorded final images and usage.",
        requires=("streaming", "partial_images"),
        stream=True,
        dynamic=_pick_partials,
    ),
    Scenario(
        "stream_final_only",
        "stream() without partial images: progress, then the completed result.",
        requires=("streaming",),
        stream=True,
    ),
    Scenario(
        "stream_edit_partial_images",
        "stream(operation='edit') of one image, with partial images.",
        requires=("streaming", "partial_images", "edits"),
        method="edit",
        images=1,
        stream=True,
        dynamic=_pick_partials,
    ),
    Scenario(
        "stream_interrupted",
        "A stream that breaks after its partial images (the connection closes before the"
        " completed event): StreamInterruptedError, not sent again, keeping the last partial"
        " image (error.last_partial).",
        requires=("streaming", "partial_images"),
        expect="StreamInterruptedError",
        stream=True,
        dynamic=_pick_partials,
        fault="submit:cut:1:{partial_images}",
    ),
    Scenario(
        "auth_invalid",
        "A wrong API key: AuthenticationError.",
        expect="AuthenticationError",
        invalid_key=True,
    ),
    Scenario(
        "insufficient_balance",
        "No balance left: InsufficientBalanceError.",
        expect="InsufficientBalanceError",
        marker="#error=402:insufficient_balance",
    ),
    Scenario(
        "rate_limited",
        "HTTP 429 with Retry-After: RateLimitError carrying retry_after.",
        expect="RateLimitError",
        marker="#error=429:rate_limit_exceeded",
    ),
    Scenario(
        "server_error",
        "HTTP 5xx: ServerError.",
        expect="ServerError",
        marker="#error=500:internal_error",
    ),
    Scenario(
        "html_error_page",
        "An HTML error page from a proxy instead of JSON: ServerError.",
        expect="ServerError",
        marker="#error=502:upstream_error",
        edit=html_error_page,
        edit_note=(
            "Hand-edited: the last response was replaced by an nginx '502 Bad Gateway' HTML"
            " page (html_error_page in imagebridge.testing): neither the emulator nor a real"
            " provider can be asked for one."
        ),
    ),
    Scenario(
        "content_policy",
        "The prompt is refused by moderation, in the dialect's own shape: ContentPolicyError.",
        expect="ContentPolicyError",
        marker="#fail=content_policy_violation",
    ),
)

SCENARIO_NAMES = tuple(scenario.name for scenario in SCENARIOS)


def scenario_by_name(name: str) -> Scenario | None:
    """The shared scenario called ``name``, or None."""
    return next((s for s in SCENARIOS if s.name == name), None)
