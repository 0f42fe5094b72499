"""A new task provider, Lumen, recorded and certified from the command line alone.

The plugin package (``lumen_plugin/``: the adapter, its pyproject and
``tests/imagebridge-record.toml``) is installed into a temporary folder the way a wheel
installs it; its fake API serves on 127.0.0.1. Then, as an author would, from the package's
root: ``python -m imagebridge.testing record --base-url URL`` (everything else comes from the
record file), the fake is shut down, and ``python -m imagebridge.testing run`` certifies the
cassettes offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from imagebridge.testing import SCENARIOS

from .lumen_fake import KEY, FakeLumen, install_plugin

#: What Lumen can record: everything but the URL results (it answers base64) and what it
#: does not declare (sizes, edits, streaming...), which the recorder skips.
RECORDED = {
    "text_to_image",
    "n_multiple",
    "result_b64",
    "task_statuses",
    "task_poll_retried",
    "task_failed",
    "task_unknown",
    "auth_invalid",
    "insufficient_balance",
    "rate_limited",
    "server_error",
    "html_error_page",
    "content_policy",
}


def kit(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m imagebridge.testing ARGS`` in ``cwd``, bounded."""
    return subprocess.run(
        [sys.executable, "-m", "imagebridge.testing", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def statuses(stdout: str) -> dict[str, str]:
    names = {scenario.name for scenario in SCENARIOS}
    rows = [line.split() for line in stdout.splitlines()]
    return {row[0]: row[1] for row in rows if len(row) >= 2 and row[0] in names}


def test_lumen_is_recorded_and_certified_from_the_command_line(tmp_path: Path) -> None:
    package = install_plugin(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "IMAGEBRIDGE_LOAD_PLUGINS"}
    env.update(PYTHONPATH=str(tmp_path), LUMEN_API_KEY=KEY)
    with FakeLumen() as fake:
        recorded = kit("record", "--base-url", fake.url, cwd=package, env=env)
    output = recorded.stdout + recorded.stderr
    assert recorded.returncode == 0, output
    assert recorded.stdout.startswith("config: ")
    seen = statuses(recorded.stdout)
    assert set(seen) == {scenario.name for scenario in SCENARIOS}, output
    assert {name for name, status in seen.items() if status == "recorded"} == RECORDED, output
    assert seen["result_url"] == "not_applicable"
    assert set(seen.values()) == {"recorded", "not_applicable", "skipped"}

    # The key went to the fake in Lumen's header, and nowhere in what was printed or written.
    assert {headers.get("X-Lumen-Key") for method, _, headers in fake.seen} >= {KEY}
    cassettes = package / "tests" / "cassettes"
    written = [path for path in cassettes.rglob("*") if path.is_file()]
    assert KEY not in output
    assert not [path for path in written if KEY.encode() in path.read_bytes()]
    assert not [path for path in written if b"127.0.0.1" in path.read_bytes()]
    policy = json.loads((cassettes / "content_policy.json").read_text())
    assert policy["expected"]["error"]["type"] == "ContentPolicyError"
    assert policy["expected"]["error"]["code"] == "nsfw"  # Lumen's own code, from the hint
    statuses_polled = json.loads((cassettes / "task_statuses.json").read_text())
    assert statuses_polled["expected"]["result"]["progress"] == ["waiting", "working", "done"]

    # Certified offline: the fake is gone.
    certified = kit(
        "run", "--provider", "lumen", "--cassettes", "tests/cassettes", cwd=package, env=env
    )
    table = certified.stdout
    assert certified.returncode == 0, table + certified.stderr
    rows = {line.split()[0]: line.split()[1] for line in table.splitlines() if line.split()}
    assert {rows[name] for name in RECORDED} == {"pass"}, table
    assert rows["result_url"] == "skip", table
    assert "FAIL" not in table
