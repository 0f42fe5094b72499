"""Options shared by ``generate`` and ``edit``, and turning them into canonical fields."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from imagebridge._fields import FieldSpec
from imagebridge._request import FIELDS, VaryFields

from ._output import OutputMode
from ._progress import PROGRESS_MODES

F = TypeVar("F", bound=Callable[..., Any])

_URL_PREFIXES = ("http://", "https://", "data:", "blob:")


def image_input(value: str) -> str | Path:
    """A URL (``http(s)://``, ``data:``, ``blob:``) as given; anything else as a local path."""
    if value.strip()[:8].lower().startswith(_URL_PREFIXES):
        return value
    return Path(value)


def parse_provider_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value): the value as JSON when it parses, else the string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise click.BadParameter(f"expected KEY=VALUE, got {text!r}", param_hint="'--option'")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def _options_callback(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, Any]:
    return dict(parse_provider_option(value) for value in values)


def _apply(function: F, decorators: Sequence[Callable[[F], F]]) -> F:
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def connection_options(function: F) -> F:
    """--provider, --base-url, --api-key, --profile, --config."""
    return _apply(function, [*_provider_options(), *profile_options()])


def _provider_options() -> list[Callable[[F], F]]:
    return [
        click.option(
            "--provider",
            "-p",
            envvar="IMAGEBRIDGE_PROVIDER",
            show_envvar=True,
            metavar="NAME[,NAME...]",
            help="Provider name (see 'imagebridge providers'), or a comma-separated list of"
            " them: routes tried in that order, each with its $<PROVIDER>_API_KEY and"
            " $<PROVIDER>_BASE_URL.",
        ),
        click.option(
            "--base-url",
            metavar="URL",
            help="API base URL (default: $<PROVIDER>_BASE_URL, else the provider's own).",
        ),
        click.option(
            "--api-key",
            metavar="KEY",
            help="API key (default: $<PROVIDER>_API_KEY). Never printed.",
        ),
    ]


def profile_options() -> list[Callable[[F], F]]:
    """--profile and --config: the routes of a profile of the config file."""
    return [
        click.option(
            "--profile",
            envvar="IMAGEBRIDGE_PROFILE",
            show_envvar=True,
            metavar="NAME",
            help="Run on the routes of this profile of the config file (not with --provider).",
        ),
        click.option(
            "--config",
            envvar="IMAGEBRIDGE_CONFIG",
            show_envvar=True,
            type=click.Path(dir_okay=False),
            metavar="PATH",
            help="The config file of --profile (default: the one imagebridge finds).",
        ),
    ]


def _field_option(spec: FieldSpec) -> Callable[[F], F]:
    """The flag of one canonical field, from the field table."""
    canonical = spec.canonical
    kind: Any = str
    if canonical.choice:
        kind = click.Choice(spec.values())
    elif _is_int(spec.annotation):
        kind = int
    return click.option(
        *canonical.flags,
        spec.name,
        type=kind,
        metavar=canonical.metavar or (None if canonical.choice else spec.name.upper()),
        help=canonical.help,
    )


def _is_int(annotation: Any) -> bool:
    return annotation is int or int in typing.get_args(annotation)


#: The canonical fields that have a flag of their own, in the table's order.
_FLAG_FIELDS = tuple(spec for spec in FIELDS if spec.canonical.flags)


def request_options(function: F) -> F:
    """The canonical request fields (each field's flag is declared beside
    :class:`~imagebridge.ImageRequest`), and --option for provider-only options."""
    return _apply(function, _options_of(_FLAG_FIELDS))


def variation_options(function: F) -> F:
    """The canonical fields a variation takes (those of :class:`VaryFields`), and --option."""
    names = set(typing.get_type_hints(VaryFields))
    return _apply(function, _options_of([spec for spec in _FLAG_FIELDS if spec.name in names]))


def _options_of(specs: Sequence[FieldSpec]) -> list[Callable[[F], F]]:
    return [
        *(_field_option(spec) for spec in specs),
        click.option(
            "--option",
            "provider_options",
            multiple=True,
            metavar="KEY=VALUE",
            callback=_options_callback,
            help="Provider-only option (repeatable); VALUE is JSON if it parses, else text.",
        ),
    ]


