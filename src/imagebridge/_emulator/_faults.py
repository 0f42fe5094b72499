"""Fault specs: parsing ``[DIALECT/]PHASE:KIND[:COUNT][:ARG]`` and the set of active faults.

This module only decides *which* faults a request gets; :mod:`._inject` makes them happen.
The grammar is documented in the package docstring. A fault with a ``COUNT`` applies to that
many matching requests and is then spent (it stays listed, with ``remaining: 0``).

Per request, faults are taken in order (the request's ``X-Emulator-Fault`` header first, then
the active ones): every ``slow``, ``never`` and ``fail`` that matches applies, and the first
fault of any other kind decides the answer and ends the walk (faults after it are not used and
keep their count).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._names import DIALECTS

#: ``cancel``: a request that cancels a task (the dialects that have one).
PHASES: tuple[str, ...] = ("submit", "poll", "download", "cancel")

_ANY = PHASES
#: Every kind and the phases it may be used in.
KINDS: dict[str, tuple[str, ...]] = {
    "429": _ANY,
    "500": _ANY,
    "502": _ANY,
    "503": _ANY,
    "html502": _ANY,
    "slow": _ANY,
    "drop": _ANY,
    "drop-before": _ANY,
    "timeout-after-accept": ("submit",),
    "never": ("poll",),
    "fail": ("poll",),
    "expired": ("download",),
    "trickle": _ANY,
    "endless": _ANY,
    "oversize": _ANY,
    "deepjson": ("submit", "poll"),
    "retry-after-zero": ("poll",),
    "redirect-foreign": ("download",),
    "link-local": ("submit", "poll"),
    "cut": ("submit",),
}

#: Kinds that change the request and let later faults apply too.
MODIFIERS = frozenset({"slow", "never", "fail"})
#: Kinds whose ARG is a number of seconds.
_SECONDS = frozenset({"429", "slow", "timeout-after-accept", "trickle"})
#: Kinds whose ARG is a whole number (of bytes, or of levels for ``deepjson``).
_NUMBERS = frozenset({"endless", "oversize", "deepjson", "cut"})
#: Kinds whose ARG is a host.
_HOSTS = frozenset({"redirect-foreign", "link-local"})
#: Kinds whose ARG is a provider error code.
_CODES = frozenset({"500", "502", "503", "fail"})
#: Kinds that take no ARG.
_NO_ARG = frozenset({"html502", "drop", "drop-before", "never", "expired"})

DEFAULT_CODES: dict[str, str] = {
    "500": "internal_error",
    "502": "upstream_error",
    "503": "service_unavailable",
    "fail": "upstream_error",
}
DEFAULT_SECONDS: dict[str, float] = {
    "429": 1.0,
    "slow": 1.0,
    "timeout-after-accept": 0.0,
    "trickle": 1.0,
}
#: The most an ``endless`` or ``oversize`` answer sends before the emulator hangs up.
STREAM_LIMIT = 2 * 1024**3
#: Defaults and upper bounds of the whole-number ARGs.
DEFAULT_NUMBERS: dict[str, int] = {
    "endless": STREAM_LIMIT,
    "oversize": 5_000_000_000,
    "deepjson": 100_000,
    "cut": 1,
}
MAX_NUMBERS: dict[str, int] = {
    "endless": STREAM_LIMIT,
    "oversize": 10**15,
    "deepjson": 10_000_000,
    "cut": 10_000,
}

_DIALECTS = DIALECTS
#: ``[http[s]://]host[:port]``: a name, an IPv4 address in any spelling or a bracketed IPv6.
_HOST = re.compile(r"(?:https?://)?(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.%A-Za-z]+\])(?::[0-9]{1,5})?")


@dataclass
class Fault:
    """One parsed fault and how often it may still apply (``remaining`` None: always)."""

    phase: str
    kind: str
    count: int | None = None
    arg: str | None = None
    dialect: str | None = None
    remaining: int | None = None
    applied: int = 0

    def __post_init__(self) -> None:
        if self.remaining is None:
            self.remaining = self.count

    @property
    def spec(self) -> str:
        """The canonical spec text (``[dialect/]phase:kind[:count][:arg]``)."""
        text = f"{self.dialect}/" if self.dialect else ""
        text += f"{self.phase}:{self.kind}"
        if self.count is not None or self.arg is not None:
            text += f":{self.count if self.count is not None else '*'}"
        if self.arg is not None:
            text += f":{self.arg}"
        return text

    @property
    def seconds(self) -> float:
        """ARG as seconds (``429``: Retry-After, ``slow``: delay, ``timeout-after-accept``:
        how long to hang before hanging up, ``trickle``: the pause before each byte)."""
        return float(self.arg) if self.arg is not None else DEFAULT_SECONDS.get(self.kind, 0.0)

    @property
    def number(self) -> int:
        """ARG as a whole number (``endless``: bytes before the emulator hangs up,
        ``oversize``: the announced ``Content-Length``, ``deepjson``: nesting depth, ``cut``:
        the server-sent events let through before the connection closes)."""
        return int(self.arg) if self.arg is not None else DEFAULT_NUMBERS.get(self.kind, 0)

    @property
    def code(self) -> str:
        """ARG as an error code (``500``/``502``/``503``/``fail``)."""
        return self.arg or DEFAULT_CODES.get(self.kind, "")

    def matches(self, phase: str, dialect: str) -> bool:
        live = self.remaining is None or self.remaining > 0
        return live and self.phase == phase and self.dialect in (None, dialect)

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "dialect": self.dialect,
            "phase": self.phase,
            "kind": self.kind,
            "count": self.count,
            "arg": self.arg,
            "remaining": self.remaining,
            "applied": self.applied,
        }


def parse_fault(text: str) -> Fault:
    """Parse one spec; raise ``ValueError`` with the reason when it is not valid."""
    raw = text.strip()
    parts = raw.split(":", 3)
    if len(parts) < 2:
        raise ValueError(f"fault {raw!r}: expected [DIALECT/]PHASE:KIND[:COUNT][:ARG]")
    head, kind = parts[0].strip().lower(), parts[1].strip().lower()
    dialect, _, phase = head.rpartition("/")
    if dialect and dialect not in _DIALECTS:
        raise ValueError(f"fault {raw!r}: unknown dialect {dialect!r} (one of {_DIALECTS})")
    if phase not in PHASES:
        raise ValueError(f"fault {raw!r}: unknown phase {phase!r} (one of {PHASES})")
    if kind not in KINDS:
        raise ValueError(f"fault {raw!r}: unknown kind {kind!r} (one of {tuple(KINDS)})")
    if phase not in KINDS[kind]:
        raise ValueError(f"fault {raw!r}: {kind} only applies to {'/'.join(KINDS[kind])}")
    count = _count(raw, parts[2].strip() if len(parts) > 2 else "")
    arg = parts[3].strip() if len(parts) > 3 else None
    return Fault(phase, kind, count, _arg(raw, kind, arg or None), dialect or None)


def parse_faults(text: str | Iterable[str]) -> list[Fault]:
    """Parse a comma-separated header value, or a list of specs."""
    items = text.split(",") if isinstance(text, str) else list(text)
    return [parse_fault(item) for item in items if item.strip()]


def _count(raw: str, text: str) -> int | None:
    if text in ("", "*"):
        return None
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"fault {raw!r}: COUNT must be a whole number or '*'") from None
    if count < 1:
        raise ValueError(f"fault {raw!r}: COUNT must be at least 1")
    return count


def _arg(raw: str, kind: str, arg: str | None) -> str | None:
    if arg is None:
        return None
    if kind in _NO_ARG:
        raise ValueError(f"fault {raw!r}: {kind} takes no ARG")
    if kind in _SECONDS:
        try:
            seconds = float(arg)
        except ValueError:
            raise ValueError(f"fault {raw!r}: ARG must be a number of seconds") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"fault {raw!r}: ARG must be a number of seconds >= 0")
    elif kind in _CODES and not all(ch.isalnum() or ch in "_.-" for ch in arg):
        raise ValueError(f"fault {raw!r}: ARG must be an error code ([A-Za-z0-9_.-])")
    elif kind in _NUMBERS:
        top = MAX_NUMBERS[kind]
        if not (arg.isascii() and arg.isdigit() and 1 <= int(arg) <= top):
            raise ValueError(f"fault {raw!r}: ARG must be a whole number from 1 to {top}")
    elif kind in _HOSTS:
        scheme = kind == "redirect-foreign"
        if not _HOST.fullmatch(arg) or ("://" in arg and not scheme):
            what = "a scheme and " if scheme else ""
            raise ValueError(
                f"fault {raw!r}: ARG must be a host, optionally with {what}a port,"
                " e.g. localhost:8000 or [fd00:ec2::254]"
            )
    elif kind == "retry-after-zero" and not all(32 <= ord(ch) < 127 for ch in arg):
        raise ValueError(f"fault {raw!r}: ARG must be printable ASCII (a header value)")
    return arg


class FaultSet:
    """The active faults of one emulator app; safe to use from several threads."""

    def __init__(self, specs: Sequence[str] = ()) -> None:
        self._lock = threading.Lock()
        self._faults = parse_faults(specs)
        self.applied = 0

    def replace(self, specs: Iterable[str | Fault]) -> list[Fault]:
        """Replace the active faults (all specs are parsed before any is changed)."""
        faults = [spec if isinstance(spec, Fault) else parse_fault(spec) for spec in specs]
        with self._lock:
            self._faults = faults
        return faults

    def clear(self) -> None:
        self.replace([])

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def take(self, phase: str, dialect: str, first: Sequence[Fault] = ()) -> list[Fault]:
        """The faults this request gets (``first``: its header's), each one used once."""
        taken: list[Fault] = []
        with self._lock:
            for fault in [*first, *self._faults]:
                if not fault.matches(phase, dialect):
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                fault.applied += 1
                self.applied += 1
                taken.append(fault)
                if fault.kind not in MODIFIERS:
                    break
        return taken
