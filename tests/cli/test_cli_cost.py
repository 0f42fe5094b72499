"""Costs on the command line: ``--budget`` refuses before sending, ``--dry-run`` shows the
estimate, and ``imagebridge spend`` reports the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagebridge._emulator import EmulatorServer

from .conftest import Invoke, one_json, received


@pytest.fixture
def journal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("IMAGEBRIDGE_JOURNAL", str(path))
    return path


def _dalle3(server: EmulatorServer, *extra: str) -> tuple[str, ...]:
    return (
        *("generate", "a red cube", "-p", "openai", "--base-url", server.url("openai")),
        *("--model", "dall-e-3", "--size", "1024x1024", "--output", "out/", *extra),
    )


def test_a_job_over_the_budget_is_refused_in_one_line_before_sending(
    run: Invoke, server: EmulatorServer, keys: str
) -> None:
    # dall-e-3 makes one image per call: n=2 is two calls of $0.04, counted before the first.
    result = run(*_dalle3(server, "-n", "2", "--budget", "0.05"))
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "budget" in line
    assert "$0.08" in line
    assert received(server) == []


def test_a_job_within_the_budget_runs(run: Invoke, server: EmulatorServer, keys: str) -> None:
    result = run(*_dalle3(server, "--budget", "0.05", "--json"))
    assert result.exit_code == 0, result.stderr
    assert one_json(result.stdout)["provider"] == "openai"


def test_an_unknown_price_is_refused_unless_allowed(
    run: Invoke, server: EmulatorServer, keys: str
) -> None:
    args = ("generate", "a cube", "-p", "geeknow", "--base-url", server.url("geeknow"))
    args += ("--model", "gpt-image-1", "--output", "out/", "--budget", "1")
    refused = run(*args)
    assert refused.exit_code == 2
    assert "unknown" in refused.stderr
    assert received(server) == []
    allowed = run(*args, "--allow-unknown-prices")
    assert allowed.exit_code == 0, allowed.stderr


def test_allow_unknown_prices_needs_a_budget(run: Invoke, keys: str) -> None:
    result = run("generate", "a cube", "-p", "openai", "--allow-unknown-prices")
    assert result.exit_code == 2
    assert "--budget" in result.stderr


def test_a_dry_run_shows_the_estimate(run: Invoke, server: EmulatorServer, keys: str) -> None:
    text = run(*_dalle3(server, "-n", "2", "--dry-run"))
    assert text.exit_code == 0, text.stderr
    assert "Estimate: $0.08" in text.stdout
    data = one_json(run(*_dalle3(server, "-n", "2", "--dry-run", "--json")).stdout)
    assert data["estimate"]["usd"] == "0.08"
    assert data["calls"] == 2
    assert received(server) == []


def test_spend_reports_the_ledger_by_provider_model_and_day(
    run: Invoke, server: EmulatorServer, keys: str, journal: Path
) -> None:
    assert run(*_dalle3(server, "-n", "2")).exit_code == 0
    report = run("spend", "--json")
    assert report.exit_code == 0, report.stderr
    data = one_json(report.stdout)
    [row] = data["rows"]
    assert (row["provider"], row["model"], row["calls"]) == ("openai", "dall-e-3", 2)
    assert row["usd"] == data["total_usd"] == "0.08"
    human = run("spend")
    assert "total: $0.08" in human.stdout
    assert run("spend", "--since", "2999-01-01", "--json").stdout.count('"rows": []') == 1


def test_spend_refuses_a_date_it_cannot_read(run: Invoke, journal: Path) -> None:
    result = run("spend", "--since", "yesterday")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.stderr


def _requests(tmp_path: Path, count: int, model: str = "dall-e-3") -> Path:
    path = tmp_path / "requests.jsonl"
    lines = [f'{{"id": "r{i}", "prompt": "a cube {i}", "model": "{model}"}}' for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _batch(server: EmulatorServer, requests: Path, *extra: str) -> tuple[str, ...]:
    return (
        *("batch", str(requests), "-p", "openai", "--base-url", server.url("openai")),
        *("--output", "out/", *extra),
    )


def test_a_batch_dry_run_totals_the_file_and_sends_nothing(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    requests = _requests(tmp_path, 3)
    human = run(*_batch(server, requests, "--dry-run"))
    assert human.exit_code == 0, human.stderr
    assert "total: 3 requests, 3 calls, $0.12" in human.stdout
    data = one_json(run(*_batch(server, requests, "--dry-run", "--json")).stdout)
    assert (data["requests"], data["calls"], data["total_usd"]) == (3, 3, "0.12")
    assert [item["id"] for item in data["items"]] == ["r0", "r1", "r2"]
    assert received(server) == []
    assert not (tmp_path / "out").exists()


def test_a_batch_over_its_budget_is_refused_whole_before_any_request(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    requests = _requests(tmp_path, 3)  # 3 x $0.04
    refused = run(*_batch(server, requests, "--budget", "0.10"))
    assert refused.exit_code == 2
    assert "$0.12" in refused.stderr
    assert received(server) == []
    dry = run(*_batch(server, requests, "--budget", "0.10", "--dry-run"))
    assert dry.exit_code == 2  # the dry run says what the real run would
    fits = run(*_batch(server, requests, "--budget", "0.12", "--json"))
    assert fits.exit_code == 0, fits.stderr
    assert one_json(fits.stdout)["counts"]["saved"] == 3
