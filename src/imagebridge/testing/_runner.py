"""Running the suite in-process, without pytest: cases, outcomes and :func:`run_conformance`.

A :class:`Suite` is one provider and its cassette folder. It yields :class:`Case` objects, one
per scenario (shared ones, the task guarantees' own of :mod:`._guarantees`, derived from the
recorded task cassettes, and cassette-only ones) and per generated rejection, each in the
sync and the async client. ``Case.run()`` returns an :class:`Outcome`: pass, skip (with the
reason), fail (with a readable explanation), or xfail / xpass for the known gaps listed in
``expected_failures``. The pytest mixin and the ``imagebridge conformance`` command both run
these same cases. Every replay is watched (:mod:`._observed`): besides its requests and its
outcome, the task guarantees of :mod:`._invariants` are checked on it.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import Literal

from .._plugins import Registry, default_registry
from ._cassette import Cassette, Expected, load_cassette
from ._context import ProviderContext
from ._execute import Observation, Runner
from ._guarantees import GUARANTEE_NAMES, guarantee_skip, run_guarantee, with_guarantees
from ._invariants import GuaranteeError, credentials_problem
from ._observed import invariant_problems, outcome_difference, run_watched
from ._rejections import Rejection, RejectionFailedError, rejections, run_rejection
from ._replay import CassetteMismatchError, ReplayTransport, UnusedInteractionsError
from ._scenarios import SCENARIO_NAMES, scenario_by_name
from ._support import FakeClock

__all__ = [
    "Case",
    "Outcome",
    "OutcomeMismatchError",
    "Suite",
    "builtin_cassettes",
    "replay",
    "run_conformance",
]

Status = Literal["pass", "skip", "fail", "xfail", "xpass"]
Mode = Literal["sync", "async"]
MODES: tuple[Mode, ...] = ("sync", "async")
#: The package of the built-in plugins, whose ``cassettes/`` folder certifies them.
BUILTIN_PLUGINS = "imagebridge_plugins"

#: Failures the kit explains itself (no traceback needed).
KIT_FAILURES = (
    GuaranteeError,
    CassetteMismatchError,
    UnusedInteractionsError,
    RejectionFailedError,
)


class OutcomeMismatchError(AssertionError):
    """The call's outcome differs from the one the cassette recorded."""


class MissingCassetteError(AssertionError):
    """A scenario the adapter's capabilities call for has no cassette."""


@dataclass(frozen=True)
class Outcome:
    """The result of one case: ``status`` and, for skip/fail/xfail, the ``reason``."""

    provider: str
    scenario: str
    mode: str
    status: Status
    reason: str = ""
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """Nothing to fix: passed, skipped, or a known gap that still fails."""
        return self.status in ("pass", "skip", "xfail")


def observe(
    cassette: Cassette, mode: Mode, context: ProviderContext, transport: ReplayTransport
) -> Expected:
    """Make the cassette's call through one client on ``transport``; return what happened."""
    assert cassette.call is not None
    assert cassette.expected is not None
    expected = cassette.expected
    observation = Observation(
        keep_progress=expected.result is not None and expected.result.progress is not None,
        keep_message=expected.error is not None and expected.error.message is not None,
        keep_stream=cassette.call.stream,
    )
    runner = Runner(context.provider, cassette.call, context.registry, FakeClock(), cassette)
    if mode == "sync":
        return runner.run_sync(transport, observation)
    return asyncio.run(runner.run_async(transport, observation))


def replay(
    cassette: Cassette,
    mode: Mode = "sync",
    *,
    registry: Registry | None = None,
    context: ProviderContext | None = None,
    delays: bool = False,
) -> None:
    """Replay a cassette through one client (``"sync"`` or ``"async"``); raise an explained
    AssertionError on any difference: a request no interaction matches
    (:class:`CassetteMismatchError`), a task guarantee broken (:class:`GuaranteeError`: the
    key sent to another origin, a task not journaled before its first poll, a status read
    as the wrong phase, polls outside the adapter's ``poll_policy``), an interaction never
    requested (:class:`UnusedInteractionsError`) or another outcome
    (:class:`OutcomeMismatchError`).
    ``delays``: serve recorded event streams at their recorded pace (default: at once)."""
    context = context or ProviderContext.of(cassette.provider, registry)
    run = run_watched(cassette, mode, context, delays=delays)
    leak = credentials_problem(run.watch.sent, run.api_origin)
    if leak is not None:
        raise GuaranteeError(f"cassette {cassette.source or cassette.name}: {leak}")
    if run.transport.mismatches:
        raise run.transport.mismatches[0]
    if run.failure is not None:
        raise run.failure
    problems = invariant_problems(run, context)
    if problems:
        raise GuaranteeError(
            "\n".join(f"cassette {cassette.source or cassette.name}: {p}" for p in problems)
        )
    run.transport.assert_all_played()
    assert run.expected is not None
    difference = outcome_difference(cassette, run.expected)
    if difference is not None:
        raise OutcomeMismatchError(difference)


