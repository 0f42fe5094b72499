"""The wire fields of a request an adapter built, for people to read: its parsed body with
every image shown by a marker instead of its bytes (what a dry run shows).

A JSON body is read as it would be sent (a body embedding files is encoded while it is
iterated, see :mod:`imagebridge._body`) and skimmed as it streams past: a string longer than
any prompt is never held, only counted, so a 20 MB reference image costs a pass over its
encoding and no copy. A ``data:`` URL, or a base64 string in an image field, becomes
``"<image: image/png, 12345 bytes>"`` (bare base64: ``"<base64: ...>"``), its size estimated
from its length, never decoded. A multipart form is read by offsets: each file part is
``{"file": name, "content_type": ..., "bytes": N}``, repeated names a list.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

from ._imageinfo import sniff_media_type

__all__ = ["wire_fields"]

#: JSON keys and form fields whose base64 strings are images (every dialect built in).
_IMAGE_FIELDS = frozenset(
    {"image", "images", "image[]", "image_url", "image_urls", "mask", "mask_url", "b64_json"}
)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
#: A base64 string in an image field shorter than this is shown as it is.
_MIN_BASE64 = 64
#: The longest JSON string a dry run keeps (a prompt is far shorter): a longer one is
#: counted while it streams past, never held.
_KEEP = 256 * 1024


def wire_fields(request: httpx.Request) -> Any:
    """The wire fields of ``request``'s body (see the module docstring); None without one."""
    content_type = request.headers.get("content-type", "")
    media = content_type.partition(";")[0].strip().lower()
    chunks = _chunks(request)
    if media == "application/json" or media.endswith("+json"):
        return _json_fields(chunks)
    body = b"".join(chunks)
    if media == "multipart/form-data":
        match = re.search(r'boundary="?([^";]+)"?', content_type, re.I)
        if match:
            return _form_fields(body, match.group(1).encode("latin-1"))
    if not body:
        return None
    if media == "application/x-www-form-urlencoded":
        return dict(httpx.QueryParams(body.decode("latin-1")).multi_items())
    return f"<{len(body)} bytes of {media or 'data'}>"


def _chunks(request: httpx.Request) -> Iterator[bytes]:
    """The body, read (a JSON body of files is encoded while it is iterated, as when sent)."""
    try:
        yield request.content
        return
    except httpx.RequestNotRead:
        pass
    if isinstance(request.stream, httpx.SyncByteStream):
        yield from request.stream


class _Skim:
    """JSON text with each string longer than :data:`_KEEP` replaced by a placeholder as it
    streams past: only its length, head and tail are kept."""

    _SPECIAL = re.compile(rb'["\\]')

    def __init__(self) -> None:
        self.nonce = f"\x00dryrun-{secrets.token_hex(8)}:"
        self.text = bytearray()
        self.longs: list[tuple[int, str, str]] = []  # length, head, tail
        self._in_string = False
        self._escaped = False
        self._kept = bytearray()
        self._length = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        pos = 0
        while pos < len(chunk):
            if not self._in_string:
                quote = chunk.find(b'"', pos)
                if quote < 0:
                    self.text += chunk[pos:]
                    return
                self.text += chunk[pos:quote]
                self._in_string, self._kept, self._length, self._tail = True, bytearray(), 0, b""
                pos = quote + 1
            elif self._escaped:
                self._add(chunk[pos : pos + 1])
                self._escaped = False
                pos += 1
            else:
                match = self._SPECIAL.search(chunk, pos)
                end = match.start() if match else len(chunk)
                self._add(chunk[pos:end])
                if match is None:
                    return
                if chunk[end : end + 1] == b"\\":
                    self._add(b"\\")
                    self._escaped = True
                else:
                    self._close()
                pos = end + 1

    def _add(self, piece: bytes) -> None:
        if self._length < _KEEP:
            self._kept += piece[: _KEEP - self._length]
        self._tail = (self._tail + piece)[-4:]
        self._length += len(piece)

    def _close(self) -> None:
        self._in_string = False
        if self._length <= _KEEP:
            self.text += b'"' + self._kept + b'"'
            return
        head = self._kept[:256].decode("utf-8", "replace")
        self.longs.append((self._length, head, self._tail.decode("utf-8", "replace")))
        self.text += json.dumps(f"{self.nonce}{len(self.longs) - 1}").encode()


