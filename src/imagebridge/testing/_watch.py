"""Watching a replayed call from the wire: what the task guarantees are checked against.

:class:`Watch` is an httpx transport (sync and async) in front of a
:class:`~._replay.ReplayTransport`. For every request the client sends it keeps a
:class:`Sent`: when it left on the kit's fake clock, its method and URL, whether it was sent
during the call or while the result's images were read, where the API key was in it (a
header, the URL, the body: never the key itself), whether the accepted task was in the
client's task journal at that moment, and the status and ``Retry-After`` of its answer. The
first answer that names the task id is the submit's: from there on every request is about
the accepted task.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import httpx

from .._clock import Clock
from .._journal import TaskJournal
from .._provider_errors import parse_retry_after
from ._replay import ReplayTransport

__all__ = ["Sent", "Watch", "origin_of"]


def origin_of(url: httpx.URL | str) -> str:
    """``scheme://host[:port]`` of a URL (default ports left out)."""
    parsed = httpx.URL(str(url))
    default = 443 if parsed.scheme == "https" else 80
    port = f":{parsed.port}" if parsed.port not in (None, default) else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


@dataclass
class Sent:
    """One request the client sent, and what came back."""

    #: 1 for the first request of the call.
    number: int
    #: When it was sent, on the kit's fake clock (seconds).
    at: float
    method: str
    url: str
    origin: str
    #: Sent by the call itself (False: while the result's images were read).
    during_call: bool
    #: Where the API key was in the request ("the header x-api-key", "the URL", "the body").
    key_in: str | None
    #: Whether the accepted task was journaled when this left (None: not accepted yet).
    journaled: bool | None
    #: Which client sent it (the resume scenario uses two).
    client: int = 1
    status: int | None = None
    retry_after: float | None = None

    @property
    def label(self) -> str:
        """``#N METHOD URL``, for messages."""
        return f"#{self.number} {self.method} {self.url}"


class Watch(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Keeps a :class:`Sent` for every request on its way to ``inner``.

    ``secrets`` are the API key and the header values that carry it; ``task_id`` is the
    accepted task the call is about (None: no task); ``journal`` is the client's journal,
    read as each request leaves.
    """

    def __init__(
        self,
        inner: ReplayTransport,
        *,
        clock: Clock,
        secrets: Collection[str],
        task_id: str | None = None,
        journal: TaskJournal | None = None,
    ) -> None:
        self.inner = inner
        self.clock = clock
        self.secrets = [secret for secret in secrets if secret]
        self.task_id = task_id
        self.journal = journal
        self.sent: list[Sent] = []
        #: Set to False once the client's method returned (the images are read after).
        self.calling = True
        #: Which client is sending (the resume scenario makes a second one).
        self.client = 1
        #: The request whose answer first named the task (its submit), once it came.
        self.submit: Sent | None = None

    # -- what is kept ---------------------------------------------------------------------------
    def _key_in(self, request: httpx.Request) -> str | None:
        for name, value in request.headers.items():
            if any(secret in value for secret in self.secrets):
                return f"the header {name}"
        if any(secret in str(request.url) for secret in self.secrets):
            return "the URL"
        content = request.content
        if any(secret.encode() in content for secret in self.secrets):
            return "the body"
        return None

    def _journaled(self) -> bool | None:
        if self.submit is None or self.task_id is None:
            return None
        if self.journal is None:
            return False
        return bool(self.journal.entries(task_id=self.task_id))

    def _leaving(self, request: httpx.Request) -> Sent:
        sent = Sent(
            number=len(self.sent) + 1,
            at=self.clock.monotonic(),
            method=request.method,
            url=str(request.url),
            origin=origin_of(request.url),
            during_call=self.calling,
            key_in=self._key_in(request),
            journaled=self._journaled(),
            client=self.client,
        )
        self.sent.append(sent)
        return sent

    def _answered(self, sent: Sent, response: httpx.Response) -> None:
        sent.status = response.status_code
        sent.retry_after = parse_retry_after(response.headers)
        if self.submit is not None or self.task_id is None:
            return
        try:
            content = response.content
        except httpx.ResponseNotRead:  # an event stream: it names no task
            return
        if self.task_id.encode() in content:
            self.submit = sent

    # -- the transport --------------------------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Keep the request, replay it, keep what came back."""
        request.read()
        sent = self._leaving(request)
        response = self.inner.handle_request(request)
        self._answered(sent, response)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """:meth:`handle_request`, awaited."""
        await request.aread()
        sent = self._leaving(request)
        response = await self.inner.handle_async_request(request)
        self._answered(sent, response)
        return response

    # -- reading it back ------------------------------------------------------------------------
    def after_submit(self) -> list[Sent]:
        """The requests sent after the submit's answer named the task."""
        if self.submit is None:
            return []
        return self.sent[self.submit.number :]
