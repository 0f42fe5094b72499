"""Whether a recorded outcome is what its scenario is about (else the recording is not saved).

An endpoint that answers a ``#error=`` prompt with an image cannot record that scenario; a
streaming scenario must also have streamed: every event in order (per image its partial
images, index 0 up, each readable at the final image's media type and size, and one
``completed`` event last), or, for a stream that broke, no ``completed`` event and the last
partial image kept on the error.
"""

from __future__ import annotations

from ._cassette import Call, EventExpectation, Expected
from ._scenarios import Scenario

__all__ = ["intent_problem"]


def intent_problem(scenario: Scenario, call: Call, observed: Expected) -> str | None:
    """What makes ``observed`` not an outcome of ``scenario``, or None."""
    if scenario.expect == "success":
        if observed.error is not None:
            return f"expected success, got {observed.error.type} ({observed.error.code or '-'})"
        assert observed.result is not None
        if scenario.sources and set(observed.result.sources) != {scenario.sources}:
            return f"expected {scenario.sources} images, got {observed.result.sources}"
        return _stream_problem(call, observed) if scenario.stream else None
    if observed.error is None or observed.error.type != scenario.expect:
        got = "success" if observed.error is None else observed.error.type
        return f"expected {scenario.expect}, got {got}"
    return _broken_problem(call, observed) if scenario.stream else None


def _partials(observed: Expected) -> list[EventExpectation]:
    return [event for event in observed.events or [] if event.type == "partial_image"]


def _asked(call: Call) -> int:
    asked = call.fields.get("partial_images")
    return asked if isinstance(asked, int) else 0


def _stream_problem(call: Call, observed: Expected) -> str | None:
    result, events = observed.result, observed.events or []
    assert result is not None
    types = [event.type for event in events]
    if not types or types[-1] != "completed" or types.count("completed") != 1:
        return f"expected one completed event, last; got the events {types}"
    partials = _partials(observed)
    asked = _asked(call)
    if len(partials) != asked * result.images:
        return (
            f"asked for {asked} partial images per image, got {len(partials)} for"
            f" {result.images} image(s)"
        )
    order = [(event.image_index, event.index) for event in partials]
    wanted = [(image, index) for image in range(result.images) for index in range(asked)]
    if order != wanted:
        return f"partial images (image, index) came as {order}, not {wanted}"
    for event in partials:
        image = event.image_index or 0
        final = (result.media_types[image], result.sizes[image])
        if (event.media_type, event.size) != final or event.size is None:
            return (
                f"partial image {event.index} of image {image} reads as {event.media_type}"
                f" {event.size}, not as the final image ({final[0]} {final[1]})"
            )
    return None


def _broken_problem(call: Call, observed: Expected) -> str | None:
    error, partials = observed.error, _partials(observed)
    assert error is not None
    if any(event.type == "completed" for event in observed.events or []):
        return "the stream completed before it broke"
    if not partials or _asked(call) == 0:
        return "no partial image arrived before the stream broke"
    if error.last_partial != partials[-1]:
        return "the error does not keep the last partial image that arrived (last_partial)"
    return None
