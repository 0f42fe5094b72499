"""Which client a command runs on, and the keys to keep out of what it prints.

The connection options (:class:`~imagebridge._cli._options.Connection`) name one provider
(a plain :class:`~imagebridge.ImageClient`, as always), an ordered list of them
(``--provider a,b``: one :class:`~imagebridge.Route` each, its key and base URL from the
provider's ``<PREFIX>_API_KEY`` and ``<PREFIX>_BASE_URL``) or a profile of the config file
(``--profile NAME``). :func:`resolve` checks them before anything is sent (unknown
providers, a profile that does not load); :func:`open_client` and
:func:`open_async_client` are the one place a command's client is made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagebridge import (
    AsyncImageClient,
    AsyncRoutedImageClient,
    ConfigurationError,
    ImageClient,
    Route,
    RoutedImageClient,
    default_registry,
)
from imagebridge._profiles import Profile, load_profile
from imagebridge._routes import Strategy

from ._options import EVERY_ROUTE, Connection

#: The client of ``generate``, ``edit`` and ``vary``: both offer ``stream``, ``submit``,
#: ``plan`` and ``timeout``.
Client = ImageClient | RoutedImageClient
AsyncClient = AsyncImageClient | AsyncRoutedImageClient


@dataclass(frozen=True)
class Target:
    """A checked connection: one provider (``routes`` empty) or routes, with the profile's
    strategy and cooldown when a profile gives them."""

    connection: Connection
    routes: tuple[Route, ...] = ()
    strategy: Strategy = "ordered"
    cooldown: float = 30.0
    profile: Profile | None = None

    @property
    def routed(self) -> bool:
        return bool(self.routes)

    @property
    def provider(self) -> str | None:
        """The one provider of a plain run (None on routes: each result names its own)."""
        return None if self.routed else self.connection.provider

    def route_list(self) -> tuple[Route, ...]:
        """The routes, or the one provider as a route (with --base-url/--api-key)."""
        if self.routes:
            return self.routes
        connection = self.connection
        assert connection.provider is not None  # resolve() refuses a run without one
        return (
            Route(
                provider=connection.provider,
                base_url=connection.base_url,
                api_key=connection.api_key,
            ),
        )

    def request_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """``fields`` with ``--option`` given to every route's provider on a routed run."""
        given = fields.get("provider_options") or {}
        if EVERY_ROUTE not in given:
            return fields
        options = given[EVERY_ROUTE]
        names = dict.fromkeys(route.provider for route in self.route_list())
        return {**fields, "provider_options": {name: dict(options) for name in names}}


def resolve(connection: Connection) -> Target:
    """The connection checked before anything is sent: a provider or a profile is named,
    every provider is installed (the registry's error otherwise), a profile loads."""
    registry = default_registry()
    if connection.profile is not None:
        profile = load_profile(connection.profile, connection.config)
        for route in profile.routes:
            registry.adapter(route.provider)
        return Target(connection, profile.routes, profile.strategy, profile.cooldown, profile)
    names = connection.providers
    if not names:
        raise ConfigurationError(
            "no provider: pass --provider NAME (or NAME,NAME,...), --profile NAME, or set"
            f" IMAGEBRIDGE_PROVIDER or IMAGEBRIDGE_PROFILE ({registry.installed_summary()})"
        )
    for name in names:
        registry.adapter(name)
    if len(names) == 1:
        return Target(connection)
    return Target(connection, tuple(Route(provider=name) for name in names))


def key_variable(route: Route) -> str:
    """The environment variable a route's key is read from (when it gives none itself)."""
    if route.api_key_env:
        return route.api_key_env
    return f"{_prefix(route.provider)}_API_KEY"


def base_url_variable(route: Route) -> str:
    return f"{_prefix(route.provider)}_BASE_URL"


def _prefix(provider: str) -> str:
    cls = default_registry().adapters.get(provider)
    if cls is not None:
        return cls.env_prefix()
    return provider.upper().replace("-", "_").replace(".", "_")


def run_secrets(source: Connection | Target) -> list[str]:
    """The keys this run may use, to scrub from anything printed: ``--api-key``, and for
    each route its own key or the variable it reads (``api_key_env``, else the provider's
    ``<PREFIX>_API_KEY``)."""
    if isinstance(source, Connection):
        connection = source
        routes = tuple(Route(provider=name) for name in connection.providers)
    else:
        connection = source.connection
        routes = source.route_list()
    secrets = [connection.api_key or ""]
    for route in routes:
        if route.api_key is not None:
            secrets.append(route.api_key.get_secret_value())
        secrets.append(os.environ.get(key_variable(route), ""))
        if route.api_key_env:  # the provider's own variable may hold a key too
            secrets.append(os.environ.get(f"{_prefix(route.provider)}_API_KEY", ""))
    return [secret for secret in secrets if secret]


def _open(
    cls: type[ImageClient] | type[AsyncImageClient],
    target: Target,
    timeout: float | None,
    options: dict[str, Any],
) -> Any:
    """The one place a command's client is made (``options``: the client's own)."""
    if timeout is not None:
        options["timeout"] = timeout
    if target.profile is not None:
        source: Path = target.profile.source
        return cls.from_profile(target.profile.name, config=source, **options)
    if target.routed:
        return cls.from_routes(
            target.routes, strategy=target.strategy, cooldown=target.cooldown, **options
        )
    connection = target.connection
    if not connection.provider:
        raise ConfigurationError(
            "no provider: pass --provider NAME or set IMAGEBRIDGE_PROVIDER"
            f" ({default_registry().installed_summary()})"
        )
    return cls(
        connection.provider, api_key=connection.api_key, base_url=connection.base_url, **options
    )


def open_client(target: Target, timeout: float | None = None, **options: Any) -> Client:
    """The synchronous client of ``target``: an ImageClient, or a routed one."""
    client: Client = _open(ImageClient, target, timeout, options)
    return client


def open_async_client(target: Target, timeout: float | None = None, **options: Any) -> AsyncClient:
    """The asynchronous client of ``target`` (``batch``)."""
    client: AsyncClient = _open(AsyncImageClient, target, timeout, options)
    return client


def open_plain_client(connection: Connection, timeout: float | None = None) -> ImageClient:
    """One provider's ImageClient, as the connection names it (``task``: a task is fetched
    from the provider that accepted it)."""
    client: ImageClient = _open(ImageClient, Target(connection), timeout, {})
    return client