def run_options(function: F) -> F:
    """--output, --json, --json-lines, --timeout, --no-wait, --progress, --verbose."""
    json_lines = click.option(
        "--json-lines",
        "json_lines",
        is_flag=True,
        help="Print one JSON object per event as it happens (accepted, progress,"
        " partial_image, completed; an error last), for scripts.",
    )
    no_wait = click.option(
        "--no-wait", is_flag=True, help="Submit an asynchronous task, print its id and exit."
    )
    dry_run = click.option(
        "--dry-run",
        is_flag=True,
        help="Print what the call would do (each HTTP request with its wire fields, keys and"
        " image bytes left out; the adaptations; the calls; the cost estimate) and exit:"
        " nothing is sent.",
    )
    options = _output_options(no_wait, dry_run, json_lines=json_lines)
    return _apply(function, [*cost_options(), *options])


def cost_options() -> list[Callable[[F], F]]:
    """--budget, --allow-unknown-prices, --prices (generate, edit, vary, batch)."""
    return [
        click.option(
            "--budget",
            type=click.FloatRange(min=0),
            metavar="USD",
            help="Refuse, before sending, a job whose cost estimate would take the spend of"
            " this run over USD (exit 2, naming the estimate and what is left).",
        ),
        click.option(
            "--allow-unknown-prices",
            is_flag=True,
            help="With --budget: run jobs whose price is not known (counted as 0, warned)"
            " instead of refusing them.",
        ),
        click.option(
            "--prices",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            metavar="FILE",
            help="A price table (TOML or JSON) over the models' declared prices.",
        ),
    ]


def cost_flags(function: F) -> F:
    """:func:`cost_options` as one decorator (``batch``)."""
    return _apply(function, cost_options())


def client_costs(params: dict[str, Any]) -> dict[str, Any]:
    """The client options of the cost flags: one ``Budget`` for the whole run (shared by
    every route's client), and the price table."""
    options: dict[str, Any] = {}
    if params.get("budget") is not None:
        from imagebridge import Budget

        unknown = bool(params.get("allow_unknown_prices"))
        options["budget"] = Budget(str(params["budget"]), allow_unknown=unknown)
    elif params.get("allow_unknown_prices"):
        raise click.UsageError("--allow-unknown-prices only means something with --budget")
    if params.get("prices") is not None:
        options["prices"] = params["prices"]
    return options


def fetch_options(function: F) -> F:
    """--output, --json, --timeout, --progress, --verbose: :func:`run_options` without
    --no-wait (for ``task``, whose own --wait/--no-wait pair means something else) and
    --json-lines (a fetch has no stream of events)."""
    return _apply(function, _output_options())


def _output_options(
    *extra: Callable[[F], F], json_lines: Callable[[F], F] | None = None
) -> list[Callable[[F], F]]:
    return [
        click.option(
            "--output",
            "-o",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path(),
            show_default="current directory",
            help="Directory to save the images in (created if missing).",
        ),
        click.option("--json", "json_mode", is_flag=True, help="Print one JSON object."),
        *([json_lines] if json_lines else []),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            metavar="SECONDS",
            help="Overall deadline of the job (submit, polling, download).",
        ),
        *extra,
        click.option(
            "--progress",
            "progress",
            type=click.Choice(PROGRESS_MODES),
            default="auto",
            show_default=True,
            help="Progress on stderr: auto (a live display on a terminal, else none unless"
            " --verbose), plain (one line per change, for logs) or off.",
        ),
        click.option(
            "--verbose", "-v", is_flag=True, help="Log requests and responses (keys redacted)."
        ),
    ]


@dataclass(frozen=True)
class Connection:
    """Where a command sends its requests: one provider (``--provider NAME``, with
    ``--base-url``/``--api-key``), an ordered list of them (``--provider a,b``) or the
    routes of a profile (``--profile NAME``, from ``--config`` or the file found)."""

    provider: str | None
    base_url: str | None
    api_key: str | None
    profile: str | None = None
    config: str | None = None

    @property
    def providers(self) -> list[str]:
        """The provider names of ``--provider``, in their order (empty with a profile)."""
        if self.profile is not None or not self.provider:
            return []
        return [name.strip() for name in self.provider.split(",")]

    @property
    def routed(self) -> bool:
        """Whether the command runs on routes (a profile or several providers)."""
        return self.profile is not None or len(self.providers) > 1


#: The ``provider_options`` key of ``--option`` on a routed run: every route's provider
#: (see :meth:`imagebridge._cli._connect.Target.request_fields`).
EVERY_ROUTE = ""


