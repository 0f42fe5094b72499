"""Hostile or broken Replicate answers, and the emulator's faults in every phase.

Through ``httpx.MockTransport``: a poll URL on a foreign host is not polled (the key goes
nowhere else), an output URL to the cloud-metadata address fails, an unusable id or answer is
the provider's error with the task id kept. Against the emulator: faults apply to creates,
polls, downloads and cancels of this dialect, and a dropped create answer is never re-sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from imagebridge import (
    ImageBridgeError,
    ImageClient,
    RetryPolicy,
    ServerError,
    SubmitOutcomeUnknownError,
    TaskHandle,
)
from imagebridge._emulator import EmulatorServer
from imagebridge._emulator._replicate import locate

from .conftest import KEY, POLICY

BASE = "https://api.replicate.com/v1"


def prediction(**fields: Any) -> dict[str, Any]:
    return {"id": "p1", "status": "starting", "output": None, "error": None, **fields}


def fake(answers: list[dict[str, Any]], seen: list[httpx.Request]) -> Callable[..., Any]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201 if request.method == "POST" else 200, json=answers.pop(0))

    return handler


def client_of(handler: Callable[..., Any]) -> ImageClient:
    return ImageClient(
        "replicate",
        api_key=KEY,
        transport=httpx.MockTransport(handler),
        poll_policy=POLICY,
        retry=RetryPolicy(max_retries=0),
        journal=False,
    )


def test_a_foreign_poll_url_is_not_polled() -> None:
    seen: list[httpx.Request] = []
    answers = [
        prediction(urls={"get": "https://evil.example/v1/predictions/p1"}),
        prediction(status="succeeded", output=["https://replicate.delivery/x/out-0.webp"]),
    ]
    with client_of(fake(answers, seen)) as client:
        task = client.submit("a cat")
        assert task.adapter_state == {}  # the foreign URL was not kept
        client.wait(task)
    poll = seen[1]
    assert str(poll.url) == f"{BASE}/predictions/p1"
    assert all(r.url.host == "api.replicate.com" for r in seen)


def test_a_tampered_handle_with_a_foreign_poll_url_is_not_polled() -> None:
    seen: list[httpx.Request] = []
    answers = [prediction(status="succeeded", output="https://replicate.delivery/x/out-0.png")]
    with client_of(fake(answers, seen)) as client:
        handle = TaskHandle(
            provider="replicate",
            base_url=BASE,
            task_id="p1",
            adapter_state={"get": "https://evil.example/steal"},
        )
        client.wait(handle)
    assert str(seen[0].url) == f"{BASE}/predictions/p1"


def test_an_output_url_to_the_metadata_address_fails() -> None:
    seen: list[httpx.Request] = []
    answers = [prediction(status="succeeded", output=["http://169.254.169.254/latest/meta-data"])]
    with client_of(fake(answers, seen)) as client, pytest.raises(ImageBridgeError) as info:
        client.generate("a cat")
    assert info.value.task_id == "p1"  # type: ignore[attr-defined]
    assert len(seen) == 1  # nothing was fetched from there


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (prediction(id="../admin"), "cannot be polled"),
        (prediction(id=None), "no task id"),
        (prediction(status="succeeded", output=[1, {"a": 2}]), "no usable images"),
    ],
)
def test_unusable_answers_are_server_errors(answer: dict[str, Any], words: str) -> None:
    with client_of(fake([answer], [])) as client, pytest.raises(ServerError) as info:
        client.generate("a cat")
    assert words in str(info.value)


def test_a_problem_body_is_bounded() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"title": "T" * 10_000, "detail": "d" * 100_000, "status": 400}
        return httpx.Response(400, json=body)

    with client_of(handler) as client, pytest.raises(ImageBridgeError) as info:
        client.generate("a cat")
    error: Any = info.value
    assert len(error.code) <= 64
    assert len(str(error)) < 3000


def test_a_cancel_answer_with_an_unknown_status_is_an_error() -> None:
    answers = [prediction(), prediction(status="exploded")]
    with client_of(fake(answers, [])) as client:
        task = client.submit("a cat")
        with pytest.raises(ServerError) as info:
            client.cancel(task)
    assert info.value.task_id == "p1"


def test_locate_classifies_every_phase() -> None:
    assert locate("POST", "/models/a/b/predictions", {}) == ("submit", None)
    assert locate("POST", "/predictions", {}) == ("submit", None)
    assert locate("GET", "/predictions/p1", {}) == ("poll", "p1")
    assert locate("POST", "/predictions/p1/cancel", {}) == ("cancel", "p1")
    assert locate("GET", "/delivery/p1/out-0.webp", {}) == ("download", "p1")
    assert locate("GET", "/models", {}) is None


def _faults(server: EmulatorServer, *specs: str) -> None:
    httpx.post(f"{server.origin}/_emulator/faults", json=list(specs)).raise_for_status()


@pytest.mark.parametrize("phase", ["poll", "download", "cancel"])
def test_emulator_faults_apply_to_the_dialect(server: EmulatorServer, phase: str) -> None:
    with ImageClient(
        "replicate", api_key=KEY, base_url=server.url("replicate"), poll_policy=POLICY,
        retry=RetryPolicy(max_retries=0), journal=False,
    ) as client:  # fmt: skip
        task = client.submit(f"faulted {phase}")
        _faults(server, f"replicate/{phase}:503:1")
        try:
            if phase == "cancel":
                with pytest.raises(ServerError):
                    client.cancel(task)
            elif phase == "poll":
                client.wait(task)  # the shared engine rides out one 503 poll
            else:
                result = client.wait(task)
                with pytest.raises(ImageBridgeError):
                    result.images[0].read()
        finally:
            _faults(server)
    assert server.app_state.faults.applied >= 1


def test_a_dropped_create_answer_is_not_sent_again(server: EmulatorServer) -> None:
    before = server.app_state.stats()["submits"]["replicate"]
    _faults(server, "replicate/submit:drop:1")
    try:
        with (
            ImageClient(
                "replicate", api_key=KEY, base_url=server.url("replicate"), journal=False
            ) as client,
            pytest.raises((SubmitOutcomeUnknownError, ImageBridgeError)),
        ):
            client.generate("dropped create")
    finally:
        _faults(server)
    assert server.app_state.stats()["submits"]["replicate"] == before + 1
