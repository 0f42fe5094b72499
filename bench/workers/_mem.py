"""Memory figures of this process, in MiB.

Peak RSS is read from ``VmHWM`` in ``/proc/self/status``, not from ``getrusage().ru_maxrss``:
on Linux a freshly exec'd child's ``ru_maxrss`` starts at the *parent's* high-water mark
(the kernel folds the pre-exec address space into the signal struct's ``maxrss``), so a
worker started by a 200 MB harness would report at least 200 MB whatever it did.
``VmHWM`` belongs to the new address space only, and ``reset_peak`` (``clear_refs`` 5,
Linux >= 4.0) sets it back to the current RSS so one operation's peak can be isolated.

glibc's malloc raises its mmap threshold after a large block is freed and then serves later
large blocks from the heap, so a second 20 MB buffer may reuse pages an earlier one left
resident and never show in the peak. :func:`fix_malloc` pins the threshold at 128 KiB (which
also turns the adjustment off) and trims the heap: from then on every large buffer gets its
own mapping, returned when freed, and the peak measures what was live at once, alike for
every contender. Workers time their calls first, with the allocator as users have it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import resource

M_MMAP_THRESHOLD = -3

MIB = 1024 * 1024


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mib() -> float:
    """This process's peak resident set size (since start or the last :func:`reset_peak`)."""
    kib = _status_kib("VmHWM")
    if kib is None:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS; rough either way)
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024


def rss_mib() -> float:
    """The current resident set size."""
    kib = _status_kib("VmRSS")
    return (kib or 0) / 1024


def reset_peak() -> bool:
    """Set the peak back to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def fix_malloc() -> bool:
    """Pin glibc's mmap threshold and trim the heap; False where that is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = bool(libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024))
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return ok
