"""fal's error bodies (docs/dialects/fal.md, 'Wire facts'), read into the library's errors.

Two shapes, from https://docs.fal.ai/errors (model errors) and
https://docs.fal.ai/documentation/model-apis/request-errors (request errors):

* ``{"detail": [{"loc": ["body", "prompt"], "msg", "type", "url", "ctx", "input"}, ...]}``:
  the first entry's ``type`` is the code (``content_policy_violation``, ``image_too_large``,
  ``less_than_equal``...), its ``loc`` (without ``body``) the parameter;
* ``{"detail": "Request timed out", "error_type": "request_timeout"}`` (also in the
  ``X-Fal-Error-Type`` header).

A key whose balance is spent is answered 403 ``{"detail": "User is locked. Reason: Exhausted
balance. ..."}``, with no code: that message is read as ``exhausted_balance``.
"""

from __future__ import annotations

from typing import Any

import httpx

from imagebridge.adapter import (
    BadRequestError,
    ContentPolicyError,
    ErrorCodes,
    InsufficientBalanceError,
    ProviderError,
    RateLimitError,
    classify,
    cut,
    parse_retry_after,
)

#: fal's error types beyond the common codes (both pages above). The server-side types
#: (``runner_server_error``, ``request_timeout``, ``downstream_service_error``...) come with a
#: 5xx status, which classifies them already (ServerError, retried where safe); a completed
#: request that failed with any of them is a TaskFailedError (fal._as_task_failure).
ERROR_CODES: ErrorCodes = {
    "content_policy_violation": ContentPolicyError,
    "exhausted_balance": InsufficientBalanceError,
    # model errors
    "image_too_small": BadRequestError,
    "image_too_large": BadRequestError,
    "image_load_error": BadRequestError,
    "file_download_error": BadRequestError,
    "file_too_large": BadRequestError,
    "unsupported_image_format": BadRequestError,
    "feature_not_supported": BadRequestError,
    "greater_than": BadRequestError,
    "greater_than_equal": BadRequestError,
    "less_than": BadRequestError,
    "less_than_equal": BadRequestError,
    "multiple_of": BadRequestError,
    "one_of": BadRequestError,
    "sequence_too_short": BadRequestError,
    "sequence_too_long": BadRequestError,
    # request errors
    "bad_request": BadRequestError,
    # client_cancelled (a cancelled request's result) is left to the task-failure rule: a
    # completed request's failure is a TaskFailedError whatever its code (fal._as_task_failure).
}

_MAX_TEXT = 500


def fal_error(
    response: httpx.Response, provider: str, codes: ErrorCodes, task_id: str | None
) -> ProviderError | None:
    """The error of a fal error answer, or None when its body is not one of fal's shapes."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or "detail" not in body:
        return None
    detail = body["detail"]
    header_type = response.headers.get("x-fal-error-type", "")
    code = _text(body.get("error_type")) or _text(header_type)
    param: str | None = None
    if isinstance(detail, list):
        entries = [entry for entry in detail if isinstance(entry, dict)]
        if not entries:
            return None
        first = entries[0]
        code = _text(first.get("type")) or code
        param = _param(first.get("loc"))
        message = "; ".join(_entry_text(entry) for entry in entries[:5])
    elif isinstance(detail, str):
        message = detail
    else:
        return None
    if not code and response.status_code == 403 and "exhausted balance" in message.lower():
        code = "exhausted_balance"
    cls = classify(response.status_code, code, "", codes)
    error = cls(
        cut(message.strip(), _MAX_TEXT) or f"HTTP {response.status_code}",
        provider=provider,
        status_code=response.status_code,
        code=code,
        param=param,
        request_id=response.headers.get("x-fal-request-id"),
        task_id=task_id,
        body=body,
    )
    if isinstance(error, RateLimitError):
        error.retry_after = parse_retry_after(response.headers)
    return error


def _text(value: Any) -> str:
    return cut(value.strip(), 100) if isinstance(value, str) else ""


def _param(loc: Any) -> str | None:
    if not isinstance(loc, list):
        return None
    parts = [
        str(part) for part in loc if isinstance(part, str | int) and not isinstance(part, bool)
    ]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return cut(".".join(parts), 100) or None


def _entry_text(entry: dict[str, Any]) -> str:
    msg = entry.get("msg")
    text = msg if isinstance(msg, str) else ""
    param = _param(entry.get("loc"))
    return f"{param}: {text}" if param and text else text or param or "invalid input"
