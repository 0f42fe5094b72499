"""Recording cassettes: run the scenarios against a live endpoint (or the emulator) and save them.

For each scenario :func:`record` makes the canonical call through :class:`ImageClient` on a
:class:`RecordingTransport` (a ``text/event-stream`` answer is passed on to the client as it
arrives and kept event by event, with timing; see :mod:`._streams`), scrubs the exchanges
(see :mod:`._scrub`; events' data as any JSON body, their images as assets), applies the scenario's
documented edit if it has one, then replays the result in both clients: the outcome it
observes becomes the cassette's ``expected``, after checking it is what the scenario is about
(an endpoint that answers a ``#error=`` prompt with an image cannot record that scenario).
A cassette in which a secret appears, or whose error code is not the provider's own (see
:mod:`._error_codes`), is refused; nothing is written for it.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from .._clock import SYSTEM_CLOCK, Clock
from .._flow import announces_events
from .._plugins import Registry
from .._redact import Redactor
from ._cassette import (
    Body,
    Cassette,
    ClientOptions,
    EventStreamBody,
    Expected,
    Interaction,
    MatchRules,
    RecordedEvent,
    RecordedRequest,
    RecordedResponse,
    ScenarioInfo,
    save_cassette,
)
from ._context import PLACEHOLDER_ORIGIN, ProviderContext, build_call
from ._error_codes import error_code_problem
from ._execute import Observation, Runner
from ._intent import intent_problem
from ._match import body_from_bytes
from ._replay import ReplayTransport
from ._runner import observe, replay
from ._scenarios import SCENARIOS, Hint, Scenario, scenario_by_name
from ._scrub import Scrubber, SecretLeakError, check_secrets
from ._streams import RecordingStream, StreamCapture, event_data

__all__ = ["RecordReport", "RecordingTransport", "record"]

_DROPPED_RESPONSE_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


@dataclass(frozen=True)
class Exchange:
    """One recorded request (with the headers it was sent with) and its response; for an
    event stream, ``stream`` holds what arrived (filled in as the client reads it)."""

    request: httpx.Request
    request_headers: list[tuple[str, str]]
    response: httpx.Response
    stream: StreamCapture | None = None


class RecordingTransport(httpx.BaseTransport):
    """Sends through ``inner`` (a real transport by default) and keeps every exchange.

    ``headers`` are added to every request after it is recorded (an emulator fault: never
    in the cassette). A ``text/event-stream`` answer is not read ahead: the client reads it
    as it arrives, and each chunk is kept with its time (:class:`RecordingStream`)."""

    def __init__(
        self, inner: httpx.BaseTransport | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        self._owns = inner is None
        self.inner = inner or httpx.HTTPTransport()
        self.headers = dict(headers or {})
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send, read the whole response (decoded) and keep both; pass an event stream on
        as it comes."""
        request.read()
        headers = list(request.headers.multi_items())  # credentials are removed after sending
        request.headers.update(self.headers)
        response = self.inner.handle_request(request)
        kept = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in _DROPPED_RESPONSE_HEADERS
        ]
        if announces_events(response.headers):
            capture = StreamCapture()
            body = RecordingStream(response, capture)
            streamed = httpx.Response(response.status_code, headers=kept, stream=body)
            self.exchanges.append(Exchange(request, headers, streamed, capture))
            return streamed
        try:
            content = response.read()
        finally:
            response.close()
        replayable = httpx.Response(response.status_code, headers=kept, content=content)
        self.exchanges.append(Exchange(request, headers, replayable))
        return replayable

    def close(self) -> None:
        """Close the inner transport if this one created it."""
        if self._owns:
            self.inner.close()


@dataclass(frozen=True)
class RecordReport:
    """What happened to one scenario: recorded, not_applicable (a stub was written), skipped
    (the declared capabilities rule it out), refused (a secret leaked, or the error code is
    not the provider's own: :mod:`._error_codes`) or failed."""

    scenario: str
    status: Literal["recorded", "not_applicable", "skipped", "refused", "failed"]
    detail: str = ""
    path: Path | None = None


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _stream_body(capture: StreamCapture, timing: bool) -> EventStreamBody:
    events = [
        RecordedEvent(
            event=event.event,
            data=event_data(event.data),
            id=event.id or None,
            retry=event.retry,
            at=round(at, 3) if timing else None,
        )
        for at, event in capture.events()
    ]
    return EventStreamBody(events=events, broken=capture.broken)


