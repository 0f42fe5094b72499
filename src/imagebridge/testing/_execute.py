"""Making a cassette's canonical call through ImageClient or AsyncImageClient, and observing it.

The observation is what a cassette's ``expected`` holds: for a result, the number of images,
their media types, pixel sizes and sources (every image is read first, so URLs are
downloaded), the task id, the warning codes and, where asked, the provider statuses seen
while polling; for an error, its class and the provider's code, status, retry-after, request
id and task id. A call made through ``stream()`` also keeps every event in order (each
partial image read: media type, pixel size, sha256), the result's usage and its images'
sha256, and the partial image an error kept (``error.last_partial``). A :class:`Runner` can
also resume: ``submit()`` in one client and ``wait()`` on the serialised handle in a new one.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from .._async_client import AsyncImageClient
from .._client import ImageClient
from .._clock import Clock
from .._errors import ImageBridgeError, InvalidRequestError, ProviderError
from .._flow import Accepted, PartialImage, Progress
from .._image import GeneratedImage
from .._plugins import Registry
from .._result import ImageResult
from .._stream import AsyncImageStream, ImageStream, StreamEvent
from .._tasks import TaskHandle
from ._cassette import (
    Call,
    Cassette,
    ErrorExpectation,
    EventExpectation,
    Expected,
    InputImage,
    ResultExpectation,
    UsageExpectation,
    assets_dir,
)
from ._support import compact_png

__all__ = ["WRONG_KEY", "Observation", "Runner"]

#: The key of the 401 scenario, and the key replays use (recordings never hold the real one).
WRONG_KEY = "sk-imagebridge-conformance-wrong-key"
REPLAY_KEY = "sk-imagebridge-conformance-replay-key"
#: More events than this from one stream is a stream that does not end.
MAX_EVENTS = 10_000


def digest(data: bytes) -> str:
    """The sha256 of an image as the assets folder stores it (PNGs losslessly compacted)."""
    return hashlib.sha256(compact_png(data)).hexdigest()


def _size(image: GeneratedImage) -> str | None:
    return f"{image.width}x{image.height}" if image.width is not None else None


def partial_expectation(event: PartialImage, data: bytes) -> EventExpectation:
    """A partial image whose bytes were read."""
    return EventExpectation(
        type="partial_image",
        index=event.index,
        image_index=event.image_index,
        media_type=event.image.media_type,
        size=_size(event.image),
        sha256=digest(data),
    )


@dataclass
class Observation:
    """What to keep of a call: progress is kept only when ``keep_progress``; a streamed
    call's events, usage and image digests when ``keep_stream``."""

    keep_progress: bool = False
    keep_message: bool = False
    keep_stream: bool = False
    statuses: list[str] = field(default_factory=list)
    events: list[EventExpectation] = field(default_factory=list)
    #: Every progress report, in order (the task guarantees read their phases).
    reports: list[Progress] = field(default_factory=list)

    def event(self, event: StreamEvent, data: bytes | None) -> None:
        """One event of ``stream()`` (``data``: a partial image's bytes, read)."""
        if isinstance(event, PartialImage):
            assert data is not None
            self.events.append(partial_expectation(event, data))
        elif isinstance(event, Progress):
            self.events.append(
                EventExpectation(
                    type="progress",
                    stage=event.stage,
                    status=event.status,
                    percent=event.percent,
                    task_id=event.task_id,
                )
            )
        elif isinstance(event, Accepted):
            self.events.append(EventExpectation(type="accepted", task_id=event.task.task_id))
        else:
            self.events.append(EventExpectation(type="completed"))

    def progress(self, event: Progress) -> None:
        """The ``on_progress`` callback: keep each new provider status."""
        self.reports.append(event)
        if event.status and (not self.statuses or self.statuses[-1] != event.status):
            self.statuses.append(event.status)

    def result(self, result: ImageResult, data: list[bytes]) -> Expected:
        """The observation of a result whose images were all read (``data``, in order)."""
        images = result.images
        usage = result.usage
        stream = self.keep_stream
        return Expected(
            result=ResultExpectation(
                images=len(images),
                media_types=[image.media_type for image in images],
                sizes=[_size(image) for image in images],
                sources=["url" if image.url else "inline" for image in images],
                task_id=result.task_id,
                warnings=sorted(warning.code for warning in result.warnings),
                progress=list(self.statuses) if self.keep_progress else None,
                usage=UsageExpectation(
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    total_tokens=usage.total_tokens,
                )
                if stream and usage is not None
                else None,
                sha256=[digest(item) for item in data] if stream else None,
            ),
            events=list(self.events) if stream else None,
        )

    def error(self, error: ImageBridgeError, partial: bytes | None = None) -> Expected:
        """The observation of an error (``partial``: the bytes of ``error.last_partial``)."""
        provider_error = error if isinstance(error, ProviderError) else None
        last = error.last_partial
        return Expected(
            events=list(self.events) if self.keep_stream else None,
            error=ErrorExpectation(
                type=type(error).__name__,
                code=provider_error.code if provider_error else None,
                status=provider_error.status_code if provider_error else None,
                retry_after=getattr(error, "retry_after", None),
                request_id=provider_error.request_id if provider_error else None,
                task_id=error.task_id,
                problems=[p.field for p in error.problems]
                if isinstance(error, InvalidRequestError)
                else None,
                message=error.message if self.keep_message else None,
                last_partial=partial_expectation(last, partial)
                if self.keep_stream and last is not None and partial is not None
                else None,
            ),
        )


