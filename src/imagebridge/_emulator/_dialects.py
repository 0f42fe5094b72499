"""The dialects beyond the first four, in one table: what each mounts, how its requests are
classified for fault injection and how its errors look.

A dialect module (``_fal``, ``_replicate``, ...) gives a handler class (``routes()`` and
``style``), a ``locate(method, path, query)`` function and an ``error_body(error)`` function; one
:class:`DialectSpec` line here adds it to the app (mounted at :data:`._names.MOUNTS`), to the
fault injector and to the error renderer, with nothing else to edit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.routing import BaseRoute

from . import _bfl, _fal, _google, _replicate, _stability
from ._errors import ApiError, register_style
from ._http import StyleFor
from ._names import MOUNTS
from ._store import EmulatorState

#: ``(method, path under the mount, query parameters)`` -> ``(phase, task id or None)``, or
#: None for a request faults do not apply to (phases: :data:`._faults.PHASES`).
Locate = Callable[[str, str, Mapping[str, str]], "tuple[str, str | None] | None"]


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


SPECS: tuple[DialectSpec, ...] = (
    DialectSpec("fal", _fal.FalDialect, _fal.locate, _fal.error_body),
    DialectSpec("replicate", _replicate.ReplicateDialect, _replicate.locate, _replicate.error_body),
    DialectSpec("google", _google.GoogleDialect, _google.locate, _google.error_body),
    DialectSpec("stability", _stability.StabilityDialect, _stability.locate, _stability.error_body),
    DialectSpec("bfl", _bfl.BflDialect, _bfl.locate, _bfl.error_body),
)

for _spec in SPECS:
    register_style(_spec.name, _spec.error_body)


def spec_for(path: str) -> tuple[DialectSpec, str] | None:
    """The dialect a request path belongs to and the path under its mount, or None."""
    for spec in SPECS:
        mount = spec.mount
        if path == mount or path.startswith(mount + "/"):
            return spec, path[len(mount) :] or "/"
    return None
