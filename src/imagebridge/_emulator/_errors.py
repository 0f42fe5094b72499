"""Errors raised by the handlers and their rendering in each dialect's error shape.

A handler raises :class:`ApiError`; the endpoint wrapper renders it with :func:`render_error`
in one of these styles:

- ``openai``: ``{"error": {"message", "type", "param", "code"}}``.
- ``geeknow`` (new-api gateway): ``{"error": {"message": "... (request id: X)", "type",
  "param": "", "code"}}``; the gateway's own errors have ``type: "new_api_error"``, errors
  that come "from upstream" keep the OpenAI type. The id is also sent as
  ``X-Oneapi-Request-Id``.
- ``dimilinks``: ``{"error": {"message", "type", "code"}}`` with ``type`` derived from the
  status (401 authentication_error, 402 payment_required, 429 rate_limit_error, 502/503
  service_unavailable, other 5xx server_error, else invalid_request_error).
- ``dimilinks-compat`` (APIMart compat mode): the same, but ``error.code`` is the integer HTTP
  status, as the gpt2api backend's ``oaierr.APIMartPayload`` does.
- ``apimart``: ``{"code": <int status>, "error": {"code", "message", "type"}}``. APIMart does
  not document its error body (docs/dialects/apimart.md, 'Error bodies'); this shape (the
  APIMart envelope around a dimilinks-style error object) is the emulator's choice.

The dialects listed in :mod:`._dialects` add their own styles with :func:`register_style`.

Every 429 carries ``Retry-After: 1`` unless the error sets its own headers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.responses import JSONResponse

ERROR_STYLES: tuple[str, ...] = ("openai", "geeknow", "dimilinks", "dimilinks-compat", "apimart")


class ApiError(Exception):
    """An HTTP error answer: status, provider code, message and optional OpenAI ``param``.

    ``type_`` overrides the type the style would derive from the status (geeknow uses
    ``new_api_error`` for the gateway's own errors).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        type_: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type_ = type_
        self.headers: dict[str, str] = dict(headers or {})
        if status == 429:
            self.headers.setdefault("Retry-After", "1")


def dimilinks_type(status: int) -> str:
    """The dimilinks error ``type`` for an HTTP status (gpt2api's ``TypeForStatus``)."""
    if status == 401:
        return "authentication_error"
    if status == 402:
        return "payment_required"
    if status == 429:
        return "rate_limit_error"
    if status in (502, 503):
        return "service_unavailable"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def openai_type(status: int, code: str) -> str:
    """The OpenAI error ``type`` for a status and code."""
    if status == 429:
        return "insufficient_quota" if code == "insufficient_quota" else "requests"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def new_request_id() -> str:
    """A new-api style request id: a timestamp followed by random hex."""
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)


#: Error styles added by the dialects of :mod:`._dialects`: style -> the error's JSON body.
_ADDED: dict[str, Callable[[ApiError], Any]] = {}


def register_style(style: str, body: Callable[[ApiError], Any]) -> None:
    """Render errors of ``style`` with ``body`` (a dialect's own error shape)."""
    if style in ERROR_STYLES:
        raise ValueError(f"error style {style!r} is built in")
    _ADDED[style] = body


def render_error(style: str, error: ApiError) -> JSONResponse:
    """Render ``error`` as a JSON response in the given style."""
    headers = dict(error.headers)
    body: dict[str, Any]
    if style == "openai":
        body = {
            "error": {
                "message": error.message,
                "type": error.type_ or openai_type(error.status, error.code),
                "param": error.param,
                "code": error.code,
            }
        }
    elif style == "geeknow":
        request_id = new_request_id()
        headers["X-Oneapi-Request-Id"] = request_id
        body = {
            "error": {
                "message": f"{error.message} (request id: {request_id})",
                "type": error.type_ or openai_type(error.status, error.code),
                "param": "",
                "code": error.code,
            }
        }
    elif style == "dimilinks":
        body = {
            "error": {
                "message": error.message,
                "type": error.type_ or dimilinks_type(error.status),
                "code": error.code,
            }
        }
    elif style == "dimilinks-compat":
        body = {
            "error": {
                "message": error.message,
                "type": error.type_ or dimilinks_type(error.status),
                "code": error.status,
            }
        }
    elif style == "apimart":
        body = {
            "code": error.status,
            "error": {
                "code": error.code,
                "message": error.message,
                "type": error.type_ or dimilinks_type(error.status),
            },
        }
    elif style in _ADDED:
        body = _ADDED[style](error)
    else:  # pragma: no cover - a programming error
        raise ValueError(f"unknown error style {style!r}")
    return JSONResponse(body, status_code=error.status, headers=headers)
