"""A local emulator of the image providers' HTTP APIs, for testing adapters over real HTTP.

It is a second, independent implementation of the wire protocols described in docs/dialects/
(one page per provider): an ASGI (Starlette) app that speaks four dialects, each under
``/{dialect}/v1`` (the ``default_dialect`` also under ``/v1``):

- ``openai``: ``POST /images/generations`` (JSON), ``POST /images/edits`` (multipart, or JSON
  with image references), ``POST /images/variations`` (multipart, dall-e-2), with the spec's
  model table and validation per model (sizes, n, quality, style, prompt length, input images,
  gpt-image-only fields, ``input_fidelity``, ``partial_images``, unknown fields), its defaults,
  answers the official SDK parses with strict validation (no ``auto`` echoed) and
  OpenAI-shaped errors; ``stream: true`` on a GPT image model answers the spec's server-sent
  events (partial images, then a completed event with usage, per image; see
  :mod:`._openai_stream`).
- ``geeknow``: the same through a new-api gateway (``model`` required on JSON requests, ``n``
  0 -> 1, ``response_format`` ``url|b64_json|base64`` for every model, unknown fields passed
  through, no variations, errors ending in ``(request id: X)``).
- ``dimilinks``: sync or async generations, task polling at ``/tasks/{id}``, multipart edits,
  APIMart compat mode, signed result URLs at the origin's ``/p/img/...``.
- ``apimart``: always-async generations and ``/tasks/{id}`` in the APIMart envelope.

Unknown routes answer 404 and wrong methods 405 (with ``Allow``), as JSON errors in the
dialect's shape (the OpenAI one outside the dialect prefixes).

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

Fault injection: faults make a phase of the protocol fail the way real networks and gateways
do. A fault spec is ``[DIALECT/]PHASE:KIND[:COUNT][:ARG]``:

- ``DIALECT`` (optional): only requests of that dialect (``openai``, ``geeknow``,
  ``dimilinks``, ``apimart``; a download belongs to the dialect that made the image).
- ``PHASE``: ``submit`` (``POST .../images/generations``, ``.../images/edits`` and openai's
  ``.../images/variations``), ``poll``
  (``GET .../tasks/{id}``) or ``download`` (``GET /p/img/...`` and ``/files/...``).
- ``KIND`` (and what its optional ``ARG`` means):

  - ``429``: HTTP 429 ``rate_limit_exceeded`` with ``Retry-After: ARG`` (seconds, default 1);
  - ``500``, ``502``, ``503``: that status with a JSON error in the dialect's shape (ARG: the
    error code; defaults ``internal_error``, ``upstream_error``, ``service_unavailable``);
  - ``html502``: an nginx HTML "502 Bad Gateway" page;
  - ``slow``: the answer comes ARG seconds late (default 1);
  - ``drop``: the dialect answers, the status line, headers and half the body are sent, then
    the connection is closed (the client sees a broken connection);
  - ``drop-before``: the request is read and the connection closed with no answer at all (the
    dialect never sees it);
  - ``timeout-after-accept`` (submit only): the dialect answers, so the task exists, but the
    answer is thrown away; the connection is held ARG seconds (default 0) or until the client
    gives up, then closed: "the task exists but the client doesn't know";
  - ``never`` (poll only): the task reports ``in_progress`` (50 %) while the fault lasts;
  - ``fail`` (poll only): the task ends as failed, with code ARG (default ``upstream_error``);
  - ``expired`` (download only): ``/p/img`` answers 410 ``url_expired`` (dimilinks shape),
    ``/files`` a 403 XML page as an expired blob SAS link does;
  - ``trickle``: the dialect answers; the status line and headers go at once, then the body
    one byte every ARG seconds (default 1), until it is sent or the client hangs up (the
    status line and headers cannot be trickled through an ASGI server);
  - ``endless``: the dialect answers (a submit is accepted), but the client gets a 200 whose
    chunked body never ends: the start of a real answer (``{"data":[{"b64_json":"``, for a
    download a PNG signature), then ``A`` as fast as the client reads, until it hangs up; the
    emulator hangs up itself after ARG bytes (default and most: 2 GiB);
  - ``oversize``: the same, announcing ``Content-Length: ARG`` (default 5,000,000,000); a
    body of at most 2 GiB is sent whole, a larger one is cut there;
  - ``deepjson`` (submit, poll): the dialect answers, the client gets a 200 JSON body of ARG
    nested lists (default 100,000): ``[[[...]]]``;
  - ``retry-after-zero`` (poll only): the task is held as by ``never``, and each answer
    carries ``Retry-After: ARG`` (default ``0``; any header value, e.g. ``-1`` or ``nan``;
    ``past``: an HTTP date of 2001; ``ms=VALUE``: ``retry-after-ms: VALUE`` instead);
  - ``redirect-foreign`` (download only): a 302 to the same path and query on another
    origin: ARG (``[scheme://]host[:port]``, the request's port when none) or by default
    ``localhost`` on the same port (``127.0.0.1`` when the request came to localhost). The
    emulator serves the hop that reaches it there (until the next reset) without faults,
    logged with ``foreign_hop: true`` and the headers that arrived, so a test sees what
    crossed;
  - ``link-local`` (submit, poll): the dialect answers with its result URLs moved to
    ``http://ARG/...`` (default ``169.254.169.254``; any spelling, e.g. ``[fd00:ec2::254]``
    or ``0xa9fea9fe``), as a hostile server pointing a client at cloud metadata would.
  - ``cut`` (submit only): the dialect's answer goes through as it is made, and the
    connection closes after ARG server-sent events (default 1; a stream with fewer loses its
    end), a one-piece answer after half its body: "a stream that breaks after partial
    images".

- ``COUNT``: how many matching requests get the fault (``*`` or empty: all); then it is spent.

Examples: ``submit:429:1`` (the first submit is refused, Retry-After 1 s), ``poll:html502:2``,
``dimilinks/poll:never``, ``poll:fail:1:content_moderation``, ``submit:slow:*:0.5``,
``download:trickle:*:0.2``, ``poll:retry-after-zero:*:-1``, ``submit:oversize:1:1000``,
``openai/submit:cut:1:2``.

Faults come from ``EmulatorConfig(faults=[...])`` (``imagebridge serve --fault SPEC``,
repeatable), from a request's own ``X-Emulator-Fault: SPEC[, SPEC...]`` header (for that
request only, before the active faults), and at runtime: ``POST /_emulator/faults`` with a JSON
list of specs replaces the active faults (``[]`` clears them, so a task held by ``never`` can
finish later), ``GET`` lists them with their ``remaining`` counts (in-process:
``EmulatorServer.app_state.faults.replace([...])``). Per request, every matching ``slow``,
``never`` and ``fail`` applies and the first fault of another kind decides the answer. A
faulted request is logged with ``faults``: the specs it got. ``drop``, ``cut``, ``drop-before``
and ``timeout-after-accept`` (and ``endless`` or ``oversize`` at their limit) close the
connection through uvicorn's transport; under another server they raise
:class:`ConnectionResetError` in the app instead. The stream kinds (``trickle``, ``endless``,
``oversize``) stop as soon as the client hangs up.

Counters: ``GET /_emulator/stats`` (``EmulatorState.stats()``) has, per dialect, ``submits``
(received, faulted ones included), ``accepted`` (answered 2xx by the dialect, even when the
client never got the answer: each is a paid job), ``polls``, ``downloads``, the ``tasks``
created, ``rate_limited`` (answered 429 above the rate limit), ``faults_applied`` and
``streams_open`` (stream faults still sending: 0 soon after
their clients hang up). ``POST /_emulator/reset`` clears them with the log.

Rate limit: ``EmulatorConfig(requests_per_minute=N)`` admits at most ``N`` submits and polls
per dialect in any 60 s of the emulator's clock (before any fault) and answers the others
HTTP 429 ``rate_limit_exceeded`` in the dialect's shape, with ``Retry-After`` the whole
seconds until one is admitted again (see :mod:`._ratelimit`).

Use :class:`EmulatorServer` in tests (a uvicorn thread on a free loopback port), or
:func:`create_app` with an in-process ASGI transport, or :func:`serve` from a shell. The
emulator imports nothing from the rest of imagebridge.
"""

from __future__ import annotations

from ._app import create_app, get_state
from ._config import DIALECTS, EmulatorConfig
from ._faults import Fault, FaultSet, parse_fault
from ._server import EmulatorServer, serve
from ._store import EmulatorState, Task

__all__ = [
    "DIALECTS",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "Fault",
    "FaultSet",
    "Task",
    "create_app",
    "get_state",
    "parse_fault",
    "serve",
]
