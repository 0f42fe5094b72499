"""Making a cassette's canonical call through ImageClient or AsyncImageClient, and observing it.

The observation is what a cassette's ``expected`` holds: for a result, the number of images,
their media types, pixel sizes and sources (every image is read first, so URLs are
downloaded), the task id, the warning codes and, where asked, the provider statuses seen
while polling; for an error, its class and the provider's code, status, retry-after, request
id and task id.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._async_client import AsyncImageClient
from .._client import ImageClient
from .._clock import Clock
from .._errors import ImageBridgeError, InvalidRequestError, ProviderError
from .._flow import Progress
from .._plugins import Registry
from .._result import ImageResult
from ._cassette import (
    Call,
    Cassette,
    ErrorExpectation,
    Expected,
    InputImage,
    ResultExpectation,
    assets_dir,
)

__all__ = ["WRONG_KEY", "Observation", "Runner"]

#: The key of the 401 scenario, and the key replays use (recordings never hold the real one).
WRONG_KEY = "sk-imagebridge-conformance-wrong-key"
REPLAY_KEY = "sk-imagebridge-conformance-replay-key"


@dataclass
class Observation:
    """What to keep of a call: progress is kept only when ``keep_progress``."""

    keep_progress: bool = False
    keep_message: bool = False
    statuses: list[str] = field(default_factory=list)

    def progress(self, event: Progress) -> None:
        """The ``on_progress`` callback: keep each new provider status."""
        if event.status and (not self.statuses or self.statuses[-1] != event.status):
            self.statuses.append(event.status)

    def result(self, result: ImageResult) -> Expected:
        """The observation of a result whose images were all read."""
        images = result.images
        return Expected(
            result=ResultExpectation(
                images=len(images),
                media_types=[image.media_type for image in images],
                sizes=[
                    f"{image.width}x{image.height}" if image.width is not None else None
                    for image in images
                ],
                sources=["url" if image.url else "inline" for image in images],
                task_id=result.task_id,
                warnings=sorted(warning.code for warning in result.warnings),
                progress=list(self.statuses) if self.keep_progress else None,
            )
        )

    def error(self, error: ImageBridgeError) -> Expected:
        """The observation of an error."""
        provider_error = error if isinstance(error, ProviderError) else None
        return Expected(
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
            )
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
        }

    def _images(self) -> list[Any]:
        return [_input(image, self.cassette) for image in self.call.images]

    def _mask(self) -> Any:
        return None if self.call.mask is None else _input(self.call.mask, self.cassette)

    def run_sync(self, transport: httpx.BaseTransport, observation: Observation) -> Expected:
        """The call through :class:`ImageClient`; provider errors become the observation."""
        call, prompt = self.call, self.call.prompt or ""
        with ImageClient(self.provider, transport=transport, **self._options()) as client:
            try:
                if call.method == "generate":
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
                for image in result.images:
                    image.read()
            except ImageBridgeError as error:
                return observation.error(error)
        return observation.result(result)

    async def run_async(
        self, transport: httpx.AsyncBaseTransport, observation: Observation
    ) -> Expected:
        """The call through :class:`AsyncImageClient`."""
        call, prompt = self.call, self.call.prompt or ""
        async with AsyncImageClient(
            self.provider, transport=transport, **self._options()
        ) as client:
            try:
                if call.method == "generate":
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
                for image in result.images:
                    await image.aread()
            except ImageBridgeError as error:
                return observation.error(error)
        return observation.result(result)
