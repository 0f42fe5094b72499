"""Input images of OpenAI edits and variations: uploaded files and JSON image references.

Uploaded files (multipart): dall-e-2 edits and variations take one square PNG under 4 MB; the
GPT image models take PNG, WebP or JPEG files under 50 MB each; a mask is a PNG under 4 MB
with the first image's dimensions (``CreateImageEditRequest``, ``CreateImageVariationRequest``
in the official OpenAPI document). The format is read from the file's first bytes and the
dimensions from its header (Pillow reads no more).

JSON edits (``EditImageBodyJsonParam``): ``images`` is a list of 1 to 16 ``ImageRefParam``
objects and ``mask`` one: exactly one of ``image_url`` (an http(s) URL or a base64 data URL,
at most 20,971,520 characters) or ``file_id``. The emulator never fetches a URL and has no
Files API: a URL or file id is accepted as given, a data URL must decode to a PNG, WebP or
JPEG image.

Error codes (the emulator's choice; the spec names none): ``invalid_image_format``,
``image_too_large``, ``invalid_image`` (unreadable or not square), ``invalid_value``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError
from starlette.datastructures import UploadFile

from ._openai_checks import bad
from ._openai_models import DALLE2_MAX_BYTES, GPT_MAX_BYTES, MASK_MAX_BYTES, ModelRules

MAX_REFERENCES = 16
MAX_IMAGE_URL = 20_971_520
NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}


@dataclass(frozen=True)
class Picture:
    """What an input image is: format (None if unknown), byte size and pixel size."""

    fmt: str | None
    size: int
    width: int
    height: int

    @property
    def kind(self) -> str:
        return NAMES.get(self.fmt or "", "not a PNG, JPEG or WebP image")


def sniff(head: bytes) -> str | None:
    """``png``, ``jpeg`` or ``webp`` from an image's first bytes, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def inspect(upload: UploadFile, param: str) -> Picture:
    """The format, byte size and dimensions of an uploaded file (left at position 0)."""
    file = upload.file
    file.seek(0, 2)
    size = file.tell()
    file.seek(0)
    fmt = sniff(file.read(16))
    file.seek(0)
    if fmt is None:
        return Picture(None, size, 0, 0)
    try:
        with Image.open(file) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise bad(
            "invalid_image",
            f"Invalid '{param}': '{upload.filename}' is not a readable {NAMES[fmt]} file.",
            param,
        ) from None
    finally:
        file.seek(0)
    return Picture(fmt, size, width, height)


def check_square_png(upload: UploadFile, who: str) -> Picture:
    """dall-e-2's input image: "a valid PNG file, less than 4MB, and square"."""
    picture = inspect(upload, "image")
    rule = f"{who} takes one square PNG file under 4 MB"
    if picture.fmt != "png":
        raise bad("invalid_image_format", f"Invalid 'image': {rule}; got {picture.kind}.", "image")
    if picture.size >= DALLE2_MAX_BYTES:
        raise bad("image_too_large", f"Invalid 'image': {rule}; got {picture.size} bytes.", "image")
    if picture.width != picture.height:
        raise bad(
            "invalid_image",
            f"Invalid 'image': {rule}; got {picture.width}x{picture.height}.",
            "image",
        )
    return picture


def check_edit_uploads(
    images: list[UploadFile], mask: UploadFile | None, rules: ModelRules
) -> None:
    """The uploaded images and mask of a multipart edit, by the model's rules."""
    pictures: list[Picture] = []
    for index, upload in enumerate(images):
        if not rules.gpt_image:
            pictures.append(check_square_png(upload, f"{rules.name} edits"))
            continue
        picture = inspect(upload, "image")
        rule = f"{rules.name} takes PNG, WebP or JPEG files under 50 MB"
        if picture.fmt is None:
            raise bad(
                "invalid_image_format",
                f"Invalid 'image' {index}: {rule}; '{upload.filename}' is {picture.kind}.",
                "image",
            )
        if picture.size >= GPT_MAX_BYTES:
            raise bad(
                "image_too_large",
                f"Invalid 'image' {index}: {rule}; got {picture.size} bytes.",
                "image",
            )
        pictures.append(picture)
    if mask is None or not pictures:
        return
    picture = inspect(mask, "mask")
    rule = "the mask must be a PNG file under 4 MB with the dimensions of the (first) image"
    first = pictures[0]
    if picture.fmt != "png":
        raise bad("invalid_image_format", f"Invalid 'mask': {rule}; got {picture.kind}.", "mask")
    if picture.size >= MASK_MAX_BYTES:
        raise bad("image_too_large", f"Invalid 'mask': {rule}; got {picture.size} bytes.", "mask")
    if (picture.width, picture.height) != (first.width, first.height):
        raise bad(
            "invalid_value",
            f"Invalid 'mask': {rule}; the mask is {picture.width}x{picture.height}, the image "
            f"{first.width}x{first.height}.",
            "mask",
        )


