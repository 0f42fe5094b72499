"""OpenTelemetry spans for every job and every HTTP exchange: the only module that knows
OpenTelemetry, and free when it is not installed.

With the ``otel`` extra (``opentelemetry-api``) each job (a generate, edit or variation call,
a stream, a submit, a wait, a check, a batch item) is one span of kind CLIENT named
``"{gen_ai.operation.name} {model}"`` as the GenAI semantic conventions name them, and each
HTTP attempt it makes (retries included) one child span named after the method. Until an
SDK is configured (a global tracer provider set) no span is started at all, and a job span
that is not recorded (sampled out) gets no HTTP spans.

No cost without the extra: nothing here imports :mod:`opentelemetry` at ``import
imagebridge``; whether it can be imported is found once, at the first job, with
:func:`importlib.util.find_spec`, and without it every hook is a method of a no-op constant
(:data:`NO_TRACE`, :data:`NO_EXCHANGE`). With it, it is not imported either until the
program has imported :mod:`opentelemetry.trace` itself (as configuring an SDK does), and
no span is made until a tracer provider is set (see :func:`_active`).

Context: the drivers' loops are generators resumed from any context, so no span is ever
attached as the current one across a ``yield`` (detaching it in another context fails).
The job span is started explicitly with the context that was current when the job was made
(the caller's own span is its parent), and each HTTP span is given the job span's context
explicitly.

What is never recorded: a header value, a body, a URL's query string or user info, an API
key (every text goes through the client's :class:`~imagebridge._redact.Redactor`), and the
prompt unless ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` was set when the
client was made (the opt-in the OpenTelemetry GenAI instrumentations read).

``gen_ai.operation.name``: the GenAI conventions have no image operation, and say a
predefined value that applies must be used: ``generate_content`` (multimodal content
generation) for the jobs that send a prompt and ask for images (generate, edit, vary,
submit), with ``gen_ai.output.type = "image"``. Polling an accepted task applies to none, so
those are the custom values ``wait`` and ``check``. imagebridge's own name of the operation
is ``imagebridge.operation`` on every job span.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Final, TypeVar
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    import httpx
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer

    from ._errors import ImageBridgeError
    from ._preflight import Plan
    from ._redact import Redactor
    from ._tasks import TaskHandle

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "NO_EXCHANGE",
    "NO_TRACE",
    "ExchangeTrace",
    "JobTrace",
    "Telemetry",
    "capture_content_from_env",
    "described",
]

F = TypeVar("F")
#: The variable the OpenTelemetry GenAI instrumentations read to record message content.
CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
#: The operations whose job sends a prompt and asks for images.
_MAKES_IMAGES = frozenset({"generate", "edit", "vary", "submit"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: The API's variable naming a tracer provider to load (auto-instrumentation sets it).
_PROVIDER_ENV: Final = "OTEL_PYTHON_TRACER_PROVIDER"

#: Whether ``opentelemetry`` can be imported: None until the first job looks, once.
_available: bool | None = None
#: The tracer, once this process has set OpenTelemetry up (tests put their own here).
_tracer: Tracer | None = None
#: Spans are recorded: a tracer provider was set (the API sets one once, and for good), or
#: ``_tracer`` is a provider's own tracer.
_configured = False
#: ``OTEL_PYTHON_TRACER_PROVIDER`` was set (read with ``_available``): the API loads it.
_provider_env = False
#: What the client said a flow is (operation and plan or task), until its job starts. Weak:
#: a flow that is never run is forgotten with it.
_about: WeakKeyDictionary[Any, tuple[str, Plan | TaskHandle]] = WeakKeyDictionary()


def _active() -> Tracer | None:
    """The tracer when a span could be recorded, else None: without ``opentelemetry``
    (looked for once, with :func:`importlib.util.find_spec`), and while this process has not
    set OpenTelemetry up: nothing imported :mod:`opentelemetry.trace` (importing it costs
    milliseconds; an SDK cannot be configured without it) or no tracer provider was set
    (the API's proxy tracer would hand spans to nothing, so none is made)."""
    global _available, _configured, _provider_env, _tracer
    if _configured:
        return _tracer
    if _available is None:
        try:
            _available = importlib.util.find_spec("opentelemetry") is not None
        except (ImportError, ValueError):  # blocked (``sys.modules`` holds None), or broken
            _available = False
        _provider_env = _PROVIDER_ENV in os.environ
    if not _available or ("opentelemetry.trace" not in sys.modules and not _provider_env):
        return None
    try:
        from opentelemetry import trace
    except ImportError:  # another distribution's part of the namespace, without the API
        _available = False
        return None
    if _tracer is None:
        # The package's version, read where it is (importing the package from here would
        # be an import cycle; importlib.metadata costs milliseconds).
        version = getattr(sys.modules.get("imagebridge"), "__version__", None)
        _tracer = trace.get_tracer("imagebridge", version)
    if isinstance(_tracer, trace.ProxyTracer) and isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider
    ):
        return None
    _configured = True
    return _tracer


