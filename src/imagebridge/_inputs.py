"""Input images (references and masks): a local path, bytes, an http(s) URL, a data URL or base64.

Local files are read only when given explicitly as a :class:`pathlib.Path` (or through
:meth:`ImageInput.from_path`); a string is never opened as a file, so text coming from a
prompt template or a web form cannot make the library read a local file. A local file must
also be an image: one whose first bytes are no PNG, JPEG, WebP or GIF header (a key file,
``/etc/passwd``) is refused before anything is sent.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._imageinfo import HEADER_BYTES, image_size, sniff_media_type

InputKind = Literal["path", "bytes", "url", "data_url", "base64"]

_BASE64 = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}\s*$")
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w-]+=[^;,]*)*)(;base64)?,", re.I)


@dataclass(frozen=True, slots=True)
class ImageInput:
    """One input image. Build it with :meth:`of`; it is cheap and reads nothing until sent,
    but the first bytes of a local file (to check that it is an image)."""

    kind: InputKind
    value: str | bytes | Path

    def __post_init__(self) -> None:
        if self.kind == "path":
            if not isinstance(self.value, Path):
                kind = type(self.value).__name__
                raise ValueError(f"a path input holds a pathlib.Path, not {kind}")
            _check_image_file(self.value)
        elif isinstance(self.value, str):
            check_text(self.value)

    @classmethod
    def of(cls, value: Any) -> ImageInput:
        """Classify a user value; raise ValueError saying what is accepted."""
        if isinstance(value, ImageInput):
            return value
        if isinstance(value, os.PathLike):
            return cls.from_path(Path(value))
        if isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
            if not data:
                raise ValueError("image bytes are empty")
            return cls("bytes", data)
        if not isinstance(value, str):
            raise ValueError(
                f"expected a pathlib.Path, bytes, an http(s) URL, a data URL or base64, got"
                f" {type(value).__name__}"
            )
        check_text(value)
        text = value.strip()
        lower = text[:8].lower()
        if lower.startswith("blob:"):
            raise ValueError(
                "browser blob: URLs cannot be sent; upload the image or pass it as a data URL"
            )
        if lower.startswith(("http://", "https://")):
            return cls("url", text)
        if lower.startswith("data:"):
            if not _DATA_URL.match(text) or ";base64," not in text[:200].lower():
                raise ValueError("data URL must be of the form data:<media type>;base64,<data>")
            return cls("data_url", text)
        if len(text) >= 16 and _BASE64.match(text) and _decodes_to_image(text):
            return cls("base64", text)
        raise ValueError(
            f"the string {_preview(text)} is not an http(s) URL, a data URL or base64;"
            " to send a local file pass a pathlib.Path"
        )

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> ImageInput:
        """A local file, checked now to exist and to be an image, read when it is sent."""
        return cls("path", Path(path).expanduser())

    @property
    def is_remote(self) -> bool:
        return self.kind == "url"

    def describe(self) -> str:
        """A short, secret-free label for messages: the path, the URL or the byte count."""
        if self.kind == "path":
            return str(self.value)
        if self.kind == "url":
            return _preview(str(self.value))
        return f"<{self.kind}, {self.size_bytes()} bytes>"

    def size_bytes(self) -> int | None:
        """The size of the image in bytes, without reading it; None for a remote URL."""
        if self.kind == "path":
            assert isinstance(self.value, Path)
            return self.value.stat().st_size
        if isinstance(self.value, bytes):
            return len(self.value)
        if self.kind in ("data_url", "base64"):
            text = str(self.value)
            payload = text.partition(",")[2] if self.kind == "data_url" else text
            stripped = len(payload.strip())
            return stripped * 3 // 4 - payload.rstrip().count("=", -2)
        return None

    def read(self) -> bytes:
        """The image bytes (decoded for data URLs and base64). A remote URL is not fetched."""
        if self.kind == "path":
            assert isinstance(self.value, Path)
            return self.value.read_bytes()
        if self.kind == "bytes":
            assert isinstance(self.value, bytes)
            return self.value
        if self.kind == "data_url":
            return base64.b64decode(str(self.value).partition(",")[2])
        if self.kind == "base64":
            return base64.b64decode(str(self.value))
        raise ValueError(f"{self.describe()} is a remote URL; it is sent as a URL, not read")

    def head(self, size: int = 64) -> bytes:
        """The first ``size`` bytes of the image, reading no more of a file than that."""
        if self.kind == "path":
            assert isinstance(self.value, Path)
            with self.value.open("rb") as handle:
                return handle.read(size)
        if isinstance(self.value, bytes):
            return self.value[:size]
        if self.kind in ("data_url", "base64"):
            text = str(self.value)
            payload = text.partition(",")[2] if self.kind == "data_url" else text.strip()
            return base64.b64decode(payload[: -(-size // 3) * 4])[:size]
        raise ValueError(f"{self.describe()} is a remote URL; it is sent as a URL, not read")

    def chunks(self, size: int = 3 * 64 * 1024) -> Iterator[bytes]:
        """The bytes of a file or bytes input in pieces of ``size`` (the last may be
        shorter), so that large files are encoded and sent without being held whole."""
        if self.kind == "path":
            assert isinstance(self.value, Path)
            with self.value.open("rb") as handle:
                while chunk := handle.read(size):
                    yield chunk
            return
        data = self.read()
        for start in range(0, len(data), size):
            yield data[start : start + size]

    def media_type(self) -> str:
        """The media type, sniffed from the bytes (a data URL's declared type is not trusted)."""
        return sniff_media_type(self.head()) or "application/octet-stream"

    def pixel_size(self) -> tuple[int, int] | None:
        """The pixel size from the image's header, or None (a remote URL, an unreadable
        header)."""
        return None if self.is_remote else image_size(self.head(HEADER_BYTES))

    def filename(self, index: int = 0) -> str:
        if self.kind == "path":
            assert isinstance(self.value, Path)
            # A name that is not UTF-8 on disk (decoded with surrogateescape) is still sent.
            return os.fsencode(self.value.name).decode("utf-8", "replace")
        extension = self.media_type().rpartition("/")[2].replace("jpeg", "jpg")
        return f"image-{index}.{extension if extension != 'octet-stream' else 'bin'}"

    def as_url(self) -> str:
        """An http(s) URL as given; anything else as a ``data:`` URL."""
        if self.kind in ("url", "data_url"):
            return str(self.value)
        data = self.read()
        return f"data:{self.media_type()};base64,{base64.b64encode(data).decode('ascii')}"

    def as_base64(self) -> str:
        if self.kind == "base64":
            return str(self.value).strip()
        return base64.b64encode(self.read()).decode("ascii")


_SURROGATE = re.compile("[\ud800-\udfff]")


class TextError(ValueError):
    """A string that cannot be sent: ``position`` is the index of the offending character."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


def check_text(text: str) -> None:
    """Raise :class:`TextError` when ``text`` holds a lone surrogate: such a string is not
    valid Unicode and cannot be encoded as UTF-8 (it comes from bytes decoded with
    ``errors="surrogateescape"`` or from a JSON ``\\ud800`` escape)."""
    if text.isascii():  # O(1) in CPython: the common case costs no scan
        return
    found = _SURROGATE.search(text)
    if found is not None:
        position = found.start()
        raise TextError(
            f"has a lone surrogate U+{ord(found.group()):04X} at position {position}: it is"
            " not valid Unicode and cannot be sent as UTF-8",
            position,
        )


#: The formats :func:`~imagebridge._imageinfo.sniff_media_type` recognises, for messages.
_IMAGE_FORMATS = "PNG, JPEG, WebP or GIF"


def _check_image_file(path: Path) -> None:
    """A local input must be a regular file that starts like an image: anything else (a
    key file, ``/etc/passwd``, a device) is refused before a byte of it is sent."""
    try:
        if not path.is_file():
            raise ValueError(f"no such file: {str(path)!r}")
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    if sniff_media_type(head) is None:
        raise ValueError(
            f"{str(path)!r} is not an image: its first bytes are no {_IMAGE_FORMATS} header,"
            " and only images are read from local files"
        )


def _decodes_to_image(text: str) -> bool:
    """Bare base64 counts only when its first bytes are an image header: a string of
    base64-safe characters is otherwise far more likely a file name or an id."""
    head = "".join(text[:64].split())
    head = head[: len(head) - len(head) % 4]
    try:
        return sniff_media_type(base64.b64decode(head, validate=True)) is not None
    except (binascii.Error, ValueError):
        return False


def _preview(text: str) -> str:
    text = text if len(text) <= 60 else text[:57] + "..."
    return repr(text)
