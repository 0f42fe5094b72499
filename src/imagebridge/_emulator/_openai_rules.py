"""Validation of OpenAI Images requests against the spec's rules, and geeknow's variations.

:func:`build_job` turns the fields of a generation (JSON), an edit (multipart or JSON) or a
variation (multipart) into a :class:`Job`, or raises an :class:`ApiError` with the code the
real API uses (``invalid_size``, ``invalid_value``, ``unsupported_parameter``,
``unknown_parameter``, ``missing_required_parameter``, ...) and the rule in the message. The
per-model rules are the table of :mod:`._openai_models`; :func:`check_known` refuses a field
the operation's request schema does not have (``moderation`` on a multipart edit, ``style``
on an edit, ``response_format`` on a JSON edit).

A ``null`` JSON value is the field's default. Defaults follow the spec: a generation's model
is ``dall-e-2`` unless a GPT-image-only parameter is used, an edit's ``gpt-image-1.5``, a
variation's ``dall-e-2``. The answer carries resolved values only (what the spec's
``ImagesResponse`` enums allow): see :func:`resolved_quality` and :func:`_check_gpt_fields`.

geeknow (a new-api gateway, ``flavor.gateway``): unknown fields pass through; ``model`` is
required on JSON requests (generations and JSON edits; a multipart edit gets the upstream's
default) and the dall-e sizes of JSON requests are checked by the gateway itself (``type:
new_api_error``, code ``invalid_request``, new-api's own messages); an unknown model is
new-api's 503 ``model_not_found``. ``n`` missing or 0 is 1; ``response_format`` is ``url``
(default), ``b64_json`` or ``base64`` for every model; ``style``, ``background``,
``watermark`` and the other gpt-image-only fields pass through unchecked. gpt-image-2 also
takes geeknow's presets (``1:1``, ``4:3``, ``3:2``, ``2:3``, ``16:9`` -> 1920x1080, ``9:16``,
and those pixel sizes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ApiError
from ._images import FORMATS
from ._openai_checks import as_int, as_str, bad, check_size, choice, gateway_error
from ._openai_models import (
    DEFAULT_GPT_MODEL,
    DEFAULT_MODEL,
    EDIT,
    EDIT_JSON,
    GENERATE,
    GPT_ONLY_FIELDS,
    MODELS,
    VARY,
    ModelRules,
    supported,
)
from ._scenario import Scenario, parse_scenario

_COMMON = ("model", "n", "size", "user")
_GPT_OUT = ("background", "output_format", "output_compression", "stream", "partial_images")
#: The fields of each request schema: ``CreateImageRequest``, ``CreateImageEditRequest``
#: (multipart, file parts included), ``EditImageBodyJsonParam``, ``CreateImageVariationRequest``.
FIELDS: dict[str, frozenset[str]] = {
    GENERATE: frozenset(
        (*_COMMON, *_GPT_OUT, "prompt", "quality", "response_format", "moderation", "style")
    ),
    EDIT: frozenset(
        (*_COMMON, *_GPT_OUT, "prompt", "quality", "response_format", "input_fidelity", "mask")
    )
    | {"image", "image[]"},
    EDIT_JSON: frozenset(
        (*_COMMON, *_GPT_OUT, "prompt", "quality", "moderation", "input_fidelity", "mask")
    )
    | {"images"},
    VARY: frozenset((*_COMMON, "image", "response_format")),
}
_NAMES = {
    GENERATE: "Image generations",
    EDIT: "Multipart image edits",
    EDIT_JSON: "JSON image edits",
    VARY: "Image variations",
}


@dataclass(frozen=True)
class Flavor:
    """Which OpenAI-shaped dialect is answering: plain OpenAI or the geeknow gateway."""

    name: str
    gateway: bool


@dataclass(frozen=True)
class Job:
    """A validated OpenAI Images request, with every ``auto`` resolved."""

    model: str
    rules: ModelRules
    operation: str
    prompt: str
    n: int
    width: int
    height: int
    fmt: str
    response_format: str
    #: ``low``/``medium``/``high`` for the GPT image models, ``standard``/``hd`` for dall-e.
    quality: str
    #: ``transparent`` or ``opaque``.
    background: str
    scenario: Scenario
    image_count: int = 0
    #: ``stream: true``: the answer is server-sent events (:mod:`._openai_stream`).
    stream: bool = False
    #: How many partial images each streamed image gets first (0-3).
    partial_images: int = 0

    @property
    def gpt_image(self) -> bool:
        return self.rules.gpt_image

    @property
    def family(self) -> str:
        return self.rules.kind


def check_known(names: Iterable[str], operation: str) -> None:
    """Refuse a field the operation's request schema does not have (the OpenAI API's own
    ``unknown_parameter``)."""
    allowed = FIELDS[operation]
    for name in names:
        if name not in allowed:
            raise bad(
                "unknown_parameter",
                f"Unknown parameter: '{name}'. {_NAMES[operation]} take: "
                f"{', '.join(sorted(allowed))}.",
                name,
            )


def build_job(
    fields: Mapping[str, Any], flavor: Flavor, operation: str = GENERATE, image_count: int = 0
) -> Job:
    """Validate a request's fields (JSON values or multipart strings) into a :class:`Job`."""
    raw_prompt = fields.get("prompt") if operation != VARY else None
    scenario = parse_scenario(raw_prompt) if isinstance(raw_prompt, str) else Scenario()
    scenario.raise_submit_error()
    rules = _model(fields, flavor, operation)
    prompt = _check_prompt(raw_prompt, rules, operation)
    if operation in (EDIT, EDIT_JSON) and image_count > rules.max_edit_images:
        raise bad(
            "invalid_value",
            f"{rules.name} accepts at most {rules.max_edit_images} image(s) to edit; got "
            f"{image_count}.",
            "images" if operation == EDIT_JSON else "image",
        )
    n = _check_n(fields.get("n"), rules, flavor)
    width, height = check_size(as_str(fields, "size"), rules, flavor.gateway, operation)
    quality = as_str(fields, "quality")
    choice(quality, rules.qualities, "quality", rules.name)
    response_format = _check_response_format(as_str(fields, "response_format"), rules, flavor)
    fmt, background = _check_gpt_fields(fields, rules, flavor, operation)
    stream, partial_images = _check_streaming(fields, flavor)
    return Job(
        model=rules.name,
        rules=rules,
        operation=operation,
        prompt=prompt,
        n=n,
        width=width,
        height=height,
        fmt=fmt,
        response_format=response_format,
        quality=resolved_quality(quality, rules),
        background=background,
        scenario=scenario,
        image_count=image_count,
        stream=stream,
        partial_images=partial_images,
    )