def capture_content_from_env() -> bool:
    """Whether the prompt may be recorded: the GenAI instrumentations' opt-in is ``true``."""
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true"


class Telemetry:
    """What one client's jobs trace with: made at client construction, which is when the
    prompt opt-in is read; the tracer itself is found at the first job."""

    __slots__ = ("capture_content",)

    def __init__(self, *, capture_content: bool = False) -> None:
        #: Record the prompt (``gen_ai.input.messages``), redacted like everything else.
        self.capture_content = capture_content

    @classmethod
    def from_env(cls) -> Telemetry:
        return cls(capture_content=capture_content_from_env())

    def job(self, redactor: Redactor) -> JobTrace | _NoTrace:
        """The trace of a job being made now (its parent: the span current now), or
        :data:`NO_TRACE` while nothing is traced (see :func:`_active`)."""
        tracer = _active()
        if tracer is None:
            return NO_TRACE
        from opentelemetry import context

        return JobTrace(tracer, context.get_current(), redactor, self.capture_content)


def described(flow: F, operation: str, about: Plan | TaskHandle) -> F:
    """``flow``, said to be ``operation`` on ``about`` (its job's span is named and described
    from that when it starts). Nothing is kept while nothing is traced."""
    if _active() is not None:
        _about[flow] = (operation, about)
    return flow


class _NoExchange:
    """The trace of an HTTP exchange when nothing is traced: every hook does nothing."""

    __slots__ = ()

    def answered(self, response: httpx.Response) -> None:
        pass

    def failed(self, exc: BaseException) -> None:
        pass

    def end(self) -> None:
        pass


class _NoTrace:
    """The trace of a job when nothing is traced: every hook does nothing."""

    __slots__ = ()

    def start(self, flow: Any, provider: str) -> None:
        pass

    def exchange(self, request: httpx.Request, attempt: int) -> _NoExchange | ExchangeTrace:
        return NO_EXCHANGE

    def accepted(self, task: TaskHandle) -> None:
        pass

    def finished(self, value: object) -> None:
        pass

    def failed(self, error: ImageBridgeError) -> None:
        pass

    def end(self) -> None:
        pass


NO_EXCHANGE: Final = _NoExchange()
NO_TRACE: Final = _NoTrace()


class ExchangeTrace:
    """The span of one HTTP attempt: method, URL without its query, server, status."""

    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def answered(self, response: httpx.Response) -> None:
        span = self._span
        status = response.status_code
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            from opentelemetry.trace import StatusCode

            span.set_attribute("error.type", str(status))
            span.set_status(StatusCode.ERROR)

    def failed(self, exc: BaseException) -> None:
        """No response came (a transport error): its class, never its text."""
        from opentelemetry.trace import StatusCode

        self._span.set_attribute("error.type", type(exc).__qualname__)
        self._span.set_status(StatusCode.ERROR)

    def end(self) -> None:
        self._span.end()


