"""The effects a sans-I/O adapter flow yields, and the flow type itself.

An adapter never touches a socket. Its ``generate``/``edit``/``submit``/``wait`` methods are
generators (like httpx's auth flows) that yield effects and receive their outcome:

* an :class:`httpx.Request`: the driver sends it and sends back the :class:`httpx.Response`
  (body read), or throws :class:`~imagebridge.APIConnectionError` into the flow when no
  response came, so a flow can retry an idempotent poll and keep its task id;
* :class:`Sleep`: wait (on the client's clock; the overall deadline is enforced by the driver);
* :class:`Progress`: report progress to the caller's callback;
* :class:`Accepted`: the provider accepted a task; from here on every error carries its id.

The flow's return value is its result. One sync and one async driver run every flow, so the
two clients behave the same by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Literal, TypeVar, Union

import httpx

from ._tasks import TaskHandle

T = TypeVar("T")

Stage = Literal["submitting", "queued", "running", "downloading", "done"]


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this many seconds before the flow continues."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider accepted a task: it exists and is paid for."""

    task: TaskHandle


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress report: the stage, the provider's own status and a percentage when known."""

    stage: Stage
    status: str | None = None
    percent: float | None = None
    task_id: str | None = None
    provider: str | None = None

    def __str__(self) -> str:
        text: str = self.stage
        if self.status and self.status != self.stage:
            text += f" ({self.status})"
        if self.percent is not None:
            text += f" {self.percent:.0f}%"
        return text


Effect = Union[httpx.Request, Sleep, Progress, Accepted]  # noqa: UP007 (a runtime alias)
Flow = Generator[Effect, "httpx.Response | None", T]
#: What ``on_progress=`` takes: called with every :class:`Progress` report.
ProgressCallback = Callable[[Progress], None]
