"""Plumbing shared by the dialects: the endpoint wrapper, bearer auth, body parsing, the log.

:func:`endpoint` wraps a handler so that every request is appended to the state's request log
(method, path, query, headers with ``Authorization`` redacted, then the parsed ``json`` body or
``form`` fields and the answer's ``status``), the bearer token is checked, and an
:class:`ApiError` is rendered in the dialect's error style. Strings longer than 64 KiB are
clipped in the log (the request itself is not affected). A request that got faults (see
:mod:`._inject`) has their specs under ``faults``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from ._errors import ApiError, render_error
from ._images import ImageSpec
from ._store import EmulatorState

Handler = Callable[[Request], Awaitable[Response]]
StyleFor = Callable[[Request], str]

REDACTED_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key", "x-key"})
MAX_LOGGED_STRING = 64 * 1024
#: The ASGI scope key under which the fault injector lists the specs a request got.
FAULTS_KEY = "imagebridge.emulator.faults"
#: The ASGI scope key set by a ``poll:never`` fault: the task must not look finished.
HELD_KEY = "imagebridge.emulator.held"
#: The ASGI scope key of the second hop of a ``redirect-foreign`` download (logged as
#: ``foreign_hop``, with the headers that reached the other origin).
FOREIGN_KEY = "imagebridge.emulator.foreign"
#: The furthest a held task gets (``in_progress``, 50 %).
HELD_FRACTION = 0.5


@dataclass(frozen=True)
class Auth:
    """Where a dialect takes its key and how it answers a missing or wrong one.

    ``header`` names the header; ``scheme`` the word before the key in it (``Bearer``, fal's
    ``Key``), or None for a header that holds the bare key (Google's ``x-goog-api-key``,
    BFL's ``x-key``).
    """

    missing_code: str = "invalid_api_key"
    invalid_code: str = "invalid_api_key"
    type_: str | None = None
    header: str = "authorization"
    scheme: str | None = "Bearer"
    status: int = 401


def endpoint(
    state: EmulatorState, style: str | StyleFor, handler: Handler, auth: Auth | None = None
) -> Handler:
    """Wrap ``handler`` with logging, optional auth and error rendering."""

    async def run(request: Request) -> Response:
        entry = base_entry(request.scope)
        request.state.log_entry = entry
        state.record(entry)
        error_style = style(request) if callable(style) else style
        try:
            if auth is not None:
                check_auth(request, state.config.api_key, auth)
            response = await handler(request)
        except ApiError as error:
            response = render_error(error_style, error)
        entry["status"] = response.status_code
        return response

    return run


def check_auth(request: Request, api_key: str | None, auth: Auth) -> None:
    """Raise an :class:`ApiError` (401 by default) unless the request carries the key where
    and how the dialect takes it (:class:`Auth`)."""
    value = request.headers.get(auth.header, "").strip()
    expected = auth.scheme
    scheme, token = "", value
    if expected is not None:
        scheme, _, token = value.partition(" ")
        token = token.strip()
    named = expected is None or scheme.lower() == expected.lower()
    if not value or (named and not token):
        shown = f"{expected} <key>" if expected else "<key>"
        raise ApiError(
            auth.status,
            auth.missing_code,
            f"Missing API key: send '{_header_name(auth.header)}: {shown}'.",
            type_=auth.type_,
        )
    if not named or (api_key is not None and token != api_key):
        raise ApiError(
            auth.status, auth.invalid_code, "Incorrect API key provided.", type_=auth.type_
        )


def _header_name(header: str) -> str:
    """``authorization`` -> ``Authorization``, ``x-goog-api-key`` as it is."""
    return "Authorization" if header == "authorization" else header


async def image_response(spec: ImageSpec) -> Response:
    """A result image as the response body, encoded off the event loop (a 4K PNG takes a
    while, and other requests keep being answered meanwhile)."""
    content = await run_in_threadpool(spec.render)
    return Response(content, media_type=spec.media_type)


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object body (logged), or a 400 :class:`ApiError`."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            400, "invalid_json", "We could not parse the JSON body of your request."
        ) from None
    request.state.log_entry["json"] = clip(body)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    return body


async def read_form(request: Request) -> FormData:
    """The multipart form (logged; file parts as filename/content_type/size). Close it after."""
    if "multipart/form-data" not in request.headers.get("content-type", ""):
        raise ApiError(400, "invalid_request_error", "The request must be multipart/form-data.")
    try:
        form = await request.form(max_part_size=64 * 1024 * 1024)
    except Exception as exc:
        raise ApiError(400, "invalid_request_error", f"Malformed multipart body: {exc}") from None
    logged: dict[str, Any] = {}
    for key, value in form.multi_items():
        item = describe_upload(value) if isinstance(value, UploadFile) else clip(value)
        if key in logged:
            previous = logged[key]
            logged[key] = [*previous, item] if isinstance(previous, list) else [previous, item]
        else:
            logged[key] = item
    request.state.log_entry["form"] = logged
    return form


def describe_upload(upload: UploadFile) -> dict[str, Any]:
    size = upload.size
    if size is None:
        position = upload.file.tell()
        upload.file.seek(0, 2)
        size = upload.file.tell()
        upload.file.seek(position)
    return {"filename": upload.filename, "content_type": upload.content_type, "size": size}


def clip(value: Any) -> Any:
    """A copy of a JSON value with over-long strings shortened, for the log."""
    if isinstance(value, str) and len(value) > MAX_LOGGED_STRING:
        return f"{value[:256]}...[clipped, {len(value)} chars]"
    if isinstance(value, list):
        return [clip(item) for item in value]
    if isinstance(value, dict):
        return {key: clip(item) for key, item in value.items()}
    return value


def origin(request: Request) -> str:
    """``scheme://host:port`` of the request."""
    return f"{request.url.scheme}://{request.url.netloc}"


def progress(scope: Scope, fraction: float) -> float:
    """A task's progress as this poll reports it: held below done by a ``never`` fault."""
    return min(fraction, HELD_FRACTION) if scope.get(HELD_KEY) else fraction


def truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")


def falsey(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("0", "false", "no", "off")


def base_entry(scope: Scope) -> dict[str, Any]:
    """A new log entry for a request: method, path, query and redacted headers."""
    request = Request(scope)
    headers = {
        key: ("[redacted]" if key in REDACTED_HEADERS else value)
        for key, value in request.headers.items()
    }
    entry: dict[str, Any] = {
        "time": time.time(),
        "method": request.method,
        "path": request.url.path,
        "query": dict(request.query_params),
        "headers": headers,
    }
    faults = scope.get(FAULTS_KEY)
    if faults:
        entry["faults"] = list(faults)
    if scope.get(FOREIGN_KEY):
        entry["foreign_hop"] = True
    return entry
