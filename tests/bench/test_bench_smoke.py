"""Smoke test of the benchmark suite: ``python -m bench --quick`` runs every section to the
end and writes valid JSON. Benchmarks are not timed tests: no target is checked. One gate
only catches a gross regression: the per-call CPU ratios against raw httpx, measured side by
side in the same run, must stay within twice the ones kept in ``bench/baseline.json`` (the
shared machines' noise moves them by a quarter at most, never twice).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = {
    "overhead",
    "loopback",
    "throughput",
    "tasks",
    "large",
    "references",
    "imports",
    "streaming",
    "routes",
    "shared",
    "ready",
    "paths",
}


BASELINE = json.loads((ROOT / "bench" / "baseline.json").read_text())
#: How far past the kept ratio a quick run may go before it is a regression.
GROSS = 2.0


@pytest.mark.timeout(170)
def test_quick_run_completes_and_writes_every_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "latest.json"
    # Self-contained: an optional litellm interpreter from the environment is not used here.
    env = {k: v for k, v in os.environ.items() if k != "IMAGEBRIDGE_BENCH_LITELLM_PYTHON"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=160,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    document = json.loads(output.read_text())
    assert set(document["sections"]) == SECTIONS
    for name, section in document["sections"].items():
        assert section["error"] is None, f"{name}: {section['error']}"
        assert section["data"], name
        assert section["tables"], name
        assert all(c["status"] in {"PASS", "MISS", "N/A"} for c in section["checks"]), name
    assert document["summary"]["errors"] == []
    assert document["meta"]["mode"] == "quick"
    overhead = document["sections"]["overhead"]["data"]
    for mode in ("sync", "async"):
        ratio = overhead[mode]["imagebridge"]["cpu_ratio"]
        kept = BASELINE["overhead"][f"{mode}_cpu_ratio"]
        with capsys.disabled():
            print(f"\nbench --quick: {mode} per-call CPU {ratio:.2f}x raw httpx (kept {kept:.2f}x)")
        assert ratio <= GROSS * kept, (
            f"{mode} per-call CPU is {ratio:.2f}x raw httpx, more than {GROSS:g}x the"
            f" {kept:.2f}x kept in bench/baseline.json: a gross regression"
        )
