"""Loading plugins and finding adapters.

Plugins are found through the ``imagebridge`` entry-point group (built-in and third-party
alike) and registered with a pluggy :class:`~pluggy.PluginManager`. Loading happens once,
on first use, not at ``import imagebridge``; ``IMAGEBRIDGE_LOAD_PLUGINS`` chooses which
entry points load.

Each entry-point plugin fails alone: one that cannot be imported, has a bad hook, raises in
or returns something other than adapter classes from ``imagebridge_adapters``, declares an
adapter API version this library does not support, or reuses a provider name already taken
is skipped, logged as a warning on the ``imagebridge`` logger and recorded as broken
(:meth:`Registry.plugins`); the other plugins keep working. Built-in plugins load first, so
a built-in provider name cannot be taken over. Plugins a program passes itself
(``create_registry(plugins=...)``, :meth:`Registry.register`) stay strict: the same faults
raise :class:`~imagebridge.PluginError`, naming the plugin.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

import httpx
import pluggy

from . import hookspecs
from ._adapter import ADAPTER_API_VERSION, Adapter
from ._capabilities import Capabilities
from ._errors import ConfigurationError, PluginError, Problem
from ._preflight import Operation
from ._request import ImageRequest

__all__ = [
    "ENTRY_POINT_GROUP",
    "LOAD_PLUGINS_ENV",
    "PluginInfo",
    "Registry",
    "create_registry",
    "default_registry",
]

ENTRY_POINT_GROUP = "imagebridge"
#: Unset: every entry point loads; a comma-separated list of entry-point names: only those;
#: empty: none.
LOAD_PLUGINS_ENV = "IMAGEBRIDGE_LOAD_PLUGINS"
#: The distribution that ships the built-in plugins; they load before any other.
BUILT_IN_DISTRIBUTION = "imagebridge"

logger = logging.getLogger("imagebridge")

#: (distribution, version) of the package that declares an entry point.
Origin: TypeAlias = tuple[str | None, str | None]


@dataclass(frozen=True)
class PluginInfo:
    """One plugin: the package it comes from, the providers it gives, or why it was skipped.

    ``distribution`` and ``version`` are those of the installed package that declares the
    entry point (None for a plugin a program registered itself). ``error`` is None for a
    working plugin; for a broken one, the reason it was skipped, on one line.
    """

    name: str
    distribution: str | None = None
    version: str | None = None
    providers: tuple[str, ...] = ()
    error: str | None = None

    @property
    def broken(self) -> bool:
        return self.error is not None

    @property
    def source(self) -> str:
        """``"imagebridge-pixelforge 0.1.0"``, or ``"registered in-process"``."""
        if self.distribution is None:
            return "registered in-process"
        return f"{self.distribution} {self.version}" if self.version else self.distribution


class Registry:
    """The plugins in use and the adapters they provide."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self._adapters: dict[str, type[Adapter]] | None = None
        # Declarations are static: computed once per (adapter class, base URL, model).
        self._capabilities: dict[tuple[type[Adapter], str, str], Capabilities] = {}
        # Entry-point plugins (loaded in isolation) and where each comes from.
        self._origins: dict[str, Origin] = {}
        self._broken: dict[str, PluginInfo] = {}
        self._provided_by: dict[str, str] = {}
        self._selection: str | None = None
        self._not_loaded: list[str] = []

    # -- registration -------------------------------------------------------------------------
    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object or module (e.g. in tests or an application).

        Strict, unlike entry points: a plugin with a bad hook raises
        :class:`~imagebridge.PluginError` here, and one whose ``imagebridge_adapters`` fails
        raises it when the adapters are next looked up."""
        _register(self.manager, plugin, name or _plugin_label(plugin))
        _check_pending(self.manager)
        self._reset()

    def unregister(self, name: str) -> None:
        self.manager.unregister(name=name)
        self._origins.pop(name, None)
        self._reset()

    def _reset(self) -> None:
        self._adapters = None
        self._capabilities.clear()

    def _load_entry_points(self) -> None:
        self._selection = os.environ.get(LOAD_PLUGINS_ENV)
        wanted = None
        if self._selection is not None:
            wanted = {name.strip() for name in self._selection.split(",") if name.strip()}
        installed = _entry_points()
        for entry_point, origin in installed.items():
            if wanted is None or entry_point.name in wanted:
                self._load(entry_point, origin)
            else:
                self._not_loaded.append(entry_point.name)
        # Ask each for its adapters now, so that a broken one is gone before any hook runs.
        self._collect()
        unknown = sorted((wanted or set()) - {entry_point.name for entry_point in installed})
        if unknown:
            logger.warning(
                "%s names %s, not an installed plugin (installed plugins: %s)",
                LOAD_PLUGINS_ENV,
                ", ".join(map(repr, unknown)),
                ", ".join(entry_point.name for entry_point in installed) or "none",
            )

    def _load(self, entry_point: importlib.metadata.EntryPoint, origin: Origin) -> None:
        """Import and register one entry point; on any failure, record it as broken."""
        try:
            plugin = entry_point.load()
        except Exception as exc:
            self._skip(
                entry_point.name, origin, f"cannot import {entry_point.value}: {_first_line(exc)}"
            )
            return
        if self.manager.is_registered(plugin) or self.manager.has_plugin(entry_point.name):
            return  # the same module named by two entry points
        try:
            _register(self.manager, plugin, entry_point.name)
            _check_pending(self.manager)
        except PluginError as exc:
            if self.manager.is_registered(plugin):
                self.manager.unregister(plugin)
            self._skip(entry_point.name, origin, _one_line(str(exc)))
            return
        self._origins[entry_point.name] = origin

    def _skip(self, name: str, origin: Origin, reason: str) -> None:
        info = PluginInfo(name, *origin, error=reason)
        self._broken[name] = info
        logger.warning("plugin %r (%s) is broken and was skipped: %s", name, info.source, reason)

    # -- what is installed ------------------------------------------------------------------------
    @property
    def adapters(self) -> dict[str, type[Adapter]]:
        """Provider name -> adapter class, sorted by name."""
        if self._adapters is None:
            self._adapters = self._collect()
        return self._adapters

    def _collect(self) -> dict[str, type[Adapter]]:
        found: dict[str, tuple[type[Adapter], str]] = {}
        impls = {i.plugin_name: i for i in self.manager.hook.imagebridge_adapters.get_hookimpls()}
        # Registration order, so that the first plugin to claim a provider name keeps it.
        for name, _plugin in self.manager.list_name_plugin():
            impl = impls.get(name)
            if impl is None:
                continue
            try:
                classes = _adapter_classes(impl, found)
            except PluginError as exc:
                if name not in self._origins:
                    raise
                self.manager.unregister(name=name)
                self._skip(name, self._origins.pop(name), _one_line(str(exc)))
                continue
            found.update((cls.name, (cls, name)) for cls in classes)
        self._provided_by = {provider: found[provider][1] for provider in found}
        return {provider: found[provider][0] for provider in sorted(found)}

    def plugins(self) -> list[PluginInfo]:
        """Every plugin, working or broken, by name: where it comes from (distribution and
        version), the providers it gives and, for a broken one, why it was skipped."""
        by_plugin: dict[str, list[str]] = {}
        for provider in self.adapters:
            by_plugin.setdefault(self._provided_by[provider], []).append(provider)
        working = [
            PluginInfo(name, *self._origins.get(name, (None, None)), tuple(by_plugin.get(name, ())))
            for name in self.plugin_names()
        ]
        return sorted([*working, *self._broken.values()], key=lambda info: info.name)

    def installed_summary(self) -> str:
        """The providers in use, and why others may be missing, in words (for messages)."""
        text = f"installed providers: {', '.join(self.adapters) or 'none'}"
        if self._selection is not None:
            effect = "limits which plugins load" if self._selection.strip(" ,") else "loads none"
            text += f"; {LOAD_PLUGINS_ENV}={self._selection!r} {effect}"
        if self._broken:
            text += f"; broken plugins skipped: {', '.join(sorted(self._broken))}"
        return text

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
            pass
        reason = ""
        broken = self._broken.get(name)
        if broken is not None:
            reason = f": plugin {name!r} ({broken.source}) is broken: {broken.error}"
        elif name in self._not_loaded:
            reason = f": plugin {name!r} is installed but {LOAD_PLUGINS_ENV} does not name it"
        raise ConfigurationError(f"unknown provider {name!r}{reason} ({self.installed_summary()})")

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
        adapter: Adapter,
        model: str,
        operation: Operation,
        request: ImageRequest,
        capabilities: Capabilities,
    ) -> list[Problem]:
        """The adapter's own problems with ``request``, then every plugin's."""
        problems = list(adapter.request_problems(model, operation, request, capabilities))
        results = self.manager.hook.imagebridge_validate_request(
            provider=adapter.name,
            model=model,
            operation=operation,
            request=request,
            capabilities=capabilities,
        )
        problems += [problem for result in results if result for problem in result]
        return problems

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
    """A new registry: entry-point plugins (unless ``entry_points=False``; those named by
    ``IMAGEBRIDGE_LOAD_PLUGINS`` when it is set), each loaded in isolation, plus
    ``plugins``, which are strict."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = Registry(manager)
    if entry_points:
        registry._load_entry_points()
    for plugin in plugins:
        _register(manager, plugin, _plugin_label(plugin))
    _check_pending(manager)
    return registry


