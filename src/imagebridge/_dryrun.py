"""Dry runs: what a call would send, built by the very flows that send it, with nothing sent.

:func:`dry_run` takes the flows of a plan (one per provider call), advances each to its
first HTTP request (an :class:`httpx.Request`, or a :class:`~imagebridge.adapter.Stream` of
one), records it and closes the flow: no socket is opened, no task exists, nothing is
journaled. What follows that request (polling a task, reading events, downloading results)
is described in words from the adapter's declarations (:attr:`DryRun.then`), never run.

A flow's requests never hold the key (the driver adds the credentials when it sends), and
what is recorded is stripped again of anything that looks like one: headers and query
parameters by name, and every spelling of the key by the client's redactor. Image bytes are
never copied into a dry run: a data URL or a base64 image in a JSON body, and a file part of
a multipart body, is shown by a marker with its media type and size (estimated from the
length, never decoded), so the dry run of a 20 MB reference image stays a few hundred bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from ._adapter import Adapter
from ._costing import estimate
from ._flow import Flow, NextEvent, Stream
from ._preflight import Operation, Plan
from ._prices import Cost, PriceBook
from ._redact import REDACTED, Redactor
from ._tasks import TaskHandle
from ._warnings import ImageWarning

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._request import GenerateFields
    from ._result import ImageResult
from ._wireview import wire_fields

__all__ = ["DryRun", "PlannedRequest", "dry_run"]

#: Header and query parameter names that carry credentials (matched as substrings,
#: case-insensitively): never shown, whatever an adapter put there.
_SECRET_NAME = re.compile(
    r"auth|key|token|secret|passw|signature|^sig$|credential|cookie|session", re.I
)
#: Headers of no interest to a reader (the transport's own bookkeeping).
_NOISE_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})
#: A placeholder poll id, turned back into ``{task_id}`` in the description.
_TASK_ID = "TASKID0dryrun"


@dataclass(frozen=True, kw_only=True)
class PlannedRequest:
    """One HTTP request a call would send first, as its flow builds it.

    ``url`` has any credential-like query value replaced; ``headers`` are the request's own
    (``content-type``, a ``Prefer`` an adapter sets), never the credentials the driver adds
    when sending, nor anything whose name looks like one; ``fields`` are the wire fields
    (the parsed JSON body, or the multipart form with each file as
    ``{"file", "content_type", "bytes"}``; None without a body), with every image shown by a
    marker (``"<image: image/png, 12345 bytes>"``; bare base64: ``"<base64: ...>"``).
    ``streamed``: the reply is read as server-sent events.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    fields: Any = None
    streamed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        return {
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "fields": self.fields,
            "streamed": self.streamed,
        }

    def __str__(self) -> str:
        lines = [f"{self.method} {self.url}" + (" (reply streamed)" if self.streamed else "")]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.fields is not None:
            lines += json.dumps(self.fields, indent=2, ensure_ascii=False).splitlines()
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class DryRun:
    """What a call would send, with nothing sent (``client.dry_run(...)``).

    ``calls`` provider calls (``n`` split where a model makes fewer images per call) make
    ``images`` images; ``requests`` holds each call's first request, exactly as the call
    would send it (less the credentials and the image bytes, see :class:`PlannedRequest`);
    ``then`` says in words what follows it; ``warnings`` are the plan's adaptations. A
    routed client's dry run names the ``route`` that would be tried first and the routes
    ``skipped`` (name -> reason). ``plan`` is the validated plan it was made from.
    """

    provider: str
    model: str
    operation: Operation
    calls: int
    images: int
    requests: tuple[PlannedRequest, ...]
    then: tuple[str, ...] = ()
    warnings: tuple[ImageWarning, ...] = ()
    route: str | None = None
    skipped: Mapping[str, str] = field(default_factory=dict)
    plan: Plan = field(repr=False, compare=False)
    #: What the call would cost, all its provider calls (``unknown`` where no price is known).
    estimate: Cost | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy (``json.dumps(dry.to_dict())``), without the plan."""
        estimate = self.estimate
        return {
            "provider": self.provider,
            "model": self.model,
            "operation": self.operation,
            "calls": self.calls,
            "images": self.images,
            "requests": [request.to_dict() for request in self.requests],
            "then": list(self.then),
            "warnings": [
                {"code": w.code, "message": w.message, "field": w.field} for w in self.warnings
            ],
            "route": self.route,
            "skipped": dict(self.skipped),
            "estimate": None
            if estimate is None
            else {
                "usd": None if estimate.usd is None else str(estimate.usd),
                "basis": estimate.basis,
                "exact": estimate.exact,
            },
        }

    def __str__(self) -> str:
        calls = f"{self.calls} call" + ("s" if self.calls != 1 else "")
        images = f"{self.images} image" + ("s" if self.images != 1 else "")
        lines = [
            f"Dry run (nothing sent): {self.operation} with {self.provider} {self.model},"
            f" {images} in {calls}"
        ]
        if self.route is not None:
            lines.append(f"Route: {self.route}")
        lines += [f"Skipped route {name}: {reason}" for name, reason in self.skipped.items()]
        for number, request in enumerate(self.requests, 1):
            lines.append(f"Request {number} of {len(self.requests)}:")
            lines += [f"  {line}" for line in str(request).splitlines()]
        if self.then:
            lines.append("Then:")
            lines += [f"  - {step}" for step in self.then]
        if self.estimate is not None:
            lines.append(f"Estimate: {self.estimate} ({self.estimate.basis})")
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"  - {w.code}: {w.message}" for w in self.warnings]
        return "\n".join(lines)


class DryRunning:
    """A client's :meth:`dry_run` (mixed into :class:`~imagebridge._base_client.ClientBase`)."""

    if TYPE_CHECKING:
        prices: PriceBook | None
        _adapter: Adapter
        _redactor: Redactor

        def plan(
            self,
            prompt: str,
            *,
            operation: Operation = "generate",
            stream: bool = False,
            **fields: Unpack[GenerateFields],
        ) -> Plan: ...

        def _flows(self, planned: Plan) -> list[Flow[ImageResult]]: ...

    def dry_run(
        self,
        prompt: str,
        *,
        operation: Operation = "generate",
        stream: bool = False,
        **fields: Unpack[GenerateFields],
    ) -> DryRun:
        """What the call would send, with nothing sent: a :class:`~imagebridge.DryRun` of each
        provider call's first request and the cost estimate. Takes what :meth:`plan` takes and
        raises as it does."""
        planned = self.plan(prompt, operation=operation, stream=stream, **fields)
        cost = estimate(planned, prompt, self.prices)
        return dry_run(planned, self._flows(planned), self._adapter, self._redactor, cost)


