"""Turning provider error responses into :mod:`imagebridge` errors.

Error bodies are parsed liberally: the OpenAI shape ``{"error": {"message", "type", "param",
"code"}}``, new-api's variant whose message ends in ``(request id: X)``, ``code`` as a string,
an integer or empty, ``param`` missing, ``""`` or null, ``error`` as a plain string, APIMart's
``{"code": 400, "error": ...}``, flat ``{"message", "code"}`` bodies, and HTML error pages.

The class is chosen by the error code first and by the HTTP status second, because gateways
disagree on statuses (new-api answers some validation failures with HTTP 500; OpenAI sends
``insufficient_quota`` as a 429). Adapters can extend the code table with their own codes.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ._errors import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    InsufficientBalanceError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    ServerError,
    TaskFailedError,
)
from ._jsonbody import UnreadableJSON
from ._jsonbody import decode as decode_json
from ._redact import Redactor, cut

ErrorCodes = Mapping[str, type[ProviderError]]

#: Codes (and error ``type`` values) seen across OpenAI-style APIs and gateways.
COMMON_ERROR_CODES: ErrorCodes = {
    # moderation
    "content_policy_violation": ContentPolicyError,
    "moderation_blocked": ContentPolicyError,
    "content_moderation": ContentPolicyError,
    "content_filter": ContentPolicyError,
    "sensitive_words_detected": ContentPolicyError,
    # balance and quota
    "insufficient_quota": InsufficientBalanceError,
    "insufficient_balance": InsufficientBalanceError,
    "insufficient_user_quota": InsufficientBalanceError,
    "billing_hard_limit_reached": InsufficientBalanceError,
    "payment_required": InsufficientBalanceError,
    # rate limits
    "rate_limit_exceeded": RateLimitError,
    "rate_limit_rpm": RateLimitError,
    "rate_limited": RateLimitError,
    "rate_limit_error": RateLimitError,
    # authentication and permission
    "invalid_api_key": AuthenticationError,
    "missing_api_key": AuthenticationError,
    "authentication_error": AuthenticationError,
    "model_not_allowed": PermissionDeniedError,
    "permission_denied": PermissionDeniedError,
    # not found
    "not_found": NotFoundError,
    "task_not_found": NotFoundError,
    # the request itself
    "invalid_request_error": BadRequestError,
    "invalid_request": BadRequestError,
    "invalid_size": BadRequestError,
    "invalid_value": BadRequestError,
    "invalid_reference_image": BadRequestError,
    "reference_image_too_large": BadRequestError,
    "model_not_found": BadRequestError,
    "model_type_mismatch": BadRequestError,
    # the provider or its upstream
    "upstream_error": ServerError,
    "poll_timeout": ServerError,
    "download_failed": ServerError,
    "no_available_account": ServerError,
    "service_unavailable": ServerError,
    "internal_error": ServerError,
    "server_error": ServerError,
    "billing_error": ServerError,
}

_BY_STATUS: Mapping[int, type[ProviderError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: BadRequestError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}

# Codes that say something specific enough to override the HTTP status. Generic "type"
# values (invalid_request_error, server_error) only count when the status says nothing.
_GENERIC = frozenset({"invalid_request_error", "server_error", "invalid_request"})

_REQUEST_ID = re.compile(r"\s*\(request id: ?([^)]*)\)\s*$", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


def classify(
    status: int | None, code: str, error_type: str = "", codes: ErrorCodes | None = None
) -> type[ProviderError]:
    """The error class for an HTTP status and provider code (either may be missing)."""
    table: ErrorCodes = {**COMMON_ERROR_CODES, **codes} if codes else COMMON_ERROR_CODES
    for key in (code.lower(), error_type.lower()):
        if key and key in table and (key not in _GENERIC or status is None or status >= 500):
            cls = table[key]
            # A gateway that says 500 with a validation code did reject the request.
            return cls
    if status is None:
        return TaskFailedError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return BadRequestError if 400 <= status < 500 else ProviderError


def parse_retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    Always a finite number >= 0, or None: a negative value or a past date is 0, and a value
    that is not a number of seconds (``NaN``, ``inf``, an impossible date) is ignored.
    Callers put their own floor and cap on it.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        ms = _finite(raw_ms)
        if ms is not None:
            return max(0.0, ms / 1000)
    raw = headers.get("retry-after")
    if not raw:
        return None
    seconds = _finite(raw)
    if seconds is not None:
        return max(0.0, seconds)
    import email.utils  # only the rare HTTP-date form needs it

    try:
        parsed = email.utils.parsedate_to_datetime(raw) if _looks_like_date(raw) else None
        if parsed is None:
            return None
        delay = parsed.timestamp() - (time.time() if now is None else now)
    except (TypeError, ValueError, OverflowError, OSError):
        return None  # "Wed, 31 Feb 2024 ...": parses as a tuple, not as a date
    return max(0.0, delay) if math.isfinite(delay) else None


def _finite(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _looks_like_date(raw: str) -> bool:
    import email.utils

    try:
        return email.utils.parsedate_tz(raw) is not None
    except (TypeError, ValueError):
        return False


def _as_code(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    return str(value).strip()


def _html_summary(text: str) -> str:
    title = _HTML_TITLE.search(text)
    summary = title.group(1) if title else _TAGS.sub(" ", text)
    summary = _SPACES.sub(" ", summary).strip()
    return cut(summary, 200) or "empty HTML page"


def parse_error_body(response: httpx.Response, redactor: Redactor | None = None) -> dict[str, Any]:
    """The fields of an error response: message, code, error_type, param, request_id, body.

    A ``redactor``'s secrets are removed from the body before any text taken from it is
    shortened (:func:`error_from_response` then scrubs the whole error, headers included).
    Without one, a cut never ends inside a word (:func:`~imagebridge._redact.cut`): a secret
    that straddles it is dropped whole, and one that is kept is whole for a later redaction
    to find.
    """
    fields: dict[str, Any] = {
        "message": "",
        "code": "",
        "error_type": "",
        "param": None,
        "request_id": response.headers.get("x-request-id") or response.headers.get("request-id"),
        "body": None,
    }
    raw = response.content
    body: Any
    try:
        body = decode_json(raw) if raw else None
    except UnreadableJSON as exc:
        body = None
        text = raw.decode("utf-8", "replace")
        if redactor:
            text = redactor.text(text)
        content_type = response.headers.get("content-type", "")
        if exc.nested:
            fields["message"] = exc.reason
        elif "html" in content_type or text.lstrip().lower().startswith(("<!doctype", "<html")):
            fields["message"] = f"HTML error page: {_html_summary(text)}"
            fields["error_type"] = "html_error_page"
        else:
            fields["message"] = cut(_SPACES.sub(" ", text).strip(), 500)
    if redactor:
        body = redactor.obj(body)
    fields["body"] = body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, str):
            fields["message"] = error
            fields["code"] = _as_code(body.get("code")) if body.get("code") != 200 else ""
        elif isinstance(error, dict):
            fields["message"] = str(
                error.get("message") or error.get("msg") or error.get("detail") or ""
            )
            fields["code"] = _as_code(error.get("code"))
            fields["error_type"] = _as_code(error.get("type"))
            param = error.get("param")
            fields["param"] = str(param) if param not in (None, "") else None
            if not fields["code"] and error is not body:
                # APIMart: {"code": 400, "error": {...}} with no inner code.
                fields["code"] = _as_code(body.get("code"))
    message = fields["message"]
    match = _REQUEST_ID.search(message)
    if match:
        fields["request_id"] = match.group(1).strip() or fields["request_id"]
        fields["message"] = message[: match.start()].rstrip()
    if not fields["message"]:
        fields["message"] = response.reason_phrase or f"HTTP {response.status_code}"
    return fields


def error_from_response(
    response: httpx.Response,
    *,
    provider: str,
    codes: ErrorCodes | None = None,
    redactor: Redactor | None = None,
    task_id: str | None = None,
) -> ProviderError:
    """Build the right :class:`ProviderError` subclass for an error response."""
    fields = parse_error_body(response, redactor)
    cls = classify(response.status_code, fields["code"], fields["error_type"], codes)
    error = cls(
        fields["message"],
        provider=provider,
        status_code=response.status_code,
        code=fields["code"],
        error_type=fields["error_type"],
        param=fields["param"],
        request_id=fields["request_id"],
        task_id=task_id,
        body=fields["body"],
    )
    if isinstance(error, RateLimitError):
        error.retry_after = parse_retry_after(response.headers)
    return error.scrub(redactor) if redactor else error


def error_from_task(
    *,
    provider: str,
    task_id: str,
    code: Any,
    message: Any,
    codes: ErrorCodes | None = None,
    body: Any = None,
) -> ProviderError:
    """The error for an accepted task that ended as failed.

    Moderation and balance codes keep their own classes; every other failure is a
    :class:`TaskFailedError` carrying the provider's code.
    """
    code_text = _as_code(code)
    cls = classify(None, code_text, "", codes)
    if cls not in (ContentPolicyError, InsufficientBalanceError):
        cls = TaskFailedError
    text = str(message or "").strip() or f"task ended as failed ({code_text or 'no code'})"
    return cls(text, provider=provider, code=code_text, task_id=task_id, body=body)