def _adapter_classes(
    impl: pluggy.HookImpl, found: dict[str, tuple[type[Adapter], str]]
) -> list[type[Adapter]]:
    """The adapter classes one plugin's ``imagebridge_adapters`` returns, checked."""
    name = impl.plugin_name
    try:
        returned = impl.function() or ()
        listed = list(returned) if isinstance(returned, Iterable) else None
    except Exception as exc:
        raise PluginError(
            f"plugin {name!r} failed in imagebridge_adapters: {_first_line(exc)}"
        ) from exc
    if listed is None:
        raise PluginError(
            f"plugin {name!r} returned {returned!r} from imagebridge_adapters:"
            " expected a list of Adapter subclasses"
        )
    taken = {provider: owner for provider, owner in found.items()}
    for cls in listed:
        if not (isinstance(cls, type) and issubclass(cls, Adapter) and cls.name):
            raise PluginError(
                f"plugin {name!r} returned {cls!r} from imagebridge_adapters:"
                " expected an Adapter subclass with a non-empty name"
            )
        version = getattr(cls, "api_version", 1)
        if version != ADAPTER_API_VERSION:
            raise PluginError(
                f"plugin {name!r}: provider {cls.name!r} declares adapter API version"
                f" {version!r}; this imagebridge supports {ADAPTER_API_VERSION}"
            )
        if cls.name in taken and taken[cls.name][0] is not cls:
            raise PluginError(
                f"provider name {cls.name!r} is registered twice: by plugin"
                f" {taken[cls.name][1]!r} and by plugin {name!r}"
            )
        taken[cls.name] = (cls, name)
    return listed


