"""Pre-flight: check a canonical request against a model's capabilities, before any I/O.

:func:`plan` returns a :class:`Plan` (what will be sent: wire size, tier, calls, parsed
provider options) or raises :class:`InvalidRequestError` listing every problem at once. Every
adaptation it makes (a ratio turned into pixels, ``n`` split into several calls) is recorded
as an :class:`ImageWarning` that ends up in ``result.warnings``: nothing is silently changed.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from ._capabilities import ANY, Capabilities, takes
from ._errors import InvalidRequestError, Problem
from ._inputs import ImageInput
from ._request import OPTION_FIELDS, ImageRequest, problems_from_validation
from ._sizes import Size
from ._warnings import ImageWarning

#: The fields only stream() takes (the field table's ``stream_only``).
STREAM_ONLY_FIELDS = tuple(spec for spec in OPTION_FIELDS if spec.canonical.stream_only)

#: ``vary`` makes variations of one image, with no prompt.
Operation = Literal["generate", "edit", "vary"]


@dataclass(frozen=True, kw_only=True)
class Plan:
    """A validated request and how it will go on the wire, for one call of an adapter."""

    #: The provider's name.
    provider: str
    #: ``generate``, ``edit`` or ``vary``: the adapter method that runs it.
    operation: Operation
    #: The canonical request, validated (``request.option_values()``: the options set).
    request: ImageRequest
    #: The model to send (the request's, or the adapter's ``default_model``).
    model: str
    #: What that model takes, as the adapter declared it.
    capabilities: Capabilities
    #: The size to send: ``"WxH"``, ``"W:H"``, ``"auto"`` or None (the provider's default).
    wire_size: str | None = None
    #: The resolution tier to send (only for adapters whose wire takes ratio + tier).
    wire_resolution: str | None = None
    #: The pixel size the provider should return, when known (a mismatch is warned about).
    expected_size: tuple[int, int] | None = None
    #: Images in this call, and in every call the request was split into.
    n: int = 1
    batches: tuple[int, ...] = (1,)
    options: BaseModel | None = None
    warnings: tuple[ImageWarning, ...] = field(default_factory=tuple)
    #: The caller takes the reply as events (``stream()``): an adapter whose model streams
    #: (``Capabilities.streaming``) asks for a streamed reply.
    stream: bool = False

    def for_batch(self, n: int) -> Plan:
        return self if n == self.n else dataclasses.replace(self, n=n)


def plan(
    *,
    provider: str,
    operation: Operation,
    request: ImageRequest,
    model: str,
    capabilities: Capabilities,
    options_model: type[BaseModel] | None = None,
    extra_problems: Iterable[Problem] = (),
    stream: bool = False,
) -> Plan:
    """Check ``request`` against ``capabilities``; return the plan or raise with every problem.
    ``stream``: the caller takes the reply as events (``stream()``)."""
    caps = capabilities
    problems: list[Problem] = list(extra_problems)
    if not stream:
        for spec in STREAM_ONLY_FIELDS:
            value = getattr(request, spec.name)
            if value is not None:
                problems.append(
                    Problem(
                        spec.name,
                        value,
                        "only stream() takes it: generate(), edit() and vary() return the final"
                        " images only",
                    )
                )
    warnings: list[ImageWarning] = []
    if not caps.known:
        warnings.append(
            ImageWarning(
                "unknown_model",
                f"model {model!r} is not in {provider}'s list; its options were not checked"
                " before sending",
                "model",
            )
        )
    if caps.max_prompt_chars is not None and len(request.prompt) > caps.max_prompt_chars:
        problems.append(
            Problem(
                "prompt",
                f"<{len(request.prompt)} characters>",
                f"longer than the {caps.max_prompt_chars} characters {model} accepts",
            )
        )
    batches = _batches(request.n, caps, model, problems, warnings)
    wire_size, wire_resolution, expected = _size(request, caps, model, problems, warnings)
    _options(request, caps, model, problems)
    _inputs(request, operation, caps, provider, model, problems)
    options = _provider_options(request, provider, options_model, problems)
    if problems:
        raise InvalidRequestError(_unique(problems), provider=provider)
    return Plan(
        provider=provider,
        operation=operation,
        request=request,
        model=model,
        capabilities=caps,
        wire_size=wire_size,
        wire_resolution=wire_resolution,
        expected_size=expected,
        n=batches[0],
        batches=batches,
        options=options,
        warnings=tuple(warnings),
        stream=stream,
    )


def _unique(problems: Sequence[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _batches(
    n: int,
    caps: Capabilities,
    model: str,
    problems: list[Problem],
    warnings: list[ImageWarning],
) -> tuple[int, ...]:
    if n > caps.max_n:
        problems.append(
            Problem("n", n, f"{model} returns at most {caps.max_n}", f"1..{caps.max_n}")
        )
        return (n,)
    per_call = max(1, caps.max_images_per_call)
    if n <= per_call:
        return (n,)
    full, rest = divmod(n, per_call)
    batches = (per_call,) * full + ((rest,) if rest else ())
    warnings.append(
        ImageWarning(
            "n_split",
            f"n={n} was split into {len(batches)} calls ({'+'.join(map(str, batches))}):"
            f" {model} returns at most {per_call} image(s) per call",
            "n",
        )
    )
    return batches


def _size(
    request: ImageRequest,
    caps: Capabilities,
    model: str,
    problems: list[Problem],
    warnings: list[ImageWarning],
) -> tuple[str | None, str | None, tuple[int, int] | None]:
    size: Size | None = request.size
    tier = request.resolution
    if size is None and tier is None:
        return None, None, None
    if size is not None and size.kind == "pixels":
        reason = caps.pixel_problem(size.width, size.height)
        if reason:
            problems.append(Problem("size", str(size), f"{reason} for {model}", caps.size_forms()))
        return str(size), None, (size.width, size.height)
    # A ratio, "auto", or a resolution alone (which applies to "auto"). Tables are keyed by
    # the ratio as people write it ("21:9"), so the given form is tried before lowest terms.
    key = "auto"
    if size is not None:
        key = str(size) if str(size) in caps.size_presets else size.ratio_key
    given = str(size) if size is not None else None
    if caps.native_ratio:
        if tier is not None and tier not in caps.resolutions:
            problems.append(
                Problem("resolution", tier, f"not a tier {model} offers", caps.resolutions)
            )
        row = caps.size_presets.get(key)
        if caps.size_presets and row is None and not (key == "auto" and caps.size_auto):
            problems.append(
                Problem("size", given, f"not a ratio {model} offers", caps.size_forms())
            )
            return given, tier, None
        expected = row.get(tier or "1k") if row else None
        return given, tier, _px(expected)
    if key == "auto" and tier is None:
        if caps.size_auto:
            return "auto", None, None
        problems.append(
            Problem("size", "auto", f"{model} has no automatic size", caps.size_forms())
        )
        return None, None, None
    row = caps.size_presets.get(key)
    if row is None:
        what = "resolution tiers" if size is None else "this aspect ratio"
        problems.append(
            Problem(
                "size" if size is not None else "resolution",
                given if size is not None else tier,
                f"{model} takes pixel sizes and has no preset for {what}",
                caps.size_forms(),
            )
        )
        return None, None, None
    chosen_tier = tier or "1k"
    target = row.get(chosen_tier)
    if target is None:
        problems.append(
            Problem(
                "resolution",
                chosen_tier,
                f"{model} has no {chosen_tier} preset for {given or 'auto'}",
                sorted(row),
            )
        )
        return None, None, None
    warnings.append(
        ImageWarning(
            "size_mapped",
            f"size {given or 'auto'} at {chosen_tier} was sent as {target}: {model} takes pixel"
            " sizes",
            "size",
        )
    )
    return target, None, _px(target)


def _px(text: str | None) -> tuple[int, int] | None:
    if not text or "x" not in text:
        return None
    w, _, h = text.partition("x")
    return int(w), int(h)


def _options(
    request: ImageRequest, caps: Capabilities, model: str, problems: list[Problem]
) -> None:
    # Each option field names the capability it needs (the field table, beside ImageRequest):
    # None or False is "not at all", a tuple lists the values taken (ANY: any, passed through).
    for spec in OPTION_FIELDS:
        value = getattr(request, spec.name)
        if value is None:
            continue
        allowed = getattr(caps, spec.capability or "")
        if not takes(allowed):
            problems.append(Problem(spec.name, value, spec.unsupported(model)))
        elif isinstance(allowed, tuple) and value not in allowed and ANY not in allowed:
            problems.append(Problem(spec.name, value, f"not a value {model} accepts", allowed))
        elif type(allowed) is int and value > allowed:
            problems.append(
                Problem(spec.name, value, f"{model} makes at most {allowed}", f"0..{allowed}")
            )
    # Rules between fields.
    if request.output_compression is not None and request.output_format == "png":
        problems.append(
            Problem(
                "output_compression",
                request.output_compression,
                "applies to jpeg and webp only, and output_format is png",
            )
        )
    if request.background == "transparent" and request.output_format == "jpeg":
        problems.append(
            Problem("background", "transparent", "jpeg has no transparency", ("png", "webp"))
        )


def _inputs(
    request: ImageRequest,
    operation: Operation,
    caps: Capabilities,
    provider: str,
    model: str,
    problems: list[Problem],
) -> None:
    images = request.reference_images
    if operation == "vary":
        _variation(request, caps, provider, model, problems)
        return
    if operation == "generate" and not caps.generate:
        hint = ": use edit()" if caps.edits else ""
        problems.append(Problem("model", model, f"{model} only edits{hint}"))
    if operation == "edit":
        if not caps.edits:
            problems.append(Problem("images", len(images), f"{provider} cannot edit with {model}"))
            return
        if not images:
            problems.append(Problem("images", 0, "edit() needs at least one image"))
        elif len(images) > caps.max_edit_images:
            problems.append(
                Problem("images", len(images), f"{model} edits at most {caps.max_edit_images}")
            )
        for index, item in enumerate(images):
            if item.is_remote and not caps.edit_image_urls:
                problems.append(
                    Problem(
                        f"images[{index}]",
                        item.describe(),
                        f"{model} edits uploaded files only: pass a path, bytes or a data URL",
                    )
                )
    elif images:
        if caps.max_reference_images == 0:
            hint = "; use edit() instead" if caps.edits else ""
            problems.append(
                Problem(
                    "reference_images", len(images), f"{provider} takes none with {model}{hint}"
                )
            )
        elif len(images) > caps.max_reference_images:
            problems.append(
                Problem(
                    "reference_images",
                    len(images),
                    f"{provider} takes at most {caps.max_reference_images}",
                )
            )
    if request.mask is not None:
        if not (caps.generate_mask if operation == "generate" else caps.mask):
            problems.append(
                Problem("mask", request.mask.describe(), f"{provider} takes no mask here")
            )
        elif request.mask.is_remote and operation == "edit" and not caps.edit_image_urls:
            problems.append(Problem("mask", request.mask.describe(), "masks are uploaded as files"))
    field_name = "images" if operation == "edit" else "reference_images"
    entries = [(f"{field_name}[{i}]", item) for i, item in enumerate(images)]
    if request.mask is not None:
        entries.append(("mask", request.mask))
    _byte_limit(entries, caps, problems)


def _byte_limit(
    entries: Sequence[tuple[str, ImageInput]], caps: Capabilities, problems: list[Problem]
) -> None:
    """Each input image within the model's ``max_input_image_bytes``."""
    limit = caps.max_input_image_bytes
    if limit is None:
        return
    for name, item in entries:
        size = item.size_bytes()
        if size is not None and size > limit:
            problems.append(
                Problem(name, item.describe(), f"is {size} bytes, over the {limit}-byte limit")
            )


