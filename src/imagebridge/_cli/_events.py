"""Following one job's events (:meth:`ImageClient.stream <imagebridge.ImageClient.stream>`):
each shown on the progress display, each partial image saved as it arrives, and with
``--json-lines`` each printed as one JSON object on stdout.

The ``--json-lines`` events, one object per line, each with a ``type``:

* ``accepted``: ``task_id``, ``provider`` and ``task`` (the resumable handle), as
  ``--no-wait --json`` prints them;
* ``progress``: ``stage``, ``status``, ``percent``, ``task_id``, ``provider`` and
  ``elapsed`` (seconds since the command began);
* ``partial_image``: ``index`` (the partial image's, from 0), ``image_index`` (the final
  image it previews), ``path`` (where it was saved), ``media_type``, ``width``, ``height``;
* ``completed``: the object ``--json`` prints, once the final images are saved (printed by
  :func:`~imagebridge._cli._output.emit_result`);
* ``error``: ``{"type": "error", "error": {...}}``, the error object of ``--json``, last
  (printed by :mod:`._errors`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from imagebridge import (
    Accepted,
    ImageBridgeError,
    ImageResult,
    ImageStream,
    PartialImage,
    Progress,
    StreamEvent,
    TaskHandle,
)

from ._output import OutputMode, print_json, task_object
from ._progress import ProgressDisplay


class EventFollower:
    """Runs a stream to its end for one command; :attr:`partials` lists the partial images
    it saved (kept when the job fails, so a failure can say where they are)."""

    def __init__(self, mode: OutputMode, folder: Path, display: ProgressDisplay) -> None:
        self.mode = mode
        self.folder = folder
        self.display = display
        #: One entry per partial image saved: the ``partial_image`` event without ``type``.
        self.partials: list[dict[str, Any]] = []
        #: The task the provider accepted, if it did (on routes: the route's provider).
        self.task: TaskHandle | None = None

    def follow(self, stream: ImageStream) -> ImageResult:
        """Every event of ``stream`` handled in turn; the final result (not saved yet).
        Leaving early (an error, Ctrl-C) closes the stream: nothing more is sent."""
        with stream:
            for event in stream:
                self._handle(event)
        if stream.result is None:  # a stream always ends with Completed; never silently
            raise ImageBridgeError("the stream ended without a result")
        return stream.result

    def _handle(self, event: StreamEvent) -> None:
        if isinstance(event, Accepted):
            self.task = event.task
            self.display.accepted(event.task)
            self._line({"type": event.type, **task_object(event.task)})
        elif isinstance(event, Progress):
            self.display(event)
            fields = dataclasses.asdict(event)
            self._line({"type": event.type, **fields, "elapsed": round(self.display.elapsed, 3)})
        elif isinstance(event, PartialImage):
            self._save_partial(event)
        # Completed: the caller saves the final images, then reports them.

    def _save_partial(self, event: PartialImage) -> None:
        image = event.image
        # Named <provider>-partial-<index>-<image index>.<ext> by the client: never a final
        # image's name, and never overwriting a file (the next free name is taken).
        path = image.save(self.folder)
        entry: dict[str, Any] = {
            "index": event.index,
            "image_index": event.image_index,
            "path": str(path),
            "media_type": image.media_type,
            "width": image.width,
            "height": image.height,
        }
        self.partials.append(entry)
        if self.mode == "lines":
            print_json({"type": event.type, **entry})
        elif self.mode == "human":
            self.display.say(str(path))
        self.display.note(f"partial image {event.index + 1} saved")

    def _line(self, data: dict[str, Any]) -> None:
        if self.mode == "lines":
            print_json(data)

    def extra(self) -> dict[str, Any]:
        """What ``--json`` adds to its object: the partial images saved, if any."""
        return {"partial_images": list(self.partials)} if self.partials else {}
