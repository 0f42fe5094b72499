"""Negative tests generated from what a model declares it does *not* support.

For every capability declared absent or limited (no edits, no mask, no asynchronous tasks, no
reference images, an option whose allowed values are None or restricted, ``max_n``, prompt
length, sizes, tiers, provider options...), a :class:`Rejection` makes a request that goes
beyond it. The core must refuse it with :class:`~imagebridge.InvalidRequestError`, naming
the field, before any HTTP call: the client runs on a replay transport with no interactions.

An option only ``stream()`` takes (``partial_images``: ``generate()`` refuses it for every
model) is tried through ``stream()``, where only the model's capability can refuse it: a
rejection through ``generate()`` would pass for the wrong reason. Whether a capability lets a
model take its option at all is :func:`imagebridge._capabilities.takes` (None, False and 0
do not), so counts (``max_partial_images``) work beside value lists and flags.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .._async_client import AsyncImageClient
from .._capabilities import ANY, Capabilities, takes
from .._client import ImageClient
from .._errors import InvalidRequestError
from .._request import OPTION_FIELDS
from .._sizes import RESOLUTIONS
from ._cassette import Call, Cassette, ClientOptions, ErrorExpectation, Expected, ScenarioInfo
from ._context import PLACEHOLDER_ORIGIN, ProviderContext
from ._execute import REPLAY_KEY
from ._replay import ReplayTransport
from ._requirements import accepted_pixel_size
from ._scenarios import DEFAULT_PROMPT
from ._support import FakeClock, sample_png

__all__ = ["Rejection", "RejectionFailedError", "rejections", "run_rejection"]

Method = Literal["generate", "edit", "vary", "submit", "stream"]


class RejectionFailedError(AssertionError):
    """The core accepted (or sent) a request the declared capabilities rule out."""


@dataclass(frozen=True)
class Rejection:
    """A request beyond one declared limit, and the problem field the rejection must name."""

    name: str
    description: str
    field: str
    method: Method = "generate"
    make: Callable[[], dict[str, Any]] = dict


def _fields(fields: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """A ``make`` that returns (a copy of) these fields."""
    return lambda: dict(fields)


def _png(count: int) -> list[bytes]:
    return [sample_png(4, 4, 30 * i) for i in range(count)]


def _edits(caps: Capabilities, provider: str) -> list[Rejection]:
    out: list[Rejection] = []
    if not caps.edits:
        out.append(
            Rejection(
                "reject_edits",
                f"{provider} declares no edits",
                "images",
                "edit",
                lambda: {"images": _png(1)},
            )
        )
        return out
    limit = caps.max_edit_images
    out.append(
        Rejection(
            "reject_edit_image_count",
            f"edits take at most {limit} images",
            "images",
            "edit",
            lambda: {"images": _png(limit + 1)},
        )
    )
    if not caps.mask:
        out.append(
            Rejection(
                "reject_edit_mask",
                "edits declare no mask",
                "mask",
                "edit",
                lambda: {"images": _png(1), "mask": sample_png(4, 4, 255)},
            )
        )
    return out


def _references(caps: Capabilities) -> list[Rejection]:
    limit = caps.max_reference_images
    out = [
        Rejection(
            "reject_reference_images" if limit == 0 else "reject_reference_image_count",
            f"generate() takes at most {limit} reference images",
            "reference_images",
            make=lambda: {"reference_images": _png(limit + 1)},
        )
    ]
    if not caps.generate_mask:
        out.append(
            Rejection(
                "reject_generate_mask",
                "generate() declares no mask",
                "mask",
                make=lambda: {
                    "reference_images": _png(min(1, limit)),
                    "mask": sample_png(4, 4, 255),
                },
            )
        )
    byte_limit = caps.max_input_image_bytes
    if byte_limit is not None and (caps.edits or limit):
        method: Method = "edit" if caps.edits else "generate"
        key = "images" if caps.edits else "reference_images"
        out.append(
            Rejection(
                "reject_input_image_bytes",
                f"input images are at most {byte_limit} bytes",
                key,
                method,
                lambda: {key: [bytes(byte_limit + 1)]},
            )
        )
    return out


def _options(caps: Capabilities) -> list[Rejection]:
    """For each option field of the field table: the field where the model takes none of
    it, and a value outside the model's list where it takes some."""
    out: list[Rejection] = []
    for spec in OPTION_FIELDS:
        name, probe = spec.name, spec.canonical.probe
        allowed = getattr(caps, spec.capability or "")
        # A field only stream() takes is refused by generate() for every model: its
        # rejection goes through stream(), where only the capability can refuse it.
        method: Method = "stream" if spec.canonical.stream_only else "generate"
        if not takes(allowed):
            out.append(
                Rejection(
                    f"reject_{name}",
                    f"{name} is not supported",
                    name,
                    method,
                    make=_fields({name: probe}),
                )
            )
        elif type(allowed) is int:
            out.append(
                Rejection(
                    f"reject_{name}_value",
                    f"{name} is at most {allowed}",
                    name,
                    method,
                    make=_fields({name: allowed + 1}),
                )
            )
        elif isinstance(allowed, tuple) and ANY not in allowed:
            outside = [v for v in spec.samples() if v not in allowed]
            if outside:
                out.append(
                    Rejection(
                        f"reject_{name}_value",
                        f"{name} takes only {', '.join(allowed)}",
                        name,
                        method,
                        make=_fields({name: outside[0]}),
                    )
                )
    return out


