"""Making a recording safe and stable to commit.

* Only allow-listed headers are kept; the headers that carry the API key keep their name
  with a placeholder value (replay checks that credentials were sent, not what they were).
* The API's origin becomes a placeholder origin everywhere (URLs, bodies, headers).
* Signature and expiry query values (``sig``, ``signature``, ``X-Amz-Signature``, ``exp``...)
  are replaced by a placeholder, the same way in a response body and in the later download
  request, so the replayed client asks for exactly the recorded URL.
* Images in responses become files of the assets folder (PNGs losslessly recompressed), those
  in the events of a streamed answer too: each event's data is scrubbed as a JSON (or text)
  body of its own.
* Finally, :func:`check_secrets` refuses a cassette in which the key, or any declared secret,
  still appears anywhere (raw, JSON-escaped, URL-encoded or base64).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from .._imageinfo import extension_of, sniff_media_type
from ._cassette import (
    AssetBody,
    Body,
    Cassette,
    EmbeddedAsset,
    EventStreamBody,
    JsonBody,
    RecordedEvent,
    TextBody,
)
from ._support import compact_png

__all__ = [
    "CREDENTIAL_PLACEHOLDER",
    "REQUEST_HEADERS",
    "RESPONSE_HEADERS",
    "SIGNED_QUERY_PARAMS",
    "Scrubber",
    "SecretLeakError",
    "check_secrets",
]

PLACEHOLDER = "REDACTED"
CREDENTIAL_PLACEHOLDER = "<credentials>"

#: Query parameters whose values are signatures, credentials or expiry times (lower-case).
SIGNED_QUERY_PARAMS = frozenset(
    {
        "sig", "signature", "exp", "expires", "expiry", "expires_at", "token",
        "x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-amz-date",
        "x-amz-expires", "x-goog-signature", "x-goog-credential", "x-goog-date",
        "x-goog-expires", "se", "st", "skoid", "sktid", "skt", "ske", "sks", "skv",
    }
)  # fmt: skip

#: Request headers kept in a recording (lower-case); credentials are kept as a placeholder.
REQUEST_HEADERS = frozenset(
    {"content-type", "accept", "prefer", "x-response-format", "x-api-format", "x-compat-mode"}
)
#: Response headers kept in a recording (lower-case).
RESPONSE_HEADERS = frozenset(
    {
        "content-type", "retry-after", "retry-after-ms", "x-request-id", "request-id",
        "x-oneapi-request-id", "location",
    }
)  # fmt: skip

_MIN_INLINE_IMAGE = 64
_BASE64 = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}$")


class SecretLeakError(Exception):
    """A secret was found in a recording: it is not saved."""


class Scrubber:
    """Rewrites one recording: origin, signatures, headers, inline images."""

    def __init__(
        self,
        *,
        origin: str,
        placeholder_origin: str,
        credential_headers: Collection[str],
        request_headers: Collection[str] = REQUEST_HEADERS,
        response_headers: Collection[str] = RESPONSE_HEADERS,
        signed_params: Collection[str] = SIGNED_QUERY_PARAMS,
    ) -> None:
        self.origin = origin.rstrip("/")
        self.placeholder_origin = placeholder_origin.rstrip("/")
        self.credential_headers = {name.lower() for name in credential_headers}
        self.request_headers = {name.lower() for name in request_headers}
        self.response_headers = {name.lower() for name in response_headers}
        self.signed_params = {name.lower() for name in signed_params}
        split = urlsplit(self.origin)
        self._netloc = (split.scheme, split.netloc)
        placeholder = urlsplit(self.placeholder_origin)
        self._placeholder = (placeholder.scheme, placeholder.netloc)

    # -- URLs and text ----------------------------------------------------------------------------
    def url(self, url: str) -> str:
        """The URL with the API origin replaced and signature query values removed."""
        parts = urlsplit(url)
        scheme, netloc = parts.scheme, parts.netloc
        if (scheme, netloc) == self._netloc:
            scheme, netloc = self._placeholder
        query = parts.query
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in self.signed_params for key, _ in pairs):
            query = urlencode(
                [(k, PLACEHOLDER if k.lower() in self.signed_params else v) for k, v in pairs]
            )
        return urlunsplit((scheme, netloc, parts.path, query, parts.fragment))

    def text(self, value: str) -> str:
        """A string of a body: URLs scrubbed, the API origin replaced anywhere else."""
        if value.startswith(("http://", "https://")) or (value.startswith("/") and "?" in value):
            return self.url(value)
        return value.replace(self.origin, self.placeholder_origin)

    def json(self, value: Any) -> Any:
        """A JSON value with every string scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        return value

    # -- headers ------------------------------------------------------------------------------
    def headers(self, headers: Iterable[tuple[str, str]], *, request: bool) -> dict[str, str]:
        """The allow-listed headers; credentials as a placeholder, never a boundary."""
        allowed = self.request_headers if request else self.response_headers
        out: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            if request and key in self.credential_headers:
                out[key] = CREDENTIAL_PLACEHOLDER
            elif key in allowed:
                if key == "content-type" and value.lower().startswith("multipart/"):
                    value = value.split(";")[0]  # never the random boundary
                out[key] = self.text(value) if key == "location" else value
        return out

    # -- bodies -------------------------------------------------------------------------------
    def body(self, body: Body | None, cassette: Cassette, *, response: bool) -> Body | None:
        """The scrubbed body; response images move to the cassette's assets."""
        if isinstance(body, JsonBody):
            value = self.json(body.value)
            assets: list[EmbeddedAsset] = []
            if response:
                value = self._extract(value, [], assets, cassette)
            return JsonBody(value=value, assets=assets)
        if isinstance(body, TextBody):
            return TextBody(text=body.text.replace(self.origin, self.placeholder_origin))
        if isinstance(body, EventStreamBody):
            events = [self._event(event, cassette, response) for event in body.events]
            return EventStreamBody(events=events, broken=body.broken)
        if body is not None and body.kind == "base64" and response:
            data = base64.b64decode(body.base64)
            media = sniff_media_type(data[:16])
            if media is not None:
                return AssetBody(file=_store(cassette, data, media), media_type=media)
        return body

    def _event(self, event: RecordedEvent, cassette: Cassette, response: bool) -> RecordedEvent:
        data = self.body(event.data, cassette, response=response)
        assert isinstance(data, JsonBody | TextBody)
        event_id = None if event.id is None else self.text(event.id)
        return event.model_copy(update={"data": data, "id": event_id})

    def _extract(
        self, value: Any, path: list[str | int], assets: list[EmbeddedAsset], cassette: Cassette
    ) -> Any:
        if isinstance(value, dict):
            return {k: self._extract(v, [*path, k], assets, cassette) for k, v in value.items()}
        if isinstance(value, list):
            return [self._extract(v, [*path, i], assets, cassette) for i, v in enumerate(value)]
        if not isinstance(value, str) or len(value) < _MIN_INLINE_IMAGE:
            return value
        encoding = "data_url" if value[:5].lower() == "data:" else "base64"
        payload = value.partition(",")[2] if encoding == "data_url" else value
        if not _BASE64.match(payload[:200]):
            return value
        try:
            data = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError):
            return value
        media = sniff_media_type(data[:16])
        if media is None:
            return value
        name = _store(cassette, data, media)
        assets.append(EmbeddedAsset(path=path, file=name, encoding=encoding, media_type=media))
        return f"<asset {name}>"


