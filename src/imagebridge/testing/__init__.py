"""The conformance kit: certify any adapter against recorded HTTP cassettes, offline.

For plugin authors, the whole setup is one test file::

    from pathlib import Path
    from imagebridge.testing import AdapterConformance

    class TestMyProvider(AdapterConformance):
        provider = "myprovider"
        cassettes = Path(__file__).parent / "cassettes"

Cassettes are recorded with :func:`record` (or ``python -m imagebridge.testing record``)
against a live endpoint or the emulator; :func:`run_conformance` and :func:`format_table`
run the same suite without pytest (given no folder, on the built-in providers' cassettes,
which ship as package data in ``imagebridge_plugins/cassettes/``). See ``docs/plugins.md``.

Names are imported on first use, so importing this package (the pytest plugin does, in every
pytest run) costs nothing and needs none of the kit's optional dependencies (respx).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cassette import Cassette, cassette_schema, load_cassette, save_cassette
    from ._context import PLACEHOLDER_ORIGIN
    from ._guarantees import GUARANTEES
    from ._invariants import GuaranteeError
    from ._record import RecordingTransport, RecordReport, record
    from ._rejections import Rejection, RejectionFailedError
    from ._replay import CassetteMismatchError, ReplayTransport, UnusedInteractionsError
    from ._report import format_table
    from ._requirements import REQUIREMENTS, Requirement
    from ._runner import Case, Outcome, OutcomeMismatchError, Suite, replay, run_conformance
    from ._scenarios import (
        SCENARIOS,
        Hint,
        Scenario,
        html_error_page,
        transient_poll_failure,
    )
    from ._scrub import SecretLeakError
    from ._suite import AdapterConformance
    from ._support import FakeClock, compact_png, sample_png

__all__ = [
    "GUARANTEES",
    "PLACEHOLDER_ORIGIN",
    "REQUIREMENTS",
    "SCENARIOS",
    "AdapterConformance",
    "Case",
    "Cassette",
    "CassetteMismatchError",
    "FakeClock",
    "GuaranteeError",
    "Hint",
    "Outcome",
    "OutcomeMismatchError",
    "RecordReport",
    "RecordingTransport",
    "Rejection",
    "RejectionFailedError",
    "ReplayTransport",
    "Requirement",
    "Scenario",
    "SecretLeakError",
    "Suite",
    "UnusedInteractionsError",
    "cassette_schema",
    "compact_png",
    "format_table",
    "html_error_page",
    "load_cassette",
    "record",
    "replay",
    "run_conformance",
    "sample_png",
    "save_cassette",
    "transient_poll_failure",
]

_HOMES = {
    "GUARANTEES": "_guarantees",
    "GuaranteeError": "_invariants",
    "PLACEHOLDER_ORIGIN": "_context",
    "REQUIREMENTS": "_requirements",
    "SCENARIOS": "_scenarios",
    "AdapterConformance": "_suite",
    "Case": "_runner",
    "Cassette": "_cassette",
    "CassetteMismatchError": "_replay",
    "FakeClock": "_support",
    "Hint": "_scenarios",
    "Outcome": "_runner",
    "OutcomeMismatchError": "_runner",
    "RecordReport": "_record",
    "RecordingTransport": "_record",
    "Rejection": "_rejections",
    "RejectionFailedError": "_rejections",
    "ReplayTransport": "_replay",
    "Requirement": "_requirements",
    "Scenario": "_scenarios",
    "SecretLeakError": "_scrub",
    "Suite": "_runner",
    "UnusedInteractionsError": "_replay",
    "cassette_schema": "_cassette",
    "compact_png": "_support",
    "format_table": "_report",
    "html_error_page": "_scenarios",
    "load_cassette": "_cassette",
    "record": "_record",
    "replay": "_runner",
    "run_conformance": "_runner",
    "sample_png": "_support",
    "save_cassette": "_cassette",
    "transient_poll_failure": "_scenarios",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
