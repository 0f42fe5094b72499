"""JSON request bodies that embed input images without holding them in memory.

Providers such as dimilinks take reference images inside the JSON body as data URLs. Built
naively, four 20 MB files become four base64 strings, then one JSON string, then its bytes:
four copies of 107 MB. An adapter instead puts an :class:`InlineImage` where the image goes
and builds the request with :func:`json_request`: the body is streamed, each file read and
base64-encoded a chunk at a time, with an exact ``Content-Length`` (no chunked encoding),
through the sync and the async client alike. Written by hand because a JSON encoder that
streams selected values is not something httpx or the standard library offers.

The body is encoded structurally: an image's place is known from the structure it was found
in, never by searching the encoded text for a marker, so no prompt can make image data be
spliced into itself.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal

import httpx

from ._inputs import ImageInput


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
        pieces: list[str | InlineImage] = []
        _encode(body, pieces)
        self._parts: list[bytes | InlineImage] = []
        text: list[str] = []
        for piece in pieces:
            if isinstance(piece, str):
                text.append(piece)
                continue
            self._parts += ["".join(text).encode(), piece]
            text = []
        self._parts.append("".join(text).encode())
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


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _encode(value: Any, out: list[str | InlineImage]) -> None:
    """``value`` as JSON text pieces, each streamed image as itself between its quotes."""
    if isinstance(value, InlineImage):
        if value.streams:
            out += ['"', value, '"']
        else:
            out.append(_dumps(value.literal()))
    elif not _has_inline(value):
        out.append(_dumps(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            # json.dumps's own spelling of a key (it turns numbers, booleans and None into text)
            out.append(("," if index else "") + _dumps({key: 0})[1:-2])
            _encode(item, out)
        out.append("}")
    else:
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")


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