#: The option fields a variation may carry (OpenAI's CreateImageVariationRequest).
_VARIATION_OPTIONS = frozenset({"user"})


def _variation(
    request: ImageRequest, caps: Capabilities, provider: str, model: str, problems: list[Problem]
) -> None:
    """A variation is of one uploaded image, with nothing else to go on."""
    images = request.reference_images
    if not caps.variations:
        problems.append(
            Problem("image", len(images), f"{provider} makes no variations with {model}")
        )
        return
    if len(images) != 1:
        problems.append(Problem("image", len(images), "vary() takes exactly one image"))
    elif images[0].is_remote:
        problems.append(
            Problem("image", images[0].describe(), "variations upload a file: pass a path or bytes")
        )
    if request.mask is not None:
        problems.append(Problem("mask", request.mask.describe(), "variations take no mask"))
    for spec in OPTION_FIELDS:
        value = getattr(request, spec.name)
        if value is not None and spec.name not in _VARIATION_OPTIONS:
            problems.append(Problem(spec.name, value, f"variations take no {spec.name}"))
    _byte_limit([("image", image) for image in images[:1]], caps, problems)


@functools.cache
def _default_options(options_model: type[BaseModel]) -> BaseModel:
    """The options when none are given (options models are frozen, so one instance serves)."""
    return options_model()


def _provider_options(
    request: ImageRequest,
    provider: str,
    options_model: type[BaseModel] | None,
    problems: list[Problem],
) -> BaseModel | None:
    given: dict[str, Any] = request.provider_options.get(provider, {})
    if options_model is None:
        if given:
            problems.append(
                Problem(
                    f"provider_options.{provider}", given, f"{provider} has no provider options"
                )
            )
        return None
    if not given:
        return _default_options(options_model)
    try:
        return options_model.model_validate(given)
    except ValidationError as exc:
        for problem in problems_from_validation(exc, options_model):
            problem.field = f"provider_options.{provider}.{problem.field}"
            problems.append(problem)
        return None
