"""One generated image: :class:`GeneratedImage`, whatever shape the provider sent it in.

A URL, base64 or a ``data:`` URL becomes the same object. Bytes are decoded or downloaded
lazily: ``read()`` returns them, ``save()`` streams a URL download straight to disk (through
the client's driver, see :mod:`imagebridge._downloads`). Media type and pixel size are read
from the bytes themselves.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from ._deadline import CLIENT_DEFAULT, ClientDefault
from ._errors import ImageBridgeError, ServerError
from ._files import Staging, save_target
from ._imageinfo import HEADER_BYTES, extension_of, image_size, sniff_media_type
from ._warnings import ImageWarning

if TYPE_CHECKING:
    from ._tasks import TaskHandle

__all__ = ["AsyncFetcher", "GeneratedImage", "SyncFetcher"]


class SyncFetcher(Protocol):
    def fetch(self, url: str, *, timeout: float | ClientDefault | None = ...) -> bytes: ...
    def fetch_to(
        self, url: str, file: IO[bytes], *, timeout: float | ClientDefault | None = ...
    ) -> bytes: ...


class AsyncFetcher(Protocol):
    async def afetch(self, url: str, *, timeout: float | ClientDefault | None = ...) -> bytes: ...
    async def afetch_to(
        self, url: str, file: IO[bytes], *, timeout: float | ClientDefault | None = ...
    ) -> bytes: ...


class GeneratedImage:
    """One generated image: a URL, bytes, or both once downloaded.

    An adapter builds it from what the provider sent, with exactly one of ``url`` (a result
    URL, checked by :meth:`Adapter.resolve_url <imagebridge.adapter.Adapter.resolve_url>`),
    ``b64_json`` (base64, or a ``data:`` URL given as ``url``) or ``data`` (bytes), and
    optionally ``file_id``, ``revised_prompt`` and ``expires_at`` (when a signed URL stops
    working, seconds since the epoch). The client binds it to its driver; ``read()``,
    ``save()`` and their async twins download or decode it, bounded by
    ``max_download_bytes``.

    ``media_type``, ``width`` and ``height`` come from the image's own header and are None
    until its bytes are available (``read()`` or ``save()``).
    """

    __slots__ = (
        "_b64",
        "_data",
        "_fetcher",
        "_head",
        "_provider",
        "_task",
        "_warnings",
        "expected_media_type",
        "expected_size",
        "expires_at",
        "file_id",
        "index",
        "name",
        "path",
        "revised_prompt",
        "url",
    )

    def __init__(
        self,
        *,
        url: str | None = None,
        b64_json: str | None = None,
        data: bytes | None = None,
        file_id: str | None = None,
        revised_prompt: str | None = None,
        expires_at: float | None = None,
    ) -> None:
        if url is not None and url[:5].lower() == "data:":
            # A data: URL is the image itself, not something to fetch.
            b64_json = url.partition(",")[2]
            url = None
        if url is None and b64_json is None and data is None:
            raise ValueError("an image needs a url, base64 data or bytes")
        self.url = url
        self._b64 = b64_json
        self._data = data
        self._head: bytes | None = None
        #: Where :meth:`save` last wrote the image.
        self.path: Path | None = None
        self.file_id = file_id
        self.revised_prompt = revised_prompt
        self.expires_at = expires_at
        self.expected_size: tuple[int, int] | None = None
        self.expected_media_type: str | None = None
        self.index = 0
        self.name = "image"
        self._fetcher: SyncFetcher | AsyncFetcher | None = None
        self._provider = "unknown"
        self._task: TaskHandle | None = None
        self._warnings: list[ImageWarning] | None = None

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if self.url else "inline"
        size = f", {self.width}x{self.height}" if self._data is not None and self.width else ""
        return f"<GeneratedImage {self.index} {where}{size}>"

    # -- what is known without I/O ---------------------------------------------------------
    @property
    def data(self) -> bytes | None:
        """The bytes if already available (inline base64 or downloaded), else None."""
        if self._data is None and self._b64 is not None:
            try:
                # binascii reads an ASCII str in place; base64.b64decode would copy it first.
                decoded = binascii.a2b_base64(self._b64)
                self._b64 = None  # the bytes replace it: never hold both
            except (binascii.Error, ValueError) as exc:
                raise self._owned(
                    ServerError(
                        f"image {self.index} is not valid base64: {exc}",
                        provider=self._provider,
                        code="invalid_image_data",
                    )
                ) from None
            self._loaded(decoded)
        return self._data

    def inline_size(self) -> int | None:
        """The size in bytes of an inline image (bytes, or base64 counted without decoding
        it: 4 characters for 3 bytes); None for a URL result not downloaded yet."""
        if self._data is not None:
            return len(self._data)
        return None if self._b64 is None else len(self._b64) * 3 // 4

    def _owned(self, error: ImageBridgeError) -> ImageBridgeError:
        """An error about this image carries the task it came from: it can be fetched again."""
        if self._task is not None and error.task_id is None:
            error.task_id = self._task.task_id
            error.task = self._task
        return error

    def _header(self) -> bytes | None:
        """The first bytes of the image, from memory or from the last streamed download."""
        data = self.data
        return data[:HEADER_BYTES] if data is not None else self._head

    @property
    def media_type(self) -> str | None:
        head = self._header()
        return sniff_media_type(head[:16]) if head is not None else None

    @property
    def width(self) -> int | None:
        size = self._pixel_size()
        return size[0] if size else None

    @property
    def height(self) -> int | None:
        size = self._pixel_size()
        return size[1] if size else None

    @property
    def extension(self) -> str:
        return extension_of(self.media_type)

    def _pixel_size(self) -> tuple[int, int] | None:
        head = self._header()
        return image_size(head) if head is not None else None

    def _loaded(self, data: bytes) -> None:
        self._data = data
        self._check_size(data)

    def _check_size(self, head: bytes) -> None:
        """Warn (once each) when the image is not the pixel size or format requested."""
        if self._warnings is None:
            return
        actual = image_size(head) if self.expected_size is not None else None
        if actual is not None and actual != self.expected_size:
            w, h = self.expected_size  # type: ignore[misc]
            self._warnings.append(
                ImageWarning(
                    "size_mismatch",
                    f"image {self.index} is {actual[0]}x{actual[1]}, not the {w}x{h} requested",
                    "size",
                )
            )
            self.expected_size = None
        media = sniff_media_type(head[:16]) if self.expected_media_type is not None else None
        if media is not None and media != self.expected_media_type:
            self._warnings.append(
                ImageWarning(
                    "format_mismatch",
                    f"image {self.index} is {media}, not the {self.expected_media_type} requested",
                    "output_format",
                )
            )
            self.expected_media_type = None

    # -- I/O -------------------------------------------------------------------------------
    def _sync(self) -> SyncFetcher:
        if self._fetcher is None or not hasattr(self._fetcher, "fetch"):
            raise ImageBridgeError(
                "this image came from an AsyncImageClient: use 'await image.aread()' or"
                " 'await image.asave(...)'"
            )
        return self._fetcher  # type: ignore[return-value]

    def _async(self) -> AsyncFetcher:
        if self._fetcher is None or not hasattr(self._fetcher, "afetch"):
            raise ImageBridgeError(
                "this image came from an ImageClient: use image.read() or image.save(...)"
            )
        return self._fetcher  # type: ignore[return-value]

    def read(self, *, timeout: float | ClientDefault | None = CLIENT_DEFAULT) -> bytes:
        """The image bytes, downloading them (once) if the provider returned a URL.

        A download is bounded by ``timeout`` seconds on the wall clock (default: the
        client's ``timeout``; None: no bound)."""
        data = self.data
        if data is None:
            assert self.url is not None
            try:
                data = self._sync().fetch(self.url, timeout=timeout)
            except ImageBridgeError as error:
                raise self._owned(error) from error.__cause__
            self._loaded(data)
        return data

    async def aread(self, *, timeout: float | ClientDefault | None = CLIENT_DEFAULT) -> bytes:
        data = self.data
        if data is None:
            assert self.url is not None
            try:
                data = await self._async().afetch(self.url, timeout=timeout)
            except ImageBridgeError as error:
                raise self._owned(error) from error.__cause__
            self._loaded(data)
        return data

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float | ClientDefault | None = CLIENT_DEFAULT,
    ) -> Path:
        """Write the image to ``path`` (a file, or an existing directory to name it in).

        A download is bounded by ``timeout`` as in :meth:`read`.

        A URL result is streamed to disk without holding it in memory. Every image is written
        to a new temporary file beside its destination, then renamed into place, with the
        permissions ``0o666`` less the umask. In a directory the file is named after the task
        or creation time and the index, with the extension of the real media type, within
        255 bytes; nothing there is ever overwritten or followed (a file or symlink with that
        name makes it take the next free name). At a file path the image replaces what has
        that name (a symlink is replaced, never written through).
        """
        return self._save(*save_target(path), timeout=timeout)

    async def asave(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float | ClientDefault | None = CLIENT_DEFAULT,
    ) -> Path:
        return await self._asave(*save_target(path), timeout=timeout)

    def _save(
        self, target: Path, into: bool, *, timeout: float | ClientDefault | None = CLIENT_DEFAULT
    ) -> Path:
        data = self.data
        fetcher = self._sync() if data is None else None
        with Staging(target, into) as staging:
            if data is not None:
                staging.file.write(data)
                return self._placed(staging, data[:HEADER_BYTES])
            assert fetcher is not None
            assert self.url is not None
            try:
                head = fetcher.fetch_to(self.url, staging.file, timeout=timeout)
            except ImageBridgeError as error:
                raise self._owned(error) from error.__cause__
            return self._placed(staging, self._streamed(head))

    async def _asave(
        self, target: Path, into: bool, *, timeout: float | ClientDefault | None = CLIENT_DEFAULT
    ) -> Path:
        data = self.data
        fetcher = self._async() if data is None else None
        with Staging(target, into) as staging:
            if data is not None:
                staging.file.write(data)
                return self._placed(staging, data[:HEADER_BYTES])
            assert fetcher is not None
            assert self.url is not None
            try:
                head = await fetcher.afetch_to(self.url, staging.file, timeout=timeout)
            except ImageBridgeError as error:
                raise self._owned(error) from error.__cause__
            return self._placed(staging, self._streamed(head))

    def _placed(self, staging: Staging, head: bytes) -> Path:
        extension = extension_of(sniff_media_type(head[:16]))
        self.path = staging.finish(self.name, self.index, extension)
        return self.path

    def _streamed(self, head: bytes) -> bytes:
        """Remember the first bytes of a download streamed to disk; check them."""
        self._head = head
        self._check_size(head)
        return head

    def scrub_fields(self, scrub: Callable[[Any], Any]) -> None:
        """Replace each text field a server sent with ``scrub(field)`` (errors do this with
        the client's key). The URL too: a link made out of the key is not shown, even at
        the cost of the image."""
        for name in ("url", "file_id", "revised_prompt", "name"):
            setattr(self, name, scrub(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index}
        for key in ("url", "file_id", "revised_prompt", "expires_at"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self._header() is not None:
            out.update(media_type=self.media_type, width=self.width, height=self.height)
        if self.path is not None:
            out["path"] = str(self.path)
        return out

    def bind(
        self,
        fetcher: SyncFetcher | AsyncFetcher,
        *,
        provider: str,
        index: int,
        name: str,
        task: TaskHandle | None = None,
        warnings: list[ImageWarning] | None = None,
        expected_size: tuple[int, int] | None = None,
        expected_format: str | None = None,
    ) -> None:
        """Attach the client that downloads it, its place in the result and what it should
        be (checked against its header, mismatches warned about in ``warnings``). Called by
        the client that made the result; programs need not."""
        self._fetcher = fetcher
        self._provider = provider
        self._task = task
        self._warnings = warnings
        self.index = index
        self.name = name  # made safe for a file name when saved
        if expected_size is not None and self.expected_size is None:
            self.expected_size = expected_size
        if expected_format is not None and self.expected_media_type is None:
            self.expected_media_type = f"image/{expected_format}"
        if self._b64 is not None and self._data is None and (expected_size or expected_format):
            # The header is in the first few hundred bytes: no need to decode it all.
            with contextlib.suppress(binascii.Error, ValueError):
                self._check_size(base64.b64decode(self._b64[:344]))