def _store(cassette: Cassette, data: bytes, media_type: str) -> str:
    data = compact_png(data) if media_type == "image/png" else data
    name = f"{hashlib.sha256(data).hexdigest()[:16]}.{extension_of(media_type)}"
    cassette.add_asset(name, data)
    return name


def _forms(secret: str) -> set[str]:
    encoded = base64.b64encode(secret.encode()).decode("ascii").rstrip("=")
    return {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret), encoded}


def check_secrets(cassette: Cassette, secrets: Iterable[str | None]) -> None:
    """Raise :class:`SecretLeakError` if a secret appears anywhere in the cassette or its
    assets. The message says where, never the secret itself."""
    values = [s for s in secrets if s and len(s) >= 4]
    if not values:
        return
    places: list[tuple[str, str]] = [
        ("the call and description", cassette.model_copy(update={"interactions": []}).to_json())
    ]
    for index, item in enumerate(cassette.interactions):
        places.append(
            (f"interaction #{index} request", item.request.model_dump_json(by_alias=True))
        )
        places.append(
            (f"interaction #{index} response", item.response.model_dump_json(by_alias=True))
        )
    found: list[str] = []
    for number, secret in enumerate(values, start=1):
        forms = _forms(secret)
        for where, text in places:
            if any(form in text for form in forms):
                found.append(f"secret #{number} in {where}")
        for name, data in cassette.assets.items():
            if secret.encode() in data:
                found.append(f"secret #{number} in asset {name}")
    if found:
        raise SecretLeakError(
            f"refusing to save cassette {cassette.name!r}: a secret appears in it ("
            + "; ".join(found)
            + "). Remove it from the call, or add the field to the scrubbing rules."
        )
