"""Comparing requests: the normalised view of a live or recorded request, and readable diffs.

Two requests match when their *views* are equal. A view holds the method, the URL with its
query parameters sorted, whether credentials were sent, the headers a cassette asks to match,
and the body: parsed JSON (minus declared volatile paths), multipart parts (name, filename,
content type, and the text value or the sha256 and size of a file; never the random boundary),
text, or base64 bytes.
"""

from __future__ import annotations

import base64
import copy
import difflib
import email.parser
import email.policy
import hashlib
import json
from collections.abc import Collection, Iterable
from typing import Any

import httpx

from ._cassette import (
    Base64Body,
    Body,
    Cassette,
    JsonBody,
    MultipartBody,
    Part,
    RecordedRequest,
    TextBody,
)

__all__ = [
    "body_from_bytes",
    "diff_views",
    "embed_assets",
    "normalize_url",
    "parse_multipart",
    "recorded_view",
    "request_view",
]

#: Strings longer than this are shortened in diffs (never in comparisons).
_DIFF_STRING_LIMIT = 160


def normalize_url(url: str | httpx.URL) -> str:
    """The URL with default ports dropped, no fragment and query parameters sorted."""
    parsed = httpx.URL(str(url))
    params: list[tuple[str, Any]] = sorted(parsed.params.multi_items())
    base = str(parsed.copy_with(query=None, fragment=None))
    return f"{base}?{httpx.QueryParams(params)}" if params else base


def parse_multipart(content_type: str, content: bytes) -> list[Part]:
    """The parts of a multipart/form-data body, in order (files by sha256 and size)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + content)
    if not message.is_multipart():
        raise ValueError("the body is not multipart")
    parts: list[Part] = []
    for item in message.iter_parts():
        name = str(item.get_param("name", header="content-disposition") or "")
        filename = item.get_filename()
        payload = item.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if filename is None:
            parts.append(Part(name=name, text=data.decode("utf-8", "replace")))
        else:
            parts.append(
                Part(
                    name=name,
                    filename=filename,
                    content_type=item.get_content_type(),
                    sha256=hashlib.sha256(data).hexdigest(),
                    size=len(data),
                )
            )
    return parts


def body_from_bytes(content_type: str, content: bytes) -> Body | None:
    """The structured body of raw bytes: JSON, multipart parts, text or base64."""
    if not content:
        return None
    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return MultipartBody(parts=parse_multipart(content_type, content))
    if kind == "application/json" or kind.endswith("+json") or not kind:
        try:
            return JsonBody(value=json.loads(content))
        except ValueError:
            pass
    if kind.startswith("text/") or kind in ("application/json", "application/xml", ""):
        try:
            return TextBody(text=content.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    return Base64Body(base64=base64.b64encode(content).decode("ascii"), media_type=kind or None)


def embed_assets(body: JsonBody, cassette: Cassette) -> Any:
    """The JSON value of a body with its asset strings filled in."""
    value = copy.deepcopy(body.value)
    for asset in body.assets:
        encoded = base64.b64encode(cassette.asset(asset.file)).decode("ascii")
        text = (
            encoded if asset.encoding == "base64" else f"data:{asset.media_type};base64,{encoded}"
        )
        value = _set(value, asset.path, text)
    return value


def _set(value: Any, path: list[str | int], new: Any) -> Any:
    if not path:
        return new
    target = value
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return value


def _remove(value: Any, parts: list[str]) -> None:
    """Remove a dotted path (``*`` for any key or index) from a JSON value, in place."""
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [head] if head in value else []
        for key in keys:
            if rest:
                _remove(value[key], rest)
            else:
                del value[key]
    elif isinstance(value, list):
        if head == "*":
            indices = list(range(len(value)))
        elif head.isdigit() and int(head) < len(value):
            indices = [int(head)]
        else:
            indices = []
        for index in reversed(indices):
            if rest:
                _remove(value[index], rest)
            else:
                del value[index]


def _body_view(body: Body | None, cassette: Cassette, ignore: Iterable[str]) -> Any:
    if body is None:
        return None
    if isinstance(body, JsonBody):
        value = embed_assets(body, cassette)
        for path in ignore:
            _remove(value, path.split("."))
        return {"json": value}
    if isinstance(body, MultipartBody):
        return {"multipart": [part.model_dump(exclude_none=True) for part in body.parts]}
    if body.kind == "text":
        return {"text": body.text}
    if body.kind == "base64":
        return {"base64": body.base64}
    if body.kind == "event_stream":  # a response body: requests are never event streams
        return {"event_stream": body.model_dump(mode="json", by_alias=True, exclude_none=True)}
    return {"base64": base64.b64encode(cassette.asset(body.file)).decode("ascii")}


def recorded_view(
    request: RecordedRequest, cassette: Cassette, credential_headers: Collection[str]
) -> dict[str, Any]:
    """The comparable view of a recorded request."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    return {
        "method": request.method.upper(),
        "url": normalize_url(request.url),
        "credentials": any(name.lower() in headers for name in credential_headers),
        "headers": {name: headers.get(name) for name in cassette.match.headers},
        "body": _body_view(request.body, cassette, cassette.match.ignore_json_paths),
    }


def request_view(
    request: httpx.Request, cassette: Cassette, credential_headers: Collection[str]
) -> dict[str, Any]:
    """The comparable view of a request the client is sending."""
    content = request.read()
    try:
        body = body_from_bytes(request.headers.get("content-type", ""), content)
    except ValueError:
        body = None if not content else body_from_bytes("application/octet-stream", content)
    return {
        "method": request.method.upper(),
        "url": normalize_url(request.url),
        "credentials": any(name.lower() in request.headers for name in credential_headers),
        "headers": {name: request.headers.get(name) for name in cassette.match.headers},
        "body": _body_view(body, cassette, cassette.match.ignore_json_paths),
    }


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _DIFF_STRING_LIMIT:
        digest = hashlib.sha256(value.encode()).hexdigest()[:12]
        return f"{value[:60]}...<{len(value)} chars, sha256 {digest}>"
    if isinstance(value, list):
        return [_shorten(item) for item in value]
    if isinstance(value, dict):
        return {key: _shorten(item) for key, item in value.items()}
    return value


def pretty(view: Any) -> str:
    """Pretty JSON of a view, long strings shortened (for messages)."""
    return json.dumps(_shorten(view), indent=2, sort_keys=True, ensure_ascii=False)


def similarity(recorded: dict[str, Any], live: dict[str, Any]) -> float:
    """How close two views are: same method and URL first, then textual similarity."""
    same_target = recorded["method"] == live["method"] and recorded["url"] == live["url"]
    ratio = difflib.SequenceMatcher(None, pretty(recorded), pretty(live)).ratio()
    return (1.0 if same_target else 0.0) + ratio


def diff_views(recorded: dict[str, Any], live: dict[str, Any], label: str) -> str:
    """A unified diff from a recorded request to the request actually sent."""
    lines = difflib.unified_diff(
        pretty(recorded).splitlines(),
        pretty(live).splitlines(),
        fromfile=label,
        tofile="request sent",
        lineterm="",
    )
    return "\n".join(lines)
