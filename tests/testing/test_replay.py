"""Replay: requests matched on method, normalised URL and body; responses played once, in
order; an unmatched request fails with a readable diff, an unused interaction fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from imagebridge.testing import (
    Cassette,
    CassetteMismatchError,
    ReplayTransport,
    UnusedInteractionsError,
    load_cassette,
    replay,
)

Mode = Literal["sync", "async"]
MODES: list[Mode] = ["sync", "async"]
Copy = Callable[[str, str], Path]


def edit_json(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


@pytest.mark.parametrize("mode", MODES)
def test_a_built_in_cassette_replays(copy_cassette: Copy, mode: Mode) -> None:
    replay(load_cassette(copy_cassette("dimilinks", "task_statuses")), mode)


@pytest.mark.parametrize("mode", MODES)
def test_one_byte_changed_in_a_recorded_body_fails_with_a_readable_diff(
    copy_cassette: Copy, mode: Mode
) -> None:
    path = copy_cassette("openai", "text_to_image")
    original = path.read_bytes()
    # One byte of the recorded request body: the prompt "a red cube" becomes "a red cubf".
    start = original.index(
        b'"prompt": "a red cube on a white table"', original.index(b"interactions")
    )
    index = start + len(b'"prompt": "a red cub')
    path.write_bytes(original[:index] + b"f" + original[index + 1 :])

    with pytest.raises(CassetteMismatchError) as info:
        replay(load_cassette(path), mode)

    message = str(info.value)
    assert (
        "no unplayed interaction matches POST https://recorded.imagebridge.test/openai/v1/images/generations"
        in message
    )
    assert "Closest is #0" in message
    assert "--- recorded interaction #0" in message
    assert "+++ request sent" in message
    assert '-      "prompt": "a red cubf on a white table"' in message
    assert '+      "prompt": "a red cube on a white table"' in message


@pytest.mark.parametrize("mode", MODES)
def test_an_unused_interaction_fails(copy_cassette: Copy, mode: Mode) -> None:
    path = copy_cassette("apimart", "text_to_image")
    edit_json(path, lambda data: data["interactions"].append(data["interactions"][1]))

    with pytest.raises(UnusedInteractionsError) as info:
        replay(load_cassette(path), mode)

    assert "1 of 4 interaction(s) were never requested" in str(info.value)
    assert "#3 GET https://recorded.imagebridge.test/apimart/v1/tasks/" in str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_multipart_part_that_differs_is_named_in_the_diff(
    copy_cassette: Copy, mode: Mode
) -> None:
    path = copy_cassette("geeknow", "edit_with_mask")

    def change(data: dict[str, Any]) -> None:
        parts = data["interactions"][0]["request"]["body"]["parts"]
        mask = next(part for part in parts if part["name"] == "mask")
        mask["size"] += 1

    edit_json(path, change)
    with pytest.raises(CassetteMismatchError) as info:
        replay(load_cassette(path), mode)
    assert '"name": "mask"' in str(info.value)
    assert '-        "size": 72\n+        "size": 71' in str(info.value)


def cassette(*interactions: dict[str, Any], ignore: list[str] | None = None) -> Cassette:
    return Cassette.model_validate(
        {
            "name": "unit",
            "provider": "openai",
            "scenario": {"name": "unit"},
            "call": {"client": {"base_url": "https://api.example.test/v1"}},
            "match": {"ignore_json_paths": ignore or []},
            "interactions": list(interactions),
            "expected": {"error": {"type": "X"}},
        }
    )


def interaction(
    url: str, body: Any = None, answer: Any = None, auth: bool = False
) -> dict[str, Any]:
    request: dict[str, Any] = {"method": "POST" if body is not None else "GET", "url": url}
    if body is not None:
        request["body"] = {"kind": "json", "json": body}
    if auth:
        request["headers"] = {"authorization": "<credentials>"}
    return {
        "request": request,
        "response": {"status": 200, "body": {"kind": "json", "json": answer}},
    }


def test_query_parameters_match_in_any_order() -> None:
    transport = ReplayTransport(
        cassette(interaction("https://api.example.test/v1/t?b=2&a=1", answer=1))
    )
    with httpx.Client(transport=transport) as client:
        assert client.get("https://api.example.test/v1/t?a=1&b=2").json() == 1
    transport.assert_all_played()


def test_identical_requests_get_their_responses_once_and_in_order() -> None:
    url = "https://api.example.test/v1/tasks/1"
    transport = ReplayTransport(
        cassette(interaction(url, answer="queued"), interaction(url, answer="done"))
    )
    with httpx.Client(transport=transport) as client:
        assert [client.get(url).json() for _ in range(2)] == ["queued", "done"]
        with pytest.raises(CassetteMismatchError, match="every interaction was already played"):
            client.get(url)


def test_declared_volatile_json_paths_are_ignored() -> None:
    recorded = interaction(
        "https://api.example.test/v1/x",
        {"prompt": "p", "meta": {"seed": 1}, "items": [{"at": 1}]},
        "ok",
    )
    transport = ReplayTransport(cassette(recorded, ignore=["meta.seed", "items.*.at"]))
    with httpx.Client(transport=transport) as client:
        sent = {"prompt": "p", "meta": {"seed": 99}, "items": [{"at": 2}]}
        assert client.post("https://api.example.test/v1/x", json=sent).json() == "ok"
        with pytest.raises(CassetteMismatchError, match='"prompt": "q"'):
            client.post("https://api.example.test/v1/x", json={**sent, "prompt": "q"})


def test_credentials_must_be_sent_where_they_were_recorded_and_nowhere_else() -> None:
    url = "https://api.example.test/v1/x"
    transport = ReplayTransport(cassette(interaction(url, {"a": 1}, "ok", auth=True)))
    with httpx.Client(transport=transport) as client:
        with pytest.raises(CassetteMismatchError, match='-  "credentials": true'):
            client.post(url, json={"a": 1})
        response = client.post(url, json={"a": 1}, headers={"Authorization": "Bearer any-value"})
        assert response.json() == "ok"


def test_a_cassette_without_interactions_refuses_every_request() -> None:
    transport = ReplayTransport(cassette())
    with (
        httpx.Client(transport=transport) as client,
        pytest.raises(CassetteMismatchError, match="must not reach the network"),
    ):
        client.get("https://api.example.test/v1/anything")
    assert transport.calls == 1


def test_the_key_never_goes_to_another_host_even_if_recorded() -> None:
    cdn = "https://cdn.example.test/o/1.png"
    transport = ReplayTransport(cassette(interaction(cdn, auth=True)))
    with (
        httpx.Client(transport=transport) as client,
        pytest.raises(
            CassetteMismatchError, match=r"the API key was sent to https://cdn\.example\.test"
        ),
    ):
        client.get(cdn, headers={"Authorization": "Bearer any-value"})