def _interactions(
    exchanges: list[Exchange], scrubber: Scrubber, cassette: Cassette, timing: bool
) -> None:
    for exchange in exchanges:
        request, response = exchange.request, exchange.response
        request_body = body_from_bytes(request.headers.get("content-type", ""), request.content)
        response_body: Body | None
        if exchange.stream is not None:
            response_body = _stream_body(exchange.stream, timing)
        else:
            content_type = response.headers.get("content-type", "")
            response_body = body_from_bytes(content_type, response.content)
        cassette.interactions.append(
            Interaction(
                request=RecordedRequest(
                    method=request.method,
                    url=scrubber.url(str(request.url)),
                    headers=scrubber.headers(exchange.request_headers, request=True),
                    body=scrubber.body(request_body, cassette, response=False),
                ),
                response=RecordedResponse(
                    status=response.status_code,
                    headers=scrubber.headers(response.headers.multi_items(), request=False),
                    body=scrubber.body(response_body, cassette, response=True),
                ),
            )
        )


class _Recorder:
    def __init__(
        self,
        context: ProviderContext,
        base_url: str,
        api_key: str | None,
        transport: httpx.BaseTransport | None,
        clock: Clock,
        secrets: Collection[str],
        recorded_from: str | None,
        ignore_json_paths: Collection[str],
        timing: bool,
    ) -> None:
        self.context = context
        self.timing = timing
        self.base_url = base_url.rstrip("/")
        # The key the client would use anyway (from the environment) is a secret all the same.
        env_key = os.environ.get(f"{context.adapter_cls.env_prefix()}_API_KEY")
        self.api_key = api_key or env_key
        self.transport = transport
        self.clock = clock
        self.secrets = [self.api_key, env_key, *secrets]
        self.recorded_from = recorded_from
        self.ignore_json_paths = list(ignore_json_paths)
        origin = _origin(self.base_url)
        self.placeholder_base = PLACEHOLDER_ORIGIN + self.base_url[len(origin) :]
        self.scrubber = Scrubber(
            origin=origin,
            placeholder_origin=PLACEHOLDER_ORIGIN,
            credential_headers=context.credential_headers(),
        )

    def record(self, scenario: Scenario, path: Path, hint: Hint | None) -> RecordReport:
        """Record one scenario into ``path`` (or say why not)."""
        model: str | None
        if hint is not None and hint.model is not None:
            model, reason = hint.model, self.context.skip_reason(scenario.requires, hint.model)
        else:
            model, reason = self.context.choose_model(scenario.requires)
        if reason is not None:
            return RecordReport(scenario.name, "skipped", reason)
        call = build_call(scenario, self.context, base_url=self.base_url, model=model, hint=hint)
        observation = Observation(scenario.check_progress, scenario.check_message, call.stream)
        fault = scenario.fault.format(**call.fields) if scenario.fault else ""
        headers = {"x-emulator-fault": fault} if fault else {}
        recording = RecordingTransport(self.transport, headers=headers)
        runner = Runner(
            self.context.provider,
            call,
            self.context.registry,
            self.clock,
            api_key=self.api_key or "",
        )
        try:
            live = runner.run_sync(recording, observation)
        except Exception as error:  # an adapter bug: say what, without the recording
            text = Redactor(self.secrets).text(f"{type(error).__name__}: {error}")
            return RecordReport(scenario.name, "failed", f"the call raised {text}")
        description = scenario.description
        if scenario.edit is not None:
            description += "\n\n" + scenario.edit_note
        if fault:
            description += f"\n\nRecorded with the emulator fault {fault} (X-Emulator-Fault)."
        cassette = Cassette(
            name=path.stem,
            provider=self.context.provider,
            description=description,
            recorded_from=self.recorded_from,
            scenario=ScenarioInfo(
                name=scenario.name, requires=list(scenario.requires), expect=scenario.expect
            ),
            call=call.model_copy(
                update={
                    "client": ClientOptions(
                        base_url=self.placeholder_base, invalid_key=call.client.invalid_key
                    )
                }
            ),
            match=MatchRules(
                ignore_json_paths=[*self.ignore_json_paths, *scenario.ignore_json_paths],
                headers=list(scenario.match_headers),
            ),
            expected=live,
        )
        _interactions(recording.exchanges, self.scrubber, cassette, self.timing)
        if scenario.edit is not None:
            scenario.edit(cassette)
        marker = hint.marker if hint is not None and hint.marker is not None else scenario.marker
        return self._finish(scenario, cassette, live, path, marker)

    def _finish(
        self, scenario: Scenario, cassette: Cassette, live: Expected, path: Path, marker: str
    ) -> RecordReport:
        name = scenario.name
        try:  # before anything else prints parts of the recording
            check_secrets(cassette, self.secrets)
        except SecretLeakError as error:
            return RecordReport(name, "refused", str(error))
        transport = ReplayTransport(cassette, credential_headers=self.context.credential_headers())
        try:
            observed = observe(cassette, "sync", self.context, transport)
            if transport.mismatches:
                raise transport.mismatches[0]
            transport.assert_all_played()
        except AssertionError as error:
            return RecordReport(name, "failed", f"the recording does not replay: {error}")
        assert cassette.call is not None
        problem = intent_problem(scenario, cassette.call, observed)
        if problem is None and scenario.edit is None and observed != live:
            problem = "the scrubbed recording replays to another outcome than the live call"
        if problem is not None and scenario.sources is not None and observed.error is None:
            problem += (
                f"; if {self.context.provider} never answers that way, list {name} as not"
                f" applicable (--not-applicable {name}='<why>', [not_applicable] in"
                " imagebridge-record.toml, or record(not_applicable=...))"
            )
        if problem is not None:
            return RecordReport(name, "failed", f"{problem}; not saved")
        if observed.error is not None:
            problem = error_code_problem(
                name, scenario.expect, self.context.adapter_cls, observed.error, marker
            )
            if problem is not None:
                return RecordReport(name, "refused", f"{problem}; not saved")
        cassette.expected = observed
        try:
            check_secrets(cassette, self.secrets)
            replay(cassette, "async", context=self.context)
        except SecretLeakError as error:
            return RecordReport(name, "refused", str(error))
        except AssertionError as error:
            return RecordReport(name, "failed", f"the async replay fails: {error}")
        return RecordReport(name, "recorded", "", save_cassette(cassette, path))


