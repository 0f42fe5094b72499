"""Fixtures of the reliability suite: a fast emulator that requires the tripwire key, and the
per-test journal file (tests/conftest.py points IMAGEBRIDGE_JOURNAL at it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .support import KEY, fresh

#: How long an emulated task takes in most tests.
DURATION = 0.05


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="session")
def fast_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=DURATION, api_key=KEY)) as server:
        yield server


@pytest.fixture
def emu(fast_emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    """The fast emulator, no faults, empty log, zero counters; the emulator logs no error."""
    recorder = _Recorder()
    logging.getLogger("uvicorn.error").addHandler(recorder)
    try:
        yield fresh(fast_emulator)
    finally:
        logging.getLogger("uvicorn.error").removeHandler(recorder)
        fast_emulator.app_state.faults.clear()
    assert recorder.messages == []


@pytest.fixture
def journal(_private_journal: Path) -> Path:
    """This test's journal file (IMAGEBRIDGE_JOURNAL)."""
    return _private_journal
