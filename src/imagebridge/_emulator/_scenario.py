"""Scenario markers read from prompts, so tests can drive every path over real HTTP.

- ``#error=<status>:<code>``: the submit answers at once with that HTTP status and code.
- ``#fail=<code>``: an async task ends as ``failed`` with that code after the normal duration;
  a synchronous call answers the matching HTTP error instead (400 for moderation codes, 502
  otherwise).
- ``#pending``: a dimilinks task reports the undocumented ``pending`` status for the first
  half of its duration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._errors import ApiError

_ERROR_RE = re.compile(r"#error=(\d{3}):([A-Za-z0-9_.\-]+)")
_FAIL_RE = re.compile(r"#fail=([A-Za-z0-9_.\-]+)")
_PENDING_RE = re.compile(r"#pending\b")

MODERATION_CODES: frozenset[str] = frozenset(
    {"content_moderation", "content_policy_violation", "moderation_blocked"}
)


@dataclass(frozen=True)
class Scenario:
    """The markers found in one prompt."""

    error_status: int | None = None
    error_code: str | None = None
    fail_code: str | None = None
    pending: bool = False

    def raise_submit_error(self) -> None:
        """Raise the ``#error=`` marker's :class:`ApiError`, if there is one."""
        if self.error_status is not None and self.error_code is not None:
            raise ApiError(
                self.error_status,
                self.error_code,
                f"emulated error: {self.error_code}",
            )

    def sync_failure(self) -> ApiError | None:
        """The HTTP error a synchronous call answers for a ``#fail=`` marker."""
        if self.fail_code is None:
            return None
        status = 400 if self.fail_code in MODERATION_CODES else 502
        return ApiError(status, self.fail_code, failure_message(self.fail_code))


def failure_message(code: str) -> str:
    """The message of an emulated task failure."""
    return f"emulated task failure: {code}"


def parse_scenario(prompt: str) -> Scenario:
    """Find the scenario markers in ``prompt``."""
    error = _ERROR_RE.search(prompt)
    fail = _FAIL_RE.search(prompt)
    return Scenario(
        error_status=int(error.group(1)) if error else None,
        error_code=error.group(2) if error else None,
        fail_code=fail.group(1) if fail else None,
        pending=_PENDING_RE.search(prompt) is not None,
    )