def connection_of(params: dict[str, Any]) -> Connection:
    """The connection options as a :class:`Connection`, their combinations checked.

    A value given on the command line wins over one from the environment: ``--provider``
    over ``$IMAGEBRIDGE_PROFILE``, ``--profile`` over ``$IMAGEBRIDGE_PROVIDER``; both on
    the command line (or both only in the environment) is a usage error. With a list of
    providers or a profile, ``--base-url`` and ``--api-key`` are refused: each route's
    come from its provider's variables (or the profile).
    """
    provider: str | None = params.get("provider")
    profile: str | None = params.get("profile")
    if provider is not None and profile is not None:
        given = _from_command_line("provider"), _from_command_line("profile")
        if given == (True, False):
            profile = None
        elif given == (False, True):
            provider = None
        else:
            where = "given" if given[0] else "set (IMAGEBRIDGE_PROVIDER, IMAGEBRIDGE_PROFILE)"
            raise click.UsageError(
                f"--provider and --profile are both {where}: a profile names its own"
                " providers, choose one"
            )
    connection = Connection(
        provider, params.get("base_url"), params.get("api_key"), profile, params.get("config")
    )
    names = connection.providers
    if any(not name for name in names):
        raise click.UsageError(
            f"--provider {provider!r} has an empty name: give NAME or NAME,NAME,..."
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise click.UsageError(
            f"--provider names {', '.join(repeated)} more than once: each provider is one"
            " route (for two routes of one provider, use a profile)"
        )
    if connection.routed:
        for option, value in (
            ("--base-url", connection.base_url),
            ("--api-key", connection.api_key),
        ):
            if value:
                raise click.UsageError(
                    f"{option} is for one provider: with {_routes_of(connection)} each route's"
                    " comes from <PROVIDER>_BASE_URL and <PROVIDER>_API_KEY (or the profile)"
                )
    return connection


def _routes_of(connection: Connection) -> str:
    if connection.profile is not None:
        return f"--profile {connection.profile}"
    return f"--provider {','.join(connection.providers)}"


def _from_command_line(name: str) -> bool:
    """Whether the parameter ``name`` of the running command was given on the command line."""
    context = click.get_current_context(silent=True)
    if context is None:
        return True
    return context.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


@dataclass(frozen=True)
class RunSettings:
    output: Path
    json_mode: bool
    timeout: float | None
    no_wait: bool
    verbose: bool
    json_lines: bool = False
    progress: str = "auto"
    dry_run: bool = False
    #: The client options of --budget and --prices (:func:`client_costs`).
    costs: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> OutputMode:
        """What stdout gets (see :data:`~imagebridge._cli._output.OutputMode`)."""
        if self.json_lines:
            return "lines"
        return "json" if self.json_mode else "human"


def split_fields(params: dict[str, Any], connection: Connection) -> dict[str, Any]:
    """The canonical fields the user set (the provider's defaults apply to the rest), and
    ``--option``s under ``provider_options[provider]`` (on routes: every route's)."""
    fields = {
        spec.name: params[spec.name] for spec in _FLAG_FIELDS if params.get(spec.name) is not None
    }
    if params.get("provider_options"):
        key = EVERY_ROUTE if connection.routed else connection.provider or ""
        fields["provider_options"] = {key: params["provider_options"]}
    return fields


def split_params(params: dict[str, Any]) -> tuple[Connection, dict[str, Any], RunSettings]:
    """The click parameters as connection settings, canonical fields and run settings.

    Only the fields the user set are returned, so the provider's defaults apply to the rest;
    provider options go to ``provider_options[provider]``.
    """
    connection = connection_of(params)
    fields = split_fields(params, connection)
    if params["json_mode"] and params.get("json_lines"):
        raise click.UsageError("--json and --json-lines cannot be used together: choose one")
    settings = RunSettings(
        output=params["output"],
        json_mode=params["json_mode"],
        timeout=params["timeout"],
        no_wait=params["no_wait"],
        verbose=params["verbose"],
        json_lines=params.get("json_lines", False),
        progress=params.get("progress", "auto"),
        dry_run=params.get("dry_run", False),
        costs=client_costs(params),
    )
    if settings.dry_run and settings.json_lines:
        raise click.UsageError("--dry-run sends nothing, so it has no events: use --json")
    return connection, fields, settings
