"""Without OpenTelemetry nothing changes and nothing is imported; with it, nothing is
imported until the program imports it itself. Each case runs in a fresh interpreter
(``sys.modules`` of this one already holds the SDK), against the emulator of this process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from imagebridge._emulator import EmulatorServer

from .conftest import API_KEY

REPORT = """
import json, sys
loaded = lambda: sorted(m for m, v in sys.modules.items() if m.startswith("opentelemetry") and v)
import imagebridge
from imagebridge import _telemetry
at_import = loaded()
with imagebridge.ImageClient("openai", journal=False) as client:
    result = client.generate("a red cube", model="gpt-image-1")
print(json.dumps({
    "at_import": at_import,
    "after_job": loaded(),
    "images": len(result.images),
    "tracer": type(_telemetry._tracer).__name__,
}))
"""

#: Makes ``opentelemetry`` unimportable, as when the extra is not installed.
BLOCK = 'sys.modules["opentelemetry"] = None\n'


def run(server: EmulatorServer, prelude: str = "") -> dict[str, Any]:
    code = "import sys\n" + prelude + textwrap.dedent(REPORT)
    env = {
        **os.environ,
        "OPENAI_BASE_URL": server.url("openai"),
        "OPENAI_API_KEY": API_KEY,
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_without_opentelemetry_a_generate_works_and_nothing_is_imported(
    server: EmulatorServer,
) -> None:
    report = run(server, BLOCK)
    assert report == {"at_import": [], "after_job": [], "images": 1, "tracer": "NoneType"}


def test_installed_but_unused_opentelemetry_is_never_imported(server: EmulatorServer) -> None:
    report = run(server)
    assert report == {"at_import": [], "after_job": [], "images": 1, "tracer": "NoneType"}


def test_with_the_api_imported_and_no_sdk_the_proxy_is_asked_and_nothing_recorded(
    server: EmulatorServer,
) -> None:
    report = run(server, "import opentelemetry.trace\n")
    assert "opentelemetry.trace" in report["at_import"]
    assert not [m for m in report["after_job"] if m.startswith("opentelemetry.sdk")]
    assert report["images"] == 1
    # No tracer provider set: the API's proxy tracer, and no span was started.
    assert report["tracer"] == "ProxyTracer"
