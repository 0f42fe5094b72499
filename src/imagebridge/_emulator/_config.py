"""Configuration of the emulator: the :class:`EmulatorConfig` dataclass and the dialect names."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ._faults import parse_faults
from ._names import DEFAULT_DIALECTS, DIALECTS

__all__ = ["DEFAULT_DIALECTS", "DIALECTS", "RESULT_URL_STYLES", "EmulatorConfig"]

RESULT_URL_STYLES: tuple[str, ...] = ("relative", "absolute", "data")


@dataclass
class EmulatorConfig:
    """How an emulator app behaves.

    ``task_duration`` is the number of seconds an async task (dimilinks, apimart) takes from
    submit to success, measured with ``clock``; synchronous dimilinks calls sleep that long.
    ``default_dialect`` is also served at the bare ``/v1`` prefix. When ``api_key`` is set,
    ``Authorization`` must be ``Bearer <api_key>``; otherwise any non-empty bearer token is
    accepted. ``result_url_style`` picks the form of dimilinks result URLs: ``relative``
    (``/p/img/...``), ``absolute`` (origin + ``/p/img/...``) or ``data`` (a data URL).
    ``faults`` are the fault specs active from the start (see the package docstring; they can
    be replaced at runtime with ``POST /_emulator/faults``). ``stream_delay`` is the pause in
    seconds before each event of an openai ``stream: true`` answer (so a client can observe the
    time to the first partial image). ``requests_per_minute``: each dialect admits at most that
    many submits and polls in any 60 s of ``clock`` and answers the others 429 with
    ``Retry-After`` (see :mod:`._ratelimit`); None: no limit.
    """

    task_duration: float = 3.0
    default_dialect: str = "openai"
    api_key: str | None = None
    result_url_style: str = "relative"
    clock: Callable[[], float] = field(default=time.monotonic)
    faults: Sequence[str] = ()
    stream_delay: float = 0.02
    requests_per_minute: int | None = None

    def __post_init__(self) -> None:
        if self.default_dialect not in DEFAULT_DIALECTS:
            raise ValueError(
                f"unknown default dialect {self.default_dialect!r}; expected one of"
                f" {DEFAULT_DIALECTS} (the others are served under their own prefix only)"
            )
        if self.result_url_style not in RESULT_URL_STYLES:
            raise ValueError(
                f"unknown result_url_style {self.result_url_style!r}; "
                f"expected one of {RESULT_URL_STYLES}"
            )
        if self.task_duration < 0:
            raise ValueError("task_duration must not be negative")
        if not 0 <= self.stream_delay <= 60:
            raise ValueError(f"stream_delay must be 0 to 60 seconds, got {self.stream_delay!r}")
        rpm = self.requests_per_minute
        if rpm is not None and (isinstance(rpm, bool) or not isinstance(rpm, int) or rpm < 1):
            raise ValueError(
                f"requests_per_minute must be a whole number of requests, 1 or more, or None;"
                f" got {rpm!r}"
            )
        if isinstance(self.faults, str):
            raise ValueError("faults must be a list of fault specs, not one string")
        parse_faults(self.faults)  # raises ValueError naming the bad spec