def dry_run(
    planned: Plan,
    flows: Iterable[Flow[Any]],
    adapter: Adapter,
    redactor: Redactor,
    estimate: Cost | None = None,
) -> DryRun:
    """The dry run of ``planned``, whose ``flows`` (one per call) are advanced to their
    first request and closed; ``estimate``: what it would cost."""
    requests = []
    for flow in flows:
        first = _first_request(flow)
        if first is not None:
            requests.append(_planned(*first, redactor))
    return DryRun(
        provider=planned.provider,
        model=planned.model,
        operation=planned.operation,
        calls=len(planned.batches),
        images=planned.request.n,
        requests=tuple(requests),
        then=_then(planned, adapter, redactor),
        warnings=planned.warnings,
        plan=planned,
        estimate=estimate,
    )


def _first_request(flow: Flow[Any]) -> tuple[httpx.Request, bool] | None:
    """The flow's first request and whether its reply is streamed; None when the flow
    would need a reply before any request, or ends without one. The flow is closed."""
    try:
        effect = next(flow)
        while True:
            if isinstance(effect, httpx.Request):
                return effect, False
            if isinstance(effect, Stream):
                return effect.request, True
            if isinstance(effect, NextEvent):
                return None  # an event of a stream no request opened
            # Progress, Sleep, Accepted, PartialImage: notes the driver answers with None.
            effect = flow.send(None)
    except StopIteration:
        return None
    finally:
        flow.close()


def _planned(request: httpx.Request, streamed: bool, redactor: Redactor) -> PlannedRequest:
    headers = {
        name: _shown_content_type(value) if name == "content-type" else value
        for name, value in request.headers.items()  # lower-cased names
        if name not in _NOISE_HEADERS and not _SECRET_NAME.search(name)
    }
    return PlannedRequest(
        method=request.method,
        url=redactor.text(_shown_url(request.url)),
        headers=redactor.obj(headers),
        fields=redactor.obj(wire_fields(request)),
        streamed=streamed,
    )


def _shown_content_type(value: str) -> str:
    """A content type without its multipart boundary (random for every request)."""
    media, _, _ = value.partition(";")
    return media.strip() if media.strip().lower().startswith("multipart/") else value


def _shown_url(url: httpx.URL) -> str:
    """``url`` with every query value whose name looks like a credential replaced."""
    params = url.params.multi_items()
    if not any(_SECRET_NAME.search(name) for name, _ in params):
        return str(url)
    shown = [(name, REDACTED if _SECRET_NAME.search(name) else value) for name, value in params]
    return str(url.copy_with(params=shown))


# -- what follows the first request -----------------------------------------------------------
def _then(planned: Plan, adapter: Adapter, redactor: Redactor) -> tuple[str, ...]:
    """What follows each call's first request, in words, from the adapter's declarations."""
    caps = planned.capabilities
    steps = []
    if len(planned.batches) > 1:
        split = "+".join(map(str, planned.batches))
        steps.append(
            f"sends all {len(planned.batches)} calls ({split} images): in turn, or at once from"
            " the async client"
        )
    if planned.stream and caps.streaming:
        steps.append("reads each reply as server-sent events: partial images, then each image")
    if caps.async_tasks and planned.operation == "generate":
        steps.append(_polls(adapter, redactor))
    steps.append(
        "takes base64 images from the reply; downloads each result URL when its image is read"
        " or saved"
    )
    return tuple(steps)


def _polls(adapter: Adapter, redactor: Redactor) -> str:
    policy = adapter.poll_policy
    every = f"{policy.interval:g}"
    if policy.max_interval > policy.interval:
        every += f"-{policy.max_interval:g}"
    try:
        task = TaskHandle(provider=adapter.name, base_url=adapter.base_url, task_id=_TASK_ID)
        poll = adapter.poll_request(task)
        url = redactor.text(_shown_url(poll.url)).replace(_TASK_ID, "{task_id}")
        where = f"{poll.method} {url}"
    except Exception:  # a plugin's poll_request may refuse a made-up id
        where = "the task's status"
    return f"if the reply is a task: polls {where} every {every} s until it ends (PollPolicy)"
