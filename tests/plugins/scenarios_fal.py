"""Dialect-specific conformance scenarios of the ``fal`` provider, and how the kit's shared
scenarios are recorded from its emulator dialect (merged by ``builtin_scenarios.py``)."""

from __future__ import annotations

from typing import Any

from imagebridge.testing import Hint, Scenario

SCENARIOS: tuple[Scenario, ...] = ()
#: Shared scenario name -> how it is recorded from this dialect.
HINTS: dict[str, Hint] = {}
#: Shared scenario name -> why it does not apply to this provider.
NOT_APPLICABLE: dict[str, str] = {}
#: Scenario name -> emulator settings it needs.
SETUPS: dict[str, dict[str, Any]] = {}