class JobTrace:
    """The span of one job, started when its driver starts the flow, ended with it."""

    __slots__ = (
        "_capture",
        "_parent",
        "_plan_warnings",
        "_planned",
        "_redactor",
        "_span",
        "_tracer",
        "_unnamed",
    )

    def __init__(
        self, tracer: Tracer, parent: Context, redactor: Redactor, capture_content: bool
    ) -> None:
        self._tracer = tracer
        self._parent = parent
        self._redactor = redactor
        self._capture = capture_content
        self._span: Span | None = None
        self._plan_warnings: tuple[str, ...] = ()
        #: Described by a plan (what was asked for), not only by a task.
        self._planned = False
        #: The span's name while it has no model in it (a submit's, until its task is known).
        self._unnamed: str | None = None

    def start(self, flow: Any, provider: str) -> None:
        """Start the job's span, named and described from what the client said ``flow`` is
        (:func:`described`: the clients describe every flow they run)."""
        from opentelemetry.trace import SpanKind

        operation, about = _about.pop(flow, ("job", None))
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "generate_content"
            if operation in _MAKES_IMAGES
            else operation,
            "gen_ai.provider.name": provider,
            "gen_ai.output.type": "image",
            "imagebridge.operation": operation,
        }
        model = self._describe(attributes, about)
        name = attributes["gen_ai.operation.name"]
        self._unnamed = None if model else name
        span = self._tracer.start_span(
            f"{name} {model}" if model else name,
            context=self._parent,
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )
        # Sampled out, or no SDK: the HTTP spans and attributes are not worth making.
        self._span = span if span.is_recording() else None
        if self._span is None:
            span.end()

    def _describe(self, attributes: dict[str, Any], about: Plan | TaskHandle | None) -> str:
        """Add what the plan or task says to ``attributes``; the requested model."""
        from ._preflight import Plan

        if isinstance(about, Plan):
            request = about.request
            attributes["gen_ai.request.model"] = about.model
            attributes["imagebridge.image.n"] = about.n
            attributes["imagebridge.stream"] = about.stream
            if request.size is not None:
                attributes["imagebridge.image.size"] = str(request.size)
            self._plan_warnings = tuple(w.code for w in about.warnings)
            self._planned = True
            if self._capture and request.prompt:
                attributes["gen_ai.input.messages"] = self._messages(request.prompt)
            return about.model
        if about is not None:
            self._task(attributes, about)
            if about.model:
                attributes["gen_ai.request.model"] = about.model
                return about.model
        return ""

    def _messages(self, prompt: str) -> str:
        """The prompt as the GenAI conventions' ``gen_ai.input.messages`` (JSON), redacted."""
        message = {"role": "user", "parts": [{"type": "text", "content": prompt}]}
        return self._redactor.text(json.dumps([message], ensure_ascii=False))

    def _task(self, attributes: dict[str, Any], task: TaskHandle) -> None:
        attributes["imagebridge.task.id"] = self._redactor.text(task.task_id)
        if "n" in task.model_fields_set:
            attributes["imagebridge.image.n"] = task.n
        if task.expected_size is not None:
            attributes["imagebridge.image.size"] = "{}x{}".format(*task.expected_size)

    def exchange(self, request: httpx.Request, attempt: int) -> _NoExchange | ExchangeTrace:
        """The span of one HTTP attempt (``attempt`` 0 is the first; later ones are resends)."""
        job_span = self._span
        if job_span is None:
            return NO_EXCHANGE
        from opentelemetry.trace import SpanKind, set_span_in_context

        url = request.url
        # Scheme, host and port, and the path: no user info (not in netloc), no query (it
        # may carry a signature or a key), no fragment (never sent). 20x cheaper than
        # URL.copy_with().
        path = url.raw_path.split(b"?", 1)[0].decode("ascii")
        full = f"{url.scheme}://{url.netloc.decode('ascii')}{path}"
        attributes: dict[str, Any] = {
            "http.request.method": request.method,
            "url.full": self._redactor.text(full),
            "server.address": url.host,
            "server.port": url.port or _DEFAULT_PORTS.get(url.scheme, 0),
        }
        if attempt:
            attributes["http.request.resend_count"] = attempt
        span = self._tracer.start_span(
            request.method,
            context=set_span_in_context(job_span),
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )
        return ExchangeTrace(span)

    def accepted(self, task: TaskHandle) -> None:
        """The provider accepted ``task``: its id (and, for a job no plan described, what the
        task says was asked for: a submit's model and size)."""
        span = self._span
        if span is None:
            return
        if self._planned:
            span.set_attribute("imagebridge.task.id", self._redactor.text(task.task_id))
            return
        attributes: dict[str, Any] = {}
        self._task(attributes, task)
        if task.model and self._unnamed is not None:
            attributes["gen_ai.request.model"] = task.model
            span.update_name(f"{self._unnamed} {task.model}")
            self._unnamed = None
        span.set_attributes(attributes)

    def finished(self, value: object) -> None:
        """The flow's result: response model, usage, warnings, route, cost, task."""
        span = self._span
        if span is None:
            return
        from ._polling import TaskState
        from ._result import ImageResult
        from ._tasks import TaskHandle

        if isinstance(value, TaskHandle):
            self.accepted(value)
        elif isinstance(value, TaskState):
            span.set_attribute("imagebridge.task.phase", value.phase)
        elif isinstance(value, ImageResult):
            self._result(span, value)

    def _result(self, span: Span, result: Any) -> None:
        attributes: dict[str, Any] = {"imagebridge.image.count": len(result.images)}
        if result.model:
            attributes["gen_ai.response.model"] = result.model
        usage = result.usage
        if usage is not None:
            if usage.input_tokens is not None:
                attributes["gen_ai.usage.input_tokens"] = usage.input_tokens
            if usage.output_tokens is not None:
                attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
        codes = dict.fromkeys((*self._plan_warnings, *(w.code for w in result.warnings)))
        if codes:
            attributes["imagebridge.warnings"] = list(codes)
        if result.route is not None:
            attributes["imagebridge.route"] = result.route
        if result.task_ids:
            attributes["imagebridge.task.id"] = self._redactor.text(result.task_ids[0])
        cost = getattr(result, "cost", None)
        usd = getattr(cost, "usd", None)
        if usd is not None:
            attributes["imagebridge.cost.usd"] = str(usd)
        span.set_attributes(attributes)

    def failed(self, error: ImageBridgeError) -> None:
        """The job failed: status ERROR, ``error.type`` the class, and the message as the
        library scrubbed it (an ``exception`` event without a stack trace)."""
        span = self._span
        if span is None:
            return
        from opentelemetry.trace import StatusCode

        kind = type(error).__qualname__
        message = self._redactor.text(str(error))
        span.set_attribute("error.type", kind)
        if error.task_id is not None:
            span.set_attribute("imagebridge.task.id", self._redactor.text(error.task_id))
        span.add_event("exception", {"exception.type": kind, "exception.message": message})
        span.set_status(StatusCode.ERROR, message)

    def end(self) -> None:
        """End the job's span (once: a job that ended early, a closed stream, ends here)."""
        span, self._span = self._span, None
        if span is not None:
            span.end()