def _entry_points() -> dict[importlib.metadata.EntryPoint, Origin]:
    """The group's entry points and where each comes from, the built-in ones first, each
    group by name."""
    seen: dict[str, importlib.metadata.EntryPoint] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        # The same distribution can be visible twice (e.g. an editable install and a build).
        seen.setdefault(entry_point.name, entry_point)
    # Reading a distribution's metadata parses its whole METADATA file (~0.6 ms each time
    # ``dist.name`` or ``dist.version`` is asked for): once per distribution, not per entry
    # point. Entry points of one distribution share its object.
    origins: dict[int, Origin] = {}
    found: dict[importlib.metadata.EntryPoint, Origin] = {}
    for entry_point in seen.values():
        dist = entry_point.dist
        if id(dist) not in origins:
            origins[id(dist)] = _origin(dist)
        found[entry_point] = origins[id(dist)]
    return dict(
        sorted(found.items(), key=lambda item: (item[1][0] != BUILT_IN_DISTRIBUTION, item[0].name))
    )


def _origin(dist: importlib.metadata.Distribution | None) -> Origin:
    if dist is None:
        return None, None
    metadata = dist.metadata
    # Metadata spells names as the package author typed them; compare them normalised.
    name = str(metadata["Name"]).lower().replace("_", "-").replace(".", "-")
    return name, metadata["Version"]


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0].strip()}" if lines else type(exc).__name__


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


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
