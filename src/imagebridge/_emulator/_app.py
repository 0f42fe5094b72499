"""The ASGI app: every dialect under ``/{dialect}/v1``, the default one also under ``/v1``.

Key-free routes at the origin root:

- ``GET /p/img/{task_id}/{index}?exp=<ms>&sig=<hex>``: a task's image, signed with an
  HMAC-SHA256 (random secret per app) over ``"{task_id}/{index}:{exp}"``; a bad signature is
  403 ``invalid_signature``, an expired ``exp`` 410 ``url_expired`` (dimilinks error shape).
- ``GET /files/{name}``: an OpenAI/geeknow URL result.
- ``GET /_emulator/requests``: the request log as JSON; ``POST /_emulator/reset`` clears it
  and the counters.
- ``GET /_emulator/stats``: the counters per dialect (``submits``, ``accepted``, ``polls``,
  ``downloads``), the tasks per dialect, the number of faults applied and the hostile
  streams still being sent (``streams_open``).
- ``GET /_emulator/faults``: the active faults; ``POST`` a JSON list of specs replaces them
  (``[]`` clears them).

Unknown paths under a dialect prefix answer 404, and a known path asked with another method
405 (with ``Allow``), in that dialect's error shape (logged like any API request). Outside the
dialect prefixes the same answers come in the OpenAI shape (the dimilinks one under
``/p/img``), never as Starlette's plain text. Every request first passes the
:class:`~._inject.FaultInjector`.
"""

from __future__ import annotations

import json
import time

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route

from ._apimart import ApimartDialect
from ._config import DEFAULT_DIALECTS, EmulatorConfig
from ._dialects import SPECS, DialectHandlers
from ._dimilinks import DimilinksDialect
from ._errors import ApiError, render_error
from ._http import Handler, endpoint, image_response
from ._inject import FaultInjector
from ._openai import OpenAIDialect
from ._store import EmulatorState


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A new emulator app with its own state (``app.state.emulator``)."""
    state = EmulatorState(config or EmulatorConfig())
    routes: list[BaseRoute] = [
        Route(
            "/p/img/{task_id}/{index:int}",
            endpoint(state, "dimilinks", _signed_image(state)),
            methods=["GET"],
        ),
        Route("/files/{name}", endpoint(state, "openai", _file(state)), methods=["GET"]),
        Route("/_emulator/requests", _log(state), methods=["GET"]),
        Route("/_emulator/reset", _reset(state), methods=["POST"]),
        Route("/_emulator/stats", _stats(state), methods=["GET"]),
        Route("/_emulator/faults", _faults(state), methods=["GET", "POST"]),
    ]
    for dialect in DEFAULT_DIALECTS:
        routes.append(Mount(f"/{dialect}/v1", routes=dialect_routes(state, dialect)))
    for spec in SPECS:
        routes.append(Mount(spec.mount, routes=dialect_routes(state, spec.name)))
    routes.append(Mount("/v1", routes=dialect_routes(state, state.config.default_dialect)))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(FaultInjector, state=state)],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.emulator = state
    return app


def get_state(app: Starlette) -> EmulatorState:
    """The :class:`EmulatorState` of an app made by :func:`create_app`."""
    state = app.state.emulator
    assert isinstance(state, EmulatorState)
    return state


def dialect_routes(state: EmulatorState, dialect: str) -> list[BaseRoute]:
    """The routes of one dialect, ending with a catch-all 404 in its error shape."""
    handlers: DialectHandlers
    added = {spec.name: spec for spec in SPECS}
    if dialect in added:
        handlers = added[dialect].make(state)
    elif dialect == "dimilinks":
        handlers = DimilinksDialect(state)
    elif dialect == "apimart":
        handlers = ApimartDialect(state)
    else:
        handlers = OpenAIDialect(state, gateway=dialect == "geeknow")
    known: list[BaseRoute] = list(handlers.routes())

    async def not_found(request: Request) -> Response:
        allowed = sorted(
            method
            for route in known
            if isinstance(route, Route) and route.matches(request.scope)[0] is Match.PARTIAL
            for method in route.methods or ()
        )
        if allowed:
            raise ApiError(
                405,
                "method_not_allowed",
                f"Method not allowed: {request.method} {request.url.path}; this route takes "
                f"{', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        raise ApiError(404, "not_found", f"Unknown route: {request.method} {request.url.path}")

    catch_all = Route("/{path:path}", endpoint(state, handlers.style, not_found), methods=METHODS)
    return [*known, catch_all]


#: Every method the catch-all answers (so none gets Starlette's plain-text 405).
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (outside the dialect prefixes) as a JSON error."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "invalid_request_error")
    path = request.url.path
    message = f"Unknown route: {request.method} {path}"
    if status == 405:
        message = f"Method not allowed: {request.method} {path}"
    elif status != 404:
        message = str(exc.detail)
    error = ApiError(status, code, message, headers=exc.headers)
    return render_error("dimilinks" if path.startswith("/p/img/") else "openai", error)


def _signed_image(state: EmulatorState) -> Handler:
    async def handler(request: Request) -> Response:
        task_id: str = request.path_params["task_id"]
        index: int = request.path_params["index"]
        sig = request.query_params.get("sig", "")
        try:
            exp_ms = int(request.query_params.get("exp", ""))
        except ValueError:
            raise ApiError(403, "invalid_signature", "missing or malformed exp") from None
        if not state.signature_ok(task_id, index, exp_ms, sig):
            raise ApiError(403, "invalid_signature", "signature does not match")
        if exp_ms < time.time() * 1000:
            raise ApiError(410, "url_expired", "this image URL has expired")
        task = state.tasks.get(task_id)
        if task is None or not 0 <= index < len(task.images):
            raise ApiError(404, "not_found", "image not found")
        spec = task.images[index]
        return await image_response(spec)

    return handler


def _file(state: EmulatorState) -> Handler:
    async def handler(request: Request) -> Response:
        spec = state.files.get(request.path_params["name"])
        if spec is None:
            raise ApiError(404, "not_found", "file not found")
        return await image_response(spec)

    return handler


def _log(state: EmulatorState) -> Handler:
    async def handler(request: Request) -> Response:
        return JSONResponse(state.requests)

    return handler


def _reset(state: EmulatorState) -> Handler:
    async def handler(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    return handler


def _stats(state: EmulatorState) -> Handler:
    async def handler(request: Request) -> Response:
        return JSONResponse(state.stats())

    return handler


def _faults(state: EmulatorState) -> Handler:
    async def handler(request: Request) -> Response:
        if request.method == "POST":
            try:
                specs = json.loads(await request.body())
                if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
                    raise ValueError("expected a JSON list of fault specs")
                state.faults.replace(specs)
            except ValueError as exc:
                error = {"message": str(exc), "type": "invalid_request_error", "code": "bad_fault"}
                return JSONResponse({"error": error}, status_code=400)
        return JSONResponse(state.faults.describe())

    return handler
