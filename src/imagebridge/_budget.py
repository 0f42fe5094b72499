"""Spending limits: a :class:`Budget` refuses a job whose estimate does not fit, before it sends.

A budget holds a limit in US dollars and two sums: ``spent`` (calls whose actual cost is
known) and ``reserved`` (estimates of calls under way, or accepted whose cost is not known
yet). Before a job sends anything, its whole estimate (every call of a split request) is
reserved at once; if it does not fit in what is ``left``, :class:`BudgetExceededError` is
raised and nothing is sent. Then, call by call (:class:`CallCost`):

* the reply's actual cost (:func:`imagebridge._costing.actual`) replaces the call's reservation;
* a call that failed before the provider accepted it releases its reservation;
* a call accepted (or whose submit went out unanswered) keeps it: the task may be paid.

An estimate that is not known (no price) is refused unless ``allow_unknown=True``; then it
counts as 0 and a ``price_unknown`` warning on the result says so. One budget may be shared
by several clients, sync or async, in several threads: pass the same object to each
(``budget=``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, TypeVar

from ._costing import actual, estimate, estimate_call
from ._errors import ConfigurationError, InvalidRequestError, Problem
from ._prices import Cost, PriceBook, PricesSetting, money, plain_usd, price_book

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._preflight import Operation, Plan
    from ._request import GenerateFields
    from ._result import ImageResult, Usage

__all__ = ["Budget", "BudgetExceededError", "CallCost"]


class BudgetExceededError(InvalidRequestError):
    """A job's estimate does not fit in what is left of its :class:`Budget` (or its cost is
    unknown and the budget does not allow that); raised before anything is sent."""

    def __init__(self, problem: Problem, *, provider: str | None = None) -> None:
        super().__init__([problem], provider=provider)


class Budget:
    """At most ``limit_usd`` US dollars, shared by every client (and thread) given it.

    ``allow_unknown``: let a job whose cost is not known run, counted as 0 (with a warning).
    """

    def __init__(self, limit_usd: Decimal | int | float | str, *, allow_unknown: bool = False):
        try:
            self.limit = money(limit_usd, "limit_usd")
        except ValueError as error:
            raise ConfigurationError(f"budget: {error}") from None
        self.allow_unknown = allow_unknown
        self._lock = threading.Lock()
        self._spent = Decimal(0)
        self._reserved = Decimal(0)

    def __repr__(self) -> str:
        return (
            f"Budget(limit=${plain_usd(self.limit)}, spent=${plain_usd(self.spent)},"
            f" reserved=${plain_usd(self.reserved)})"
        )

    @property
    def spent(self) -> Decimal:
        """Dollars of calls whose actual cost is known."""
        with self._lock:
            return self._spent

    @property
    def reserved(self) -> Decimal:
        """Dollars reserved for calls under way or accepted but not yet priced."""
        with self._lock:
            return self._reserved

    @property
    def left(self) -> Decimal:
        """What is left to reserve: the limit less what is spent and reserved."""
        with self._lock:
            return self.limit - self._spent - self._reserved

    def check(self, estimate: Cost, *, provider: str | None = None, what: str = "job") -> None:
        """Raise :class:`BudgetExceededError` if ``estimate`` would not fit now (nothing is
        reserved: a batch checks its total before any item reserves its own)."""
        with self._lock:
            problem = self._refusal(estimate, what)
        if problem is not None:
            raise BudgetExceededError(problem, provider=provider)

    def reserve(self, estimate: Cost, *, provider: str | None = None, what: str = "job") -> Decimal:
        """Reserve ``estimate`` (all of it, or nothing); the amount reserved. Raises
        :class:`BudgetExceededError` when it does not fit, or is unknown and not allowed."""
        with self._lock:
            problem = self._refusal(estimate, what)
            if problem is None and estimate.usd is not None:
                self._reserved += estimate.usd
        if problem is not None:
            raise BudgetExceededError(problem, provider=provider)
        # An unknown cost let through (allow_unknown) is counted as 0; each result of it
        # says so in a price_unknown warning (imagebridge._jobs.Job.finished).
        return Decimal(0) if estimate.usd is None else estimate.usd

    def _refusal(self, estimate: Cost, what: str) -> Problem | None:
        """Why ``estimate`` does not fit (with the lock held), or None."""
        limit = f"${plain_usd(self.limit)}"
        if estimate.usd is None:
            if self.allow_unknown:
                return None
            return Problem(
                "budget",
                limit,
                f"the cost of this {what} is unknown ({estimate.basis}); pass"
                " Budget(..., allow_unknown=True) to run it uncounted, or give its price in a"
                " price table (prices=)",
            )
        left = self.limit - self._spent - self._reserved
        if estimate.usd <= left:
            return None
        return Problem(
            "budget",
            limit,
            f"this {what} is estimated at ${plain_usd(estimate.usd)} ({estimate.basis}) and only"
            f" ${plain_usd(left)} of the {limit} limit is left",
        )

    def settle(self, reserved: Decimal, usd: Decimal | None) -> None:
        """A call's actual cost is known (``usd``; None: not known, the reservation stays)."""
        if usd is None:
            return
        with self._lock:
            self._reserved -= reserved
            self._spent += usd

    def release(self, reserved: Decimal) -> None:
        """A call that cost nothing (it failed before the provider accepted it)."""
        with self._lock:
            self._reserved -= reserved