def check_references(body: dict[str, Any]) -> int:
    """Check a JSON edit's ``images`` and ``mask``; returns the number of images."""
    images = body.get("images")
    if images is None:
        raise bad("missing_required_parameter", "Missing required parameter: 'images'.", "images")
    if not isinstance(images, list):
        raise bad(
            "invalid_type",
            "Invalid type for 'images': expected an array of image references "
            '({"image_url": ...} or {"file_id": ...}).',
            "images",
        )
    if not 1 <= len(images) <= MAX_REFERENCES:
        raise bad(
            "invalid_value",
            f"Invalid 'images': expected 1 to {MAX_REFERENCES} image references, got "
            f"{len(images)}.",
            "images",
        )
    for index, item in enumerate(images):
        check_reference(item, f"images[{index}]")
    if body.get("mask") is not None:
        check_reference(body["mask"], "mask")
    return len(images)


def check_reference(item: Any, param: str) -> None:
    """One ``ImageRefParam``: exactly one of ``image_url`` or ``file_id``, nothing else."""
    if not isinstance(item, dict):
        raise bad(
            "invalid_type",
            f"Invalid type for '{param}': expected an object with 'image_url' or 'file_id'.",
            param,
        )
    for key in item:
        if key not in ("image_url", "file_id"):
            raise bad(
                "unknown_parameter",
                f"Unknown parameter: '{param}.{key}'. An image reference takes 'image_url' "
                "or 'file_id'.",
                f"{param}.{key}",
            )
    given = [key for key in ("image_url", "file_id") if item.get(key) is not None]
    if len(given) != 1:
        raise bad(
            "invalid_value",
            f"Invalid '{param}': provide exactly one of 'image_url' or 'file_id'.",
            param,
        )
    key = given[0]
    value = item[key]
    if not isinstance(value, str) or not value.strip():
        raise bad(
            "invalid_type", f"Invalid type for '{param}.{key}': expected a non-empty string.", param
        )
    if key == "image_url":
        _check_image_url(value, f"{param}.image_url")


def _check_image_url(url: str, param: str) -> None:
    if len(url) > MAX_IMAGE_URL:
        raise bad(
            "string_above_max_length",
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{MAX_IMAGE_URL}, but got a string with length {len(url)} instead.",
            param,
        )
    lowered = url[:16].lower()
    if lowered.startswith(("http://", "https://")):
        return  # never fetched: the emulator makes no outbound request
    if not lowered.startswith("data:"):
        raise bad(
            "invalid_value",
            f"Invalid '{param}': expected a fully qualified http(s) URL or a base64 data URL.",
            param,
        )
    header, sep, payload = url.partition(",")
    media_type = header[5:].split(";")[0].lower()
    rule = "expected a base64 data URL of a PNG, JPEG or WebP image"
    if not sep or ";base64" not in header.lower():
        raise bad("invalid_value", f"Invalid '{param}': {rule}.", param)
    try:
        head = base64.b64decode("".join(payload.split()), validate=True)[:16]
    except (binascii.Error, ValueError):
        raise bad(
            "invalid_value", f"Invalid '{param}': {rule}; the payload is not base64.", param
        ) from None
    fmt = sniff(head)
    if fmt is None or media_type not in (f"image/{fmt}", "image/jpg" if fmt == "jpeg" else ""):
        raise bad(
            "invalid_image_format",
            f"Invalid '{param}': {rule}; got {media_type or 'no media type'} holding "
            f"{NAMES.get(fmt or '', 'no known image')}.",
            param,
        )