def _json_fields(chunks: Iterable[bytes]) -> Any:
    skim = _Skim()
    for chunk in chunks:
        skim.feed(chunk)
    if not skim.text.strip():
        return None
    try:
        body = json.loads(skim.text)
    except ValueError:
        return f"<{len(skim.text)} bytes that are not JSON>"
    return _elide(body, None, skim)


def _elide(value: Any, key: str | None, skim: _Skim) -> Any:
    """``value`` with every image replaced by its marker (``key``: the field it is in)."""
    if isinstance(value, Mapping):
        return {k: _elide(v, str(k), skim) for k, v in value.items()}
    if isinstance(value, list):
        return [_elide(item, key, skim) for item in value]
    if not isinstance(value, str):
        return value
    if value.startswith(skim.nonce):
        # Too long to be anything but data: an image unless it does not look like one.
        length, head, tail = skim.longs[int(value[len(skim.nonce) :])]
        if head[:5].lower() == "data:" or _BASE64.fullmatch(head):
            return _marker(head, tail, length)
        return f"<{length} characters>"
    return _short_marker(value, key) or value


def _short_marker(value: str, key: str | None) -> str | None:
    """The marker of a string held whole, or None when it is no image: a ``data:`` URL, or
    base64 in an image field (``key``)."""
    is_data_url = value[:5].lower() == "data:" and ";base64," in value[:256].lower()
    is_base64 = key in _IMAGE_FIELDS and len(value) >= _MIN_BASE64 and _BASE64.fullmatch(value)
    return _marker(value[:256], value[-4:], len(value)) if is_data_url or is_base64 else None


def _marker(head: str, tail: str, length: int) -> str:
    """The marker of an image string: its ``head`` and ``tail`` of ``length`` characters."""
    padding = len(tail) - len(tail.rstrip("="))
    if head[:5].lower() == "data:" and "," in head:
        comma = head.index(",")
        media = head[5:comma].partition(";")[0] or "application/octet-stream"
        return f"<image: {media}, {_decoded(length - comma - 1, padding)} bytes>"
    try:
        start = base64.b64decode(head[:24], altchars=b"-_")
    except (binascii.Error, ValueError):
        start = b""
    sniffed = sniff_media_type(start)
    shown = f"{sniffed}, " if sniffed else ""
    return f"<base64: {shown}{_decoded(length, padding)} bytes>"


def _decoded(characters: int, padding: int) -> int:
    """The bytes ``characters`` of base64 (``padding`` of them ``=``) decode to."""
    return max(0, characters * 3 // 4 - padding)


def _form_fields(body: bytes, boundary: bytes) -> dict[str, Any]:
    """A multipart form's fields, each file as ``{"file", "content_type", "bytes"}``
    (repeated names: a list), read by offsets: no part is copied out of the body."""
    delimiter = b"--" + boundary
    fields: dict[str, Any] = {}
    pos = body.find(delimiter)
    while pos >= 0 and body[pos + len(delimiter) : pos + len(delimiter) + 2] != b"--":
        start = pos + len(delimiter) + 2  # past the CRLF
        end = body.find(b"\r\n" + delimiter, start)
        head_end = body.find(b"\r\n\r\n", start, end)
        if end < 0 or head_end < 0:
            break
        headers = {}
        for line in body[start:head_end].decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _param(disposition, "name") or ""
        filename = _param(disposition, "filename")
        item: Any
        if filename is not None:
            item = {
                "file": filename,
                "content_type": headers.get("content-type"),
                "bytes": end - head_end - 4,
            }
        else:
            text = body[head_end + 4 : end].decode("utf-8", "replace")
            item = _short_marker(text, name) or text
        previous = fields.get(name)
        if name not in fields:
            fields[name] = item
        elif isinstance(previous, list):
            previous.append(item)
        else:
            fields[name] = [previous, item]
        pos = end + 2
    return fields


def _param(disposition: str, name: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{name}="((?:[^"\\]|\\.)*)"', disposition)
    return None if match is None else match.group(1)
