"""The base class of every provider adapter.

An adapter translates one dialect. It declares what each model supports
(:meth:`Adapter.capabilities`) and turns a validated :class:`~imagebridge.adapter.Plan` into
a sans-I/O flow (see :mod:`imagebridge._flow`): it builds :class:`httpx.Request` objects and
parses responses into :class:`~imagebridge.ImageResult`. It never sees the API key (the
driver adds credentials, to the API's own origin only) and never opens a socket.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from ._capabilities import Capabilities
from ._errors import ConfigurationError, Problem, ProviderError, ServerError
from ._flow import Flow
from ._jsonbody import UnreadableJSON
from ._jsonbody import decode as decode_json
from ._polling import PollPolicy, TaskState, poll_task
from ._preflight import Operation, Plan
from ._provider_errors import ErrorCodes, error_from_response, parse_error_body
from ._redact import cut
from ._request import ImageRequest
from ._result import ImageResult
from ._tasks import TaskHandle
from ._urls import check_result_url, key_may_go

__all__ = ["ADAPTER_API_VERSION", "Adapter"]

#: The adapter contract this imagebridge implements. An adapter declares the version it was
#: written for (:attr:`Adapter.api_version`); a plugin whose adapter declares another is
#: skipped as broken, with the reason, instead of failing at its first request.
ADAPTER_API_VERSION = 1


class Adapter:
    """Subclass this to add a provider. Class attributes describe it; methods translate.

    Every adapter sets ``name`` and implements :meth:`capabilities`. Then, by dialect:

    * **One request, images in the reply**: :meth:`generate` (and :meth:`edit`,
      :meth:`vary` where the models do them) yields the request and parses the reply.
    * **Asynchronous tasks**: :meth:`submit` sends the task and must ``yield Accepted(task)``
      as soon as the provider answered with an id (that journals it and puts the id on every
      later error: without it a timeout loses a paid image); :meth:`poll_request`,
      :meth:`read_task` (status -> :class:`~imagebridge.TaskState` phase) and
      :meth:`collect` finish it through the shared polling engine; :meth:`generate` is
      ``handle = yield from self.submit(plan)`` then ``return (yield from self.wait(handle))``.
    * **Streamed replies**: yield :class:`~imagebridge.adapter.Stream` instead of the
      request, read events with :func:`~imagebridge.adapter.read_event` and yield a
      :class:`~imagebridge.PartialImage` for each partial image (declare
      ``Capabilities.streaming`` and ``max_partial_images``).

    Error replies are mapped by :meth:`error` from the common shapes (``{"error": {...}}``
    and the like) and ``error_codes``; a provider whose error body has another shape
    overrides :meth:`error`.
    """

    #: The provider name users pass (``ImageClient("name")``); also the env-var prefix.
    name: ClassVar[str] = ""
    #: One line for ``imagebridge providers``.
    description: ClassVar[str] = ""
    #: The API's base URL when neither ``base_url=`` nor ``<NAME>_BASE_URL`` gives one
    #: (None: the user must give it).
    default_base_url: ClassVar[str | None] = None
    #: The model used when a request names none.
    default_model: ClassVar[str] = ""
    #: Models this adapter knows; others are sent unchecked, with a warning.
    models: ClassVar[tuple[str, ...]] = ()
    #: Whether a client refuses to start without a key (``api_key=`` or ``<NAME>_API_KEY``).
    requires_api_key: ClassVar[bool] = True
    #: Provider error codes beyond the common ones, mapped to error classes.
    error_codes: ClassVar[ErrorCodes] = {}
    #: A pydantic model (``extra="forbid"``) for ``provider_options[name]``; None for none.
    options_model: ClassVar[type[BaseModel] | None] = None
    #: Whether result downloads from the API's own origin need the API key.
    download_auth: ClassVar[bool] = False
    #: Other ``https`` hosts of the provider that may receive the key (regional API hosts an
    #: answer links to), honoured only while the base URL is on one of them
    #: (:func:`~imagebridge._urls.key_may_go`); empty: the base URL's origin only.
    key_hosts: ClassVar[frozenset[str]] = frozenset()
    #: Canonical field -> how it goes on the wire (documentation; tested against real
    #: requests so it cannot drift). Fields not listed are not sent.
    wire_fields: ClassVar[Mapping[str, str]] = {}
    #: The adapter contract this class was written for
    #: (:data:`imagebridge.adapter.ADAPTER_API_VERSION`); a class that does not say is 1.
    api_version: ClassVar[int] = 1
    #: How asynchronous tasks are polled (clients may override it per instance).
    poll_policy: PollPolicy = PollPolicy()
    #: Whether result URLs may point at link-local and cloud-metadata addresses (clients set
    #: it per instance from their ``allow_link_local_urls`` setting).
    allow_link_local_urls: bool = False

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} at {self.base_url}>"

    @classmethod
    def env_prefix(cls) -> str:
        return cls.name.upper().replace("-", "_").replace(".", "_")

    # -- declarations -----------------------------------------------------------------------
    def capabilities(self, model: str) -> Capabilities:
        """What ``model`` supports on this provider (unknown models: ``known=False``)."""
        raise NotImplementedError

    def request_problems(
        self,
        model: str,
        operation: Operation,
        request: ImageRequest,
        capabilities: Capabilities,
    ) -> Iterable[Problem]:
        """Problems with ``request`` that this provider's capabilities cannot express (its
        options, its input formats), checked before anything is sent; none by default.
        Every problem found here and by the ``imagebridge_validate_request`` hook (rules
        for a model whichever provider serves it) is reported together."""
        return ()

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """The headers that carry the key (Bearer by default)."""
        return {"Authorization": f"Bearer {api_key}"}

    # -- flows --------------------------------------------------------------------------------
    def generate(self, plan: Plan) -> Flow[ImageResult]:
        """Text (and reference images) to images, for ``plan.n`` images."""
        raise NotImplementedError

    def edit(self, plan: Plan) -> Flow[ImageResult]:
        """Edit ``plan.request.reference_images`` (with ``plan.request.mask``)."""
        raise ConfigurationError(f"{self.name} does not support edits")

    def vary(self, plan: Plan) -> Flow[ImageResult]:
        """Variations of ``plan.request.reference_images[0]`` (the request has no prompt),
        for models whose capabilities declare ``variations``."""
        raise ConfigurationError(f"{self.name} makes no variations")

    def submit(self, plan: Plan) -> Flow[TaskHandle]:
        """Submit an asynchronous task and return its handle without waiting."""
        raise ConfigurationError(f"{self.name} has no asynchronous tasks")

    def cancel(self, task: TaskHandle) -> Flow[bool]:
        """Ask the provider to stop an accepted task, for models whose capabilities declare
        ``cancel``. Return True when the provider took the cancel (the task makes no images,
        or no more), False when the task had already ended (a finished task's images can
        still be fetched with ``wait()``); raise the provider's error otherwise."""
        raise ConfigurationError(f"{self.name} cannot cancel tasks")

    # -- asynchronous tasks: implement these three, polling is shared -------------------------
    def poll_request(self, task: TaskHandle) -> httpx.Request:
        """The request that asks for a task's status."""
        raise ConfigurationError(f"{self.name} has no asynchronous tasks")

    def read_task(self, response: httpx.Response, task: TaskHandle) -> TaskState:
        """One poll's response as a :class:`TaskState` (error responses never reach it)."""
        raise NotImplementedError

    def collect(self, task: TaskHandle, state: TaskState) -> ImageResult:
        """The result of a succeeded task, from its final state."""
        raise NotImplementedError

    def wait(self, task: TaskHandle) -> Flow[ImageResult]:
        """Poll an accepted task until it ends and return its images (inside a flow).

        ``generate()``, ``wait()``, resuming and batches all finish a task through this
        method, so an adapter may override it (``check()`` polls once through :meth:`check`
        and :meth:`collect`). The client attaches the task to the result and journals it.
        """
        state = yield from self.poll(task)
        return self.collect(task, state)

    def poll(self, task: TaskHandle) -> Flow[TaskState]:
        """Poll with the shared engine until the task succeeds (or raise its failure)."""
        return (yield from self._poll(task, first_wait=None, max_polls=None))

    def check(self, task: TaskHandle) -> Flow[TaskState]:
        """Poll a task once, now (``imagebridge task ID`` without ``--wait``)."""
        return (yield from self._poll(task, first_wait=0.0, max_polls=1))

    def _poll(
        self, task: TaskHandle, *, first_wait: float | None, max_polls: int | None
    ) -> Flow[TaskState]:
        return (
            yield from poll_task(
                task_id=task.task_id,
                provider=self.name,
                request=lambda: self.poll_request(task),
                read=lambda response: self.read_task(response, task),
                error=lambda response: self.error(response, task_id=task.task_id),
                policy=self.poll_policy,
                first_wait=first_wait,
                max_polls=max_polls,
            )
        )

    # -- helpers for subclasses -----------------------------------------------------------------
    def url(self, path: str) -> str:
        """``base_url`` joined with ``path`` (``"/images/generations"``)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def resolve_url(self, url: str) -> str:
        """An absolute URL for a result link: relative links resolve against the base URL's
        origin with their query string (signature) kept intact.

        A link that may not be fetched is the provider's error, reported now, before anything
        is downloaded (:func:`~imagebridge._urls.check_result_url`): a scheme other than
        http, https or data, or a link-local or cloud-metadata address on another origin than
        the API's unless :attr:`allow_link_local_urls`.
        """
        if url[:5].lower() == "data:":
            return url
        resolved = url
        if not url.startswith(("http://", "https://")):
            try:
                resolved = str(httpx.URL(self.base_url).join(url))
            except (httpx.InvalidURL, ValueError) as exc:
                raise ServerError(
                    f"{self.name} returned a result URL that cannot be fetched: {exc}",
                    provider=self.name,
                    code="invalid_result_url",
                ) from None
        allow = self.allow_link_local_urls or self._own_origin(resolved)
        check_result_url(resolved, provider=self.name, allow_link_local=allow)
        return resolved

    def may_send_key(self, url: str) -> bool:
        """Whether the driver would send the API key with a request to ``url``: the API's
        own origin, or one of :attr:`key_hosts` (:func:`~imagebridge._urls.key_may_go`).
        An adapter polls a URL an answer gave it only when this is True, and otherwise
        builds the URL itself from the base URL."""
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, ValueError):
            return False
        return key_may_go(target, httpx.URL(self.base_url), self.key_hosts)

    def _own_origin(self, url: str) -> bool:
        """The API's own origin, which the user chose (and sends the key to) whatever it is."""
        scheme, _, rest = self.base_url.partition("://")
        origin = f"{scheme}://{rest.partition('/')[0]}"
        return url == origin or url.startswith((f"{origin}/", f"{origin}?"))

    def error(self, response: httpx.Response, *, task_id: str | None = None) -> ProviderError:
        """The library error for an error response (code table: common + ``error_codes``)."""
        return error_from_response(
            response, provider=self.name, codes=self.error_codes or None, task_id=task_id
        )

    def json(self, response: httpx.Response, *, task_id: str | None = None) -> Any:
        """The JSON body of a successful response; an error response or a body that is not
        JSON raises the matching :class:`ProviderError`."""
        if response.is_error:
            raise self.error(response, task_id=task_id)
        try:
            return decode_json(response.content)
        except UnreadableJSON as exc:
            raise self.unexpected(response, exc.reason, task_id=task_id) from None

    def mapping(self, response: httpx.Response, *, task_id: str | None = None) -> Mapping[str, Any]:
        """Like :meth:`json`, and the body must be a JSON object."""
        body = self.json(response, task_id=task_id)
        if not isinstance(body, Mapping):
            raise self.unexpected(response, "the body is not a JSON object", task_id=task_id)
        return body

    def unexpected(
        self, response: httpx.Response, reason: str, *, task_id: str | None = None
    ) -> ServerError:
        """A :class:`ServerError` for a successful status whose body cannot be used (an HTML
        page from a proxy, a shape the dialect does not have). Polls retry these."""
        fields = parse_error_body(response)
        detail = cut(fields["message"], 200)
        shown = f"{reason}: {detail}" if detail not in reason else reason
        return ServerError(
            f"unexpected response from {self.name}: {shown}",
            provider=self.name,
            status_code=response.status_code,
            code="unexpected_response",
            task_id=task_id,
            body=fields["body"],
        )
