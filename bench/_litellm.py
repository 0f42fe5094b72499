"""Optional litellm rows: ``bench._litellm_worker`` run by ``$IMAGEBRIDGE_BENCH_LITELLM_PYTHON``."""

from __future__ import annotations

import json
from typing import Any

from ._config import Settings
from ._proc import child_env, run_json


def measure(settings: Settings, mode: str, base_url: str, **counts: int) -> dict[str, Any]:
    """litellm vs raw httpx (interleaved in litellm's interpreter); ``{"skipped": why}`` when
    no interpreter is configured, ``{"error": ...}`` when it fails."""
    python = settings.litellm_python
    if python is None:
        return {"skipped": "IMAGEBRIDGE_BENCH_LITELLM_PYTHON is not set"}
    # litellm is ~10x slower per call: a third of the calls keeps the run short, and its
    # ratio is still taken against raw httpx interleaved in the same interpreter.
    args = {"base_url": base_url, **{k: max(2, v // 3) for k, v in counts.items()}}
    argv = [python, "-m", "bench._litellm_worker", mode, json.dumps(args)]
    env = child_env({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"})
    try:
        result: dict[str, Any] = run_json(argv, timeout=300, env=env)
    except Exception as exc:  # an optional contender never fails the run
        return {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    return result
