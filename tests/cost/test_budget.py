"""Budgets, over real loopback HTTP against the emulator: a job that does not fit is refused
before anything is sent (the emulator saw no request), a split request is counted whole
before its first call, an unknown price is refused unless allowed, and a reservation is
released when a call failed before acceptance and kept once a task was accepted."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from imagebridge import (
    AsyncImageClient,
    Budget,
    BudgetExceededError,
    ConfigurationError,
    ImageClient,
    InvalidRequestError,
    PollPolicy,
    RetryPolicy,
    ServerError,
    TaskFailedError,
)
from imagebridge._emulator import EmulatorServer

from .conftest import KEY

D = Decimal
NO_RETRY = RetryPolicy(max_retries=0)


def sent(server: EmulatorServer) -> list[dict[str, Any]]:
    return [r for r in server.app_state.requests if not r["path"].startswith("/_emulator")]


def openai(server: EmulatorServer, tmp_path: Path, **options: Any) -> ImageClient:
    return ImageClient(
        "openai",
        api_key=KEY,
        base_url=server.url("openai"),
        journal=tmp_path / "journal.sqlite3",
        retry=NO_RETRY,
        **options,
    )


def test_a_job_over_budget_is_refused_before_any_request(
    server: EmulatorServer, tmp_path: Path
) -> None:
    budget = Budget("0.03")
    with (
        openai(server, tmp_path, budget=budget) as client,
        pytest.raises(BudgetExceededError) as caught,
    ):
        client.generate("a lighthouse", model="dall-e-3")
    error = caught.value
    assert isinstance(error, InvalidRequestError)  # the CLI's exit code 2 applies
    assert error.field == "budget"
    message = str(error)
    assert "\n" not in message
    assert "$0.04" in message
    assert "$0.03" in message
    assert "left" in message
    assert sent(server) == []
    assert (budget.spent, budget.reserved, budget.left) == (0, 0, D("0.03"))


def test_a_split_request_is_counted_whole_before_its_first_call(
    server: EmulatorServer, tmp_path: Path
) -> None:
    # dall-e-3 makes one image per call: n=3 is 3 calls of $0.04.
    with (
        openai(server, tmp_path, budget=Budget("0.10")) as client,
        pytest.raises(BudgetExceededError, match=r"\$0\.12"),
    ):
        client.generate("a lighthouse", model="dall-e-3", n=3)
    assert sent(server) == []
    budget = Budget("0.12")
    with openai(server, tmp_path, budget=budget) as client:
        result = client.generate("a lighthouse", model="dall-e-3", n=3)
    assert len(result.images) == 3
    assert (budget.spent, budget.reserved, budget.left) == (D("0.12"), 0, 0)


@pytest.mark.anyio
async def test_the_async_client_counts_a_split_request_whole_too(
    server: EmulatorServer, tmp_path: Path
) -> None:
    budget = Budget("0.11")
    async with AsyncImageClient(
        "openai", api_key=KEY, base_url=server.url("openai"), journal=False, budget=budget
    ) as client:
        with pytest.raises(BudgetExceededError):
            await client.generate("a lighthouse", model="dall-e-3", n=3)
        assert sent(server) == []
        await client.generate("a lighthouse", model="dall-e-3", n=2)
    assert (budget.spent, budget.reserved) == (D("0.08"), 0)


def test_an_unknown_price_is_refused_unless_allowed(server: EmulatorServer, tmp_path: Path) -> None:
    options = {"api_key": KEY, "base_url": server.url("geeknow"), "journal": False}
    with (
        ImageClient("geeknow", budget=Budget(5), **options) as client,  # type: ignore[arg-type]
        pytest.raises(BudgetExceededError, match="unknown"),
    ):
        client.generate("a cat", model="gpt-image-1")
    assert sent(server) == []
    budget = Budget(5, allow_unknown=True)
    with ImageClient("geeknow", budget=budget, **options) as client:  # type: ignore[arg-type]
        result = client.generate("a cat", model="gpt-image-1")
    [warning] = [w for w in result.warnings if w.code == "price_unknown"]
    assert "counted it as $0" in warning.message
    assert len(result.images) == 1
    assert result.cost is not None
    assert result.cost.usd is None
    assert (budget.spent, budget.reserved) == (0, 0)


def test_a_call_that_failed_before_acceptance_releases_its_reservation(
    server: EmulatorServer, tmp_path: Path
) -> None:
    server.app_state.faults.replace(["openai/submit:500"])
    budget = Budget("1.00")
    with openai(server, tmp_path, budget=budget) as client:
        with pytest.raises(ServerError):
            client.generate("a lighthouse", model="dall-e-3")
        assert (budget.spent, budget.reserved, budget.left) == (0, 0, D("1.00"))
        assert client.journal is not None
        assert client.journal.spend() == []


def test_an_accepted_task_keeps_its_reservation_when_it_fails_later(
    server: EmulatorServer, tmp_path: Path, dimilinks_prices: Path
) -> None:
    server.app_state.faults.replace(["dimilinks/poll:fail"])
    budget = Budget("1.00")
    with ImageClient(
        "dimilinks",
        api_key=KEY,
        base_url=server.url("dimilinks"),
        journal=tmp_path / "journal.sqlite3",
        poll_policy=PollPolicy(interval=0.05, max_interval=0.1),
        budget=budget,
        prices=dimilinks_prices,
    ) as client:
        with pytest.raises(TaskFailedError):
            client.generate("a cat", size="1:1")
        assert client.journal is not None
        [row] = client.journal.spend()
    assert (budget.spent, budget.reserved) == (0, D("0.03"))  # the task may be paid
    assert row.task_id is not None
    assert row.estimate == D("0.03")
    assert row.actual is None


def test_one_budget_is_shared_by_clients_and_threads(
    server: EmulatorServer, tmp_path: Path
) -> None:
    budget = Budget("0.10")
    with (
        openai(server, tmp_path, budget=budget) as one,
        openai(server, tmp_path, budget=budget) as two,
    ):
        one.generate("a", model="dall-e-3")
        two.generate("b", model="dall-e-3")
        with pytest.raises(BudgetExceededError, match=r"only \$0\.02"):
            one.generate("c", model="dall-e-3")
    assert budget.spent == D("0.08")

    many = Budget("0.20")

    async def run() -> list[Any]:
        with openai(server, tmp_path, budget=many) as client:
            jobs = [asyncio.to_thread(client.generate, f"p{i}", model="dall-e-3") for i in range(8)]
            return await asyncio.gather(*jobs, return_exceptions=True)

    outcomes = asyncio.run(run())
    refused = [o for o in outcomes if isinstance(o, BudgetExceededError)]
    assert len(refused) == 3  # 5 x $0.04 fit in $0.20, never more
    assert (many.spent, many.reserved) == (D("0.20"), 0)


def test_a_budget_is_a_number_or_a_budget(tmp_path: Path) -> None:
    with ImageClient("openai", api_key=KEY, journal=False, budget=0.5) as client:
        assert client.budget is not None
        assert client.budget.limit == D("0.5")
    with pytest.raises(ConfigurationError, match="must not be negative"):
        Budget(-1)
    with pytest.raises(ConfigurationError, match="budget"):
        ImageClient("openai", api_key=KEY, journal=False, budget=True)  # type: ignore[arg-type]
