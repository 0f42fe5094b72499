"""Spans captured in memory, without touching the process's global tracer provider.

``trace.set_tracer_provider`` can be called once per process, so these tests do not call it:
the ``spans`` fixture patches :mod:`imagebridge._telemetry`'s tracer lookup (the tracer it
finds at the first job, and that it is configured) to a private SDK :class:`TracerProvider`
with an :class:`InMemorySpanExporter`, for the test only (``monkeypatch``), so every other
test sees the library as it was.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

import imagebridge
from imagebridge import _telemetry
from imagebridge._emulator import EmulatorConfig, EmulatorServer

#: A recognisable fake key: no attribute or event of any span may hold it.
API_KEY = "sk-otel-FAKE-KEY-7f3c9a1b2d4e"


class Spans:
    """The spans ended so far, and a tracer of the same provider for the test's own spans."""

    def __init__(self, exporter: InMemorySpanExporter, tracer: Tracer) -> None:
        self._exporter = exporter
        self.tracer = tracer

    def all(self) -> list[ReadableSpan]:
        return list(self._exporter.get_finished_spans())

    def jobs(self) -> list[ReadableSpan]:
        return [s for s in self.all() if s.attributes and "gen_ai.operation.name" in s.attributes]

    def http(self) -> list[ReadableSpan]:
        return [s for s in self.all() if s.attributes and "http.request.method" in s.attributes]


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spans]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(
        _telemetry, "_tracer", provider.get_tracer("imagebridge", imagebridge.__version__)
    )
    monkeypatch.setattr(_telemetry, "_configured", True)
    yield Spans(exporter, provider.get_tracer("tests"))
    provider.shutdown()


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.2, api_key=API_KEY)) as running:
        yield running


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
