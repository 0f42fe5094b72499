"""Named profiles: routes and how to use them, in a TOML file (``imagebridge.toml``).

A profile names routes defined in the same file, in order, with the strategy and cooldown
of the routed client :meth:`ImageClient.from_profile` makes of them::

    [routes.main]                       # the table key is the route's name
    provider = "openai"
    model = "gpt-image-1"
    api_key_env = "OPENAI_API_KEY"      # the variable holding the key, never the key
    rate_limit = { requests_per_minute = 300, max_concurrent = 4 }

    [routes.backup]
    provider = "dimilinks"

    [profiles.default]
    routes = ["main", "backup"]
    strategy = "ordered"
    cooldown = 30

The file may also price models (:mod:`imagebridge._prices`): ``[prices.<provider>.<model>]``
tables, e.g. ``per_image = { "1024x1024" = 0.02 }``, which every client of a profile uses.

Where the file is looked for (:func:`find_config`): ``IMAGEBRIDGE_CONFIG`` (a path), else
``imagebridge.toml`` in the working directory or its nearest parent that has one, else
``imagebridge.toml`` in the user config directory (platformdirs: ``~/.config/imagebridge``
or ``$XDG_CONFIG_HOME/imagebridge`` on Linux, ``~/Library/Application Support/imagebridge``
on macOS, ``%LOCALAPPDATA%\\imagebridge`` on Windows).

A key is never read from a file: a file holding one is shared, committed and backed up. Any
key named like a secret (``api_key``, ``key``, ``token``, ``secret``, ``password``,
``authorization``, or a name ending in one of them such as ``access_token``; any case, at
any depth, ``provider_options`` included) is refused with an error that names the file, the
table and the key's *name*, never its value. Every other unknown key is refused too (a typo
must not silently drop a setting), naming its table and the keys allowed there. Messages
show a value only when it cannot be a key: numbers, and a strategy that looks like a word.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._errors import ConfigurationError
from ._limits import RateLimit
from ._prices import PriceBook
from ._routes import STRATEGIES, Route, Strategy
from ._toml import toml

__all__ = [
    "CONFIG_ENV",
    "CONFIG_NAME",
    "ConfigFile",
    "Profile",
    "find_config",
    "load_config",
    "load_profile",
    "user_config_file",
]

CONFIG_NAME = "imagebridge.toml"
#: The variable naming the file to read, before any other place is looked at.
CONFIG_ENV = "IMAGEBRIDGE_CONFIG"
DEFAULT_COOLDOWN = 30.0

_TOP_KEYS = ("routes", "profiles", "prices")
_ROUTE_KEYS = (
    "provider",
    "model",
    "base_url",
    "api_key_env",
    "weight",
    "provider_options",
    "rate_limit",
)
_RATE_LIMIT_KEYS = ("requests_per_minute", "max_concurrent")
_PROFILE_KEYS = ("routes", "strategy", "cooldown")
_SECRET_NAMES = ("api_key", "apikey", "key", "token", "secret", "password", "authorization")
_SECRET_SUFFIXES = ("_api_key", "_apikey", "_token", "_secret", "_password", "_authorization")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Za-z_-]{1,20}")
_USE_ENV = (
    "a key is never read from a file: put it in an environment variable and name that"
    ' variable in the route: api_key_env = "VARIABLE"'
)


@dataclass(frozen=True)
class Profile:
    """A profile of a config file: its routes (in order), strategy and cooldown, and the
    file it came from. ``ImageClient.from_profile`` builds a routed client of it."""

    name: str
    routes: tuple[Route, ...]
    strategy: Strategy
    cooldown: float
    source: Path
    #: The file's ``[prices.<provider>.<model>]`` tables (None: it has none).
    prices: PriceBook | None = None


@dataclass(frozen=True)
class ConfigFile:
    """A checked config file: its routes and profiles, by name."""

    path: Path
    routes: dict[str, Route]
    profiles: dict[str, Profile]
    #: The file's ``[prices.<provider>.<model>]`` tables (None: it has none).
    prices: PriceBook | None = None

    def profile(self, name: str) -> Profile:
        """The profile ``name``; a :class:`ConfigurationError` listing the file's profiles
        when it has none of that name."""
        try:
            return self.profiles[name]
        except KeyError:
            defined = ", ".join(repr(n) for n in self.profiles) or "none"
            raise ConfigurationError(
                f"{self.path}: no profile {name!r} (the profiles in this file: {defined})"
            ) from None


# -- where the file is ------------------------------------------------------------------------
def user_config_file() -> Path:
    """``imagebridge.toml`` in the user config directory (platformdirs), existing or not."""
    import platformdirs

    return platformdirs.user_config_path("imagebridge", appauthor=False) / CONFIG_NAME


def _configured() -> Path | None:
    """The path ``IMAGEBRIDGE_CONFIG`` names (None when unset or blank)."""
    value = os.environ.get(CONFIG_ENV, "").strip()
    return Path(value).expanduser() if value else None


def find_config() -> Path | None:
    """The config file to read: the one ``IMAGEBRIDGE_CONFIG`` names (a
    :class:`ConfigurationError` when it is not a file), else ``imagebridge.toml`` in the
    working directory or its nearest parent that has one, else the user config directory's
    (:func:`user_config_file`) if it exists, else None."""
    configured = _configured()
    if configured is not None:
        if not configured.is_file():
            raise ConfigurationError(
                f"{CONFIG_ENV}={str(configured)!r}: no such file (point it at an"
                f" {CONFIG_NAME}, or unset it to look in the usual places)"
            )
        return configured
    cwd = Path.cwd()
    for folder in (cwd, *cwd.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    user = user_config_file()
    return user if user.is_file() else None


def load_config(path: str | os.PathLike[str] | None = None) -> ConfigFile:
    """Read and check a config file: ``path``, or the one :func:`find_config` finds (a
    :class:`ConfigurationError` naming the places looked at when there is none)."""
    if path is None:
        found = find_config()
        if found is None:
            raise ConfigurationError(
                f"no {CONFIG_NAME} found: looked at {CONFIG_ENV} (not set), {CONFIG_NAME} in"
                f" {Path.cwd()} and its parents, and {user_config_file()}; create one or pass"
                " config="
            )
        path = found
    file = Path(path).expanduser()
    reader = toml()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"{file}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{file}: not UTF-8 text") from None
    try:
        data = reader.loads(text)
    except reader.TOMLDecodeError as error:
        raise ConfigurationError(f"{file}: not valid TOML: {error}") from None
    return _parse(file, data)


def load_profile(name: str, config: str | os.PathLike[str] | None = None) -> Profile:
    """The profile ``name`` of the file ``config`` (default: :func:`find_config`'s)."""
    return load_config(config).profile(name)


def routed_options(
    name: str, config: str | os.PathLike[str] | None, options: dict[str, Any]
) -> tuple[tuple[Route, ...], dict[str, Any]]:
    """What ``from_profile()`` passes to ``from_routes()``: the profile's routes, and the
    options with its strategy, cooldown and prices (the caller's options win)."""
    profile = load_profile(name, config)
    options = {"strategy": profile.strategy, "cooldown": profile.cooldown, **options}
    if profile.prices is not None:
        options.setdefault("prices", profile.prices)
    return profile.routes, options


# -- checking what the file says ----------------------------------------------------------------
def _parse(file: Path, data: dict[str, Any]) -> ConfigFile:
    _refuse_secrets(file, data, ())
    _only(file, "the top level", data, _TOP_KEYS)
    routes_table = _table(file, "routes", "routes.NAME", data.get("routes", {}))
    profiles_table = _table(file, "profiles", "profiles.NAME", data.get("profiles", {}))
    routes = {name: _route(file, name, table) for name, table in routes_table.items()}
    prices = PriceBook.from_tables(data["prices"], origin=str(file)) if "prices" in data else None
    profiles = {
        name: dataclasses.replace(_profile(file, name, table, routes), prices=prices)
        for name, table in profiles_table.items()
    }
    return ConfigFile(path=file, routes=routes, profiles=profiles, prices=prices)


def _is_secret_name(key: str) -> bool:
    name = key.strip().lower().replace("-", "_")
    return name in _SECRET_NAMES or name.endswith(_SECRET_SUFFIXES)


def _where(loc: tuple[str, ...]) -> str:
    """How a message names the table at ``loc`` (``("routes", "main")``: route 'main')."""
    if len(loc) >= 2 and loc[0] == "routes":
        return f"route {loc[1]!r}"
    if len(loc) >= 2 and loc[0] == "profiles":
        return f"profile {loc[1]!r}"
    return f"[{'.'.join(loc)}]" if loc else "the top level"


def _refuse_secrets(file: Path, value: Any, loc: tuple[str, ...]) -> None:
    """Refuse any key named like a secret anywhere in ``value`` (never showing its value)."""
    if isinstance(value, list):
        for item in value:
            _refuse_secrets(file, item, loc)
        return
    if not isinstance(value, Mapping):
        return
    for key, item in value.items():
        # A route or profile may be named "token": its name is not a setting.
        naming = loc in (("routes",), ("profiles",)) and isinstance(item, dict)
        if _is_secret_name(key) and not naming:
            owner = loc[:2] if loc[:1] in (("routes",), ("profiles",)) else loc
            inner = ".".join((*loc[len(owner) :], key))
            raise ConfigurationError(f"{file}: {_where(owner)}: {inner!r}: {_USE_ENV}")
        _refuse_secrets(file, item, (*loc, key))


def _only(file: Path, where: str, table: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigurationError(
                f"{file}: {where}: unknown key {key!r} (the keys allowed there:"
                f" {', '.join(allowed)})"
            )


def _table(file: Path, what: str, header: str, value: Any) -> dict[str, Any]:
    """``value`` if it is a table; else an error: ``what`` is not one (``[header]``)."""
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"{file}: {what} is {_kind(value)}: it must be a table ([{header}])"
        )
    return value


def _kind(value: Any) -> str:
    """What a value is, without showing it (a string may be a pasted key)."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_ROUTE_ALLOWED = {
    "provider": "a provider name (a non-empty string)",
    "model": "a model name (a string)",
    "base_url": "a URL (a string)",
    "api_key_env": "an environment variable name (a string)",
    "weight": "a number more than 0",
    "provider_options": "a table of this provider's options",
    "rate_limit": f"a table of {' and/or '.join(_RATE_LIMIT_KEYS)}",
}


def _route(file: Path, name: str, value: Any) -> Route:
    """Build route ``name`` from its table, every problem in the file's own words."""
    where = f"route {name!r}"
    table = _table(file, where, f"routes.{name}", value)
    _only(file, where, table, _ROUTE_KEYS)

    def bad(key: str) -> ConfigurationError:
        return ConfigurationError(
            f"{file}: {where}: {key} is {_kind(table[key])}: it must be {_ROUTE_ALLOWED[key]}"
        )

    if "provider" not in table:
        raise ConfigurationError(
            f"{file}: {where}: provider is missing ({_ROUTE_ALLOWED['provider']})"
        )
    for key in ("provider", "model", "base_url", "api_key_env"):
        if key in table and not isinstance(table[key], str):
            raise bad(key)
    if not table["provider"].strip():
        raise bad("provider")
    env = table.get("api_key_env")
    if env is not None and not _ENV_NAME.fullmatch(env):
        raise ConfigurationError(
            f"{file}: {where}: api_key_env is not an environment variable name (letters,"
            " digits and _, not starting with a digit); its value is not shown: it may be a"
            f" key. {_USE_ENV[0].upper()}{_USE_ENV[1:]}"
        )
    if "weight" in table and not (_number(table["weight"]) and table["weight"] > 0):
        raise bad("weight")
    if "provider_options" in table and not isinstance(table["provider_options"], dict):
        raise bad("provider_options")
    fields: dict[str, Any] = {key: table[key] for key in _ROUTE_KEYS if key in table}
    fields["name"] = name
    if "rate_limit" in table:
        fields["rate_limit"] = _rate_limit(file, where, table["rate_limit"])
    try:
        return Route(**fields)
    except ValidationError as error:
        raise ConfigurationError(_problems(file, where, error, table)) from None


def _rate_limit(file: Path, where: str, value: Any) -> RateLimit:
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"{file}: {where}: rate_limit is {_kind(value)}: it must be"
            f" {_ROUTE_ALLOWED['rate_limit']}"
        )
    _only(file, f"{where}: rate_limit", value, _RATE_LIMIT_KEYS)
    rpm, most = value.get("requests_per_minute"), value.get("max_concurrent")
    if rpm is not None and not (_number(rpm) and rpm > 0):
        raise ConfigurationError(
            f"{file}: {where}: rate_limit.requests_per_minute is {_kind(rpm)}: it must be a"
            " positive number of requests per minute"
        )
    if most is not None and not (
        isinstance(most, int) and not isinstance(most, bool) and most >= 1
    ):
        raise ConfigurationError(
            f"{file}: {where}: rate_limit.max_concurrent is {_kind(most)}: it must be a whole"
            " number of jobs, 1 or more"
        )
    return RateLimit(requests_per_minute=rpm, max_concurrent=most)


