"""The canonical image request.

:class:`ImageRequest` is what every provider receives, whatever its dialect. It checks
what is true of any provider (a prompt is not empty, ``n`` is at least 1, a size has one of
the three accepted forms, every string can be sent as UTF-8, local files are images); what
one provider or model accepts is checked against its declared capabilities before any
request is sent (see :mod:`imagebridge._preflight`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TypedDict, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ._errors import InvalidRequestError, Problem
from ._fields import Canonical, FieldSpec
from ._inputs import ImageInput, TextError, check_text
from ._sizes import Resolution, Size, parse_size

Quality = Literal["auto", "low", "medium", "high", "standard", "hd"]
OutputFormat = Literal["png", "jpeg", "webp"]
Background = Literal["auto", "transparent", "opaque"]
Moderation = Literal["auto", "low"]

#: The most images one canonical request may ask for (split into calls where needed).
MAX_N = 10


class _NestedTextError(TextError):
    """A string deep inside a field: ``path`` is appended to the field's name."""

    def __init__(self, error: TextError, path: str, value: str) -> None:
        super().__init__(str(error), error.position)
        self.path = path
        self.value = value


def _check_nested(value: Any, path: str = "") -> None:
    """Every string in ``value`` (keys too) can be sent as UTF-8, or :class:`_NestedTextError`."""
    if isinstance(value, str):
        try:
            check_text(value)
        except TextError as exc:
            raise _NestedTextError(exc, path, value) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                try:
                    check_text(key)
                except TextError as exc:
                    error = TextError(f"a key {exc}", exc.position)
                    raise _NestedTextError(error, path, key) from None
            _check_nested(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_nested(item, f"{path}[{index}]")


def _optional_image_input(value: Any) -> ImageInput | None:
    return None if value is None else ImageInput.of(value)


def _image_inputs(value: Any) -> list[ImageInput]:
    if value is None:
        return []
    if isinstance(value, str | bytes | bytearray | ImageInput) or not hasattr(value, "__iter__"):
        value = [value]
    out = []
    for index, item in enumerate(value):
        try:
            out.append(ImageInput.of(item))
        except ValueError as exc:
            raise ValueError(f"item {index}: {exc}") from None
    return out


class ImageRequest(BaseModel):
    """One canonical image request, for generation or editing.

    ``provider_options`` is the escape hatch for options only one provider has, namespaced
    by provider name (``{"geeknow": {"watermark": False}}``); each adapter validates its own
    namespace and ignores the others, so one request can be sent to several providers.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, validate_default=False
    )

    prompt: Annotated[str, Canonical("core", "What to draw (or how to edit); none for variations.")]
    model: Annotated[
        str | None,
        Canonical("core", "Model (default: the provider's).", flags=("--model", "-m")),
    ] = None
    n: Annotated[
        int,
        Canonical("core", "Number of images.", flags=("-n",), metavar="N"),
        Field(ge=1, le=MAX_N, strict=True),
    ] = 1
    size: Annotated[
        Size | None,
        Canonical("size", "W:H ratio, WxH pixels or 'auto'.", flags=("--size", "-s")),
    ] = None
    resolution: Annotated[
        Resolution | None,
        Canonical(
            "size", "Resolution tier (with a W:H --size).", flags=("--resolution",), choice=True
        ),
    ] = None
    quality: Annotated[
        Quality | None,
        Canonical(
            "option",
            "e.g. auto, low, medium, high, hd.",
            capability="qualities",
            flags=("--quality",),
            metavar="Q",
            probe="high",
        ),
    ] = None
    output_format: Annotated[
        OutputFormat | None,
        Canonical(
            "option",
            "Output image format.",
            capability="output_formats",
            flags=("--format",),
            choice=True,
            probe="png",
        ),
    ] = None
    output_compression: Annotated[
        int | None,
        Canonical(
            "option",
            "Output compression (jpeg, webp).",
            capability="output_compression",
            unsupported="does not support it",
            flags=("--compression",),
            metavar="0-100",
            probe=50,
        ),
        Field(ge=0, le=100, strict=True),
    ] = None
    background: Annotated[
        Background | None,
        Canonical(
            "option",
            "auto, transparent or opaque.",
            capability="backgrounds",
            flags=("--background",),
            metavar="B",
            probe="opaque",
        ),
    ] = None
    moderation: Annotated[
        Moderation | None,
        Canonical(
            "option",
            "auto or low.",
            capability="moderations",
            flags=("--moderation",),
            metavar="M",
            probe="low",
        ),
    ] = None
    style: Annotated[
        str | None,
        Canonical(
            "option",
            "e.g. vivid, natural (dall-e-3).",
            capability="styles",
            flags=("--style",),
            metavar="STYLE",
            samples=("vivid", "natural", "conformance-unknown-style"),
            probe="vivid",
        ),
        Field(min_length=1),
    ] = None
    reference_images: Annotated[
        list[ImageInput],
        Canonical("image", "Reference images (paths, URLs, data URLs, bytes)."),
        BeforeValidator(_image_inputs),
    ] = Field(default_factory=list)
    mask: Annotated[
        ImageInput | None,
        Canonical("image", "A mask: transparent where the image may change."),
        BeforeValidator(_optional_image_input),
    ] = None
    user: Annotated[
        str | None,
        Canonical(
            "option",
            "End-user id passed to the provider.",
            capability="user",
            unsupported="does not accept a user id",
            flags=("--user",),
            metavar="USER",
            probe="user-1",
        ),
    ] = None
    seed: Annotated[
        int | None,
        Canonical(
            "option",
            "Seed of the random generator: the same seed and request make the same image.",
            capability="seed",
            unsupported="does not take a seed",
            flags=("--seed",),
            metavar="N",
            probe=42,
        ),
        Field(ge=0, le=2**32 - 1, strict=True),
    ] = None
    negative_prompt: Annotated[
        str | None,
        Canonical(
            "option",
            "What the image should not show.",
            capability="negative_prompt",
            unsupported="does not take a negative prompt",
            flags=("--negative-prompt",),
            metavar="TEXT",
            probe="blurry",
        ),
    ] = None
    partial_images: Annotated[
        int | None,
        Canonical(
            "option",
            "Partial images streamed before each final one (stream() only).",
            capability="max_partial_images",
            unsupported="does not stream partial images",
            flags=("--partials",),
            metavar="N",
            probe=1,
            stream_only=True,
        ),
        Field(ge=0, strict=True),
    ] = None
    provider_options: Annotated[
        dict[str, dict[str, Any]],
        Canonical("namespaced", "Options only one provider has, by provider name."),
    ] = Field(default_factory=dict)

    def option_values(self) -> dict[str, Any]:
        """The plain option fields that were set (see :data:`OPTION_FIELDS`), by name: what
        an adapter sends under their own names. Pre-flight let through only those the model
        takes."""
        values = {}
        for spec in OPTION_FIELDS:
            value = getattr(self, spec.name)
            if value is not None:
                values[spec.name] = value
        return values

    @field_validator("*", mode="before")
    @classmethod
    def _valid_unicode(cls, value: Any, info: ValidationInfo) -> Any:
        # Before pydantic's own checks, which reject some such strings without saying where.
        # Input images check their own strings (ImageInput.of), with their own words.
        if info.field_name not in _IMAGE_FIELDS:
            _check_nested(value)
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str, info: ValidationInfo) -> str:
        # A variation is of an image alone: its request has no prompt (build_request).
        if isinstance(info.context, Mapping) and info.context.get("operation") == "vary":
            if value:
                raise ValueError("variations take no prompt: leave it out")
            return value
        if not value:
            raise ValueError("String should have at least 1 character")
        if not value.strip():
            raise ValueError("the prompt is blank")
        return value

    @field_validator("model")
    @classmethod
    def _model_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the model name is blank; leave it out for the provider's default")
        return value

    @field_validator("size", mode="before")
    @classmethod
    def _parse_size(cls, value: Any) -> Any:
        if value is None or isinstance(value, Size):
            return value
        _check_nested(value)  # this validator runs before _valid_unicode
        return parse_size(value)

    @field_validator("resolution")
    @classmethod
    def _resolution_needs_ratio(cls, value: str | None, info: ValidationInfo) -> str | None:
        size = info.data.get("size")
        if value is not None and isinstance(size, Size) and size.kind == "pixels":
            raise ValueError(
                f"cannot be combined with the pixel size {str(size)!r}: give the size as a"
                " ratio such as '16:9' with a resolution, or pixels alone"
            )
        return value


#: What an input image may be given as: a path, bytes, a URL, a data URL or base64 text.
ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, ImageInput]


class ImageOptions(TypedDict, total=False):
    """The canonical fields as typed keyword arguments of ``generate``/``edit``/``submit``
    (``edit`` takes the images as its own arguments). Kept in step with
    :class:`ImageRequest` by a test."""

    model: str | None
    n: int
    size: str | Size | None
    resolution: Resolution | None
    quality: Quality | None
    output_format: OutputFormat | None
    output_compression: int | None
    background: Background | None
    moderation: Moderation | None
    style: str | None
    user: str | None
    seed: int | None
    negative_prompt: str | None
    partial_images: int | None
    provider_options: Mapping[str, Mapping[str, Any]]


class VaryFields(TypedDict, total=False):
    """The canonical fields a variation takes (``vary``): no prompt, no options of the
    image itself."""

    model: str | None
    n: int
    size: str | Size | None
    user: str | None
    provider_options: Mapping[str, Mapping[str, Any]]


class GenerateFields(ImageOptions, total=False):
    """:class:`ImageOptions` plus the input images ``generate`` and ``submit`` take."""

    reference_images: Sequence[ImageSource] | ImageSource
    mask: ImageSource | None


def _table() -> tuple[FieldSpec, ...]:
    rows = []
    for name, info in ImageRequest.model_fields.items():
        canonical = next(m for m in info.metadata if isinstance(m, Canonical))
        rows.append(FieldSpec(name, canonical, info.annotation))
    return tuple(rows)


#: The canonical fields, in declaration order: the table everything else reads.
FIELDS: tuple[FieldSpec, ...] = _table()
#: The plain option fields: checked against one capability each, sent under their own name.
OPTION_FIELDS: tuple[FieldSpec, ...] = tuple(f for f in FIELDS if f.kind == "option")
_IMAGE_FIELDS = frozenset(f.name for f in FIELDS if f.kind == "image")


def problems_from_validation(
    error: ValidationError, model: type[BaseModel] | None = None
) -> list[Problem]:
    """One :class:`Problem` per pydantic error of ``model`` (default :class:`ImageRequest`):
    the field, the value given and what is wrong."""
    fields = (model or ImageRequest).model_fields
    problems = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "request"
        reason = str(item["msg"]).removeprefix("Value error, ")
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, _NestedTextError):
            problems.append(Problem(field + cause.path, cause.value, reason))
            continue
        if item["type"] == "extra_forbidden":
            reason = "not a canonical field" if model is None else "not an option"
            allowed: tuple[str, ...] | None = tuple(sorted(fields))
            problems.append(Problem(field, item["input"], reason, allowed))
            continue
        problems.append(Problem(field, item.get("input"), reason))
    return problems


def build_request(
    prompt: str, fields: Mapping[str, Any], provider: str | None = None, operation: str = "generate"
) -> ImageRequest:
    """An :class:`ImageRequest` from keyword fields, or :class:`InvalidRequestError`."""
    try:
        return ImageRequest.model_validate(
            {**fields, "prompt": prompt}, context={"operation": operation}
        )
    except ValidationError as exc:
        raise InvalidRequestError(problems_from_validation(exc), provider=provider) from None
