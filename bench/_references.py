"""Section 6: large reference images sent as data URLs (dimilinks adapter, in-process).

Four ``reference_bytes`` files (random bytes behind a PNG header) are passed as paths; the
adapter turns them into ``data:`` URLs in the JSON body. The transport consumes the body
without keeping it, so the growth measured is the client's own. Raw httpx doing the
straightforward thing (read, base64, ``json=``) is shown for comparison. Each measurement
is a fresh subprocess (``bench/workers/references.py``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ._config import MIB, Settings
from ._proc import worker
from ._report import Check, SectionResult, Table
from ._stats import median, rotated
from .workers.large import fake_png

TARGET_FACTOR = 2.0
CONTENDERS = ["raw-httpx", "imagebridge"]


def run(settings: Settings) -> SectionResult:
    count, size = settings.reference_count, settings.reference_bytes
    total_mib = count * size / MIB
    title = f"6. {count} reference images of {size / 1e6:g} MB as data URLs (dimilinks, in-process)"
    result = SectionResult("references", title)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONTENDERS}
    with tempfile.TemporaryDirectory(prefix="imagebridge-bench-refs-") as folder:
        paths = []
        for index in range(count):
            path = Path(folder) / f"reference-{index}.png"
            path.write_bytes(fake_png(size))
            paths.append(str(path))
        warmup = Path(folder) / "small.png"
        warmup.write_bytes(fake_png(4096, 64, 64))
        args = {"paths": paths, "warmup": str(warmup)}
        for index in range(settings.reference_rounds):
            for name in rotated(CONTENDERS, index):
                runs[name].append(worker("references.run", {**args, "contender": name}))
    table = Table(
        ["contender", "inputs MiB", "body MiB", "wall s", "RSS growth MiB", "growth / inputs"]
    )
    rows: dict[str, dict[str, Any]] = {}
    for name, measured in runs.items():
        growth = median([m["rss_growth_mib"] for m in measured])
        row = {
            "rss_growth_mib": growth,
            "growth_over_inputs": growth / total_mib,
            "wall_s": median([m["wall_s"] for m in measured]),
            "body_mib": measured[0]["body_bytes"] / MIB,
            "runs": measured,
        }
        rows[name] = row
        table.add(
            name,
            total_mib,
            row["body_mib"],
            row["wall_s"],
            growth,
            f"{row['growth_over_inputs']:.2f}x",
        )
    result.tables.append(table)
    result.data = {"inputs_mib": total_mib, "contenders": rows}
    ib = rows["imagebridge"]
    result.checks.append(
        Check(
            "RSS growth vs the references' total size",
            ib["growth_over_inputs"],
            "<=",
            TARGET_FACTOR,
            note=f"{ib['rss_growth_mib']:.0f} MiB for {total_mib:.0f} MiB of inputs",
        )
    )
    return result