@dataclass(frozen=True)
class Suite:
    """One provider's conformance suite: its cassettes, model, registry and known gaps."""

    provider: str
    cassettes: Path
    model: str | None = None
    registry: Registry | None = None
    #: ``{"reason": {"scenario", ...}}``: known gaps, reported as xfail (xpass once fixed).
    expected_failures: Mapping[str, Collection[str]] = field(default_factory=dict)
    modes: tuple[Mode, ...] = MODES
    #: Replay recorded event streams at their recorded pace (default: at once).
    delays: bool = False

    @cached_property
    def context(self) -> ProviderContext:
        """The provider as the kit sees it (adapter, capabilities)."""
        return ProviderContext.of(self.provider, self.registry or default_registry(), self.model)

    @cached_property
    def folder(self) -> Path:
        """``cassettes/<provider>`` when it exists, else ``cassettes`` itself."""
        nested = self.cassettes / self.provider
        return nested if nested.is_dir() else self.cassettes

    def cassette_path(self, name: str) -> Path:
        """Where the cassette of scenario ``name`` is (or would be)."""
        return self.folder / f"{name}.json"

    @cached_property
    def scenario_names(self) -> list[str]:
        """The shared scenarios, the task guarantees' own (derived from the task cassettes),
        then the cassette-only (dialect-specific) ones."""
        found = sorted(p.stem for p in self.folder.glob("*.json")) if self.folder.is_dir() else []
        shared = with_guarantees(SCENARIO_NAMES)
        return [*shared, *(name for name in found if name not in shared)]

    @cached_property
    def rejections(self) -> dict[str, Rejection]:
        """The negative tests the default model's declaration calls for, by name."""
        return {rejection.name: rejection for rejection in rejections(self.context)}

    def known_gap(self, name: str) -> str | None:
        """The reason ``name`` is listed in ``expected_failures``, or None."""
        for reason, names in self.expected_failures.items():
            if name in names:
                return reason
        return None

    def check_expected_failures(self) -> None:
        """Raise ValueError for a name in ``expected_failures`` that is no case of the suite."""
        known = {*self.scenario_names, *self.rejections}
        for reason, names in self.expected_failures.items():
            unknown = sorted(set(names) - known)
            if unknown:
                raise ValueError(
                    f"expected_failures[{reason!r}] names no scenario of {self.provider}:"
                    f" {', '.join(unknown)}"
                )

    def cases(self) -> list[Case]:
        """Every case: scenarios then rejections, each in every mode."""
        scenarios = [
            Case(self, n, mode, "scenario") for n in self.scenario_names for mode in self.modes
        ]
        rejections = [
            Case(self, n, mode, "rejection") for n in self.rejections for mode in self.modes
        ]
        return scenarios + rejections


