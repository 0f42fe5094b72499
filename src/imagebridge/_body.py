"""JSON request bodies that embed input images without holding them in memory.

Providers such as dimilinks take reference images inside the JSON body as data URLs. Built
naively, four 20 MB files become four base64 strings, then one JSON string, then its bytes:
four copies of 107 MB. An adapter instead puts an :class:`InlineImage` where the image goes
and builds the request with :func:`json_request`: the body is streamed, each file read and
base64-encoded a chunk at a time, with an exact ``Content-Length`` (no chunked encoding),
through the sync and the async client alike. Written by hand because a JSON encoder that
streams selected values is not something httpx or the standard library offers.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal

import httpx

from ._inputs import ImageInput

_MARK = "\x00imagebridge-inline-{}\x00"
_JSON_MARK = json.dumps(_MARK)[1:-1]  # how the marker looks once JSON-encoded


class InlineImage:
    """Where an input image goes in a JSON body: as a ``data:`` URL or bare base64.

    URLs, data URLs and base64 strings are sent as given; files and bytes are encoded while
    the body is sent.
    """

    __slots__ = ("form", "image")

    def __init__(self, image: ImageInput, form: Literal["data_url", "base64"] = "data_url"):
        self.image = image
        self.form = form

    @property
    def streams(self) -> bool:
        return self.image.kind in ("path", "bytes")

    def literal(self) -> str:
        """The value when it is not streamed (a string the user gave)."""
        return self.image.as_base64() if self.form == "base64" else self.image.as_url()

    def prefix(self) -> bytes:
        if self.form == "base64":
            return b""
        return f"data:{self.image.media_type()};base64,".encode("ascii")

    def encoded_length(self) -> int:
        size = self.image.size_bytes() or 0
        return len(self.prefix()) + 4 * math.ceil(size / 3)

    def encoded(self) -> Iterator[bytes]:
        yield self.prefix()
        for chunk in self.image.chunks():
            yield base64.b64encode(chunk)


class JsonStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A JSON body whose :class:`InlineImage` values are encoded while it is sent."""

    def __init__(self, body: Any) -> None:
        images: list[InlineImage] = []
        text = json.dumps(_with_marks(body, images), ensure_ascii=False, separators=(",", ":"))
        self._parts: list[bytes | InlineImage] = []
        for index, image in enumerate(images):
            mark = _JSON_MARK.format(index)
            before, _, text = text.partition(mark)
            self._parts += [before.encode(), image]
        self._parts.append(text.encode())
        self.length = sum(
            len(part) if isinstance(part, bytes) else part.encoded_length() for part in self._parts
        )

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            if isinstance(part, bytes):
                yield part
            else:
                yield from part.encoded()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # Local file reads of 192 KiB: short, and the same as httpx does for file uploads.
        for chunk in self:
            yield chunk


def _with_marks(value: Any, images: list[InlineImage]) -> Any:
    if isinstance(value, InlineImage):
        if not value.streams:
            return value.literal()
        images.append(value)
        return _MARK.format(len(images) - 1)
    if isinstance(value, Mapping):
        return {key: _with_marks(item, images) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_with_marks(item, images) for item in value]
    return value


def _has_inline(value: Any) -> bool:
    if isinstance(value, InlineImage):
        return True
    if isinstance(value, Mapping):
        return any(_has_inline(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_inline(item) for item in value)
    return False


def json_request(
    method: str,
    url: str,
    body: Any,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Request:
    """A JSON request; bodies holding :class:`InlineImage` values are streamed."""
    if not _has_inline(body):
        return httpx.Request(method, url, params=params, headers=headers, json=body)
    stream = JsonStream(body)
    target = httpx.URL(url, params=params)
    # httpx adds no default headers to a streamed request: Host is set here, as it would.
    all_headers = {
        "Host": target.netloc.decode("ascii"),
        **(headers or {}),
        "Content-Type": "application/json",
        "Content-Length": str(stream.length),
    }
    return httpx.Request(method, target, headers=all_headers, stream=stream)
