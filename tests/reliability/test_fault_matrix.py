"""The fault matrix (see matrix.py): every adapter x phase x fault, sync and async, over real
HTTP, with the API key tripwire on everything each run leaves behind."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from imagebridge import ImageBridgeError, ProviderError
from imagebridge._emulator import EmulatorServer

from . import matrix
from .matrix import NONE, Case, Row
from .support import FIELDS, KEY_HEADERS, assert_clean, bridge, counts, journal_entries

pytestmark = pytest.mark.anyio

#: The rows seen in this session, by (mode, case id): for a look with ``-s``.
OBSERVED: dict[tuple[str, str], Row] = {}


def _params() -> list[object]:
    params: list[object] = []
    for case in matrix.cases():
        want = matrix.expected(case)
        marks = []
        if want.bug is not None:
            reason = f"BUG {want.bug}: {matrix.BUGS[want.bug]}"
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def _outcome(error: ImageBridgeError | None) -> str:
    if error is None:
        return "ok"
    name = type(error).__name__
    if isinstance(error, ProviderError) and error.status_code is not None:
        name += f" HTTP {error.status_code}"
    return name


def _task_on_error(error: ImageBridgeError | None, task_id: str | None, phase: str) -> str:
    if error is None or task_id is None or phase == "submit":
        # Nothing failed, or the client never learnt of a task: nothing to name.
        assert error is None or error.task_id is None
        return NONE
    named = (
        error.task_id == task_id
        and error.task is not None
        and error.task.task_id == task_id
        and task_id in str(error)
    )
    return "yes" if named else "no"


@pytest.mark.parametrize("case", _params())
async def test_fault_matrix(
    case: Case,
    mode: str,
    emu: EmulatorServer,
    tmp_path: Path,
    journal: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.app_state.faults.replace([case.spec])
    tasks_before = set(emu.app_state.tasks)
    out = tmp_path / "out"
    timeout = matrix.DEADLINES.get(case.kind, 20)
    options: dict[str, Any] = {}
    if case.kind in ("endless", "oversize"):
        options = {"max_response_bytes": matrix.BODY_CAP, "max_download_bytes": matrix.BODY_CAP}
    error: ImageBridgeError | None = None
    async with bridge(mode, case.adapter, emu, timeout=timeout, **options) as client:
        start = time.monotonic()
        try:
            result = await client.generate(**FIELDS[case.adapter])
            paths = await client.save(result, out)
        except ImageBridgeError as exc:
            error = exc
        elapsed = time.monotonic() - start
    created = set(emu.app_state.tasks) - tasks_before
    assert len(created) <= 1, "one request, one task at most"
    task_id = next(iter(created), None)
    entries = journal_entries(journal, task_id=task_id) if task_id else []
    seen = counts(emu, case.adapter)
    row = Row(
        outcome=_outcome(error),
        submits=seen.submits,
        accepted=seen.accepted,
        task_on_error=_task_on_error(error, task_id, case.phase),
        journal=entries[-1].state if entries else NONE,
    )
    OBSERVED[(mode, case.id)] = row
    expected = matrix.expected(case)
    want = expected.row

    assert (row.outcome, row.submits, row.accepted, row.journal) == (
        want.outcome,
        want.submits,
        want.accepted,
        want.journal,
    ), f"{case.spec}: {error!r}"
    if error is None:
        assert [p.read_bytes()[:4] for p in paths] == [b"\x89PNG"]
    _check_hostile(case, error, elapsed, timeout, emu)
    if expected.code is not None:
        assert getattr(error, "code", None) == expected.code, f"{case.spec}: {error!r}"
    if expected.says is not None:
        assert expected.says in str(error), f"{case.spec}: {error!r}"
    assert not list(out.glob(".imagebridge-*")), "a partial download was left behind"
    assert_clean(error=error, logs=caplog.text, journal=journal, server=emu, folders=[out])
    assert row.task_on_error == want.task_on_error, f"{case.spec}: {error!r}"


def _check_hostile(
    case: Case,
    error: ImageBridgeError | None,
    elapsed: float,
    timeout: float,
    emu: EmulatorServer,
) -> None:
    """What the hostile kinds promise beyond their row: the deadline holds, polling does
    not spin, and no credential crosses to another origin."""
    if case.kind in matrix.DEADLINES:
        assert elapsed <= timeout + matrix.OVERSHOOT, f"{case.spec}: {elapsed:.2f} s, {error!r}"
    if case.kind == "retry-after-zero":
        polls = counts(emu, case.adapter).polls
        assert polls <= matrix.MAX_POLLS, f"{case.spec}: {polls} polls in {elapsed:.2f} s"
    if case.kind == "redirect-foreign":
        hops = [entry for entry in emu.app_state.requests if entry.get("foreign_hop")]
        assert hops, "the download never reached the other origin"
        for hop in hops:
            sent = set(hop["headers"])
            assert not sent & KEY_HEADERS, hop["headers"]


def test_fault_matrix_file_is_current() -> None:
    """fault_matrix.md is exactly what the rules (checked row by row above) say."""
    table = matrix.render()
    if os.environ.get("IMAGEBRIDGE_WRITE_FAULT_MATRIX") == "1":
        matrix.TABLE.write_text(table, encoding="utf-8")
    assert matrix.TABLE.read_text(encoding="utf-8") == table


def test_fault_matrix_covers_every_adapter_phase_and_kind() -> None:
    cases = matrix.cases()
    assert len({c.id for c in cases}) == len(cases)
    covered = {(c.adapter, c.phase, c.kind) for c in cases}
    assert ("geeknow", "poll", "never") not in covered  # no tasks, no polls
    for adapter in matrix.ADAPTERS:
        for phase in matrix.phases(adapter):
            kinds = {c.kind for c in cases if (c.adapter, c.phase) == (adapter, phase)}
            assert {"429", "503", "502", "500", "html502", "drop", "slow"} <= kinds
    assert {"trickle", "endless", "oversize", "redirect-foreign"} <= {
        c.kind for c in cases if c.phase == "download"
    }
    # openai, geeknow: submit, download; dimilinks, apimart, fal, replicate, bfl: submit,
    # poll, download; google, stability: submit only (images inline, no URL to point anywhere).
    assert len(cases) == 2 * (14 + 13) + 5 * (13 + 16 + 13) + 2 * 13
