"""A local emulator of the image providers' HTTP APIs, for testing adapters over real HTTP.

It is a second, independent implementation of the wire protocols in ``shared/dialects.md``: an
ASGI (Starlette) app that speaks four dialects, each under ``/{dialect}/v1`` (the
``default_dialect`` also under ``/v1``):

- ``openai``: ``POST /images/generations`` (JSON), ``POST /images/edits`` (multipart), with the
  real API's validation per model (sizes, n, quality, style, prompt length, gpt-image-only
  fields) and error codes.
- ``geeknow``: the same through a new-api gateway (``model`` required, ``n`` 0 -> 1,
  ``response_format`` ``url|b64_json|base64`` for every model, errors ending in
  ``(request id: X)``).
- ``dimilinks``: sync or async generations, task polling at ``/tasks/{id}``, multipart edits,
  APIMart compat mode, signed result URLs at the origin's ``/p/img/...``.
- ``apimart``: always-async generations and ``/tasks/{id}`` in the APIMart envelope.

Images are real PNG/JPEG/WebP files of exactly the requested size. Every request except
``/_emulator/*`` is logged, image downloads included (``GET /_emulator/requests``,
``POST /_emulator/reset``, or ``EmulatorServer.app_state.requests`` in-process), with
``Authorization`` redacted.

Scenario control: markers in the prompt drive the error paths.

- ``#error=<status>:<code>``: the submit answers at once with HTTP ``<status>`` and ``<code>``
  in the dialect's error shape (429 adds ``Retry-After: 1``), e.g.
  ``#error=402:insufficient_balance`` or ``#error=429:rate_limit_rpm``.
- ``#fail=<code>``: an async task (dimilinks, apimart) ends as ``failed`` with that code after
  the normal duration; a synchronous call answers the matching HTTP error instead
  (``content_moderation``, ``content_policy_violation``, ``moderation_blocked`` -> 400, any
  other code -> 502).
- ``#pending``: a dimilinks task reports the undocumented ``pending`` status for the first half
  of its duration.

Use :class:`EmulatorServer` in tests (a uvicorn thread on a free loopback port), or
:func:`create_app` with an in-process ASGI transport, or :func:`serve` from a shell. The
emulator imports nothing from the rest of imagebridge.
"""

from __future__ import annotations

from ._app import create_app, get_state
from ._config import DIALECTS, EmulatorConfig
from ._server import EmulatorServer, serve
from ._store import EmulatorState, Task

__all__ = [
    "DIALECTS",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "Task",
    "create_app",
    "get_state",
    "serve",
]
