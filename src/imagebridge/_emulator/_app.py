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

Unknown paths under a dialect prefix answer 404 in that dialect's error shape. Every request
first passes the :class:`~._inject.FaultInjector`.
"""

from __future__ import annotations

import json
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from ._apimart import ApimartDialect
from ._config import DIALECTS, EmulatorConfig
from ._dimilinks import DimilinksDialect
from ._errors import ApiError
from ._http import Handler, endpoint
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
    for dialect in DIALECTS:
        routes.append(Mount(f"/{dialect}/v1", routes=dialect_routes(state, dialect)))
    routes.append(Mount("/v1", routes=dialect_routes(state, state.config.default_dialect)))
    app = Starlette(routes=routes, middleware=[Middleware(FaultInjector, state=state)])
    app.state.emulator = state
    return app


def get_state(app: Starlette) -> EmulatorState:
    """The :class:`EmulatorState` of an app made by :func:`create_app`."""
    state = app.state.emulator
    assert isinstance(state, EmulatorState)
    return state


def dialect_routes(state: EmulatorState, dialect: str) -> list[BaseRoute]:
    """The routes of one dialect, ending with a catch-all 404 in its error shape."""
    handlers: DimilinksDialect | ApimartDialect | OpenAIDialect
    if dialect == "dimilinks":
        handlers = DimilinksDialect(state)
    elif dialect == "apimart":
        handlers = ApimartDialect(state)
    else:
        handlers = OpenAIDialect(state, gateway=dialect == "geeknow")
    routes: list[BaseRoute] = list(handlers.routes())

    async def not_found(request: Request) -> Response:
        raise ApiError(404, "not_found", f"Unknown route: {request.method} {request.url.path}")

    routes.append(Route("/{path:path}", endpoint(state, handlers.style, not_found)))
    return routes


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
        content = await run_in_threadpool(spec.render)
        return Response(content, media_type=spec.media_type)

    return handler


def _file(state: EmulatorState) -> Handler:
    async def handler(request: Request) -> Response:
        spec = state.files.get(request.path_params["name"])
        if spec is None:
            raise ApiError(404, "not_found", "file not found")
        content = await run_in_threadpool(spec.render)
        return Response(content, media_type=spec.media_type)

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
