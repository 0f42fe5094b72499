"""The emulator's own rate limit: ``EmulatorConfig(requests_per_minute=N)``."""

from __future__ import annotations

import httpx
import pytest

from imagebridge._emulator import EmulatorConfig
from imagebridge.testing import FakeClock

from .conftest import StartEmulator

AUTH = {"Authorization": "Bearer sk-test"}
BODY = {"model": "gpt-image-1", "prompt": "a red cube"}


@pytest.mark.parametrize("dialect", ["openai", "dimilinks"])
def test_the_emulator_answers_429_above_its_limit(
    start_emulator: StartEmulator, clock: FakeClock, dialect: str
) -> None:
    server = start_emulator(requests_per_minute=2, clock=clock.monotonic, task_duration=0)
    url = f"{server.url(dialect)}/images/generations"
    with httpx.Client(headers=AUTH, timeout=10) as http:
        assert [http.post(url, json=BODY).status_code for _ in range(2)] == [200, 200]
        clock.sleep(15)
        refused = http.post(url, json=BODY)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "45"  # when the first leaves the window
        assert "2 requests per minute" in refused.text
        # The other dialects have their own count.
        assert http.post(f"{server.url('geeknow')}/images/generations", json=BODY).is_success
        clock.sleep(45)
        assert http.post(url, json=BODY).status_code == 200
    stats = server.app_state.stats()
    assert stats["rate_limited"][dialect] == 1
    assert stats["submits"][dialect] == 4


def test_the_emulator_limit_must_be_a_positive_whole_number() -> None:
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="requests_per_minute") as caught:
            EmulatorConfig(requests_per_minute=bad)  # type: ignore[arg-type]
        assert repr(bad) in str(caught.value)
