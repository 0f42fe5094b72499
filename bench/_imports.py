"""Section 7: cold imports, ``imagebridge --help``, and the first call after construction.

Imports are timed inside fresh interpreters (``perf_counter`` and ``process_time`` around
the import statement, so interpreter start-up is not counted; the whole subprocess wall is
recorded too). The floor is what any pydantic + pluggy + httpx library pays: ``import
httpx, pluggy, pydantic`` and one small model. Contenders are interleaved; each has one
untimed warm-up run so bytecode caches are fresh. ``-X importtime`` gives imagebridge's
heaviest modules.
"""

from __future__ import annotations

import compileall
import importlib.metadata
import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ._config import Settings
from ._proc import child_env, run_json, wall_of, worker
from ._report import Check, SectionResult, Table
from ._stats import median, ratio, rotated

TARGET_FLOOR = 1.25
TARGET_OPENAI = 0.2
TARGET_FIRST_CALL = 0.1

FLOOR_CODE = "import httpx, pluggy, pydantic\nclass M(pydantic.BaseModel):\n    x: int"
IMPORTS: dict[str, str] = {
    # What a program that makes images runs: ``import imagebridge`` alone binds no names
    # (they load on first use, PEP 562), so it would flatter the figure.
    "imagebridge": "from imagebridge import ImageClient",
    "floor (httpx+pluggy+pydantic+model)": FLOOR_CODE,
    "openai": "import openai",
    "python -c pass": "pass",
}
IMAGEBRIDGE, FLOOR, OPENAI = "imagebridge", "floor (httpx+pluggy+pydantic+model)", "openai"
BARE = "python -c pass"

_TIMER = """\
import time
_w, _c = time.perf_counter(), time.process_time()
{code}
_w, _c = time.perf_counter() - _w, time.process_time() - _c
import json
print(json.dumps({{"wall_ms": _w * 1000, "cpu_ms": _c * 1000}}))
"""


def _import_once(code: str) -> dict[str, float]:
    start = time.perf_counter()
    out: dict[str, float] = run_json([sys.executable, "-c", _TIMER.format(code=code)], timeout=60)
    out["process_ms"] = (time.perf_counter() - start) * 1000
    return out


def _importtime_top(module: str, count: int = 12) -> list[dict[str, Any]]:
    """The modules with the largest self time in ``python -X importtime -c 'import module'``."""
    done = subprocess.run(  # noqa: S603 (argv is built by the bench itself)
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=True,
    )
    rows: list[dict[str, Any]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line[12:].split("|", 2))
        rows.append(
            {
                "module": name.strip(),
                "self_ms": int(self_us) / 1000,
                "cumulative_ms": int(cumulative_us) / 1000,
            }
        )
    rows.sort(key=lambda row: float(row["self_ms"]), reverse=True)
    return rows[:count]


def _compile_bytecode() -> list[str]:
    """Write the bytecode of imagebridge and of every plugin package it loads.

    The floor's packages come from wheels, whose installer compiled them; an editable
    install compiles on first import, unless ``PYTHONDONTWRITEBYTECODE`` is set (as on the
    shared machines), when every interpreter would compile imagebridge from source again and
    the figure would time the compiler (~55 ms), not the import. Returns the folders.
    """
    packages = {"imagebridge"}
    for entry_point in importlib.metadata.entry_points(group="imagebridge"):
        packages.add(entry_point.module.split(".")[0])
    folders: list[str] = []
    for package in sorted(packages):
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(folder, quiet=1)
            folders.append(folder)
    return folders


def _imports(settings: Settings, result: SectionResult) -> None:
    result.data["bytecode_compiled"] = _compile_bytecode()
    names = list(IMPORTS)
    for name in names:  # warm-up: fresh bytecode caches, page cache
        _import_once(IMPORTS[name])
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for index in range(settings.import_repeats):
        for name in rotated(names, index):
            runs[name].append(_import_once(IMPORTS[name]))
    rows: dict[str, dict[str, float]] = {}
    for name, measured in runs.items():
        rows[name] = {
            "wall_ms_min": min(m["wall_ms"] for m in measured),
            "wall_ms_median": median([m["wall_ms"] for m in measured]),
            "cpu_ms_median": median([m["cpu_ms"] for m in measured]),
            "process_ms_median": median([m["process_ms"] for m in measured]),
        }
    base = rows[IMAGEBRIDGE]["wall_ms_median"]
    table = Table(
        ["import", "min ms", "median ms", "CPU med ms", "process med ms", "imagebridge / this"]
    )
    for name, row in rows.items():
        row["imagebridge_over_this"] = ratio(base, row["wall_ms_median"])
        table.add(
            name,
            row["wall_ms_min"],
            row["wall_ms_median"],
            row["cpu_ms_median"],
            row["process_ms_median"],
            "-" if name == BARE else f"{row['imagebridge_over_this']:.2f}x",
        )
    result.tables.append(table)
    result.data["imports"] = rows
    result.data["imagebridge_importtime_top"] = _importtime_top("imagebridge")
    result.checks += [
        Check(
            "import imagebridge vs floor", rows[FLOOR]["imagebridge_over_this"], "<=", TARGET_FLOOR
        ),
        Check(
            "import imagebridge vs import openai",
            rows[OPENAI]["imagebridge_over_this"],
            "<=",
            TARGET_OPENAI,
        ),
    ]


def _help(settings: Settings, result: SectionResult) -> None:
    script = Path(sys.executable).with_name("imagebridge")
    argv = (
        [str(script), "--help"]
        if script.exists()
        else [sys.executable, "-m", "imagebridge._cli", "--help"]
    )
    wall_of(argv)
    walls = [wall_of(argv) * 1000 for _ in range(settings.import_repeats)]
    baseline = [
        wall_of([sys.executable, "-c", "pass"]) * 1000 for _ in range(settings.import_repeats)
    ]
    result.data["cli_help"] = {
        "wall_ms_min": min(walls),
        "wall_ms_median": median(walls),
        "python_pass_ms_median": median(baseline),
    }
    result.notes.append(
        f"`imagebridge --help`: median {median(walls):.0f} ms, min {min(walls):.0f} ms"
        f" (`python -c pass`: {median(baseline):.0f} ms)"
    )


def _first_call(settings: Settings, result: SectionResult) -> None:
    names = ["imagebridge", "openai"]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for index in range(settings.first_call_repeats):
        for name in rotated(names, index):
            runs[name].append(worker(f"first_call.{name}", {}))
    rows = {
        name: {key: median([m[key] for m in measured]) for key in measured[0]}
        for name, measured in runs.items()
    }
    table = Table(["first call", "import ms", "construct ms", "1st call ms", "2nd call ms"])
    for name, row in rows.items():
        table.add(name, row["import_ms"], row["construct_ms"], row["first_ms"], row["second_ms"])
    result.tables.append(table)
    result.data["first_call"] = rows
    first = ratio(rows["imagebridge"]["first_ms"], rows["openai"]["first_ms"])
    result.checks.append(
        Check(
            "first call after construction vs the openai SDK's",
            first,
            "<=",
            TARGET_FIRST_CALL,
            note=f"{rows['imagebridge']['first_ms']:.1f} vs {rows['openai']['first_ms']:.1f} ms",
        )
    )


def run(settings: Settings) -> SectionResult:
    result = SectionResult("imports", "7. Cold import, CLI start-up, first call")
    _imports(settings, result)
    _help(settings, result)
    _first_call(settings, result)
    return result