def resolved_quality(quality: str | None, rules: ModelRules) -> str:
    """The quality a server reports for a request's ``quality``.

    ``ImagesResponse.quality`` is ``low``, ``medium`` or ``high``: never ``auto``. The spec
    says ``auto`` "will automatically select the best quality for the given model", so the
    emulator resolves it to ``high`` for the GPT image models, and to ``standard`` for dall-e
    (whose answers carry no quality; ``standard`` is dall-e-2's only one).
    """
    if quality not in (None, "auto"):
        return quality
    return "high" if rules.gpt_image else "standard"


def _model(fields: Mapping[str, Any], flavor: Flavor, operation: str) -> ModelRules:
    model = fields.get("model")
    if model is None or model == "":
        if flavor.gateway and operation in (GENERATE, EDIT_JSON):
            raise gateway_error("model is required")
        model = DEFAULT_MODEL[operation]
        if operation == GENERATE and any(fields.get(f) is not None for f in GPT_ONLY_FIELDS):
            model = DEFAULT_GPT_MODEL
    if not isinstance(model, str):
        raise bad(
            "invalid_type", f"Invalid type for 'model': expected a string, got {model!r}.", "model"
        )
    rules = MODELS.get(model)
    if rules is None:
        if flavor.gateway:
            raise ApiError(
                503,
                "model_not_found",
                f"No available channel for model {model} under group default",
                type_="new_api_error",
            )
        raise bad(
            "invalid_value",
            f"Invalid value for 'model': '{model}'. Supported values are: "
            f"{supported(list(MODELS))}.",
            "model",
        )
    if operation == EDIT and rules.max_edit_images == 0:
        raise bad("invalid_value", f"Image edits are not supported by {model}.", "model")
    if operation == EDIT_JSON and not rules.gpt_image:
        raise bad(
            "invalid_value",
            f"JSON image edits support the GPT image models only, not {model}; "
            "dall-e-2 edits take multipart/form-data.",
            "model",
        )
    if operation == VARY and not rules.variations:
        raise bad(
            "invalid_value",
            f"Invalid value for 'model': '{model}'. Image variations support only 'dall-e-2'.",
            "model",
        )
    return rules


def _check_prompt(prompt: Any, rules: ModelRules, operation: str) -> str:
    if operation == VARY:
        return ""
    if prompt is None or prompt == "":
        raise bad("missing_required_parameter", "Missing required parameter: 'prompt'.", "prompt")
    if not isinstance(prompt, str):
        raise bad("invalid_type", "Invalid type for 'prompt': expected a string.", "prompt")
    if len(prompt) > rules.prompt_limit:
        raise bad(
            "string_above_max_length",
            f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{rules.prompt_limit} for {rules.name}, but got a string with length "
            f"{len(prompt)} instead.",
            "prompt",
        )
    return prompt


def _check_n(value: Any, rules: ModelRules, flavor: Flavor) -> int:
    n = 1 if value is None or value == "" else as_int(value, "n")
    if flavor.gateway and n == 0:
        n = 1
    if n < 1:
        raise bad("integer_below_min_value", f"Invalid 'n': {n} is below the minimum of 1.", "n")
    if n > 10:
        raise bad("integer_above_max_value", f"Invalid 'n': {n} is above the maximum of 10.", "n")
    if n > rules.max_n:
        raise bad("invalid_value", f"Invalid 'n': {n}. You must provide n=1 for {rules.name}.", "n")
    return n


