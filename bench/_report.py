"""Section results, targets (PASS/MISS), the printed tables and the JSON file."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Op = Literal["<=", ">=", "<"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
}


@dataclass
class Check:
    """One target: ``value op limit`` (e.g. CPU ratio <= 1.15)."""

    name: str
    value: float
    op: Op
    limit: float
    unit: str = "x"
    note: str = ""

    @property
    def status(self) -> str:
        if math.isnan(self.value):
            return "N/A"
        return "PASS" if _OPS[self.op](self.value, self.limit) else "MISS"

    def line(self) -> str:
        value = fmt(self.value, self.unit)
        limit = fmt(self.limit, self.unit)
        if value == limit and self.value != self.limit:  # 0.996 vs 1.00: show why it missed
            value = f"{self.value:.4f}{self.unit}" if self.unit == "x" else f"{self.value:.4f}"
        note = f"  ({self.note})" if self.note else ""
        return f"  [{self.status}] {self.name}: {value} (target {self.op} {limit}){note}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["value"] = _finite(self.value)
        data["status"] = self.status
        return data


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([c if isinstance(c, str) else fmt(c) for c in cells])

    def render(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))

        def line(cells: Sequence[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
            return "  " + "  ".join([first, *rest])

        sep = "  " + "  ".join("-" * w for w in widths)
        return "\n".join([line(self.headers), sep, *(line(r) for r in self.rows)])


@dataclass
class SectionResult:
    """What one section measured: raw figures, printed tables, and its targets."""

    name: str
    title: str
    data: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def render(self) -> str:
        out = [f"== {self.title}  [{self.seconds:.1f} s]"]
        if self.error:
            out.append(f"  ERROR: {self.error.strip().splitlines()[-1]}")
        for table in self.tables:
            out.append(table.render())
        out.extend(check.line() for check in self.checks)
        out.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "seconds": round(self.seconds, 2),
            "error": self.error,
            "data": _clean(self.data),
            "tables": [{"headers": t.headers, "rows": t.rows} for t in self.tables],
            "checks": [c.to_json() for c in self.checks],
            "notes": self.notes,
        }


def fmt(value: Any, unit: str = "") -> str:
    """A compact human figure: 3 significant digits, with the unit."""
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, float):
        magnitude = abs(value)
        if magnitude >= 100:
            text = f"{value:.0f}"
        elif magnitude >= 10:
            text = f"{value:.1f}"
        else:
            text = f"{value:.2f}"
    else:
        text = str(value)
    if not unit:
        return text
    return f"{text}{unit}" if unit == "x" else f"{text} {unit}"


def summary(sections: Sequence[SectionResult]) -> str:
    checks = [c for s in sections for c in s.checks]
    passed = sum(c.status == "PASS" for c in checks)
    missed = [c for c in checks if c.status == "MISS"]
    lines = [f"== Targets: {passed} PASS, {len(missed)} MISS, {len(checks)} in all"]
    lines.extend(f"  MISS: {c.name} = {fmt(c.value, c.unit)}" for c in missed)
    errors = [s.name for s in sections if s.error]
    if errors:
        lines.append(f"  sections that failed: {', '.join(errors)}")
    return "\n".join(lines)


def write_json(path: Path, meta: dict[str, Any], sections: Sequence[SectionResult]) -> None:
    checks = [c for s in sections for c in s.checks]
    document = {
        "meta": _clean(meta),
        "sections": {s.name: s.to_json() for s in sections},
        "summary": {
            "pass": sum(c.status == "PASS" for c in checks),
            "miss": sum(c.status == "MISS" for c in checks),
            "checks": len(checks),
            "errors": [s.name for s in sections if s.error],
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, floats are rounded, tuples become lists."""
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
