"""Task handles: an accepted asynchronous job, serialisable and resumable in another process.

A handle holds what is needed to fetch the job's images later (provider, base URL, task id,
model, expected outputs and any adapter state such as a compatibility mode) and never the
API key: the process that resumes it supplies its own.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from ._redact import Redactor


class TaskHandle(BaseModel):
    """An accepted task. ``to_json()`` / ``TaskHandle.from_json()`` move it between processes."""

    # Built on first use: programs without async tasks never pay for this schema.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    #: The adapter's ``name``: only a client of this provider may poll the task.
    provider: str
    #: The API that accepted it: only a client with this base URL may poll it (the key
    #: goes nowhere else).
    base_url: str
    #: The provider's id of the task (one path segment: no ``/``, ``..`` or query).
    task_id: str = Field(min_length=1)
    #: The model the task was submitted with, when known.
    model: str | None = None
    #: How many images the task makes (extra images are dropped, with a warning).
    n: int = 1
    #: The pixel size the images should have, when known (a mismatch is warned about).
    expected_size: tuple[int, int] | None = None
    #: When the task was accepted (seconds since the epoch).
    created_at: float = Field(default_factory=time.time)
    #: What the adapter needs to resume the task (e.g. ``{"compat": "apimart"}``); never a
    #: secret. Handles written before it had this name (``state``) are read too.
    adapter_state: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("adapter_state", "state")
    )

    def scrubbed(self, redactor: Redactor) -> TaskHandle:
        """This handle with ``redactor``'s secrets replaced (itself when it has none)."""
        if not redactor:
            return self  # no key (or none long enough to be one): nothing to look for
        # The common case, a handle with no secret in it, is decided on its JSON: one scan
        # instead of one per string (15 us -> 2 us, twice per journaled task). Sound only
        # when the JSON has no backslash: then no string in the handle held a backslash, a
        # quote or a control character (the only ones JSON escapes), so every string is in
        # the JSON verbatim and any spelling of a secret in one is found in it. A match the
        # JSON alone makes (across two strings) only sends the handle down the full path.
        text = self.to_json()
        if "\\" not in text and redactor.text(text) == text:
            return self
        data = self.model_dump()
        clean = redactor.obj(data)
        return self if clean == data else TaskHandle.model_validate(clean)

    def to_json(self) -> str:
        return self.model_dump_json()

    @staticmethod
    def id_problem(task_id: str) -> str | None:
        """Why ``task_id`` cannot name a task, or None when it can.

        A task id is polled as one URL path segment (``/tasks/{id}``, percent-encoded): an
        empty id, ``.`` or ``..`` would poll another endpoint (``/tasks`` or the API root), and
        ``/``, ``?``, ``#``, whitespace and control characters have no place in an id.
        """
        if not task_id:
            return "is empty"
        if task_id in (".", ".."):
            return "is a relative path segment, not an id: it would poll another endpoint"
        for position, char in enumerate(task_id):
            if char in "/?#":
                return f"contains {char!r} at position {position}: an id is one URL path segment"
            if char.isspace() or not char.isprintable():
                kind = "whitespace" if char.isspace() else "a control character"
                return f"contains {kind} U+{ord(char):04X} at position {position}"
        return None

    @classmethod
    def from_json(cls, text: str | bytes) -> TaskHandle:
        return cls.model_validate_json(text)
