"""Spans of real jobs over loopback HTTP against the emulator: one per job, one per HTTP
attempt under it, GenAI and HTTP attributes, errors, and never the key or (by default) the
prompt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from imagebridge import (
    AsyncImageClient,
    ImageClient,
    PollPolicy,
    RetryPolicy,
    TaskFailedError,
)
from imagebridge._emulator import EmulatorServer

from .conftest import API_KEY, Spans

PROMPT = "a lighthouse of brass gears at dawn"
POLICY = PollPolicy(interval=0.05, max_interval=0.1)


@pytest.fixture
def faults(server: EmulatorServer) -> Iterator[Any]:
    """Set the emulator's faults for one test; cleared after it."""
    yield server.app_state.faults.replace
    server.app_state.faults.replace([])


def client(server: EmulatorServer, provider: str = "openai", **options: Any) -> ImageClient:
    return ImageClient(
        provider, api_key=API_KEY, base_url=server.url(provider), journal=False, **options
    )


def texts(span: ReadableSpan) -> list[str]:
    """Every value of every attribute and event attribute of ``span``, and its name and
    status description, as text."""
    found = [span.name, span.status.description or ""]
    attribute_sets = [span.attributes or {}, *(event.attributes or {} for event in span.events)]
    for attributes in attribute_sets:
        for key, value in attributes.items():
            values = value if isinstance(value, tuple | list) else [value]
            found += [key, *(str(v) for v in values)]
    found += [event.name for event in span.events]
    return found


def assert_clean(spans: Spans, *, prompt: bool = False) -> None:
    """No span holds the key; none holds the prompt unless ``prompt``."""
    every = [text for span in spans.all() for text in texts(span)]
    assert every, "no spans were recorded"
    assert not [t for t in every if API_KEY in t or API_KEY[8:] in t]
    if not prompt:
        assert not [t for t in every if "brass gears" in t]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def only_job(spans: Spans) -> ReadableSpan:
    [job] = spans.jobs()
    return job


def children(spans: Spans, job: ReadableSpan) -> list[ReadableSpan]:
    assert job.context is not None
    return [
        s for s in spans.http() if s.parent is not None and s.parent.span_id == job.context.span_id
    ]


def test_a_sync_generate_is_one_job_span_with_one_http_span_under_the_callers_span(
    spans: Spans, server: EmulatorServer
) -> None:
    with spans.tracer.start_as_current_span("the caller") as caller, client(server) as c:
        result = c.generate(PROMPT, model="gpt-image-1", size="1024x1024")
    job = only_job(spans)
    assert job.name == "generate_content gpt-image-1"
    assert job.kind is SpanKind.CLIENT
    assert job.parent is not None
    assert job.parent.span_id == caller.get_span_context().span_id
    attributes = dict(job.attributes or {})
    assert attributes["gen_ai.operation.name"] == "generate_content"
    assert attributes["imagebridge.operation"] == "generate"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-image-1"
    assert attributes["gen_ai.response.model"] == result.model
    assert attributes["gen_ai.output.type"] == "image"
    assert attributes["imagebridge.image.size"] == "1024x1024"
    assert attributes["imagebridge.image.n"] == 1
    assert attributes["imagebridge.image.count"] == 1
    assert attributes["imagebridge.stream"] is False
    assert result.usage is not None
    assert attributes["gen_ai.usage.input_tokens"] == result.usage.input_tokens
    assert attributes["gen_ai.usage.output_tokens"] == result.usage.output_tokens
    assert job.status.status_code is StatusCode.UNSET
    [http] = spans.http()
    assert children(spans, job) == [http]
    assert http.name == "POST"
    assert http.kind is SpanKind.CLIENT
    port = int(server.url().rsplit(":", 1)[1].split("/")[0])
    assert dict(http.attributes or {}) == {
        "http.request.method": "POST",
        "url.full": f"{server.url('openai')}/images/generations",
        "server.address": "127.0.0.1",
        "server.port": port,
        "http.response.status_code": 200,
    }
    assert_clean(spans)


@pytest.mark.anyio
async def test_an_async_task_is_one_job_span_over_its_submit_and_polls(
    spans: Spans, server: EmulatorServer
) -> None:
    async with AsyncImageClient(
        "dimilinks",
        api_key=API_KEY,
        base_url=server.url("dimilinks"),
        journal=False,
        poll_policy=POLICY,
    ) as c:
        result = await c.generate(PROMPT, size="1:1")
    job = only_job(spans)
    attributes = dict(job.attributes or {})
    assert attributes["gen_ai.provider.name"] == "dimilinks"
    assert attributes["imagebridge.task.id"] == result.task_id
    assert attributes["imagebridge.image.size"] == "1:1"
    under = children(spans, job)
    assert under == spans.http()
    methods = [attrs(s)["http.request.method"] for s in under]
    assert methods[0] == "POST"
    assert methods.count("GET") >= 1, methods
    assert all(attrs(s)["http.response.status_code"] == 200 for s in under)
    assert_clean(spans)