def _check_response_format(value: str | None, rules: ModelRules, flavor: Flavor) -> str:
    if flavor.gateway:
        choice(value, ("url", "b64_json", "base64"), "response_format")
        return "url" if value in (None, "url") else "b64_json"
    if rules.gpt_image:
        if value is not None:
            raise bad(
                "unsupported_parameter",
                f"Unsupported parameter: 'response_format' is not supported for {rules.name}: "
                "the GPT image models always return b64_json.",
                "response_format",
            )
        return "b64_json"
    choice(value, ("url", "b64_json"), "response_format")
    return value or "url"


def _check_gpt_fields(
    fields: Mapping[str, Any], rules: ModelRules, flavor: Flavor, operation: str
) -> tuple[str, str]:
    """Check style / output_format / output_compression / background / moderation /
    input_fidelity; return the output format and the resolved background.

    ``ImagesResponse.background`` is ``transparent`` or ``opaque``: never ``auto``. The
    emulator's images are opaque fills unless transparency was asked for, so ``auto``
    resolves to ``opaque``, which is what the image is.
    """
    output_format = as_str(fields, "output_format")
    if flavor.gateway:
        if not rules.gpt_image:
            return "png", "opaque"
        choice(output_format, FORMATS, "output_format")
        transparent = fields.get("background") == "transparent"
        return output_format or "png", "transparent" if transparent else "opaque"
    style = as_str(fields, "style")
    if style is not None:
        if rules.kind != "dall-e-3":
            raise bad(
                "unsupported_parameter",
                f"Unsupported parameter: 'style' is supported only for dall-e-3, not {rules.name}.",
                "style",
            )
        choice(style, ("vivid", "natural"), "style")
    if not rules.gpt_image:
        for param in GPT_ONLY_FIELDS:
            value = fields.get(param)
            no_stream = param == "stream" and (value is False or value == "false")
            if value is not None and not no_stream:
                raise bad(
                    "unsupported_parameter",
                    f"Unsupported parameter: '{param}' is only supported for the GPT image "
                    f"models, not {rules.name}.",
                    param,
                )
        return "png", "opaque"
    choice(output_format, FORMATS, "output_format")
    fmt = output_format or "png"
    background = as_str(fields, "background")
    choice(background, ("transparent", "opaque", "auto"), "background")
    if background == "transparent" and fmt == "jpeg":
        raise bad(
            "invalid_value",
            "Invalid value for 'background': 'transparent' needs output_format 'png' or "
            "'webp', not 'jpeg'.",
            "background",
        )
    choice(as_str(fields, "moderation"), ("low", "auto"), "moderation")
    compression = fields.get("output_compression")
    if compression is not None:
        level = as_int(compression, "output_compression")
        if not 0 <= level <= 100:
            raise bad(
                "invalid_value",
                f"Invalid 'output_compression': {level}. It must be between 0 and 100.",
                "output_compression",
            )
        if fmt == "png" and level < 100:
            raise bad(
                "invalid_value",
                f"Invalid 'output_compression': {level}. Compression is supported only for "
                "the jpeg and webp output formats (png takes 100).",
                "output_compression",
            )
    fidelity = as_str(fields, "input_fidelity")
    if fidelity is not None:
        if not rules.input_fidelity:
            raise bad(
                "unsupported_parameter",
                f"Unsupported parameter: 'input_fidelity' is not supported for {rules.name} "
                f"(it is for {supported([m.name for m in MODELS.values() if m.input_fidelity])}).",
                "input_fidelity",
            )
        choice(fidelity, ("high", "low"), "input_fidelity")
    return fmt, "transparent" if background == "transparent" else "opaque"


def _check_streaming(fields: Mapping[str, Any], flavor: Flavor) -> tuple[bool, int]:
    """``stream`` and ``partial_images`` (0-3, ``PartialImages``): whether to stream, and how
    many partial images per image. Only the GPT image models get here with either set (see
    :func:`_check_gpt_fields`); every one of them streams, as ``CreateImageRequest.stream``
    says "This parameter is only supported for the GPT image models". The spec puts no limit
    on ``n`` with a stream: each image's events are sent in turn.
    """
    partial = fields.get("partial_images")
    level = 0
    if partial is not None and not flavor.gateway:
        level = as_int(partial, "partial_images")
        if not 0 <= level <= 3:
            raise bad(
                "invalid_value",
                f"Invalid 'partial_images': {level}. It must be between 0 and 3.",
                "partial_images",
            )
    stream = fields.get("stream")
    if stream is None or stream is False or stream == "false":
        return False, level
    if stream is True or stream == "true":
        if flavor.gateway:
            raise bad(
                "unsupported_value",
                "'stream': true is not served by the imagebridge emulator's geeknow dialect "
                "(geeknow's documentation describes no streaming); leave 'stream' out or false.",
                "stream",
            )
        return True, level
    raise bad(
        "invalid_type", f"Invalid type for 'stream': expected a boolean, got {stream!r}.", "stream"
    )
