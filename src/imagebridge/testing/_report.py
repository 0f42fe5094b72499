"""The adapter x scenario table of a conformance run (what ``imagebridge conformance`` prints)."""

from __future__ import annotations

from collections.abc import Sequence

from ._guarantees import with_guarantees
from ._runner import Outcome
from ._scenarios import SCENARIO_NAMES

__all__ = ["format_table", "summary"]

_RANK = {"fail": 0, "xpass": 1, "xfail": 2, "skip": 3, "pass": 4}
_LABEL = {"pass": "pass", "skip": "skip", "fail": "FAIL", "xfail": "xfail", "xpass": "XPASS"}


def _row_order(name: str) -> tuple[int, int, str]:
    """Shared scenarios in catalogue order (the task guarantees' own after the task
    scenarios), then dialect-specific ones, then rejections."""
    shared = with_guarantees(SCENARIO_NAMES)
    if name in shared:
        return (0, shared.index(name), name)
    return (2 if name.startswith("reject_") else 1, 0, name)


def _cell(outcomes: Sequence[Outcome]) -> tuple[str, str]:
    """The worst status over the modes, and the reason to footnote (with the modes it is in)."""
    worst = min(outcomes, key=lambda o: _RANK[o.status])
    label = _LABEL[worst.status]
    if worst.status == "pass":
        return label, ""
    modes = [o.mode for o in outcomes if o.status == worst.status]
    where = "" if len(modes) == len(outcomes) else f" ({', '.join(modes)} only)"
    first_line = (worst.reason.strip().splitlines() or [""])[0]
    return label + where, first_line


def format_table(outcomes: Sequence[Outcome]) -> str:
    """A plain-text table: one row per scenario, one column per adapter; each cell is pass,
    skip, FAIL, xfail or XPASS (the worst over sync and async), with numbered notes giving
    the reason of every skip and failure, then a count per status."""
    providers = sorted({o.provider for o in outcomes})
    scenarios = sorted({o.scenario for o in outcomes}, key=_row_order)
    grouped: dict[tuple[str, str], list[Outcome]] = {}
    for outcome in outcomes:
        grouped.setdefault((outcome.scenario, outcome.provider), []).append(outcome)
    notes: dict[str, int] = {}
    rows: list[list[str]] = []
    for scenario in scenarios:
        row = [scenario]
        for provider in providers:
            cases = grouped.get((scenario, provider))
            if not cases:
                row.append("-")
                continue
            label, reason = _cell(cases)
            if reason:
                key = f"{provider} {scenario}: {reason}"
                number = notes.setdefault(key, len(notes) + 1)
                label += f" [{number}]"
            row.append(label)
        rows.append(row)
    header = ["scenario", *providers]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in [header, ["-" * w for w in widths], *rows]
    ]
    if notes:
        lines.append("")
        lines.extend(f"[{number}] {text}" for text, number in notes.items())
    lines.append("")
    lines.append(summary(outcomes))
    return "\n".join(lines)


def summary(outcomes: Sequence[Outcome]) -> str:
    """``"N passed, N skipped, ..."`` over every case (each scenario counts once per mode)."""
    counts = {status: 0 for status in _RANK}
    for outcome in outcomes:
        counts[outcome.status] += 1
    words = {
        "pass": "passed",
        "skip": "skipped",
        "fail": "failed",
        "xfail": "xfailed",
        "xpass": "xpassed",
    }
    parts = [
        f"{counts[s]} {words[s]}" for s in ("pass", "skip", "xfail", "fail", "xpass") if counts[s]
    ]
    return ", ".join(parts) or "no cases"
