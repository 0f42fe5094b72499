"""Results: :class:`ImageResult` and the :class:`GeneratedImage` objects it holds.

Every provider's output shape (a URL, base64, a ``data:`` URL) becomes the same object. Bytes
are decoded or downloaded lazily: ``read()`` returns them, ``save()`` streams a URL download
straight to disk. Media type and pixel size are read from the bytes themselves.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from ._deadline import UNSET
from ._errors import ImageBridgeError, ServerError
from ._files import MAX_NAMES, create_temp, fit_name, name_max, place_at, place_new
from ._imageinfo import HEADER_BYTES, image_size, sniff_media_type
from ._preflight import ImageWarning

if TYPE_CHECKING:
    from ._tasks import TaskHandle

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


class SyncFetcher(Protocol):
    def fetch(self, url: str, *, timeout: float | None = ...) -> bytes: ...
    def fetch_to(self, url: str, file: IO[bytes], *, timeout: float | None = ...) -> bytes: ...


class AsyncFetcher(Protocol):
    async def afetch(self, url: str, *, timeout: float | None = ...) -> bytes: ...
    async def afetch_to(
        self, url: str, file: IO[bytes], *, timeout: float | None = ...
    ) -> bytes: ...


def _remaining(deadline: float | None) -> float | None:
    """What is left of a ``save()`` deadline (``time.monotonic()``), for the next image."""
    if deadline is None or deadline is UNSET:
        return deadline
    return max(0.0, deadline - time.monotonic())


def _deadline_of(timeout: float | None) -> float | None:
    if timeout is None or timeout is UNSET:
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


class GeneratedImage:
    """One generated image: a URL, bytes, or both once downloaded.

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
        return _EXTENSIONS.get(self.media_type or "", "bin")

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

    def read(self, *, timeout: float | None = UNSET) -> bytes:
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

    async def aread(self, *, timeout: float | None = UNSET) -> bytes:
        data = self.data
        if data is None:
            assert self.url is not None
            try:
                data = await self._async().afetch(self.url, timeout=timeout)
            except ImageBridgeError as error:
                raise self._owned(error) from error.__cause__
            self._loaded(data)
        return data

    def save(self, path: str | os.PathLike[str], *, timeout: float | None = UNSET) -> Path:
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
        return self._save(*_target(path), timeout=timeout)

    async def asave(self, path: str | os.PathLike[str], *, timeout: float | None = UNSET) -> Path:
        return await self._asave(*_target(path), timeout=timeout)

    def _save(self, target: Path, into: bool, *, timeout: float | None = UNSET) -> Path:
        data = self.data
        fetcher = self._sync() if data is None else None
        with _Staging(target, into) as staging:
            if data is not None:
                staging.file.write(data)
                return staging.finish(self, data[:HEADER_BYTES])
            assert fetcher is not None
            assert self.url is not None
            try:
                head = fetcher.fetch_to(self.url, staging.file, timeout=timeout)
            except ImageBridgeError as error:
                raise self._owned(error) from error.__cause__
            return staging.finish(self, self._streamed(head))

    async def _asave(self, target: Path, into: bool, *, timeout: float | None = UNSET) -> Path:
        data = self.data
        fetcher = self._async() if data is None else None
        with _Staging(target, into) as staging:
            if data is not None:
                staging.file.write(data)
                return staging.finish(self, data[:HEADER_BYTES])
            assert fetcher is not None
            assert self.url is not None
            try:
                head = await fetcher.afetch_to(self.url, staging.file, timeout=timeout)
            except ImageBridgeError as error:
                raise self._owned(error) from error.__cause__
            return staging.finish(self, self._streamed(head))

    def _streamed(self, head: bytes) -> bytes:
        """Remember the first bytes of a download streamed to disk; check them."""
        self._head = head
        self._check_size(head)
        return head

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


def _is_folder(target: str | os.PathLike[str]) -> bool:
    """An existing directory, or a path written with a trailing separator (``"out/"``)."""
    text = os.fspath(target)
    return Path(text).is_dir() or text.endswith(("/", os.sep))


def _target(path: str | os.PathLike[str]) -> tuple[Path, bool]:
    """The path to save to, and whether it is a folder to name the file in."""
    return Path(path), _is_folder(path)


def _names(folder: Path, image: GeneratedImage, head: bytes) -> Iterator[str]:
    """The names an image may take in ``folder``, in order, each within the file system's
    limit in bytes (the stem is cut, never the index, counter or extension)."""
    extension = _EXTENSIONS.get(sniff_media_type(head[:16]) or "", "bin")
    stem = _safe_name(image.name)
    limit = name_max(folder)
    yield fit_name(stem, f"-{image.index}.{extension}", limit)
    for counter in range(1, MAX_NAMES):
        yield fit_name(stem, f"-{image.index}-{counter}.{extension}", limit)


