"""The exceptions imagebridge raises.

Every error the library raises on purpose derives from :class:`ImageBridgeError`::

    ImageBridgeError
    ├── InvalidRequestError ............ caught before any HTTP request (also a ValueError)
    ├── ConfigurationError ............. unknown provider, missing key or base URL
    │   └── PluginError ................ a plugin failed to load or has a bad hook
    ├── APIConnectionError ............. no HTTP response (connection refused, reset, DNS)
    │   └── SubmitOutcomeUnknownError .. a submit was sent but not answered: the task may exist
    ├── ImageTimeoutError .............. the job's overall deadline passed (also a TimeoutError)
    ├── RoutesExhaustedError ........... every route was skipped or failed (routed clients)
    └── ProviderError .................. the provider answered with an error
        ├── BadRequestError ............ the provider rejected the request (400/422)
        ├── AuthenticationError ........ 401: missing or wrong API key
        ├── PermissionDeniedError ...... 403: the key may not use this model or endpoint
        ├── InsufficientBalanceError ... 402, insufficient_quota, billing limits
        ├── NotFoundError .............. 404: unknown task or endpoint
        ├── RateLimitError ............. 429 and provider rate limits (``retry_after``)
        ├── ContentPolicyError ......... the prompt or an image was refused by moderation
        ├── ServerError ................ 5xx, upstream failures, HTML error pages
        └── TaskFailedError ............ an accepted async task ended as failed

Errors that happen after a provider accepted a task carry its ``task_id`` (and the
resumable ``task`` handle when there is one): that image is paid for and can be fetched later.

No error ever holds an API key: every error leaves the client through
:meth:`ImageBridgeError.scrub`, which removes the client's secrets (held by a
:class:`imagebridge._redact.Redactor`) from all of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from ._redact import Redactor, cut
from ._tasks import TaskHandle

if TYPE_CHECKING:
    from ._flow import PartialImage
    from ._result import ImageResult

__all__ = [
    "APIConnectionError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ContentPolicyError",
    "ImageBridgeError",
    "ImageTimeoutError",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "PluginError",
    "Problem",
    "ProviderError",
    "RateLimitError",
    "RoutesExhaustedError",
    "ServerError",
    "StreamInterruptedError",
    "SubmitOutcomeUnknownError",
    "TaskFailedError",
]


class ImageBridgeError(Exception):
    """Base class of every error imagebridge raises on purpose."""

    task_id: str | None = None
    task: TaskHandle | None = None
    #: When a request split into several calls failed part-way, the images already made.
    partial: ImageResult | None = None
    #: When a stream failed after partial images arrived, the last (most complete) of them.
    last_partial: PartialImage | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        if self.task_id and f"task {self.task_id}" not in self.message:
            return f"{self.message} (task {self.task_id})"
        return self.message

    def scrub(self: _E, redactor: Redactor) -> _E:
        """Remove ``redactor``'s secrets from all of this error, and return it.

        Every attribute is scrubbed, whatever its name (message, code, type, param, request
        id, body, problems...), and so are ``args``, the ``task`` handle, the ``partial``
        result and the exceptions chained to this one (``__cause__``, ``__context__``).
        A task id made out of the key keeps :data:`~imagebridge._redact.REDACTED` in its
        place; the client that holds the key puts it back when it is asked about the task.
        """
        if redactor:
            _scrub_exception(self, redactor, set())
        return self


_E = TypeVar("_E", bound=ImageBridgeError)


@runtime_checkable
class Scrubbable(Protocol):
    """An object of the library's own that holds text a server sent (results and images):
    it replaces each such field with ``scrub(field)``."""

    def scrub_fields(self, scrub: Callable[[Any], Any]) -> None: ...


def _scrub_exception(error: BaseException, redactor: Redactor, seen: set[int]) -> None:
    if id(error) in seen:
        return
    seen.add(id(error))
    with contextlib.suppress(AttributeError, TypeError):
        error.args = tuple(_scrubbed(a, redactor, seen) for a in error.args)
    for name, value in list(vars(error).items()):
        with contextlib.suppress(AttributeError, TypeError):
            setattr(error, name, _scrubbed(value, redactor, seen))
    for linked in (error.__cause__, error.__context__):
        if linked is not None:
            _scrub_exception(linked, redactor, seen)


def _scrubbed(value: Any, redactor: Redactor, seen: set[int]) -> Any:
    """``value`` without secrets: strings, containers, exceptions and the library's own
    objects are scrubbed; any other object is left alone (it may be a client's driver)."""
    if isinstance(value, str | bytes):
        return redactor.obj(value)
    if isinstance(value, BaseException):
        _scrub_exception(value, redactor, seen)
    elif isinstance(value, Mapping):
        return {
            _scrubbed(k, redactor, seen): _scrubbed(v, redactor, seen) for k, v in value.items()
        }
    elif type(value) in (list, tuple):
        return type(value)(_scrubbed(v, redactor, seen) for v in value)
    elif isinstance(value, TaskHandle):
        return value.scrubbed(redactor)
    elif isinstance(value, Problem):
        for name in Problem.__slots__:
            setattr(value, name, _scrubbed(getattr(value, name), redactor, seen))
    elif isinstance(value, Scrubbable):
        # The library's own result objects (they import this module, so they say what to scrub).
        value.scrub_fields(lambda item: _scrubbed(item, redactor, seen))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _scrubbed(getattr(value, f.name), redactor, seen)
            for f in dataclasses.fields(value)
            if f.init and not f.name.startswith("_")
        }
        return dataclasses.replace(value, **changes)
    return value


