"""Task handles: an accepted asynchronous job, serialisable and resumable in another process.

A handle holds what is needed to fetch the job's images later (provider, base URL, task id,
model, expected outputs and any adapter state such as a compatibility mode) and never the
API key: the process that resumes it supplies its own.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TaskHandle(BaseModel):
    """An accepted task. ``to_json()`` / ``TaskHandle.from_json()`` move it between processes."""

    # Built on first use: programs without async tasks never pay for this schema.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    provider: str
    base_url: str
    task_id: str = Field(min_length=1)
    model: str | None = None
    n: int = 1
    expected_size: tuple[int, int] | None = None
    created_at: float = Field(default_factory=time.time)
    #: Adapter state needed to resume (e.g. ``{"compat": "apimart"}``); never a secret.
    state: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> TaskHandle:
        return cls.model_validate_json(text)
