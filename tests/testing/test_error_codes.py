"""Recording-time validation: a recorded error code must map through the adapter's own table.

Lumen spells moderation ``nsfw``, balance ``no_credit``, throttling ``slow_down``. Its fake,
like most, echoes the kit's prompt markers, so recorded with the default markers it answers
``content_policy_violation``: the adapter classifies that through imagebridge's common table
and the scenario would pass, certifying a code Lumen never sends. The recorder refuses it and
says which code to use; with Lumen's own codes (or for an adapter with no codes of its own,
which relies on the common table) the same scenarios are recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from imagebridge import Registry, create_registry, default_registry, hookimpl
from imagebridge._emulator import EmulatorServer
from imagebridge.adapter import (
    Adapter,
    ErrorCodes,
    ProviderError,
    RateLimitError,
    ServerError,
    classify,
    parse_retry_after,
)
from imagebridge.testing import FakeClock, Hint, load_cassette, record
from imagebridge.testing.__main__ import main

from .conftest import EMULATOR_KEY
from .lumen_fake import KEY, FakeLumen, load_plugin

LUMEN = load_plugin().LumenAdapter
OWN_MARKERS = {
    "content_policy": Hint(marker="#fail=nsfw"),
    "insufficient_balance": Hint(marker="#error=402:no_credit"),
    "rate_limited": Hint(marker="#error=429:slow_down"),
    "server_error": Hint(marker="#error=500:meltdown"),
}


class CommonLumen(LUMEN):  # type: ignore[misc,valid-type]
    """The same dialect, with no codes of its own: it relies on the common table."""

    name = "lumen-common"
    error_codes: ClassVar[ErrorCodes] = {}


class MislabelledLumen(LUMEN):  # type: ignore[misc,valid-type]
    """Its table calls ``slow_down`` a ServerError, but its error() classifies by the HTTP
    status alone: the table and what the adapter raises disagree."""

    name = "lumen-mislabelled"
    error_codes: ClassVar[ErrorCodes] = {**LUMEN.error_codes, "slow_down": ServerError}

    def error(self, response: httpx.Response, *, task_id: str | None = None) -> ProviderError:
        found = super().error(response, task_id=task_id)
        cls = classify(response.status_code, "", "", {})
        error = cls(
            found.message, provider=self.name, status_code=found.status_code, code=found.code
        )
        if isinstance(error, RateLimitError):
            error.retry_after = parse_retry_after(response.headers)
        return error


class Plugin:
    @hookimpl
    def imagebridge_adapters(self) -> list[type[Adapter]]:
        return [LUMEN, CommonLumen, MislabelledLumen]


@pytest.fixture
def registry() -> Registry:
    return create_registry(entry_points=False, plugins=[Plugin()])


def lumen_record(
    fake: FakeLumen, registry: Registry, out: Path, provider: str = "lumen", **kwargs: object
) -> dict[str, tuple[str, str]]:
    reports = record(
        provider,
        base_url=fake.url,
        api_key=KEY,
        out=out,
        registry=registry,
        **kwargs,  # type: ignore[arg-type]
    )
    return {report.scenario: (report.status, report.detail) for report in reports}


def test_codes_echoed_from_the_default_markers_are_refused_with_the_fix(
    registry: Registry, tmp_path: Path
) -> None:
    with FakeLumen() as fake:
        found = lumen_record(fake, registry, tmp_path, scenarios=list(OWN_MARKERS))
    assert {status for status, _ in found.values()} == {"refused"}, found
    detail = found["content_policy"][1]
    assert detail.startswith(
        "the recorded error code 'content_policy_violation' is not lumen's own:"
        " LumenAdapter.error_codes spells ContentPolicyError 'nsfw', and it only maps through"
        " imagebridge's common table (a fake server that echoes the kit's marker"
        " '#fail=content_policy_violation'?)"
    )
    assert "--marker content_policy='#fail=nsfw'" in detail
    assert detail.endswith(
        "if the provider does send 'content_policy_violation', add it to error_codes; not saved"
    )
    assert "'#error=402:no_credit'" in found["insufficient_balance"][1]
    assert "'#error=429:slow_down'" in found["rate_limited"][1]
    assert "'#error=500:meltdown'" in found["server_error"][1]
    assert list(tmp_path.iterdir()) == []


def test_the_providers_own_codes_are_recorded(registry: Registry, tmp_path: Path) -> None:
    with FakeLumen() as fake:
        found = lumen_record(
            fake, registry, tmp_path, scenarios=list(OWN_MARKERS), hints=OWN_MARKERS
        )
    assert {status for status, _ in found.values()} == {"recorded"}, found
    policy = load_cassette(tmp_path / "content_policy.json")
    assert policy.expected is not None
    assert policy.expected.error is not None
    assert (policy.expected.error.type, policy.expected.error.code) == (
        "ContentPolicyError",
        "nsfw",
    )


def test_a_code_neither_table_knows_is_refused_only_where_the_adapter_has_its_own(
    registry: Registry, tmp_path: Path
) -> None:
    """``too_fast``: a 429 by its status. Lumen says ``slow_down``, so not Lumen's; a task
    failure code is not in Lumen's table, whose codes name no TaskFailedError: accepted."""
    hints = {
        "rate_limited": Hint(marker="#error=429:too_fast"),
        "task_failed": Hint(marker="#fail=render_failed"),
    }
    with FakeLumen() as fake:
        found = lumen_record(fake, registry, tmp_path, scenarios=list(hints), hints=hints)
    assert found["rate_limited"][0] == "refused"
    assert (
        "spells RateLimitError 'slow_down', and neither table knows it" in found["rate_limited"][1]
    )
    assert found["task_failed"] == ("recorded", "")