def test_submit_then_wait_are_two_jobs_with_the_task_id(
    spans: Spans, server: EmulatorServer
) -> None:
    with client(server, "dimilinks", poll_policy=POLICY) as c:
        handle = c.submit(PROMPT)
        c.wait(handle)
    submit, wait = spans.jobs()
    # The submit's model is known once its task is: the span is named after it then.
    assert submit.name == f"generate_content {handle.model}"
    assert wait.name == f"wait {handle.model}"
    assert attrs(submit)["gen_ai.request.model"] == handle.model
    assert attrs(submit)["imagebridge.operation"] == "submit"
    assert attrs(submit)["gen_ai.operation.name"] == "generate_content"
    assert attrs(wait)["gen_ai.operation.name"] == "wait"
    assert attrs(submit)["imagebridge.task.id"] == handle.task_id
    assert attrs(wait)["imagebridge.task.id"] == handle.task_id
    assert len(children(spans, submit)) == 1
    assert len(children(spans, wait)) >= 1
    assert_clean(spans)


def test_a_retried_503_is_two_http_spans_the_second_a_resend(
    spans: Spans, server: EmulatorServer, faults: Any
) -> None:
    faults(["openai/submit:503:1"])
    with client(server, retry=RetryPolicy(backoff=0.01, jitter=0)) as c:
        c.generate(PROMPT, model="gpt-image-1")
    job = only_job(spans)
    first, second = children(spans, job)
    assert attrs(first)["http.response.status_code"] == 503
    assert attrs(first)["error.type"] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in attrs(first)
    assert attrs(second)["http.request.resend_count"] == 1
    assert attrs(second)["http.response.status_code"] == 200
    assert job.status.status_code is StatusCode.UNSET
    assert_clean(spans)


def test_a_failed_job_is_an_error_span_named_after_the_error_class(
    spans: Spans, server: EmulatorServer, faults: Any
) -> None:
    faults(["dimilinks/poll:fail:1:upstream_error"])
    with client(server, "dimilinks", poll_policy=POLICY) as c, pytest.raises(TaskFailedError):
        c.generate(PROMPT)
    job = only_job(spans)
    assert job.status.status_code is StatusCode.ERROR
    assert attrs(job)["error.type"] == "TaskFailedError"
    assert "imagebridge.task.id" in attrs(job)
    [event] = job.events
    assert event.name == "exception"
    assert attrs(event)["exception.type"] == "TaskFailedError"
    assert_clean(spans)


def test_a_transport_error_is_an_http_span_with_its_class(spans: Spans) -> None:
    # Nothing listens on port 9 of loopback: the connection is refused, not retried here.
    with (
        ImageClient(
            "openai",
            api_key=API_KEY,
            base_url="http://127.0.0.1:9/v1",
            journal=False,
            retry=RetryPolicy(max_retries=0),
        ) as c,
        pytest.raises(Exception, match="request to openai failed"),
    ):
        c.generate(PROMPT, model="gpt-image-1")
    job = only_job(spans)
    [http] = children(spans, job)
    assert attrs(http)["error.type"] == "ConnectError"
    assert "http.response.status_code" not in attrs(http)
    assert attrs(job)["error.type"] == "APIConnectionError"
    assert_clean(spans)


def test_a_stream_is_one_job_span_ended_with_its_result(
    spans: Spans, server: EmulatorServer
) -> None:
    with client(server) as c, c.stream(PROMPT, model="gpt-image-1", partial_images=2) as events:
        kinds = [event.type for event in events]
    assert kinds[-1] == "completed"
    job = only_job(spans)
    assert attrs(job)["imagebridge.stream"] is True
    assert attrs(job)["imagebridge.image.count"] == 1
    assert len(children(spans, job)) == 1
    assert_clean(spans)


def test_a_stream_closed_early_still_ends_its_span(spans: Spans, server: EmulatorServer) -> None:
    with client(server) as c, c.stream(PROMPT, model="gpt-image-1", partial_images=2) as events:
        next(iter(events))
    only_job(spans)
    assert_clean(spans)


def test_the_prompt_is_recorded_only_with_the_genai_opt_in(
    spans: Spans, server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    with client(server) as c:
        monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
        c.generate(f"{PROMPT} {API_KEY}", model="gpt-image-1")  # read at construction
    job = only_job(spans)
    [message] = json.loads(str(attrs(job)["gen_ai.input.messages"]))
    assert message["role"] == "user"
    assert message["parts"][0]["content"] == f"{PROMPT} [REDACTED]"
    assert_clean(spans, prompt=True)


def test_without_the_opt_in_a_client_records_no_prompt(
    spans: Spans, server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "false")
    with client(server) as c:
        c.generate(PROMPT, model="gpt-image-1")
    assert "gen_ai.input.messages" not in (only_job(spans).attributes or {})
    assert_clean(spans)


def test_a_provider_echoing_the_key_in_an_error_leaves_no_key_in_any_span(
    spans: Spans, server: EmulatorServer, faults: Any
) -> None:
    # The task fails with the key as its error code, as a careless gateway might say it.
    faults([f"dimilinks/poll:fail:1:{API_KEY}"])
    with client(server, "dimilinks", poll_policy=POLICY) as c, pytest.raises(TaskFailedError):
        c.generate(PROMPT)
    [event] = only_job(spans).events
    assert "[REDACTED]" in str(attrs(event)["exception.message"])
    assert_clean(spans)
