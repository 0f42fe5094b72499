"""Record this plugin's cassettes (tests/cassettes/) with the conformance kit.

    python tests/record_cassettes.py

PixelForge is fictional, so the scenarios are recorded from an in-process fake of its API
(``fake_pixelforge.py``) through ``transport=``. Against a real provider you would leave the
transport out and pass the live base URL and key, or run
``python -m imagebridge.testing record --provider NAME --base-url URL --out tests/cassettes``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from fake_pixelforge import FakePixelForge

from imagebridge.testing import SCENARIOS, FakeClock, Hint, record

CASSETTES = Path(__file__).parent / "cassettes"
BASE_URL = "https://api.pixelforge.example/v2"
KEY = "pf-live-0d9e8c7b6a5f4e3d"  # the fake's key: recordings containing it are refused

#: How PixelForge says what the emulator markers say by default.
HINTS = {
    "insufficient_balance": Hint(marker="#error=402:quota"),
    "rate_limited": Hint(marker="#error=429:throttle"),
    "server_error": Hint(marker="#error=500:internal"),
    "content_policy": Hint(marker="#fail=policy"),
    "task_failed": Hint(marker="#fail=engine_crash"),
}
NOT_APPLICABLE = {"result_b64": "PixelForge always answers with links to its CDN"}


def main() -> int:
    clock = FakeClock()
    server = FakePixelForge(api_key=KEY, clock=clock.monotonic)
    failed = 0
    for scenario in SCENARIOS:
        server.duration = 12.0 if scenario.name == "task_statuses" else 0.0
        for report in record(
            "pixelforge",
            base_url=BASE_URL,
            api_key=KEY,
            out=CASSETTES,
            scenarios=[scenario],
            hints=HINTS,
            not_applicable=NOT_APPLICABLE,
            transport=httpx.MockTransport(server.handle),
            clock=clock,
            ignore_json_paths=["client_ref"],  # a fresh random id on every submit
            recorded_from="fake_pixelforge.py",
        ):
            print(f"{report.scenario:24} {report.status:15} {report.detail}".rstrip())
            failed += report.status in ("failed", "refused")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
