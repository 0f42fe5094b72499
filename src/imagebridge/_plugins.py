"""Loading plugins and finding adapters.

Plugins are found through the ``imagebridge`` entry-point group (built-in and third-party
alike) and registered with a pluggy :class:`~pluggy.PluginManager`. Loading happens once,
on first use, not at ``import imagebridge``. Every failure names the plugin it came from.
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Iterable
from typing import Any

import httpx
import pluggy

from . import hookspecs
from ._adapter import Adapter
from ._capabilities import Capabilities
from ._errors import ConfigurationError, PluginError, Problem
from ._preflight import Operation
from ._request import ImageRequest

ENTRY_POINT_GROUP = "imagebridge"


class Registry:
    """The plugins in use and the adapters they provide."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self._adapters: dict[str, type[Adapter]] | None = None
        # Declarations are static: computed once per (adapter class, base URL, model).
        self._capabilities: dict[tuple[type[Adapter], str, str], Capabilities] = {}

    # -- registration -------------------------------------------------------------------------
    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object or module (e.g. in tests or an application)."""
        _register(self.manager, plugin, name or _plugin_label(plugin))
        _check_pending(self.manager)
        self._adapters = None
        self._capabilities.clear()

    def unregister(self, name: str) -> None:
        self.manager.unregister(name=name)
        self._adapters = None
        self._capabilities.clear()

    @property
    def adapters(self) -> dict[str, type[Adapter]]:
        """Provider name -> adapter class, sorted by name."""
        if self._adapters is None:
            self._adapters = self._collect()
        return self._adapters

    def _collect(self) -> dict[str, type[Adapter]]:
        found: dict[str, tuple[type[Adapter], str]] = {}
        caller = self.manager.hook.imagebridge_adapters
        for impl in caller.get_hookimpls():
            try:
                result: Iterable[object] = impl.function() or ()  # type: ignore[assignment]
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} failed in imagebridge_adapters:"
                    f" {type(exc).__name__}: {exc}"
                ) from exc
            for cls in result:
                if not (isinstance(cls, type) and issubclass(cls, Adapter) and cls.name):
                    raise PluginError(
                        f"plugin {impl.plugin_name!r} returned {cls!r} from imagebridge_adapters:"
                        " expected an Adapter subclass with a non-empty name"
                    )
                if cls.name in found and found[cls.name][0] is not cls:
                    raise PluginError(
                        f"provider name {cls.name!r} is registered twice: by plugin"
                        f" {found[cls.name][1]!r} and by plugin {impl.plugin_name!r}"
                    )
                found[cls.name] = (cls, impl.plugin_name)
        return {name: found[name][0] for name in sorted(found)}

    def model_capabilities(self, provider: str, model: str | None = None) -> Capabilities:
        """What ``model`` (default: the provider's default model) supports on ``provider``
        at its default base URL, with plugin refinements applied."""
        adapter_cls = self.adapter(provider)
        adapter = adapter_cls(adapter_cls.default_base_url or "https://example.invalid/v1")
        return self.capabilities(adapter, model or adapter_cls.default_model)

    def adapter(self, name: str) -> type[Adapter]:
        try:
            return self.adapters[name]
        except KeyError:
            known = ", ".join(self.adapters) or "none"
            raise ConfigurationError(
                f"unknown provider {name!r} (installed providers: {known})"
            ) from None

    # -- hooks the core calls ---------------------------------------------------------------------
    def capabilities(self, adapter: Adapter, model: str) -> Capabilities:
        """What ``model`` supports on ``adapter``, with plugin refinements applied."""
        key = (type(adapter), adapter.base_url, model)
        cached = self._capabilities.get(key)
        if cached is None:
            base = adapter.capabilities(model)
            refined = self.manager.hook.imagebridge_model_capabilities(
                provider=adapter.name, model=model, capabilities=base
            )
            cached = refined if isinstance(refined, Capabilities) else base
            self._capabilities[key] = cached
        return cached

    def problems(
        self,
        provider: str,
        model: str,
        operation: Operation,
        request: ImageRequest,
        capabilities: Capabilities,
    ) -> list[Problem]:
        results = self.manager.hook.imagebridge_validate_request(
            provider=provider,
            model=model,
            operation=operation,
            request=request,
            capabilities=capabilities,
        )
        return [problem for result in results if result for problem in result]

    def observer(self, provider: str) -> Any:
        """A callable for the driver, or None when no plugin observes traffic."""
        hook = self.manager.hook.imagebridge_on_exchange
        if not hook.get_hookimpls():
            return None

        def observe(request: httpx.Request, response: httpx.Response | None) -> None:
            hook(provider=provider, request=request, response=response)

        return observe

    def plugin_names(self) -> list[str]:
        return sorted(
            name for name, plugin in self.manager.list_name_plugin() if plugin is not None
        )


def create_registry(*, entry_points: bool = True, plugins: Iterable[object] = ()) -> Registry:
    """A new registry: entry-point plugins (unless ``entry_points=False``) plus ``plugins``."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    if entry_points:
        for entry_point in _entry_points():
            try:
                plugin = entry_point.load()
            except Exception as exc:
                dist = entry_point.dist.name if entry_point.dist else "unknown package"
                raise PluginError(
                    f"plugin {entry_point.name!r} ({entry_point.value}, from {dist}) failed to"
                    f" load: {type(exc).__name__}: {exc}"
                ) from exc
            _register(manager, plugin, entry_point.name)
    for plugin in plugins:
        _register(manager, plugin, _plugin_label(plugin))
    _check_pending(manager)
    return Registry(manager)


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    seen: dict[str, importlib.metadata.EntryPoint] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        # The same distribution can be visible twice (e.g. an editable install and a build).
        seen.setdefault(entry_point.name, entry_point)
    return list(seen.values())


def _plugin_label(plugin: object) -> str:
    return str(getattr(plugin, "__name__", None) or type(plugin).__name__)


def _register(manager: pluggy.PluginManager, plugin: object, name: str) -> None:
    if manager.is_registered(plugin) or manager.has_plugin(name):
        return
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name!r} has a bad hook: {exc}") from exc


def _check_pending(manager: pluggy.PluginManager) -> None:
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        name = manager.get_name(exc.plugin) or _plugin_label(exc.plugin)
        raise PluginError(f"plugin {name!r} implements an unknown hook: {exc}") from exc


_default: Registry | None = None
_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry, loaded from entry points on first use."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = create_registry()
    return _default