class _Staging:
    """A new temporary file beside the destination, given its name once complete."""

    def __init__(self, target: Path, into: bool) -> None:
        self.target = target
        self.into = into
        self.folder = target if into else target.parent
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file, self.temp = create_temp(self.folder)
        self.placed = False

    def __enter__(self) -> _Staging:
        return self

    def finish(self, image: GeneratedImage, head: bytes) -> Path:
        # Closed (so written) before it is named: a process that dies at any point leaves
        # either no file or a whole one. No fsync, as for the journal (WAL + NORMAL): only a
        # power loss could lose the last write, and fsync doubled the time to save 24 MB.
        self.file.close()
        if self.into:
            destination = place_new(self.temp, self.folder, _names(self.folder, image, head))
        else:
            destination = place_at(self.temp, self.target)
        self.placed = True
        image.path = destination
        return destination

    def __exit__(self, *exc: object) -> None:
        self.file.close()
        if not self.placed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp)


@dataclass(eq=False)
class ImageResult:
    """The outcome of a job: its images, where they came from, usage and warnings."""

    images: list[GeneratedImage]
    provider: str
    model: str | None = None
    task_ids: list[str] = field(default_factory=list)
    created: int | None = None
    usage: Usage | None = None
    warnings: list[ImageWarning] = field(default_factory=list)
    raw: list[Any] = field(default_factory=list, repr=False)
    #: The accepted tasks behind this result (resumable handles).
    tasks: list[TaskHandle] = field(default_factory=list, repr=False)
    _on_saved: Callable[..., None] | None = field(default=None, repr=False, compare=False)

    @property
    def task_id(self) -> str | None:
        """The task id (the first one when ``n`` was split into several tasks)."""
        return self.task_ids[0] if self.task_ids else None

    def __iter__(self) -> Any:
        return iter(self.images)

    def __len__(self) -> int:
        return len(self.images)

    def save(
        self, directory: str | os.PathLike[str], *, timeout: float | None = UNSET
    ) -> list[Path]:
        """Save every image into ``directory`` (created if missing); return the paths.

        ``timeout`` bounds the downloads of all the images together (default: each download
        the client's ``timeout``; None: no bound). Once all are saved, the tasks behind them
        are marked done in the task journal.
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        deadline = _deadline_of(timeout)
        paths = [image._save(folder, True, timeout=_remaining(deadline)) for image in self.images]
        self._saved(paths)
        return paths

    async def asave(
        self, directory: str | os.PathLike[str], *, timeout: float | None = UNSET
    ) -> list[Path]:
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        deadline = _deadline_of(timeout)
        paths = [
            await image._asave(folder, True, timeout=_remaining(deadline)) for image in self.images
        ]
        self._saved(paths)
        return paths

    def _saved(self, paths: list[Path]) -> None:
        if self._on_saved is not None:
            for task in self.tasks:
                self._on_saved(task, "saved", paths=paths)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (no image bytes)."""
        out: dict[str, Any] = {
            "provider": self.provider,
            "model": self.model,
            "task_id": self.task_id,
            "images": [image.to_dict() for image in self.images],
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
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

    def _bind(
        self,
        fetcher: SyncFetcher | AsyncFetcher,
        expected: tuple[int, int] | None,
        on_saved: Callable[..., None] | None = None,
        expected_format: str | None = None,
    ) -> None:
        """Attach the client that downloads URL results, and number and name the images;
        ``expected`` and ``expected_format`` are checked against each image's header."""
        self._on_saved = on_saved
        stem = self.task_id or f"{self.provider}-{self.created or 'image'}"
        task = self.tasks[0] if self.tasks else None
        for index, image in enumerate(self.images):
            image._fetcher = fetcher
            image._provider = self.provider
            image._task = task
            image._warnings = self.warnings
            image.index = index
            image.name = stem  # made safe for a file name when saved
            if expected is not None and image.expected_size is None:
                image.expected_size = expected
            if expected_format is not None and image.expected_media_type is None:
                image.expected_media_type = f"image/{expected_format}"
            if image._b64 is not None and image._data is None and (expected or expected_format):
                # The header is in the first few hundred bytes: no need to decode it all.
                with contextlib.suppress(binascii.Error, ValueError):
                    image._check_size(base64.b64decode(image._b64[:344]))


_UNSAFE = re.compile(r"[^\w.-]")


def _safe_name(text: str) -> str:
    """A task id or stem as a file name: no separators, no leading dots, bounded length
    (in characters here; :func:`fit_name` bounds the whole name in bytes)."""
    return _UNSAFE.sub("_", text).strip("._")[:80] or "image"
