"""Reading the Gemini API's answers: images, safety blocks and errors (docs/dialects/google.md).

- ``:predict`` (Imagen) answers ``{"predictions": [{"bytesBase64Encoded", "mimeType"} |
  {"raiFilteredReason"}]}``; when every image was filtered and ``includeRaiReason`` was not
  asked for, the body is ``{}``.
- ``:generateContent`` answers ``{"candidates": [{"content": {"parts": [{"text"} |
  {"inlineData": {"mimeType", "data"}}]}, "finishReason"}], "promptFeedback"?,
  "usageMetadata"?}``; a blocked prompt has ``promptFeedback.blockReason`` and no candidates.
- Errors: ``{"error": {"code": <HTTP status>, "message", "status": "INVALID_ARGUMENT" | ...,
  "details": [{"@type": ".../google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}}``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import httpx

from imagebridge.adapter import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ErrorCodes,
    GeneratedImage,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    ServerError,
    classify,
    cut,
    parse_retry_after,
)

#: google.rpc.Code names (the ``status`` of an error body) and ErrorInfo reasons.
STATUS_CODES: ErrorCodes = {
    "INVALID_ARGUMENT": BadRequestError,
    "FAILED_PRECONDITION": BadRequestError,
    "OUT_OF_RANGE": BadRequestError,
    "UNAUTHENTICATED": AuthenticationError,
    "API_KEY_INVALID": AuthenticationError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    "RESOURCE_EXHAUSTED": RateLimitError,
    "INTERNAL": ServerError,
    "UNAVAILABLE": ServerError,
    "DEADLINE_EXCEEDED": ServerError,
}
#: Why a candidate or a prompt was stopped for safety (FinishReason, BlockReason), and the
#: code a filtered Imagen answer gets.
BLOCK_CODES = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "RAI_FILTERED",
    }
)
ERROR_CODES: ErrorCodes = {
    **STATUS_CODES,
    **{code: ContentPolicyError for code in BLOCK_CODES},
}
#: The longest base64 string taken for one image (a 64 MiB image); anything longer is hostile.
MAX_B64_CHARS = 4 * 64 * 1024 * 1024 // 3 + 4


def google_error(
    response: httpx.Response, provider: str, fields: Mapping[str, Any], task_id: str | None
) -> ProviderError:
    """The library error for a Google error body (``fields`` from ``parse_error_body``)."""
    body = fields["body"]
    error = body.get("error") if isinstance(body, Mapping) else None
    status = ""
    reason = ""
    if isinstance(error, Mapping):
        raw_status = error.get("status")
        status = raw_status.strip() if isinstance(raw_status, str) else ""
        details = error.get("details")
        for detail in details if isinstance(details, list) else ():
            if isinstance(detail, Mapping) and isinstance(detail.get("reason"), str):
                reason = detail["reason"].strip()
                break
    # The ErrorInfo reason when it says more than the status (API_KEY_INVALID under
    # INVALID_ARGUMENT); the status is kept as the error type.
    code = reason if reason in ERROR_CODES else status or str(fields["code"] or "")
    cls = ERROR_CODES[code] if code in ERROR_CODES else classify(response.status_code, code, "")
    made = cls(
        str(fields["message"]),
        provider=provider,
        status_code=response.status_code,
        code=code,
        error_type=status,
        request_id=fields["request_id"],
        task_id=task_id,
        body=body,
    )
    if isinstance(made, RateLimitError):
        made.retry_after = parse_retry_after(response.headers)
    return made


def decoded_image(data: Any) -> GeneratedImage | None:
    """An inline image (base64 text) or None when it is not a usable one (its media type is
    read from its bytes, whatever ``mimeType`` the answer claims)."""
    if not isinstance(data, str) or not data or len(data) > MAX_B64_CHARS:
        return None
    try:
        base64.b64decode(data[:64] + "=" * (-len(data[:64]) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return GeneratedImage(b64_json=data)


def blocked(provider: str, code: str, message: str, body: Any) -> ContentPolicyError:
    return ContentPolicyError(
        cut(message, 300), provider=provider, status_code=200, code=code, body=body
    )


def without_base64(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body for ``result.raw``: image data replaced by its length."""

    def strip(value: Any) -> Any:
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                if key in ("data", "bytesBase64Encoded") and isinstance(item, str):
                    out[key] = f"<{len(item)} base64 characters>"
                else:
                    out[key] = strip(item)
            return out
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    stripped = strip(body)
    assert isinstance(stripped, dict)
    return stripped
