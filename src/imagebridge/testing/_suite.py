"""The pytest mixin: one short test class certifies an adapter against every scenario.

    from pathlib import Path
    from imagebridge.testing import AdapterConformance

    class TestMyProvider(AdapterConformance):
        provider = "myprovider"
        cassettes = Path(__file__).parent / "cassettes"

The kit's pytest plugin (registered through ``pytest11``) parametrizes the two test methods
below with every case of the suite; nothing happens for test classes that do not use the kit.
pytest is imported only when a case runs, so this module is importable without it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, ClassVar

from .._plugins import Registry
from ._invariants import GuaranteeError
from ._rejections import RejectionFailedError
from ._replay import CassetteMismatchError, UnusedInteractionsError
from ._runner import MODES, Case, MissingCassetteError, Mode, OutcomeMismatchError, Suite

__all__ = ["AdapterConformance"]

#: The argument names the plugin parametrizes.
CASE_ARGUMENT = "imagebridge_case"
REJECTION_ARGUMENT = "imagebridge_rejection"

_EXPLAINED = (
    GuaranteeError,
    CassetteMismatchError,
    UnusedInteractionsError,
    RejectionFailedError,
    OutcomeMismatchError,
    MissingCassetteError,
)


class AdapterConformance:
    """Mix into a ``Test...`` class to run the conformance suite against one provider.

    Class attributes: ``provider`` (required), ``cassettes`` (required: the folder of
    ``<scenario>.json`` files, or one holding ``<provider>/``), ``model`` (the model whose
    capabilities drive skips and rejections; default: the adapter's default), ``registry``
    (default: plugins from entry points), ``modes`` and ``expected_failures``: known gaps as
    ``{"reason": {"scenario", ...}}``, run as strict xfails so that fixing one is noticed,
    and ``delays`` (replay recorded event streams at their recorded pace; default: at once).
    """

    provider: ClassVar[str] = ""
    cassettes: ClassVar[Path | str | None] = None
    model: ClassVar[str | None] = None
    registry: ClassVar[Registry | None] = None
    expected_failures: ClassVar[Mapping[str, Collection[str]]] = {}
    modes: ClassVar[tuple[Mode, ...]] = MODES
    delays: ClassVar[bool] = False

    @classmethod
    def conformance_suite(cls) -> Suite:
        """The :class:`Suite` this class describes (checked: a typo fails collection)."""
        if not cls.provider:
            raise TypeError(f"{cls.__name__}: set 'provider' to the provider's name")
        if cls.cassettes is None:
            raise TypeError(f"{cls.__name__}: set 'cassettes' to the folder of its cassettes")
        suite = Suite(
            cls.provider,
            Path(cls.cassettes),
            model=cls.model,
            registry=cls.registry,
            expected_failures=cls.expected_failures,
            modes=cls.modes,
            delays=cls.delays,
        )
        suite.check_expected_failures()
        return suite

    def test_scenario(self, imagebridge_case: Case) -> None:
        """Replay one recorded scenario through one client and compare everything."""
        _settle(imagebridge_case)

    def test_rejection(self, imagebridge_rejection: Case) -> None:
        """A request beyond a declared limit is refused before any HTTP call."""
        _settle(imagebridge_rejection)


def _settle(case: Case) -> None:
    import pytest

    outcome = case.execute()
    if outcome.status == "skip":
        pytest.skip(outcome.reason)
    if outcome.status == "fail":
        if isinstance(outcome.exception, _EXPLAINED) or outcome.exception is None:
            pytest.fail(outcome.reason, pytrace=False)
        raise outcome.exception


def parametrize(metafunc: Any) -> None:
    """Parametrize a kit test method with its cases (called by the pytest plugin)."""
    import pytest

    cls = metafunc.cls
    if cls is None or not issubclass(cls, AdapterConformance):
        return
    if CASE_ARGUMENT in metafunc.fixturenames:
        argument, kind = CASE_ARGUMENT, "scenario"
    elif REJECTION_ARGUMENT in metafunc.fixturenames:
        argument, kind = REJECTION_ARGUMENT, "rejection"
    else:
        return
    suite = cls.conformance_suite()
    params = []
    for case in suite.cases():
        if case.kind != kind:
            continue
        marks: list[Any] = [pytest.mark.imagebridge_conformance]
        gap = suite.known_gap(case.name)
        if gap is not None:
            marks.append(pytest.mark.xfail(reason=gap, strict=True))
        params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize(argument, params)
