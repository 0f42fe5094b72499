"""Regenerate the built-in adapters' cassettes (``plugins/imagebridge_plugins/cassettes/``).

    .venv/bin/python tests/plugins/record_cassettes.py              # every built-in provider
    .venv/bin/python tests/plugins/record_cassettes.py dimilinks    # some of them

Each provider's scenarios (the kit's shared ones, then the dialect-specific ones of
``builtin_scenarios.py``) are recorded with the kit's recording mode against the imagebridge
emulator over real loopback HTTP. The emulator runs on the same fake clock as the client, so
tasks progress exactly as the client polls and the recording takes seconds. Recordings are
scrubbed (placeholder origin, no signatures, no key: the emulator's key is declared secret and
a cassette containing it would be refused) and verified by replaying them in both clients.
Exits non-zero if any scenario could not be recorded.
"""

from __future__ import annotations

import sys
from pathlib import Path

from builtin_scenarios import DIALECT_SCENARIOS, HINTS, NOT_APPLICABLE, SETUPS

from imagebridge._emulator import DIALECTS, EmulatorConfig, EmulatorServer
from imagebridge.testing import SCENARIOS, FakeClock, RecordReport, Scenario, record

CASSETTES = Path(__file__).resolve().parents[2] / "plugins" / "imagebridge_plugins" / "cassettes"
#: The emulator's API key: the recorder refuses any cassette in which it appears.
EMULATOR_KEY = "sk-emulator-3f9c2a7d41b8e6"


def record_provider(provider: str, server: EmulatorServer, clock: FakeClock) -> list[RecordReport]:
    """Record every scenario of one provider, each with the emulator settings it needs."""
    out = CASSETTES / provider
    scenarios: list[Scenario] = [*SCENARIOS, *DIALECT_SCENARIOS[provider]]
    names = {scenario.name for scenario in scenarios}
    for stale in out.glob("*.json"):
        if stale.stem not in names:
            stale.unlink()
    reports: list[RecordReport] = []
    for scenario in scenarios:
        settings = {"task_duration": 0.0, "result_url_style": "relative"}
        settings.update(SETUPS.get((provider, scenario.name), {}))
        for name, value in settings.items():
            setattr(server.config, name, value)
        reports += record(
            provider,
            base_url=server.url(provider),
            api_key=EMULATOR_KEY,
            out=out,
            scenarios=[scenario],
            hints=HINTS.get(provider, {}),
            not_applicable=NOT_APPLICABLE.get(provider, {}),
            clock=clock,
            recorded_from=f"imagebridge emulator ({provider} dialect)",
        )
    return reports


def main(argv: list[str]) -> int:
    providers = argv or list(DIALECTS)
    clock = FakeClock()
    config = EmulatorConfig(api_key=EMULATOR_KEY, clock=clock.monotonic)
    failed = 0
    with EmulatorServer(config) as server:
        for provider in providers:
            for report in record_provider(provider, server, clock):
                line = f"{provider:10} {report.scenario:32} {report.status}"
                print(f"{line}  {report.detail}".rstrip())
                failed += report.status in ("failed", "refused")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
