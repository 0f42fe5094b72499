"""Keeping secrets out of everything imagebridge prints, logs, raises or records.

A :class:`Redactor` knows the secrets of one client (its API key and any other declared
secret) and replaces them wherever text or parsed JSON leaves the library. Headers that carry
credentials are masked by name as well, whatever their value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"

#: Header names whose values are credentials, compared lower-case.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
)


class Redactor:
    """Replaces known secrets in strings, JSON-like objects and headers."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so a secret that contains another is replaced whole. Very short
        # values are ignored: replacing "a" everywhere would destroy messages and hide nothing.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def obj(self, value: Any) -> Any:
        """A copy of a JSON-like value with every secret replaced."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.obj(v) for v in value]
        return value

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Headers as a dict, credentials masked by name and secrets replaced in the rest."""
        return {
            name: REDACTED if name.lower() in SECRET_HEADERS else self.text(value)
            for name, value in headers
        }

    def contains_secret(self, value: str) -> bool:
        return any(secret in value for secret in self._secrets)
