"""Keeping secrets out of everything imagebridge prints, logs, raises or records.

A :class:`Redactor` knows the secrets of one client (its API key and the credential header
values an adapter derives from it) and replaces them wherever text or parsed JSON leaves the
library, in the spellings a server may echo them back in:

* as they are, or with any of their characters percent-encoded (``%73``), JSON- or
  Python-escaped (``\\u0073``, ``\\x73``, ``\\/``) or written as HTML character references;
* base64 (standard or URL-safe) of the key and of anything that contains it, such as the
  ``user:key`` of a Basic header: the whole base64 run is replaced;
* hexadecimal (either case).

:func:`cut` shortens text
without ever ending inside a word, so a secret that straddles a cut is dropped whole rather
than leaving its prefix behind for a later redaction to miss.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"

#: Shorter values are not treated as secrets: replacing "abc" everywhere would destroy
#: messages and hide nothing.
MIN_SECRET = 4
#: A base64 or hexadecimal spelling shorter than this could turn up by chance (in a large
#: base64 image, in a hash).
_MIN_ENCODED = 16
_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
#: Only text holding one of these can hold an escaped or encoded spelling.
_ESCAPES = ("%", "\\", "&#")
_TRAILING_WORD = re.compile(r"\S+\Z")


class Redactor:
    """Replaces known secrets in strings and JSON-like objects."""

    __slots__ = ("_base64", "_literals", "_pattern", "_primary", "_secrets")

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        given = [s for s in secrets if s and len(s.strip()) >= MIN_SECRET]
        values = {v for s in given for v in (s, s.strip()) if len(v) >= MIN_SECRET}
        # Longest first, so that a secret containing another is replaced whole.
        self._secrets = tuple(sorted(values, key=len, reverse=True))
        #: The key itself (the first secret), put back by :meth:`restore`.
        self._primary = given[0].strip() if given else None
        self._literals = _literals(self._secrets)
        self._base64 = sorted({core for s in self._secrets for core in _base64_cores(s)})
        self._pattern = (
            re.compile("|".join(_spelled(s) for s in self._secrets)) if self._secrets else None
        )

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._secrets)} secret(s)>"

    def __or__(self, other: Redactor) -> Redactor:
        """A redactor of both one's secrets."""
        merged = Redactor([self._primary, *self._secrets, *other._secrets])
        merged._primary = self._primary or other._primary
        return merged

    # -- text -------------------------------------------------------------------------------
    def text(self, value: str) -> str:
        """``value`` with every spelling of every secret replaced by :data:`REDACTED`."""
        if not self._secrets or not value:
            return value
        if self._base64:
            value = self._without_base64(value)
        for literal in self._literals:
            if literal in value:
                value = value.replace(literal, REDACTED)
        if self._pattern is not None and any(mark in value for mark in _ESCAPES):
            value = self._pattern.sub(REDACTED, value)
        return value

    def _without_base64(self, value: str) -> str:
        for core in self._base64:
            start = value.find(core)
            while start >= 0:
                # The whole base64 run: its other characters are the rest of "user:key".
                begin, end = start, start + len(core)
                while begin > 0 and value[begin - 1] in _BASE64_CHARS:
                    begin -= 1
                while end < len(value) and value[end] in _BASE64_CHARS:
                    end += 1
                while end < len(value) and value[end] == "=":
                    end += 1
                value = value[:begin] + REDACTED + value[end:]
                start = value.find(core, begin + len(REDACTED))
        return value

    def restore(self, value: str) -> str:
        """``value`` with :data:`REDACTED` put back as the key: for a task id a server made
        out of the key, which only this client's own API can be asked about."""
        if self._primary is None or REDACTED not in value:
            return value
        return value.replace(REDACTED, self._primary)

    # -- structures -------------------------------------------------------------------------
    def obj(self, value: Any) -> Any:
        """A copy of a JSON-like value with every secret replaced (in keys too)."""
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.text(value.decode("latin-1")).encode("latin-1")
        if isinstance(value, Mapping):
            return {self.obj(k) if isinstance(k, str) else k: self.obj(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(self.obj(v) for v in value)
        if isinstance(value, list | set | frozenset):
            return [self.obj(v) for v in value]
        return value


def cut(text: str, limit: int, marker: str = "...", *, breaks: str = "") -> str:
    """``text`` shortened to at most ``limit`` characters, ending in ``marker``.

    The cut never ends inside a word (a run of non-space characters, or of characters other
    than ``breaks``, e.g. ``"/"`` for a URL): a word that would be cut is dropped whole, so
    that a secret straddling the cut leaves no prefix behind. (A secret that contains one of
    ``breaks`` could leave its part before it.)
    """
    if len(text) <= limit:
        return text
    keep = limit - len(marker)
    if keep <= 0:
        return marker[:limit]
    head = text[:keep]
    if not (text[keep].isspace() or text[keep] in breaks):
        pattern = re.compile(f"[^\\s{re.escape(breaks)}]+\\Z") if breaks else _TRAILING_WORD
        head = pattern.sub("", head)
    return head.rstrip() + marker


def _literals(secrets: Iterable[str]) -> list[str]:
    """The plain spellings: the secret itself and its hexadecimal (when long enough not to
    turn up by chance in a hash)."""
    spellings: set[str] = set()
    for secret in secrets:
        spellings.add(secret)
        hexadecimal = secret.encode("utf-8").hex()
        if len(hexadecimal) >= _MIN_ENCODED:
            spellings.update((hexadecimal, hexadecimal.upper()))
    return sorted(spellings, key=len, reverse=True)


def _hex(value: int, width: int) -> str:
    """A regex for ``value`` in hexadecimal with ``width`` digits, either case."""
    digits = f"{value:0{width}x}"
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in digits)


def _spelled(secret: str) -> str:
    """A regex for ``secret`` with any of its characters escaped or encoded."""
    parts = []
    for char in secret:
        code = ord(char)
        options = [re.escape(char)]
        options.append("".join("%" + _hex(byte, 2) for byte in char.encode("utf-8")))
        if code <= 0xFFFF:
            options.append(r"\\u" + _hex(code, 4))
        if code <= 0xFF:
            options.append(r"\\x" + _hex(code, 2))
        options.append(f"&#0*{code};")
        options.append("&#[xX]0*" + _hex(code, 1) + ";")
        if char == "/":
            options.append(r"\\/")
        parts.append("(?:" + "|".join(options) + ")")
    return "".join(parts)


def _base64_cores(secret: str) -> set[str]:
    """What every base64 text containing ``secret`` contains, whatever precedes it.

    Base64 turns each 3 bytes into 4 characters, so a secret after ``k`` other bytes is
    spelled one of 3 ways (``k`` mod 3), in the standard and the URL-safe alphabet; only the
    characters that depend on the secret's bytes alone are kept.
    """
    raw = secret.encode("utf-8")
    cores: set[str] = set()
    for offset in range(3):
        total = offset + len(raw)
        padded = b"\0" * offset + raw + b"\0" * (-total % 3)
        start = (0, 2, 3)[offset]
        end = 4 * (total // 3) + (0, 1, 2)[total % 3]
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(padded).decode("ascii")[start:end]
            if len(core) >= _MIN_ENCODED:
                cores.add(core)
    return cores