class Problem:
    """One reason a request cannot be sent: the field, the value given and what is allowed."""

    __slots__ = ("allowed", "field", "reason", "value")

    def __init__(
        self, field: str, value: Any, reason: str, allowed: Sequence[str] | str | None = None
    ) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        self.allowed = allowed

    def __str__(self) -> str:
        text = f"{self.field}={_short_repr(self.value)}: {self.reason}"
        if self.allowed:
            allowed = self.allowed if isinstance(self.allowed, str) else ", ".join(self.allowed)
            text += f" (allowed: {allowed})"
        return text

    def __repr__(self) -> str:
        return f"Problem({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def _short_repr(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return cut(repr(value), 80)


class InvalidRequestError(ImageBridgeError, ValueError):
    """The request cannot be honoured; raised before any HTTP request is made.

    ``problems`` lists every reason found, each naming the field, the value and what is allowed.
    """

    def __init__(self, problems: Sequence[Problem], *, provider: str | None = None) -> None:
        self.problems = list(problems)
        self.provider = provider
        where = f" for provider {provider!r}" if provider else ""
        if len(self.problems) == 1:
            message = f"invalid request{where}: {self.problems[0]}"
        else:
            lines = "".join(f"\n  - {p}" for p in self.problems)
            message = f"invalid request{where}: {len(self.problems)} problems:{lines}"
        super().__init__(message)

    @property
    def field(self) -> str:
        """The field of the first problem."""
        return self.problems[0].field if self.problems else ""


class ConfigurationError(ImageBridgeError):
    """The client cannot be set up: unknown provider, missing API key or base URL."""


class PluginError(ConfigurationError):
    """A plugin failed to load or declares a hook imagebridge does not know."""


class APIConnectionError(ImageBridgeError):
    """No HTTP response was received (connection refused or reset, DNS failure, read error)."""

    def __init__(self, message: str, *, provider: str | None = None, sent: bool = True) -> None:
        super().__init__(message)
        self.provider = provider
        #: False when the failure happened before the request was written (safe to re-send).
        self.sent = sent


class SubmitOutcomeUnknownError(APIConnectionError):
    """A request that may create a paid task was sent, but no answer came back.

    The task may exist. It is not sent again (that could pay twice); check the provider's
    dashboard or task list before retrying.
    """


class StreamInterruptedError(SubmitOutcomeUnknownError):
    """A streamed reply broke off, or ended, before its last image was complete.

    The provider was making the image (and may bill it): it is not requested again. What
    arrived is kept: ``last_partial`` (the most complete partial image, if any) and
    ``partial`` (the images of earlier calls of a split request).
    """


class ImageTimeoutError(ImageBridgeError, TimeoutError):
    """The overall deadline of the job passed (submit, polling and download included)."""

    def __init__(self, message: str, *, provider: str | None = None, timeout: float | None = None):
        super().__init__(message)
        self.provider = provider
        self.timeout = timeout

    def __str__(self) -> str:
        if self.task_id:
            return (
                f"{self.message}; task {self.task_id} was accepted and may still finish:"
                " resume it with wait() or 'imagebridge task'"
            )
        return self.message


class RoutesExhaustedError(ImageBridgeError):
    """No route of a routed client could serve the request: each was skipped before any
    request (it cannot honour it) or failed in a way that left no task behind.

    ``outcomes`` maps each route's name, in the routes' order, to what happened there:
    ``skipped: <the problems>`` or ``failed: <error class>: <message>``. The last failure is
    chained as ``__cause__``. ``refused`` is True when every route was skipped before
    anything was sent: the request is one no route can honour (invalid input, as the CLI's
    exit code 2 says), not a failure of the providers.
    """

    def __init__(self, outcomes: Mapping[str, str], *, refused: bool = False) -> None:
        self.outcomes = dict(outcomes)
        self.refused = refused
        lines = "".join(f"\n  - {name}: {what}" for name, what in self.outcomes.items())
        super().__init__(f"no route could serve the request ({len(self.outcomes)} tried):{lines}")


class ProviderError(ImageBridgeError):
    """The provider answered with an error.

    Attributes: ``provider``, ``status_code`` (None for a failed task), ``code`` (the provider's
    error code as a string, "" when it sent none), ``error_type``, ``param``, ``request_id`` and
    ``body`` (the parsed error body, never containing a secret sent by this client).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        code: str = "",
        error_type: str = "",
        param: str | None = None,
        request_id: str | None = None,
        task_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        self.code = code
        self.error_type = error_type
        self.param = param
        self.request_id = request_id
        self.task_id = task_id
        self.body = body

    def __str__(self) -> str:
        bits = [self.provider]
        if self.status_code is not None:
            bits.append(f"HTTP {self.status_code}")
        if self.code:
            bits.append(self.code)
        return f"[{' '.join(bits)}] {super().__str__()}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider!r}, status_code={self.status_code!r},"
            f" code={self.code!r}, message={self.message!r})"
        )


class BadRequestError(ProviderError):
    """The provider rejected the request as invalid."""


class AuthenticationError(ProviderError):
    """The API key is missing or wrong."""


class PermissionDeniedError(ProviderError):
    """The API key may not use this model or endpoint."""


class InsufficientBalanceError(ProviderError):
    """The account has no balance or quota left."""


class NotFoundError(ProviderError):
    """The task, model or endpoint does not exist."""


class RateLimitError(ProviderError):
    """Too many requests; ``retry_after`` is the wait the provider asked for, in seconds."""

    retry_after: float | None = None


class ContentPolicyError(ProviderError):
    """The prompt or an input image was refused by the provider's moderation."""


class ServerError(ProviderError):
    """The provider or its upstream failed (5xx, HTML error page, upstream error)."""


class TaskFailedError(ProviderError):
    """An accepted asynchronous task ended as failed; ``code`` is the provider's failure code."""
