"""``python -m bench``: run the sections, print the tables and targets, write the JSON."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ._config import DEFAULT_OUTPUT, FULL, QUICK, REPO_ROOT, Settings
from ._report import SectionResult, summary, write_json

#: Section name -> module (each has ``run(settings) -> SectionResult``), in running order.
SECTIONS: dict[str, str] = {
    "overhead": "._overhead",
    "loopback": "._loopback",
    "throughput": "._throughput",
    "tasks": "._tasks",
    "large": "._large",
    "references": "._references",
    "imports": "._imports",
    "streaming": "._streaming",
    "routes": "._routes",
    "shared": "._shared",
    "ready": "._ready",
    "paths": "._paths",
}

_PACKAGES = ("imagebridge", "httpx", "httpx2", "openai", "pydantic", "aiohttp", "httpx-aiohttp")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="imagebridge vs raw httpx and the openai SDK, side by side.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: tiny counts, 20 tasks (< 60 s)"
    )
    parser.add_argument(
        "--only",
        metavar="SECTION[,SECTION]",
        help=f"run only these sections: {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write the JSON (default: bench/results/latest.json)",
    )
    options = parser.parse_args(argv)
    names = list(SECTIONS)
    if options.only:
        names = [n.strip() for n in options.only.split(",") if n.strip()]
        unknown = sorted(set(names) - set(SECTIONS))
        if unknown:
            parser.error(f"unknown section(s): {', '.join(unknown)}")
    settings = QUICK if options.quick else FULL
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    with tempfile.TemporaryDirectory(prefix="imagebridge-bench-journal-") as folder:
        # imagebridge journals every accepted task (SQLite, on by default): keep measuring
        # that default, but in a throwaway file, never in the user's own journal.
        if "IMAGEBRIDGE_JOURNAL" not in os.environ:
            os.environ["IMAGEBRIDGE_JOURNAL"] = str(Path(folder) / "journal.sqlite3")
        return _run(names, settings, options.output)


def _run(names: list[str], settings: Settings, output: Path) -> int:
    started = time.perf_counter()
    meta = _meta(settings)
    print(_banner(meta), flush=True)
    results: list[SectionResult] = []
    for name in names:
        result = _run_section(name, settings)
        results.append(result)
        print(result.render() + "\n", flush=True)
    meta["seconds"] = round(time.perf_counter() - started, 1)
    meta["load_average_end"] = os.getloadavg()
    print(summary(results))
    write_json(output, meta, results)
    print(f"\nwrote {output} ({meta['seconds']} s)")
    return 1 if any(r.error for r in results) else 0


def _run_section(name: str, settings: Settings) -> SectionResult:
    start = time.perf_counter()
    try:
        module = importlib.import_module(SECTIONS[name], __package__)
        run: Callable[[Settings], SectionResult] = module.run
        result = run(settings)
    except Exception:
        result = SectionResult(name, name, error=traceback.format_exc())
    result.seconds = time.perf_counter() - start
    return result


def _meta(settings: Settings) -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for package in _PACKAGES:
        try:
            packages[package] = version(package)
        except PackageNotFoundError:
            packages[package] = None
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if settings.quick else "full",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg(),
        "packages": packages,
        "litellm_python": settings.litellm_python,
        "journal": os.environ.get("IMAGEBRIDGE_JOURNAL"),
        "source": _source(),
        "settings": {k: v for k, v in vars(settings).items() if k != "quick"},
    }


def _source() -> dict[str, Any]:
    """The commit measured and whether the library's files differ from it (read-only git)."""
    out: dict[str, Any] = {}
    for key, argv in (
        ("commit", ["git", "rev-parse", "HEAD"]),
        ("dirty", ["git", "status", "--porcelain", "--", "src", "plugins"]),
    ):
        try:
            done = subprocess.run(  # noqa: S603 (fixed argv)
                argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return {"commit": None}
        lines = done.stdout.splitlines()
        out[key] = lines[0].strip() if key == "commit" else [line[3:] for line in lines]
    return out


def _banner(meta: dict[str, Any]) -> str:
    packages = ", ".join(f"{k} {v}" for k, v in meta["packages"].items() if v)
    return (
        f"imagebridge bench ({meta['mode']}) on {meta['cpus']} CPUs, Python {meta['python']},"
        f" load average {meta['load_average_start'][0]:.2f}\n"
        f"  commit {str(meta['source'].get('commit'))[:10]},"
        f" {len(meta['source'].get('dirty') or [])} library files modified since\n"
        f"  {packages}\n"
        "  ratios are contender / raw httpx (median); CPU = process CPU time\n"
    )
