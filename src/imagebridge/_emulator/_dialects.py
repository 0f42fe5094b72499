"""The dialects beyond the first four, in one table: what each mounts, how its requests are
classified for fault injection and how its errors look.

A dialect module (``_fal``, ``_replicate``, ...) gives a handler class (``routes()`` and
``style``), a ``locate(method, path)`` function and an ``error_body(error)`` function; one
:class:`DialectSpec` line here adds it to the app (mounted at :data:`._names.MOUNTS`), to the
fault injector and to the error renderer, with nothing else to edit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.routing import BaseRoute

from ._errors import ApiError, register_style
from ._http import StyleFor
from ._names import MOUNTS
from ._store import EmulatorState

#: ``(method, path under the mount)`` -> ``(phase, task id or None)``, or None for a request
#: faults do not apply to (phases: :data:`._faults.PHASES`).
Locate = Callable[[str, str], "tuple[str, str | None] | None"]


class DialectHandlers(Protocol):
    style: str | StyleFor

    def routes(self) -> Sequence[BaseRoute]: ...


@dataclass(frozen=True)
class DialectSpec:
    name: str
    make: Callable[[EmulatorState], DialectHandlers]
    locate: Locate
    error_body: Callable[[ApiError], dict[str, Any]]

    @property
    def mount(self) -> str:
        return MOUNTS[self.name]


SPECS: tuple[DialectSpec, ...] = ()

for _spec in SPECS:
    register_style(_spec.name, _spec.error_body)


def spec_for(path: str) -> tuple[DialectSpec, str] | None:
    """The dialect a request path belongs to and the path under its mount, or None."""
    for spec in SPECS:
        mount = spec.mount
        if path == mount or path.startswith(mount + "/"):
            return spec, path[len(mount) :] or "/"
    return None
