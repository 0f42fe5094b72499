"""Helpers of the dry-run suite: the fake key, input images, and one comparable view of a
request's wire fields, whether read from a dry run or from the emulator's request log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from helpers import png

#: A recognisable fake key: no dry run may show it.
KEY = "sk-DRYRUN-fake-key-7f3a9c0e1d"
PROMPT = "a lighthouse in the fog"
#: How far an elided image's size may be from the bytes actually sent.
SLACK = 3

_MARKER = re.compile(r"<(?:image|base64): (?:([\w.+-]+/[\w.+-]+), )?(\d+) bytes>")
_CLIPPED = re.compile(r"\.\.\.\[clipped, (\d+) chars\]$")


def image(side: int = 64, padding: int = 0) -> bytes:
    """A square PNG (emulators and dall-e-2 check the header), padded to make it larger."""
    return png(side, side) + b"\0" * padding


@dataclass(frozen=True)
class Image:
    """An image inside a body: equal to another of the same media type and about the same
    size (a dry run estimates it from the base64 length)."""

    media: str | None
    size: int

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Image):
            return NotImplemented
        same_media = self.media is None or other.media is None or self.media == other.media
        return same_media and abs(self.size - other.size) <= SLACK

    def __hash__(self) -> int:
        return 0


@dataclass(frozen=True)
class File:
    """A multipart file part."""

    name: str
    content_type: str | None
    size: int


def from_dry_run(value: Any) -> Any:
    """A dry run's fields, markers and file parts as :class:`Image` and :class:`File`."""
    if isinstance(value, dict):
        if set(value) == {"file", "content_type", "bytes"}:
            return File(value["file"], value["content_type"], value["bytes"])
        return {key: from_dry_run(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_dry_run(item) for item in value]
    if isinstance(value, str) and (match := _MARKER.fullmatch(value)):
        return Image(match.group(1), int(match.group(2)))
    return value


def from_emulator(value: Any) -> Any:
    """The emulator's logged ``json`` or ``form`` (strings over 64 KiB clipped, files as
    filename/content_type/size), in the same terms, computed here from the logged text."""
    if isinstance(value, dict):
        if set(value) == {"filename", "content_type", "size"}:
            return File(value["filename"], value["content_type"], value["size"])
        return {key: from_emulator(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_emulator(item) for item in value]
    if isinstance(value, str) and value.startswith("data:"):
        clipped = _CLIPPED.search(value)
        length = int(clipped.group(1)) if clipped else len(value)
        head, _, payload = value.partition(",")
        padding = 0 if clipped else len(payload) - len(payload.rstrip("="))
        encoded = length - len(head) - 1
        return Image(head[5:].partition(";")[0], encoded * 3 // 4 - padding)
    return value


def wire(method: str, url: str, fields: Any) -> tuple[str, str, dict[str, str], Any]:
    parsed = httpx.URL(url)
    return method, parsed.path, dict(parsed.params), fields


def sent_requests(log: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, str], Any]]:
    """The submits the emulator received (not the polls or downloads that follow)."""
    return [
        (e["method"], e["path"], e["query"], from_emulator(e.get("json", e.get("form"))))
        for e in log
        if e["method"] == "POST"
    ]


def planned_requests(dry: Any) -> list[tuple[str, str, dict[str, str], Any]]:
    return [wire(r.method, r.url, from_dry_run(r.fields)) for r in dry.requests]