def _stub(provider: str, scenario: Scenario, reason: str, path: Path) -> RecordReport:
    cassette = Cassette(
        name=path.stem,
        provider=provider,
        description=scenario.description,
        scenario=ScenarioInfo(
            name=scenario.name, requires=list(scenario.requires), expect=scenario.expect
        ),
        not_applicable=reason,
    )
    return RecordReport(scenario.name, "not_applicable", reason, save_cassette(cassette, path))


def record(
    provider: str,
    *,
    base_url: str,
    api_key: str | None,
    out: str | Path,
    scenarios: Iterable[str | Scenario] | None = None,
    hints: Mapping[str, Hint] | None = None,
    not_applicable: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    secrets: Collection[str] = (),
    registry: Registry | None = None,
    model: str | None = None,
    recorded_from: str | None = None,
    ignore_json_paths: Collection[str] = (),
    timing: bool = True,
) -> list[RecordReport]:
    """Record ``scenarios`` (default: every shared one) of ``provider`` into ``out``.

    ``base_url`` and ``api_key`` are the live endpoint's; ``transport`` replaces the network
    (an in-process fake server), ``clock`` the system clock (a :class:`FakeClock` shared with
    the emulator makes polling instant). ``hints`` adapt a scenario to the provider (a marker,
    fields, a model); ``not_applicable`` maps scenarios the provider cannot have to the
    reason, written as stub cassettes that replay as skips. ``secrets`` are refused in
    recordings besides the key. ``ignore_json_paths`` are volatile request fields (a random
    idempotency key) left out when replayed requests are compared. ``timing``: keep when
    each event of a streamed answer arrived (replayed as delays on request).
    """
    context = ProviderContext.of(provider, registry, model)
    recorder = _Recorder(
        context,
        base_url,
        api_key,
        transport,
        clock or SYSTEM_CLOCK,
        secrets,
        recorded_from,
        ignore_json_paths,
        timing,
    )
    folder = Path(out)
    reports = []
    chosen = list(scenarios) if scenarios is not None else list(SCENARIOS)
    for item in chosen:
        scenario = scenario_by_name(item) if isinstance(item, str) else item
        if scenario is None:
            raise ValueError(f"unknown scenario {item!r}")
        path = folder / f"{scenario.name}.json"
        reason = (not_applicable or {}).get(scenario.name)
        if reason is not None:
            reports.append(_stub(provider, scenario, reason, path))
            continue
        reports.append(recorder.record(scenario, path, (hints or {}).get(scenario.name)))
    return reports
