"""The pixel rule is one public method, ``Capabilities.pixel_problem``, that pre-flight applies.

Its reasons are the ones a rejected request gives (checked over loopback HTTP against the
emulator, through both clients, with nothing sent); ``replace`` and ``unchecked`` take exactly
the dataclass's fields, so a type checker sees every key and value of a plugin's table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from helpers import API_KEY, emulated_generate
from imagebridge import (
    Capabilities,
    InvalidRequestError,
    default_registry,
)
from imagebridge._capabilities import CapabilityChanges
from imagebridge._emulator import EmulatorConfig, EmulatorServer

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("caps", "size", "reason"),
    [
        (Capabilities(sizes=("1024x1024",)), (1024, 1024), None),
        (Capabilities(sizes=("1024x1024",)), (512, 512), "not a size this model accepts"),
        (Capabilities(), (1024, 1024), "pixel sizes are not accepted"),
        (Capabilities(size_multiple_of=16), (1000, 1024), "both sides must be divisible by 16"),
        (
            Capabilities(size_multiple_of=8, max_edge=2048),
            (4096, 64),
            "an edge is longer than 2048",
        ),
        (Capabilities(size_multiple_of=1, min_edge=256), (128, 512), "an edge is shorter than 256"),
        (
            Capabilities(size_multiple_of=1, aspect_range=(0.5, 2.0)),
            (3000, 1000),
            "the aspect ratio is outside 0.5..2",
        ),
        (Capabilities(size_multiple_of=1, max_pixels=1000), (40, 40), "more than 1000 pixels"),
        (Capabilities(size_multiple_of=1, max_pixels=1600), (40, 40), None),
    ],
)
def test_pixel_problem_says_why_a_size_is_refused(
    caps: Capabilities, size: tuple[int, int], reason: str | None
) -> None:
    assert caps.pixel_problem(*size) == reason


def test_changes_take_exactly_the_fields_of_capabilities_with_their_types() -> None:
    fields = {f.name: str(f.type) for f in dataclasses.fields(Capabilities)}
    changes = {
        name: getattr(kind, "__forward_arg__", kind)
        for name, kind in CapabilityChanges.__annotations__.items()
    }
    assert changes == fields


def test_replace_refuses_a_field_that_does_not_exist() -> None:
    with pytest.raises(TypeError, match="max_edits"):
        Capabilities().replace(max_edits=1)  # type: ignore[call-arg]


# -- the same reasons in pre-flight -------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(api_key=API_KEY)) as running:
        yield running


def generate_with(mode: str, server: EmulatorServer) -> Any:
    return emulated_generate(mode, server, "openai", api_key=API_KEY)


@pytest.mark.parametrize("size", ["1000x1000", "4000x1008", "3200x992"])
async def test_a_refused_size_gives_the_reason_of_pixel_problem(
    mode: str, server: EmulatorServer, size: str
) -> None:
    caps = default_registry().model_capabilities("openai", "gpt-image-2")
    width, _, height = size.partition("x")
    reason = caps.pixel_problem(int(width), int(height))
    assert reason is not None
    before = len(server.app_state.requests)
    async with generate_with(mode, server) as generate:
        with pytest.raises(InvalidRequestError) as info:
            await generate("a lighthouse", model="gpt-image-2", size=size)
    (problem,) = info.value.problems
    assert (problem.field, problem.value, problem.reason) == (
        "size",
        size,
        f"{reason} for gpt-image-2",
    )
    assert len(server.app_state.requests) == before


async def test_a_size_without_a_problem_is_generated(mode: str, server: EmulatorServer) -> None:
    caps = default_registry().model_capabilities("openai", "gpt-image-2")
    assert caps.pixel_problem(2048, 1152) is None
    async with generate_with(mode, server) as generate:
        result = await generate("a lighthouse", model="gpt-image-2", size="2048x1152")
    assert [(i.width, i.height) for i in result.images] == [(2048, 1152)]
    assert result.warnings == []