def _input(image: InputImage, cassette: Cassette | None) -> Any:
    if image.base64 is not None:
        return base64.b64decode(image.base64)
    if image.url is not None:
        return image.url
    assert image.file is not None
    if cassette is None or cassette.source is None:
        raise ValueError(f"input image file {image.file!r} needs a saved cassette")
    return assets_dir(cassette.source) / image.file


@dataclass
class Runner:
    """Makes one call through either client, with an injected transport and clock."""

    provider: str
    call: Call
    registry: Registry | None
    clock: Clock
    cassette: Cassette | None = None
    api_key: str = REPLAY_KEY
    #: More client options (``journal``, ``timeout``, ``retry``) over the replay defaults.
    client_options: Mapping[str, Any] = field(default_factory=dict)
    #: Called once the client's method returned, before the result's images are read.
    after_call: Callable[[], None] | None = None

    def _fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = dict(self.call.fields)
        if self.call.reference_images:
            fields["reference_images"] = [
                _input(image, self.cassette) for image in self.call.reference_images
            ]
        if self.call.mask is not None and self.call.method != "edit":
            fields["mask"] = _input(self.call.mask, self.cassette)
        return fields

    def _options(self) -> dict[str, Any]:
        return {
            "api_key": WRONG_KEY if self.call.client.invalid_key else self.api_key,
            "base_url": self.call.client.base_url,
            "registry": self.registry,
            "clock": self.clock,
            "journal": False,  # replays and recordings never touch the user's task journal
            **self.client_options,
        }

    def _returned(self) -> None:
        if self.after_call is not None:
            self.after_call()

    def _images(self) -> list[Any]:
        return [_input(image, self.cassette) for image in self.call.images]

    def _mask(self) -> Any:
        return None if self.call.mask is None else _input(self.call.mask, self.cassette)

    def _stream_fields(self) -> dict[str, Any]:
        """The fields of ``stream()``: an edit's images are its ``reference_images``."""
        fields = self._fields()
        if self.call.method in ("edit", "vary"):
            fields["reference_images"] = self._images()
            if self.call.mask is not None:
                fields["mask"] = self._mask()
        return fields

    def _operation(self) -> Literal["generate", "edit", "vary"]:
        method = self.call.method
        if method not in ("generate", "edit", "vary"):
            raise ValueError(f"stream() makes generations, edits and variations, not {method!r}")
        return method

    def _stream_sync(self, client: ImageClient, observation: Observation) -> ImageResult:
        events: ImageStream = client.stream(
            self.call.prompt or "", operation=self._operation(), **self._stream_fields()
        )
        with events:
            for count, event in enumerate(events):
                _bounded(count)
                data = event.image.read() if isinstance(event, PartialImage) else None
                observation.event(event, data)
        return _completed(events.result)

    async def _stream_async(
        self, client: AsyncImageClient, observation: Observation
    ) -> ImageResult:
        events: AsyncImageStream = client.stream(
            self.call.prompt or "", operation=self._operation(), **self._stream_fields()
        )
        count = 0
        async with events:
            async for event in events:
                _bounded(count)
                count += 1
                data = await event.image.aread() if isinstance(event, PartialImage) else None
                observation.event(event, data)
        return _completed(events.result)

    def run_sync(self, transport: httpx.BaseTransport, observation: Observation) -> Expected:
        """The call through :class:`ImageClient`; provider errors become the observation."""
        call, prompt = self.call, self.call.prompt or ""
        with ImageClient(self.provider, transport=transport, **self._options()) as client:
            try:
                if call.stream:
                    result = self._stream_sync(client, observation)
                elif call.method == "generate":
                    result = client.generate(
                        prompt, on_progress=observation.progress, **self._fields()
                    )
                elif call.method == "edit":
                    result = client.edit(
                        prompt,
                        self._images(),
                        mask=self._mask(),
                        on_progress=observation.progress,
                        **self._fields(),
                    )
                elif call.method == "vary":
                    result = client.vary(
                        self._images()[0], on_progress=observation.progress, **self._fields()
                    )
                elif call.method == "submit":
                    handle = client.submit(prompt, **self._fields())
                    result = client.wait(handle, on_progress=observation.progress)
                else:
                    result = client.wait(call.task_id or "", on_progress=observation.progress)
                self._returned()
                data = [image.read() for image in result.images]
            except ImageBridgeError as error:
                last = error.last_partial
                return observation.error(error, last.image.read() if last else None)
        return observation.result(result, data)

    async def run_async(
        self, transport: httpx.AsyncBaseTransport, observation: Observation
    ) -> Expected:
        """The call through :class:`AsyncImageClient`."""
        call, prompt = self.call, self.call.prompt or ""
        async with AsyncImageClient(
            self.provider, transport=transport, **self._options()
        ) as client:
            try:
                if call.stream:
                    result = await self._stream_async(client, observation)
                elif call.method == "generate":
                    result = await client.generate(
                        prompt, on_progress=observation.progress, **self._fields()
                    )
                elif call.method == "edit":
                    result = await client.edit(
                        prompt,
                        self._images(),
                        mask=self._mask(),
                        on_progress=observation.progress,
                        **self._fields(),
                    )
                elif call.method == "vary":
                    result = await client.vary(
                        self._images()[0], on_progress=observation.progress, **self._fields()
                    )
                elif call.method == "submit":
                    handle = await client.submit(prompt, **self._fields())
                    result = await client.wait(handle, on_progress=observation.progress)
                else:
                    result = await client.wait(call.task_id or "", on_progress=observation.progress)
                self._returned()
                data = [await image.aread() for image in result.images]
            except ImageBridgeError as error:
                last = error.last_partial
                return observation.error(error, await last.image.aread() if last else None)
        return observation.result(result, data)

    def resume_sync(
        self,
        transport: httpx.BaseTransport,
        observation: Observation,
        resumed: Callable[[str], None],
    ) -> Expected:
        """``submit()`` in one client, then ``wait()`` in a new one on the handle read back
        from its JSON, as another process resumes a task; ``resumed`` gets that JSON when
        the first client is closed."""
        with ImageClient(self.provider, transport=transport, **self._options()) as client:
            try:
                handle = client.submit(self.call.prompt or "", **self._fields())
            except ImageBridgeError as error:
                return observation.error(error)
        text = handle.to_json()
        resumed(text)
        with ImageClient(self.provider, transport=transport, **self._options()) as client:
            try:
                result = client.wait(TaskHandle.from_json(text), on_progress=observation.progress)
                self._returned()
                data = [image.read() for image in result.images]
            except ImageBridgeError as error:
                return observation.error(error)
        return observation.result(result, data)

    async def resume_async(
        self,
        transport: httpx.AsyncBaseTransport,
        observation: Observation,
        resumed: Callable[[str], None],
    ) -> Expected:
        """:meth:`resume_sync` through :class:`AsyncImageClient`."""
        options = self._options()
        async with AsyncImageClient(self.provider, transport=transport, **options) as client:
            try:
                handle = await client.submit(self.call.prompt or "", **self._fields())
            except ImageBridgeError as error:
                return observation.error(error)
        text = handle.to_json()
        resumed(text)
        async with AsyncImageClient(self.provider, transport=transport, **options) as client:
            try:
                task = TaskHandle.from_json(text)
                result = await client.wait(task, on_progress=observation.progress)
                self._returned()
                data = [await image.aread() for image in result.images]
            except ImageBridgeError as error:
                return observation.error(error)
        return observation.result(result, data)


def _bounded(count: int) -> None:
    if count >= MAX_EVENTS:
        raise AssertionError(f"the stream sent more than {MAX_EVENTS} events: it does not end")


def _completed(result: ImageResult | None) -> ImageResult:
    if result is None:
        raise AssertionError("the stream ended without a completed event")
    return result