def test_an_adapter_without_codes_of_its_own_records_the_common_ones(
    registry: Registry, tmp_path: Path
) -> None:
    with FakeLumen() as fake:
        found = lumen_record(
            fake, registry, tmp_path, provider="lumen-common", scenarios=list(OWN_MARKERS)
        )
    assert {status for status, _ in found.values()} == {"recorded"}, found


def test_a_code_whose_entry_gives_another_class_is_refused(
    registry: Registry, tmp_path: Path
) -> None:
    hints = {"rate_limited": Hint(marker="#error=429:slow_down")}
    with FakeLumen() as fake:
        found = lumen_record(
            fake,
            registry,
            tmp_path,
            provider="lumen-mislabelled",
            scenarios=list(hints),
            hints=hints,
        )
    assert found["rate_limited"] == (
        "refused",
        "the recorded error code 'slow_down' is ServerError in MislabelledLumen.error_codes, but"
        " the scenario is about RateLimitError: map the code to the class the provider means by"
        " it; not saved",
    )


def test_the_built_in_adapters_codes_map_through_the_common_table(
    emulator: tuple[EmulatorServer, FakeClock], tmp_path: Path
) -> None:
    server, clock = emulator
    reports = record(
        "openai",
        base_url=server.url("openai"),
        api_key=EMULATOR_KEY,
        out=tmp_path,
        scenarios=["content_policy", "insufficient_balance", "rate_limited", "server_error"],
        clock=clock,
    )
    assert [(r.scenario, r.status) for r in reports] == [
        ("content_policy", "recorded"),
        ("insufficient_balance", "recorded"),
        ("rate_limited", "recorded"),
        ("server_error", "recorded"),
    ], [r.detail for r in reports]


def test_the_command_line_refuses_and_says_which_marker_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    default = default_registry()
    default.register(load_plugin(), "test-lumen-codes")
    monkeypatch.setenv("LUMEN_API_KEY", KEY)
    try:
        with FakeLumen() as fake:
            argv = ["record", "--provider", "lumen", "--base-url", fake.url, "--out", str(tmp_path)]
            assert main([*argv, "--scenario", "content_policy"]) == 1
            refused = capsys.readouterr().out
            assert (
                main(
                    [*argv, "--scenario", "content_policy", "--marker", "content_policy=#fail=nsfw"]
                )
                == 0
            )
            accepted = capsys.readouterr().out
    finally:
        default.unregister("test-lumen-codes")
    assert refused.split()[:2] == ["content_policy", "refused"]
    assert "--marker content_policy='#fail=nsfw'" in refused
    assert "0 recorded, 0 not applicable, 0 skipped, 1 refused, 0 failed" in refused
    assert accepted.split()[:2] == ["content_policy", "recorded"]
