"""The streaming section of the bench, alone, in its quickest mode: ``python -m bench --quick
--only streaming`` runs both parts (time to the first partial image over loopback against
the emulator, memory in fresh interpreters against the bench server's noise images) and
writes their figures. No figure or target is checked: benchmarks are not timed tests.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTENDERS = {"raw-httpx", "imagebridge", "openai-sdk"}
#: One 1024x1024 image of the quick run: random RGB pixels in an uncompressed PNG.
IMAGE_BYTES = 1024 * 1024 * 3


@pytest.mark.timeout(130)
def test_the_streaming_section_runs_alone(tmp_path: Path) -> None:
    output = tmp_path / "streaming.json"
    env = {k: v for k, v in os.environ.items() if k != "IMAGEBRIDGE_BENCH_LITELLM_PYTHON"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "streaming", "--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    document = json.loads(output.read_text())
    assert set(document["sections"]) == {"streaming"}
    section = document["sections"]["streaming"]
    assert section["error"] is None, section["error"]
    for mode in ("sync", "async"):
        rows = section["data"]["time"][mode]
        assert set(rows) == CONTENDERS
        for name, row in rows.items():
            assert row["calls"] >= 1, (mode, name)
            # Each call received every partial image and the final one (else it raised).
            assert 0 < row["first_partial_ms"] <= row["completed_ms"], (mode, name)
            assert math.isfinite(row["first_partial_ratio"]), (mode, name)
    memory = section["data"]["memory"]
    assert {row["partials"] for row in memory.values()} == {0, 3}
    for key, row in memory.items():
        assert IMAGE_BYTES < row["image_bytes"] < IMAGE_BYTES + 65536, key
        assert row["rss_growth_mib"] is not None, key
        assert row["traced_peak_mib"] > row["image_bytes"] / 2**20, key
    names = [check["name"] for check in section["checks"]]
    assert any("first partial image" in name for name in names)
    assert any("RSS added by the partials" in name for name in names)
    assert all(check["status"] in {"PASS", "MISS", "N/A"} for check in section["checks"])
    assert "time to first partial image vs the openai SDK" in done.stdout
