"""The hooks a plugin implements. There are four, all optional.

A plugin is any module or object with functions marked ``@imagebridge.hookimpl`` and named
after a hook below. Packages expose plugins through the ``imagebridge`` entry-point group::

    [project.entry-points.imagebridge]
    myprovider = "imagebridge_myprovider"

The built-in dialects (``openai``, ``geeknow``, ``dalle`` ...) are loaded the same way, first.
``IMAGEBRIDGE_LOAD_PLUGINS`` (a comma-separated list of entry-point names; empty for none)
chooses which entry points load.

A hook implementation may take any subset of a hook's arguments, by name. An argument the
hook does not have, a hook name that does not exist, an ``imagebridge_adapters`` that raises
or returns something other than adapter classes, an adapter API version this imagebridge
does not support, or a provider name another plugin already took: an entry-point plugin with
any of these is skipped, logged as a warning and listed as broken (``imagebridge providers``,
:meth:`~imagebridge.Registry.plugins`) while the others keep working; a plugin a program
registers itself fails with :class:`~imagebridge.PluginError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import httpx

    from ._adapter import Adapter
    from ._capabilities import Capabilities
    from ._errors import Problem
    from ._preflight import Operation
    from ._request import ImageRequest

PROJECT = "imagebridge"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def imagebridge_adapters() -> Sequence[type[Adapter]]:  # type: ignore[empty-body]
    """Return the adapter classes this plugin provides (each with a unique ``name``, and an
    ``api_version`` of :data:`imagebridge.adapter.ADAPTER_API_VERSION` when it sets one)."""


@hookspec(firstresult=True)
def imagebridge_model_capabilities(
    provider: str, model: str, capabilities: Capabilities
) -> Capabilities | None:
    """Refine what ``model`` supports on ``provider``, whichever adapter serves it.

    ``capabilities`` is the adapter's own declaration. Return a replacement (usually
    ``capabilities.replace(...)``) or None to leave it. The first non-None answer wins.
    This is how the ``dalle`` plugin applies the dall-e rules on every provider.
    """


@hookspec
def imagebridge_validate_request(
    provider: str,
    model: str,
    operation: Operation,
    request: ImageRequest,
    capabilities: Capabilities,
) -> Iterable[Problem] | None:
    """Return problems with a request that capabilities cannot express (or None).

    Called before any HTTP request; every problem from every plugin is reported together
    in one :class:`~imagebridge.InvalidRequestError`.
    """


@hookspec
def imagebridge_on_exchange(
    provider: str, request: httpx.Request, response: httpx.Response | None
) -> None:
    """Observe traffic: called with ``response=None`` before a request is sent (credentials
    not yet added) and again with the response. Observers must not change either."""