@dataclass(frozen=True)
class Case:
    """One scenario (or rejection) of one suite, in one mode."""

    suite: Suite
    name: str
    mode: Mode
    kind: Literal["scenario", "rejection"] = "scenario"

    @property
    def id(self) -> str:
        """The pytest id: ``<scenario>-<mode>``."""
        return f"{self.name}-{self.mode}"

    def _outcome(
        self, status: Status, reason: str = "", exc: BaseException | None = None
    ) -> Outcome:
        return Outcome(self.suite.provider, self.name, self.mode, status, reason, exc)

    def skip_reason(self) -> str | None:
        """Why this case is skipped, known without running it (None: it runs)."""
        if self.kind == "rejection":
            return None
        if self.name in GUARANTEE_NAMES:
            return guarantee_skip(self.name, self.suite.folder, self.suite.context)
        path = self.suite.cassette_path(self.name)
        cassette = load_cassette(path) if path.is_file() else None
        if cassette is not None and cassette.not_applicable:
            return cassette.not_applicable
        context = self.suite.context
        scenario = scenario_by_name(self.name)
        requires = list(scenario.requires) if scenario else []
        if cassette is None:
            return context.choose_model(tuple(requires))[1]
        assert cassette.call is not None
        requires = requires or cassette.scenario.requires
        model = cassette.call.fields.get("model")
        return context.skip_reason(requires, model if isinstance(model, str) else None)

    def execute(self) -> Outcome:
        """Run the case: pass, skip or fail (known gaps are not applied here)."""
        try:
            reason = self.skip_reason()
            if reason is not None:
                return self._outcome("skip", reason)
            if self.kind == "rejection":
                run_rejection(self.suite.rejections[self.name], self.mode, self.suite.context)
            elif self.name in GUARANTEE_NAMES:
                run_guarantee(
                    self.name,
                    self.mode,
                    self.suite.folder,
                    self.suite.context,
                    delays=self.suite.delays,
                )
            else:
                path = self.suite.cassette_path(self.name)
                if not path.is_file():
                    raise MissingCassetteError(
                        f"no cassette {path}: {self.suite.provider} declares what the scenario"
                        f" {self.name!r} needs. Record it (python -m imagebridge.testing record),"
                        " record a not-applicable stub if the provider cannot have it"
                        " (record --not-applicable NAME=REASON, [not_applicable] in"
                        " tests/imagebridge-record.toml, or record(not_applicable=...)), or list"
                        " it in expected_failures."
                    )
                replay(
                    load_cassette(path),
                    self.mode,
                    context=self.suite.context,
                    delays=self.suite.delays,
                )
        except (*KIT_FAILURES, OutcomeMismatchError, MissingCassetteError) as error:
            return self._outcome("fail", str(error), error)
        except Exception as error:  # an adapter or library bug: keep the traceback
            text = "".join(traceback.format_exception(error))
            return self._outcome("fail", f"{type(error).__name__}: {error}\n{text}", error)
        return self._outcome("pass")

    def run(self) -> Outcome:
        """Run the case and apply the suite's known gaps (xfail, or xpass once fixed)."""
        outcome = self.execute()
        gap = self.suite.known_gap(self.name)
        if gap is None or outcome.status == "skip":
            return outcome
        if outcome.status == "fail":
            return self._outcome("xfail", f"{gap}\n{outcome.reason}", outcome.exception)
        return self._outcome("xpass", f"known gap no longer fails (remove it): {gap}")


def builtin_cassettes() -> Path:
    """The built-in providers' cassettes: package data of ``imagebridge_plugins``
    (``cassettes/<provider>/``), found through importlib.resources, not the working folder."""
    try:
        folder: object = files(BUILTIN_PLUGINS) / "cassettes"
    except ModuleNotFoundError:
        folder = None
    # Not installed, or inside a zip (a Traversable that is no Path): no folder to replay.
    if not (isinstance(folder, Path) and folder.is_dir()):
        raise FileNotFoundError(
            f"the built-in providers' cassettes ({BUILTIN_PLUGINS}/cassettes) are not installed"
            " as files; point cassettes at a folder of cassettes"
        )
    return folder


def _providers_in(folder: Path, registry: Registry) -> list[str]:
    names = [p.name for p in sorted(folder.iterdir()) if p.is_dir() and p.name in registry.adapters]
    if names:
        return names
    found = set()
    for path in folder.glob("*.json"):
        try:
            found.add(json.loads(path.read_text(encoding="utf-8"))["provider"])
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(found)


def run_conformance(
    provider: str | None,
    cassettes: Path | None,
    *,
    registry: Registry | None = None,
    expected_failures: Mapping[str, Collection[str]] | None = None,
    modes: tuple[Mode, ...] = MODES,
    delays: bool = False,
) -> list[Outcome]:
    """Run every scenario and rejection of one provider (or of every provider that has
    cassettes under ``cassettes``), in both clients, in-process; return the outcomes.

    ``cassettes`` is a folder holding ``<provider>/<scenario>.json`` (or, for one provider,
    the ``<scenario>.json`` files themselves); None means the built-in providers' cassettes
    (:func:`builtin_cassettes`), wherever the process runs. ``delays``: replay recorded
    event streams at their recorded pace.
    """
    registry = registry or default_registry()
    folder = Path(cassettes) if cassettes is not None else builtin_cassettes()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cassettes: no folder {folder}; point it at a folder holding"
            " <provider>/<scenario>.json cassettes (or one provider's <scenario>.json), as"
            " `python -m imagebridge.testing record --out DIR` writes them, or leave it out to"
            " replay the built-in providers' cassettes"
        )
    providers = [provider] if provider else _providers_in(folder, registry)
    if not providers:
        raise FileNotFoundError(
            f"no cassettes of an installed provider in {folder} ({registry.installed_summary()})"
        )
    outcomes: list[Outcome] = []
    for name in providers:
        registry.adapter(name)  # an unknown provider fails here, by name
        nested = folder / name
        if not any((nested if nested.is_dir() else folder).glob("*.json")):
            raise FileNotFoundError(
                f"no cassettes of {name} in {folder}: point cassettes at the folder of its"
                " cassettes"
            )
        suite = Suite(
            name,
            folder,
            registry=registry,
            expected_failures=expected_failures or {},
            modes=modes,
            delays=delays,
        )
        outcomes.extend(case.run() for case in suite.cases())
    return outcomes
