"""Whether a recorded error code is the provider's own: checked before a cassette is saved.

A fake server that echoes the kit's prompt marker (``#fail=content_policy_violation``)
records the emulator's code where the real provider says ``nsfw``: the adapter classifies it
through imagebridge's common table, the scenario passes, and the adapter's own ``nsfw``
mapping is never exercised. So a recorded error code must *map through the adapter's own
table*, which means, for the code ``c`` of the error the call raised and the class ``E`` the
scenario is about:

1. ``c`` is in the adapter's ``error_codes``: that entry must give ``E``;
2. else, when the adapter's ``error_codes`` name codes of their own for ``E``: refused, ``c``
   is not how this provider spells ``E`` (the message names the codes it does use);
3. else, ``c`` is in the common table (``COMMON_ERROR_CODES``): that entry must give ``E``;
4. else (a code neither table knows): accepted, the class came from the HTTP status, as it
   will in production.

An error without a code (an HTML page, a bare 401) has nothing to check. The class an entry
"gives" is what :func:`~imagebridge.adapter.classify` makes of it at the recorded status (a
generic code such as ``invalid_request`` only counts from a 5xx, as there), and for a task
that ended as failed (no HTTP status) what :func:`~imagebridge.adapter.error_from_task`
makes of it: every class but moderation and balance becomes ``TaskFailedError``.
"""

from __future__ import annotations

import re

from .._adapter import Adapter
from .._errors import ContentPolicyError, InsufficientBalanceError, ProviderError
from .._provider_errors import COMMON_ERROR_CODES, classify
from ._cassette import ErrorExpectation

__all__ = ["error_code_problem", "suggested_marker"]

_MARKER = re.compile(r"^(#error=\d{3}:|#fail=)(\S+)$")
_KEPT_BY_TASKS = (ContentPolicyError, InsufficientBalanceError)


class _Probe(ProviderError):
    """A class no table holds: ``classify`` returns it only when it honours the code."""


def _honoured(status: int | None, code: str) -> bool:
    """Whether ``classify`` decides by ``code`` at ``status`` (not by the status alone)."""
    return classify(status, code, "", {code.lower(): _Probe}) is _Probe


def _gives(cls: type[ProviderError], status: int | None) -> str:
    """The class name an entry gives for an error recorded at ``status``."""
    if status is None and not issubclass(cls, _KEPT_BY_TASKS):
        return "TaskFailedError"
    return cls.__name__


def suggested_marker(marker: str, code: str) -> str | None:
    """``marker`` with its code replaced by ``code`` (None when it is not an error marker)."""
    match = _MARKER.match(marker.strip())
    return f"{match.group(1)}{code}" if match else None


def _fix(scenario: str, marker: str, codes: list[str]) -> str:
    better = suggested_marker(marker, codes[0]) if marker else None
    if better is None:
        return "make the endpoint answer as the provider does"
    return (
        f"make the endpoint answer as the provider does and record with the marker {better!r}"
        f" (--marker {scenario}={better!r}, or marker under [hints.{scenario}] in"
        f" imagebridge-record.toml, or hints={{{scenario!r}: Hint(marker={better!r})}})"
    )


def error_code_problem(
    scenario: str,
    expect: str,
    adapter_cls: type[Adapter],
    error: ErrorExpectation,
    marker: str = "",
) -> str | None:
    """Why ``error`` (recorded for ``scenario``, about the class ``expect``) does not carry
    one of the provider's own codes, or None. ``marker``: the prompt marker it was recorded
    with, to suggest the one to use instead."""
    code = (error.code or "").strip()
    if not code or not _honoured(error.status, code):
        return None  # nothing to check, or the class comes from the HTTP status
    key, status = code.lower(), error.status
    owner = adapter_cls.__name__
    own = {name.lower(): cls for name, cls in adapter_cls.error_codes.items()}
    if key in own:
        gives = _gives(own[key], status)
        if gives == expect:
            return None
        return (
            f"the recorded error code {code!r} is {gives} in {owner}.error_codes, but the"
            f" scenario is about {expect}: map the code to the class the provider means by it"
        )
    spellings = sorted(name for name, cls in own.items() if cls.__name__ == expect)
    if spellings:
        spelled = " or ".join(repr(name) for name in spellings)
        where = (
            "it only maps through imagebridge's common table"
            if key in COMMON_ERROR_CODES
            else "neither table knows it"
        )
        echo = f" (a fake server that echoes the kit's marker {marker!r}?)" if marker else ""
        return (
            f"the recorded error code {code!r} is not {adapter_cls.name}'s own:"
            f" {owner}.error_codes spells {expect} {spelled}, and {where}{echo}; "
            + _fix(scenario, marker, spellings)
            + f"; if the provider does send {code!r}, add it to error_codes"
        )
    if key in COMMON_ERROR_CODES:
        gives = _gives(COMMON_ERROR_CODES[key], status)
        if gives != expect:
            return (
                f"the recorded error code {code!r} is {gives} in imagebridge's common table,"
                f" but the scenario is about {expect}: give the code its class in"
                f" {owner}.error_codes"
            )
    return None
