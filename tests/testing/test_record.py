"""Recording mode, demonstrated against the emulator over loopback HTTP: scrubbing (allow-listed
headers, credentials as a placeholder, signatures stripped consistently, placeholder origin),
assets, verification by replay, and the refusal to save a cassette containing a secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from imagebridge._emulator import EmulatorServer
from imagebridge.testing import (
    PLACEHOLDER_ORIGIN,
    FakeClock,
    Hint,
    Scenario,
    load_cassette,
    record,
    replay,
    run_conformance,
)

from .conftest import EMULATOR_KEY


def recorded(folder: Path) -> str:
    """Every byte the recording wrote, as text (assets decoded leniently)."""
    return "\n".join(
        p.read_bytes().decode("latin-1") for p in sorted(folder.rglob("*")) if p.is_file()
    )


def test_recording_the_emulator_writes_scrubbed_cassettes_that_replay(
    emulator: tuple[EmulatorServer, FakeClock], tmp_path: Path
) -> None:
    server, clock = emulator
    server.config.result_url_style = "relative"
    reports = record(
        "dimilinks",
        base_url=server.url("dimilinks"),
        api_key=EMULATOR_KEY,
        out=tmp_path,
        scenarios=["text_to_image", "edit_one_image", "rate_limited", "task_unknown"],
        clock=clock,
        recorded_from="emulator",
    )
    assert [(r.scenario, r.status) for r in reports] == [
        ("text_to_image", "recorded"),
        ("edit_one_image", "recorded"),
        ("rate_limited", "recorded"),
        ("task_unknown", "recorded"),
    ], [r.detail for r in reports]

    everything = recorded(tmp_path)
    assert EMULATOR_KEY not in everything
    assert server.origin not in everything  # rewritten to the placeholder origin
    assert "127.0.0.1" not in everything
    assert "boundary" not in everything

    cassette = load_cassette(tmp_path / "text_to_image.json")
    submit, poll, download = cassette.interactions
    assert submit.request.url == f"{PLACEHOLDER_ORIGIN}/dimilinks/v1/images/generations?async=true"
    assert submit.request.headers == {
        "content-type": "application/json",
        "authorization": "<credentials>",
    }
    # The signed relative URL: exp and sig stripped, the same way in the poll answer and in
    # the download request that followed it (which carries no credentials).
    poll_json = json.dumps(poll.response.model_dump(mode="json", by_alias=True))
    assert "/0?exp=REDACTED&sig=REDACTED" in poll_json
    assert download.request.url.startswith(f"{PLACEHOLDER_ORIGIN}/p/img/")
    assert download.request.url.endswith("/0?exp=REDACTED&sig=REDACTED")
    assert "authorization" not in download.request.headers
    assert download.response.body is not None
    assert download.response.body.kind == "asset"
    assert (tmp_path / "text_to_image.assets" / download.response.body.file).is_file()

    edit = load_cassette(tmp_path / "edit_one_image.json")
    body = edit.interactions[0].request.body
    assert body is not None
    assert body.kind == "multipart"
    assert [(p.name, p.filename) for p in body.parts][-1] == ("image", "image-0.png")

    limited = load_cassette(tmp_path / "rate_limited.json")
    assert limited.expected is not None
    assert limited.expected.error is not None
    assert (limited.expected.error.type, limited.expected.error.retry_after) == (
        "RateLimitError",
        1.0,
    )
    assert limited.interactions[-1].response.headers["retry-after"] == "1"

    for name in ("text_to_image", "edit_one_image", "rate_limited", "task_unknown"):
        replay(load_cassette(tmp_path / f"{name}.json"), "sync")
        replay(load_cassette(tmp_path / f"{name}.json"), "async")
    outcomes = run_conformance("dimilinks", tmp_path)
    recorded_names = {"text_to_image", "edit_one_image", "rate_limited", "task_unknown"}
    assert {o.status for o in outcomes if o.scenario in recorded_names} == {"pass"}


def test_a_cassette_containing_the_key_is_refused_and_not_written(
    emulator: tuple[EmulatorServer, FakeClock], tmp_path: Path
) -> None:
    server, clock = emulator
    reports = record(
        "openai",
        base_url=server.url("openai"),
        api_key=EMULATOR_KEY,
        out=tmp_path,
        scenarios=["text_to_image"],
        hints={"text_to_image": Hint(marker=f"(debug: key {EMULATOR_KEY})")},
        clock=clock,
    )
    assert [r.status for r in reports] == ["refused"]
    assert "secret #1 in the call and description" in reports[0].detail
    assert "interaction #0 request" in reports[0].detail
    assert EMULATOR_KEY not in reports[0].detail
    assert list(tmp_path.iterdir()) == []


def test_a_declared_secret_in_a_response_is_refused(
    emulator: tuple[EmulatorServer, FakeClock], tmp_path: Path
) -> None:
    server, clock = emulator
    # The geeknow emulator (as new-api does) names an unknown model in its error message.
    secret = "org-private-deployment-7781"
    unknown_model = Scenario(
        "unknown_model", "An unknown model.", expect="BadRequestError", fields={"model": secret}
    )
    reports = record(
        "geeknow",
        base_url=server.url("geeknow"),
        api_key=EMULATOR_KEY,
        out=tmp_path,
        scenarios=[unknown_model, "auth_invalid"],
        secrets=[secret],
        clock=clock,
    )
    assert [r.status for r in reports] == ["refused", "recorded"]
    assert "interaction #0 response" in reports[0].detail
    assert not (tmp_path / "unknown_model.json").exists()
    assert (tmp_path / "auth_invalid.json").is_file()


def test_a_scenario_the_endpoint_cannot_produce_is_not_saved(
    emulator: tuple[EmulatorServer, FakeClock], tmp_path: Path
) -> None:
    server, clock = emulator
    reports = record(
        "openai",
        base_url=server.url("openai"),
        api_key=EMULATOR_KEY,
        out=tmp_path,
        scenarios=["rate_limited", "result_url"],
        hints={"rate_limited": Hint(marker="")},  # a live endpoint ignores the markers
        not_applicable={"result_url": "this endpoint never answers with URLs"},
        clock=clock,
    )
    assert next((r.status, r.detail) for r in reports) == (
        "failed",
        "expected RateLimitError, got success; not saved",
    )
    assert not (tmp_path / "rate_limited.json").exists()
    stub: Any = json.loads((tmp_path / "result_url.json").read_text())
    assert stub["not_applicable"] == "this endpoint never answers with URLs"
    assert "interactions" in stub
    assert stub["interactions"] == []
