"""Recording cassettes: run the scenarios against a live endpoint (or the emulator) and save them.

For each scenario :func:`record` makes the canonical call through :class:`ImageClient` on a
:class:`RecordingTransport`, scrubs the exchanges (see :mod:`._scrub`), applies the scenario's
documented edit if it has one, then replays the result in both clients: the outcome it
observes becomes the cassette's ``expected``, after checking it is what the scenario is about
(an endpoint that answers a ``#error=`` prompt with an image cannot record that scenario).
A cassette in which a secret appears is refused; nothing is written for it.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from .._clock import SYSTEM_CLOCK, Clock
from .._plugins import Registry
from .._redact import Redactor
from ._cassette import (
    Cassette,
    ClientOptions,
    Expected,
    Interaction,
    MatchRules,
    RecordedRequest,
    RecordedResponse,
    ScenarioInfo,
    save_cassette,
)
from ._context import PLACEHOLDER_ORIGIN, ProviderContext, build_call
from ._execute import Observation, Runner
from ._match import body_from_bytes
from ._replay import ReplayTransport
from ._runner import observe, replay
from ._scenarios import SCENARIOS, Hint, Scenario, scenario_by_name
from ._scrub import Scrubber, SecretLeakError, check_secrets

__all__ = ["RecordReport", "RecordingTransport", "record"]

_DROPPED_RESPONSE_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


@dataclass(frozen=True)
class Exchange:
    """One recorded request (with the headers it was sent with) and its response."""

    request: httpx.Request
    request_headers: list[tuple[str, str]]
    response: httpx.Response


class RecordingTransport(httpx.BaseTransport):
    """Sends through ``inner`` (a real transport by default) and keeps every exchange."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self._owns = inner is None
        self.inner = inner or httpx.HTTPTransport()
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send, read the whole response (decoded) and keep both."""
        request.read()
        headers = list(request.headers.multi_items())  # credentials are removed after sending
        response = self.inner.handle_request(request)
        try:
            content = response.read()
        finally:
            response.close()
        kept = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in _DROPPED_RESPONSE_HEADERS
        ]
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
    (the declared capabilities rule it out), refused (a secret leaked) or failed."""

    scenario: str
    status: Literal["recorded", "not_applicable", "skipped", "refused", "failed"]
    detail: str = ""
    path: Path | None = None


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _interactions(exchanges: list[Exchange], scrubber: Scrubber, cassette: Cassette) -> None:
    for exchange in exchanges:
        request, response = exchange.request, exchange.response
        request_body = body_from_bytes(request.headers.get("content-type", ""), request.content)
        response_body = body_from_bytes(response.headers.get("content-type", ""), response.content)
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


def _intent_problem(scenario: Scenario, observed: Expected) -> str | None:
    if scenario.expect == "success":
        if observed.error is not None:
            return f"expected success, got {observed.error.type} ({observed.error.code or '-'})"
        assert observed.result is not None
        if scenario.sources and set(observed.result.sources) != {scenario.sources}:
            return f"expected {scenario.sources} images, got {observed.result.sources}"
        return None
    if observed.error is None or observed.error.type != scenario.expect:
        got = "success" if observed.error is None else observed.error.type
        return f"expected {scenario.expect}, got {got}"
    return None


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
    ) -> None:
        self.context = context
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
        observation = Observation(scenario.check_progress, scenario.check_message)
        recording = RecordingTransport(self.transport)
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
        _interactions(recording.exchanges, self.scrubber, cassette)
        if scenario.edit is not None:
            scenario.edit(cassette)
        return self._finish(scenario, cassette, live, path)

    def _finish(
        self, scenario: Scenario, cassette: Cassette, live: Expected, path: Path
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
        problem = _intent_problem(scenario, observed)
        if problem is None and scenario.edit is None and observed != live:
            problem = "the scrubbed recording replays to another outcome than the live call"
        if problem is not None:
            return RecordReport(name, "failed", f"{problem}; not saved")
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
) -> list[RecordReport]:
    """Record ``scenarios`` (default: every shared one) of ``provider`` into ``out``.

    ``base_url`` and ``api_key`` are the live endpoint's; ``transport`` replaces the network
    (an in-process fake server), ``clock`` the system clock (a :class:`FakeClock` shared with
    the emulator makes polling instant). ``hints`` adapt a scenario to the provider (a marker,
    fields, a model); ``not_applicable`` maps scenarios the provider cannot have to the
    reason, written as stub cassettes that replay as skips. ``secrets`` are refused in
    recordings besides the key. ``ignore_json_paths`` are volatile request fields (a random
    idempotency key) left out when replayed requests are compared.
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