def _sizes(caps: Capabilities) -> list[Rejection]:
    out: list[Rejection] = []
    if not caps.size_auto and "auto" not in caps.size_presets:
        out.append(
            Rejection(
                "reject_size_auto", "no automatic size", "size", make=lambda: {"size": "auto"}
            )
        )
    if accepted_pixel_size(caps) is None:
        bad = "1024x1024"
    elif caps.sizes:
        bad = "1000x1000"
    elif (caps.size_multiple_of or 1) > 1:
        bad = "1000x1001"
    else:
        bad = f"{(caps.max_edge or 4096) + 16}x1024"
    width, _, height = bad.partition("x")
    if caps.pixel_problem(int(width), int(height)) is not None:
        out.append(
            Rejection(
                "reject_pixel_size",
                f"{bad} is outside the declared sizes",
                "size",
                make=lambda: {"size": bad},
            )
        )
    if caps.size_presets or not caps.native_ratio:
        out.append(
            Rejection(
                "reject_ratio",
                "17:3 is not a declared ratio",
                "size",
                make=lambda: {"size": "17:3"},
            )
        )
    rows = {ratio: row for ratio, row in caps.size_presets.items() if ratio != "auto"}
    for ratio, row in rows.items():
        offered = caps.resolutions if caps.native_ratio else tuple(row)
        missing = [tier for tier in RESOLUTIONS if tier not in offered]
        if missing:
            out.append(
                Rejection(
                    "reject_resolution",
                    f"{ratio} has no {missing[-1]} tier",
                    "resolution",
                    make=_fields({"size": ratio, "resolution": missing[-1]}),
                )
            )
            break
    return out


def rejections(context: ProviderContext) -> list[Rejection]:
    """Every negative test the default model's declaration calls for, sorted by name."""
    caps = context.capabilities()
    provider = context.provider
    out = [*_edits(caps, provider), *_references(caps), *_options(caps), *_sizes(caps)]
    if not caps.async_tasks:
        out.append(Rejection("reject_submit", "no asynchronous tasks", "submit", "submit"))
    if not caps.variations:
        out.append(
            Rejection(
                "reject_variations",
                f"{provider} makes no variations with {caps.model}",
                "image",
                "vary",
                lambda: {"images": _png(1)},
            )
        )
    out.append(
        Rejection("reject_n", f"n is at most {caps.max_n}", "n", make=lambda: {"n": caps.max_n + 1})
    )
    if caps.max_prompt_chars is not None:
        limit = caps.max_prompt_chars
        out.append(
            Rejection(
                "reject_prompt_length",
                f"prompts are at most {limit} characters",
                "prompt",
                make=lambda: {"prompt": "x" * (limit + 1)},
            )
        )
    options_key = f"provider_options.{provider}"
    out.append(
        Rejection(
            "reject_provider_options",
            "an unknown provider option",
            options_key,
            make=lambda: {"provider_options": {provider: {"no_such_option": 1}}},
        )
    )
    return sorted(out, key=lambda rejection: rejection.name)


def _client_call(client: ImageClient, method: Method, args: dict[str, Any]) -> Any:
    prompt = args.pop("prompt", DEFAULT_PROMPT)
    if method == "stream":
        # Pre-flight runs in stream() itself; closing the stream sends nothing.
        client.stream(prompt, **args).close()
        return None
    if method == "vary":
        return client.vary(args.pop("images")[0], **args)
    if method == "edit":
        return client.edit(prompt, args.pop("images"), **args)
    if method == "submit":
        return client.submit(prompt, **args)
    return client.generate(prompt, **args)


async def _aclient_call(client: AsyncImageClient, method: Method, args: dict[str, Any]) -> Any:
    prompt = args.pop("prompt", DEFAULT_PROMPT)
    if method == "stream":
        await client.stream(prompt, **args).aclose()
        return None
    if method == "vary":
        return await client.vary(args.pop("images")[0], **args)
    if method == "edit":
        return await client.edit(prompt, args.pop("images"), **args)
    if method == "submit":
        return await client.submit(prompt, **args)
    return await client.generate(prompt, **args)


def run_rejection(rejection: Rejection, mode: str, context: ProviderContext) -> None:
    """Raise :class:`RejectionFailedError` unless the core refuses the request before any
    HTTP call, with a problem naming ``rejection.field``."""
    base_url = context.adapter_cls.default_base_url or PLACEHOLDER_ORIGIN
    cassette = Cassette(
        name=rejection.name,
        provider=context.provider,
        scenario=ScenarioInfo(name=rejection.name, expect="InvalidRequestError"),
        call=Call(client=ClientOptions(base_url=base_url)),
        expected=Expected(error=ErrorExpectation(type="InvalidRequestError")),
    )
    transport = ReplayTransport(cassette, credential_headers=context.credential_headers())
    options: dict[str, Any] = {
        "api_key": REPLAY_KEY,
        "base_url": base_url,
        "registry": context.registry,
        "clock": FakeClock(),
        "journal": False,
    }
    args = rejection.make()
    if context.model is not None:
        # The rejections come from this model's declaration: the request is made with it.
        args.setdefault("model", context.model)
    try:
        if mode == "sync":
            with ImageClient(context.provider, transport=transport, **options) as client:
                _client_call(client, rejection.method, args)
        else:

            async def go() -> None:
                async with AsyncImageClient(
                    context.provider, transport=transport, **options
                ) as client:
                    await _aclient_call(client, rejection.method, args)

            asyncio.run(go())
    except InvalidRequestError as error:
        if transport.calls:
            raise RejectionFailedError(
                f"rejected, but only after {transport.calls} HTTP request(s)"
            ) from error
        fields = [problem.field for problem in error.problems]
        if not any(name.startswith(rejection.field) for name in fields):
            raise RejectionFailedError(
                f"rejected for another reason: expected a problem with {rejection.field!r},"
                f" got: {error}"
            ) from error
        return
    raise RejectionFailedError(
        f"{context.provider} accepted a request its declaration rules out"
        f" ({rejection.description}): {rejection.method}() with {sorted(args)}"
    )
