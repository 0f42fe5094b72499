"""Creating image files safely: exclusively, never through a symlink, never over a file.

Every saved image is first written to a new temporary file in the folder it goes to, created
with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode ``0o666``: the kernel applies the umask (or
the folder's default ACL) at creation, so URL and inline results get the same permissions,
without reading the process-wide umask (``os.umask`` cannot be read without setting it, which
races with other threads). The file then gets its final name:

* in a folder, with :func:`os.link`, which fails if anything already has that name (a file, a
  symlink, even a dangling one): the next name is tried, nothing is replaced or followed;
* at a path the caller named, with :func:`os.replace`, which replaces that entry (a regular
  file or a symlink) and never writes through it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from ._errors import ConfigurationError

#: The longest file name, in bytes, of common file systems (ext4, XFS, btrfs, APFS, tmpfs).
NAME_MAX = 255
#: Free names tried in a folder before giving up (``name-0.png``, ``name-0-1.png``, ...).
MAX_NAMES = 10_000

_CREATE = (
    os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_TEMP_ATTEMPTS = 100


def create_temp(folder: Path) -> tuple[IO[bytes], Path]:
    """A new, empty file in ``folder`` that nobody else had: its handle and its path."""
    for _ in range(_TEMP_ATTEMPTS):
        path = folder / f".imagebridge-{secrets.token_hex(8)}.part"
        try:
            fd = os.open(path, _CREATE | os.O_RDWR, 0o666)
        except FileExistsError:
            continue
        return os.fdopen(fd, "w+b"), path
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(folder))


def place_new(temp: Path, folder: Path, names: Iterable[str]) -> Path:
    """Give ``temp`` the first of ``names`` that nothing in ``folder`` has yet."""
    for name in names:
        final = folder / name
        try:
            _link(temp, final)
        except FileExistsError:
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        return final
    raise FileExistsError(errno.EEXIST, f"no free file name after {MAX_NAMES} tries", str(folder))


def _link(temp: Path, final: Path) -> None:
    try:
        os.link(temp, final)
    except FileExistsError:
        raise
    except OSError:
        # No hard links here (FAT, some network or Android file systems): reserve the name
        # exclusively, then rename over the reservation, which is ours.
        os.close(os.open(final, _CREATE | os.O_WRONLY, 0o600))
        try:
            os.replace(temp, final)
        except OSError:
            os.unlink(final)
            raise


def place_at(temp: Path, target: Path) -> Path:
    """Give ``temp`` the name ``target``, replacing what is there without following it."""
    os.replace(temp, target)
    return target


def name_max(folder: Path) -> int:
    """The longest file name ``folder``'s file system takes, in bytes (at most 255)."""
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # AttributeError: no pathconf (Windows)
        return NAME_MAX
    return min(NAME_MAX, limit) if limit > 0 else NAME_MAX


def fit_name(stem: str, suffix: str, limit: int = NAME_MAX) -> str:
    """``stem + suffix``, the stem cut on a character boundary so the name's encoded form
    (what the file system stores) is at most ``limit`` bytes."""
    room = limit - len(os.fsencode(suffix))
    used = kept = 0
    for char in stem:
        used += len(os.fsencode(char))
        if used > room:
            break
        kept += 1
    return stem[:kept] + suffix


def usable_folder(path: str | os.PathLike[str], what: str = "output") -> Path:
    """``path`` as a folder images can be saved in, created if missing.

    Raises :class:`ConfigurationError` naming the path and why when it is (or is under) a
    file, cannot be created, or is not writable: checked before any request is sent, so an
    image is never paid for and then lost.
    """
    folder = Path(path)
    problem = _problem(folder)
    if problem is not None:
        raise ConfigurationError(f"{what} folder {os.fspath(path)!r} cannot be used: {problem}")
    return folder


def _problem(folder: Path) -> str | None:
    try:
        existing = next((p for p in (folder, *folder.parents) if _present(p)), None)
        if existing is not None and not existing.is_dir():
            name = "it" if existing == folder else repr(str(existing))
            kind = "a broken symlink" if not existing.exists() else "a file"
            return f"{name} is {kind}, not a folder"
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"it cannot be created ({exc.strerror or exc})"
    if not os.access(folder, os.W_OK | os.X_OK):
        return "it is not writable"
    try:
        file, temp = create_temp(folder)
    except OSError as exc:
        return f"it is not writable ({exc.strerror or exc})"
    file.close()
    os.unlink(temp)
    return None


def _present(path: Path) -> bool:
    """Whether anything has this name, a dangling symlink included."""
    return path.is_symlink() or path.exists()


def save_target(path: str | os.PathLike[str]) -> tuple[Path, bool]:
    """The path to save to, and whether it is a folder to name the file in: an existing
    directory, or a path written with a trailing separator (``"out/"``)."""
    text = os.fspath(path)
    return Path(text), Path(text).is_dir() or text.endswith(("/", os.sep))


_UNSAFE = re.compile(r"[^\w.-]")


def safe_stem(text: str) -> str:
    """A task id or stem as a file name: no separators, no leading dots, bounded length
    (in characters here; :func:`fit_name` bounds the whole name in bytes)."""
    return _UNSAFE.sub("_", text).strip("._")[:80] or "image"


def _names(folder: Path, stem: str, index: int, extension: str) -> Iterator[str]:
    """The names an image may take in ``folder``, in order, each within the file system's
    limit in bytes (the stem is cut, never the index, counter or extension)."""
    stem = safe_stem(stem)
    limit = name_max(folder)
    yield fit_name(stem, f"-{index}.{extension}", limit)
    for counter in range(1, MAX_NAMES):
        yield fit_name(stem, f"-{index}-{counter}.{extension}", limit)


class Staging:
    """A new temporary file beside the destination, given its name once complete."""

    def __init__(self, target: Path, into: bool) -> None:
        self.target = target
        self.into = into
        self.folder = target if into else target.parent
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file, self.temp = create_temp(self.folder)
        self.placed = False

    def __enter__(self) -> Staging:
        return self

    def finish(self, stem: str, index: int, extension: str) -> Path:
        """Name the written file: ``<stem>-<index>.<extension>`` (or the next free name) in
        a folder, else the target path itself."""
        # Closed (so written) before it is named: a process that dies at any point leaves
        # either no file or a whole one. No fsync, as for the journal (WAL + NORMAL): only a
        # power loss could lose the last write, and fsync doubled the time to save 24 MB.
        self.file.close()
        if self.into:
            destination = place_new(
                self.temp, self.folder, _names(self.folder, stem, index, extension)
            )
        else:
            destination = place_at(self.temp, self.target)
        self.placed = True
        return destination

    def __exit__(self, *exc: object) -> None:
        self.file.close()
        if not self.placed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp)
