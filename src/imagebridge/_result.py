"""Results: :class:`ImageResult`, the :class:`~imagebridge.GeneratedImage` objects it holds
(:mod:`imagebridge._image`), and :class:`Usage`.

Every provider's output becomes the same result: its images, where they came from (provider,
model, task ids and resumable task handles), token usage and the warnings of everything the
library adapted.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._deadline import CLIENT_DEFAULT, ClientDefault
from ._image import AsyncFetcher, GeneratedImage, SyncFetcher
from ._warnings import ImageWarning

if TYPE_CHECKING:
    from ._prices import Cost
    from ._tasks import TaskHandle

__all__ = ["GeneratedImage", "ImageResult", "Usage"]


def _remaining(deadline: float | ClientDefault | None) -> float | ClientDefault | None:
    """What is left of a ``save()`` deadline (``time.monotonic()``), for the next image."""
    if deadline is None or isinstance(deadline, ClientDefault):
        return deadline
    return max(0.0, deadline - time.monotonic())


def _deadline_of(timeout: float | ClientDefault | None) -> float | ClientDefault | None:
    if timeout is None or isinstance(timeout, ClientDefault):
        return timeout
    return time.monotonic() + timeout


@dataclass(slots=True)
class Usage:
    """Token usage, when the provider reports it."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> Usage | None:
        if not isinstance(data, dict):
            return None
        return cls(
            _int(data.get("input_tokens")),
            _int(data.get("output_tokens")),
            _int(data.get("total_tokens")),
            dict(data),
        )

    def __add__(self, other: Usage) -> Usage:
        def _sum(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(
            _sum(self.input_tokens, other.input_tokens),
            _sum(self.output_tokens, other.output_tokens),
            _sum(self.total_tokens, other.total_tokens),
        )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(eq=False)
class ImageResult:
    """The outcome of a job: its images, where they came from, usage and warnings."""

    #: The images, in order (``read()``/``save()`` each, or ``save()`` them all).
    images: list[GeneratedImage]
    #: The provider that made them.
    provider: str
    #: The model that made them, as the provider reported it or as it was sent.
    model: str | None = None
    #: The ids of the accepted tasks behind the result (none for a one-request dialect).
    task_ids: list[str] = field(default_factory=list)
    #: The provider's creation time (seconds since the epoch), when it sent one.
    created: int | None = None
    #: Tokens or other usage the provider reported, summed over the calls.
    usage: Usage | None = None
    #: What was adapted, dropped or unexpected (:class:`~imagebridge.ImageWarning`).
    warnings: list[ImageWarning] = field(default_factory=list)
    #: The provider's reply bodies, one per call, base64 images left out.
    raw: list[Any] = field(default_factory=list, repr=False)
    #: The accepted tasks behind this result (resumable handles).
    tasks: list[TaskHandle] = field(default_factory=list, repr=False)
    #: The name of the route that served it (a routed client's), else None.
    route: str | None = None
    #: What it cost (:class:`~imagebridge.Cost`): the actual cost from reported usage or a
    #: per-image price, else the estimate; None when the client did not price it (a task
    #: resumed by ``wait()``).
    cost: Cost | None = None
    _on_saved: Callable[[TaskHandle, list[Path]], None] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def task_id(self) -> str | None:
        """The task id (the first one when ``n`` was split into several tasks)."""
        return self.task_ids[0] if self.task_ids else None

    def __iter__(self) -> Any:
        return iter(self.images)

    def __len__(self) -> int:
        return len(self.images)

    def save(
        self,
        directory: str | os.PathLike[str],
        *,
        timeout: float | ClientDefault | None = CLIENT_DEFAULT,
    ) -> list[Path]:
        """Save every image into ``directory`` (created if missing); return the paths.

        ``timeout`` bounds the downloads of all the images together (default: each download
        the client's ``timeout``; None: no bound). Once all are saved, the tasks behind them
        are marked done in the task journal.
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        deadline = _deadline_of(timeout)
        paths = [image.save(folder, timeout=_remaining(deadline)) for image in self.images]
        self._saved(paths)
        return paths

    async def asave(
        self,
        directory: str | os.PathLike[str],
        *,
        timeout: float | ClientDefault | None = CLIENT_DEFAULT,
    ) -> list[Path]:
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        deadline = _deadline_of(timeout)
        paths = [await image.asave(folder, timeout=_remaining(deadline)) for image in self.images]
        self._saved(paths)
        return paths

    def _saved(self, paths: list[Path]) -> None:
        if self._on_saved is not None:
            for task in self.tasks:
                self._on_saved(task, paths)

    def scrub_fields(self, scrub: Callable[[Any], Any]) -> None:
        """Replace every public field with ``scrub(field)`` (see
        :meth:`GeneratedImage.scrub_fields`)."""
        for f in dataclasses.fields(self):
            if not f.name.startswith("_"):
                setattr(self, f.name, scrub(getattr(self, f.name)))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (no image bytes)."""
        out: dict[str, Any] = {
            "provider": self.provider,
            "model": self.model,
            "task_id": self.task_id,
            "images": [image.to_dict() for image in self.images],
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
        }
        if self.route is not None:
            out["route"] = self.route
        if self.cost is not None and self.cost.usd is not None:
            # An unknown cost is left out, as an unreported usage is.
            out["cost"] = {
                "usd": str(self.cost.usd),
                "basis": self.cost.basis,
                "exact": self.cost.exact,
            }
        if len(self.task_ids) > 1:
            out["task_ids"] = list(self.task_ids)
        if self.created is not None:
            out["created"] = self.created
        if self.usage is not None:
            out["usage"] = {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "total_tokens": self.usage.total_tokens,
            }
        return out

    def bind(
        self,
        fetcher: SyncFetcher | AsyncFetcher,
        expected: tuple[int, int] | None,
        on_saved: Callable[[TaskHandle, list[Path]], None] | None = None,
        expected_format: str | None = None,
    ) -> None:
        """Attach the client that downloads URL results, and number and name the images;
        ``expected`` and ``expected_format`` are checked against each image's header.
        Called by the client that made the result; programs need not."""
        self._on_saved = on_saved
        stem = self.task_id or f"{self.provider}-{self.created or 'image'}"
        task = self.tasks[0] if self.tasks else None
        for index, image in enumerate(self.images):
            image.bind(
                fetcher,
                provider=self.provider,
                index=index,
                name=stem,
                task=task,
                warnings=self.warnings,
                expected_size=expected,
                expected_format=expected_format,
            )