def _problems(file: Path, where: str, error: ValidationError, table: Mapping[str, Any]) -> str:
    """A Route's validation errors by field, without pydantic's echo of the input."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        key = ".".join(str(part) for part in item["loc"]) or "(the route)"
        field = str(item["loc"][0]) if item["loc"] else ""
        shown = f" is {_kind(table[field])}" if field in table else ""
        allowed = f" (allowed: {_ROUTE_ALLOWED[field]})" if field in _ROUTE_ALLOWED else ""
        lines.append(f"{key}{shown}: {item['msg']}{allowed}")
    return f"{file}: {where}: " + "; ".join(lines)


def _profile(file: Path, name: str, value: Any, routes: Mapping[str, Route]) -> Profile:
    where = f"profile {name!r}"
    table = _table(file, where, f"profiles.{name}", value)
    _only(file, where, table, _PROFILE_KEYS)
    names = table.get("routes")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        shown = "missing" if names is None else "empty" if names == [] else _kind(names)
        raise ConfigurationError(
            f"{file}: {where}: routes is {shown}: it must be a non-empty array of route"
            ' names, e.g. routes = ["main", "backup"]'
        )
    defined = ", ".join(repr(n) for n in routes) or "none"
    for route in names:
        if route not in routes:
            raise ConfigurationError(
                f"{file}: {where}: no route {route!r} in this file (the routes defined:"
                f" {defined}; define it as [routes.{route}])"
            )
        if names.count(route) > 1:
            raise ConfigurationError(f"{file}: {where}: names route {route!r} more than once")
    strategy = table.get("strategy", "ordered")
    if strategy not in STRATEGIES:
        word = isinstance(strategy, str) and _WORD.fullmatch(strategy)
        raise ConfigurationError(
            f"{file}: {where}: strategy is {repr(strategy) if word else _kind(strategy)}: it"
            " must be one of"
            f" {', '.join(repr(s) for s in STRATEGIES)}"
        )
    cooldown = table.get("cooldown", DEFAULT_COOLDOWN)
    if not (_number(cooldown) and cooldown >= 0):
        raise ConfigurationError(
            f"{file}: {where}: cooldown is {_kind(cooldown)}: it must be 0 or more seconds"
        )
    return Profile(
        name=name,
        routes=tuple(routes[route] for route in names),
        strategy=strategy,
        cooldown=float(cooldown),
        source=file,
    )
