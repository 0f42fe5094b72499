"""The canonical image request.

:class:`ImageRequest` is what every provider receives, whatever its dialect. It checks
what is true of any provider (a prompt is not empty, ``n`` is at least 1, a size has one of
the three accepted forms, every string can be sent as UTF-8, local files are images); what
one provider or model accepts is checked against its declared capabilities before any
request is sent (see :mod:`imagebridge._preflight`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

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


#: Every field that holds text: each string in it must be valid Unicode.
_TEXT_FIELDS = (
    "prompt",
    "model",
    "size",
    "resolution",
    "quality",
    "output_format",
    "background",
    "moderation",
    "style",
    "user",
    "provider_options",
)


class ImageRequest(BaseModel):
    """One canonical image request, for generation or editing.

    ``provider_options`` is the escape hatch for options only one provider has, namespaced
    by provider name (``{"geeknow": {"watermark": False}}``); each adapter validates its own
    namespace and ignores the others, so one request can be sent to several providers.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, validate_default=False
    )

    prompt: str = Field(min_length=1)
    model: str | None = None
    n: int = Field(default=1, ge=1, le=MAX_N, strict=True)
    size: Size | None = None
    resolution: Resolution | None = None
    quality: Quality | None = None
    output_format: OutputFormat | None = None
    output_compression: int | None = Field(default=None, ge=0, le=100, strict=True)
    background: Background | None = None
    moderation: Moderation | None = None
    style: str | None = Field(default=None, min_length=1)
    reference_images: Annotated[list[ImageInput], BeforeValidator(_image_inputs)] = Field(
        default_factory=list
    )
    mask: Annotated[ImageInput | None, BeforeValidator(_optional_image_input)] = None
    user: str | None = None
    provider_options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator(*_TEXT_FIELDS, mode="before")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        # Before pydantic's own checks, which reject some such strings without saying where.
        _check_nested(value)
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
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

    def wire_fields(self) -> dict[str, Any]:
        """The canonical fields that were set, as plain values (for logs and ``--json``)."""
        data = self.model_dump(exclude_defaults=True, exclude={"reference_images", "mask"})
        if self.size is not None:
            data["size"] = str(self.size)
        if self.reference_images:
            data["reference_images"] = [i.describe() for i in self.reference_images]
        if self.mask is not None:
            data["mask"] = self.mask.describe()
        return data


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


def build_request(prompt: str, fields: dict[str, Any], provider: str | None = None) -> ImageRequest:
    """An :class:`ImageRequest` from keyword fields, or :class:`InvalidRequestError`."""
    try:
        return ImageRequest(prompt=prompt, **fields)
    except ValidationError as exc:
        raise InvalidRequestError(problems_from_validation(exc), provider=provider) from None
