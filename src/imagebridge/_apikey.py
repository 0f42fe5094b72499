"""Checking an API key when a client is made, before anything can be sent with it.

A key read from a file or pasted into a variable often ends in a newline: surrounding
whitespace is stripped. A key that still holds whitespace, a control character or a
non-ASCII character cannot be sent in a header (httpx would refuse it only while sending,
with the whole header in its message), so it is refused at once with an error that says
where the bad character is and never what the key is.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

from ._errors import ConfigurationError
from ._redact import REDACTED, Redactor
from ._tasks import TaskHandle

#: A header value HTTP/1.1 allows (RFC 9110 field-value) and httpx sends as given: ASCII.
_HEADER_VALUE = re.compile(r"[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def resolve_api_key(given: str | None, prefix: str) -> str | None:
    """The key from ``api_key=`` or ``<PREFIX>_API_KEY``, stripped; None when neither has
    one (whitespace alone is none)."""
    variable = f"{prefix}_API_KEY"
    for value, source in ((given, "api_key="), (os.environ.get(variable), variable)):
        if value and value.strip():
            key = value.strip()
            _check(key, source)
            return key
    return None


def _check(key: str, source: str) -> None:
    for index, char in enumerate(key):
        if "\x21" <= char <= "\x7e":
            continue
        if char.isspace():
            what = "a whitespace character"
        elif char.isprintable():
            what = "a non-ASCII character"
        else:
            what = "a control character"
        raise ConfigurationError(
            f"the API key from {source} is not a valid key: it has {what} at position"
            f" {index + 1} of {len(key)} (a key is printable ASCII without spaces; the key is"
            " not shown); nothing was sent"
        )


def check_auth_headers(headers: Mapping[str, str], provider: str) -> None:
    """The adapter's credential headers must be sendable: refused by name, never by value."""
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ConfigurationError(
                f"the {provider} adapter declares an invalid credential header name: {name!r}"
            )
        if not _HEADER_VALUE.fullmatch(value):
            raise ConfigurationError(
                f"the API key makes an invalid {name} header for {provider} (the value is not"
                " shown); nothing was sent"
            )


def credentials_redactor(api_key: str | None, headers: Mapping[str, str]) -> Redactor:
    """A redactor of the key and of any credential an adapter makes from it (the token of
    a Basic header, a signed token)."""
    secrets: list[str | None] = [api_key]
    for value in headers.values():
        scheme, _, token = value.partition(" ")
        derived = token if token and scheme.isalpha() else value
        if not api_key or api_key not in derived:
            secrets.append(derived)  # "Bearer KEY" stays "Bearer [REDACTED]"
    return Redactor(secrets)


def restore_task(task: TaskHandle | str, redactor: Redactor) -> TaskHandle | str:
    """A task id a server made out of the key is journaled and shown with the key redacted
    (:meth:`~imagebridge.ImageBridgeError.scrub`): the client that holds the key puts it
    back before asking its own API about the task."""
    if isinstance(task, str):
        return redactor.restore(task)
    text = task.to_json()
    if REDACTED not in text:
        return task
    # In the handle's JSON, the key is put back JSON-escaped (it may hold a quote).
    escaped = json.dumps(redactor.restore(REDACTED))[1:-1]
    return TaskHandle.from_json(text.replace(REDACTED, escaped))