#: A client's ``budget=``: a shared Budget, or US dollars (a new Budget of them).
BudgetSetting = Budget | Decimal | int | float | str | None


def budget_of(value: BudgetSetting) -> Budget | None:
    """A client's ``budget=``: a Budget (shared), a number (a new Budget of it), or None."""
    if value is None or isinstance(value, Budget):
        return value
    if isinstance(value, bool):
        raise ConfigurationError(f"budget must be a Budget or a number of US dollars, not {value}")
    return Budget(value)


@dataclass(eq=False)
class CallCost:
    """One provider call's part of a job's cost: its estimate, what it reserved on the
    budget, and its row of the spend ledger (see :class:`imagebridge._jobs.TaskRecorder`)."""

    plan: Plan
    estimate: Cost
    budget: Budget | None = None
    reserved: Decimal = Decimal(0)
    #: The spend ledger's row of this call, once written.
    row: int | None = None
    #: ``reserved`` (under way), ``settled`` (actual known), ``kept`` (accepted, cost not
    #: known) or ``released``.
    state: str = "reserved"
    #: The ledger's label of the call (a batch item's), when its job has none.
    label: str | None = None
    #: The user's price table, if any (for the actual cost).
    prices: PriceBook | None = field(default=None, repr=False)

    def actual(self, usage: Usage | None) -> Cost:
        """What the call cost by the usage its reply reported (see :func:`actual`)."""
        return actual(self.plan, usage, prices=self.prices)

    def settle(self, actual: Cost) -> None:
        if self.state != "reserved" and self.state != "kept":
            return
        if self.budget is not None and actual.usd is not None:
            self.budget.settle(self.reserved, actual.usd)
        self.state = "settled" if actual.usd is not None else "kept"

    def keep(self) -> None:
        if self.state == "reserved":
            self.state = "kept"

    def release(self) -> None:
        if self.state == "reserved":
            if self.budget is not None:
                self.budget.release(self.reserved)
            self.state = "released"


def reserve_calls(
    planned: Plan,
    budget: Budget | None,
    prices: PriceBook | None,
    *,
    label: str | None = None,
) -> list[CallCost]:
    """Each provider call's estimate, the whole request's reserved on ``budget`` before the
    first is sent: a :class:`BudgetExceededError` here means nothing was sent."""
    calls = [estimate_call(planned.for_batch(n), prices) for n in planned.batches]
    parts = [Decimal(0)] * len(calls)
    if budget is not None:
        # The same sum as the calls' (each sends the prompt), described for the whole request.
        total = estimate(planned, None, prices)
        if budget.reserve(total, provider=planned.provider, what="request") and total.usd:
            parts = [call.usd or Decimal(0) for call in calls]
    return [
        CallCost(
            planned.for_batch(n), call, budget=budget, reserved=part, label=label, prices=prices
        )
        for n, call, part in zip(planned.batches, calls, parts, strict=True)
    ]


class _Priced(Protocol):
    cost: CallCost | None


J = TypeVar("J", bound=_Priced)


def priced(job: J, cost: CallCost) -> J:
    """``job`` (a :class:`~imagebridge._jobs.Job`) counting ``cost``: the call it runs."""
    job.cost = cost
    return job


def merged_cost(results: Sequence[ImageResult]) -> Cost | None:
    """The cost of a job's results together (None when they were not priced)."""
    costs = [result.cost for result in results if result.cost is not None]
    return Cost.total(costs) if costs else None


def release_unsent(costs: Sequence[CallCost]) -> None:
    """Release the reservations of calls that were never started."""
    for cost in costs:
        cost.release()


class Costing:
    """What a client (:class:`~imagebridge._base_client.ClientBase`) does about money: its
    ``budget`` and ``prices``, :meth:`estimate`, and each job's reservation."""

    #: The spending limit of this client's jobs (shared when the same Budget is given).
    budget: Budget | None = None
    #: The user's prices, over the models' declared ones (None: the declared only).
    prices: PriceBook | None = None

    if TYPE_CHECKING:

        def plan(
            self,
            prompt: str,
            *,
            operation: Operation = "generate",
            stream: bool = False,
            **fields: Unpack[GenerateFields],
        ) -> Plan: ...

    def _set_costs(self, budget: BudgetSetting, prices: PricesSetting) -> None:
        self.budget = budget_of(budget)
        self.prices = price_book(prices)

    def estimate(
        self,
        prompt: str,
        *,
        operation: Operation = "generate",
        stream: bool = False,
        **fields: Unpack[GenerateFields],
    ) -> Cost:
        """What the call would cost (all its provider calls), with nothing sent: a
        :class:`~imagebridge.Cost` by this client's ``prices=``, else the model's declared
        price, else ``unknown``. Takes what :meth:`plan` takes and raises as it does."""
        planned = self.plan(prompt, operation=operation, stream=stream, **fields)
        return estimate(planned, None, self.prices)

    def _costs(
        self, planned: Plan, budget: Budget | None = None, *, label: str | None = None
    ) -> list[CallCost]:
        """Each call's estimate, the whole request's reserved before the first is sent."""
        return reserve_calls(planned, budget or self.budget, self.prices, label=label)
