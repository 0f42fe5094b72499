"""``imagebridge routes``: the routes a command would run on (a profile's, or those of
``--provider a,b``), and with ``--check PROMPT`` which of them can honour a request, in the
order they would be tried. Nothing is ever sent."""

from __future__ import annotations

import json
import os
from typing import Any

import click
from pydantic import SecretStr

from imagebridge import Route, RouteCheck, RoutedImageClient, default_registry

from ._connect import Target, base_url_variable, key_variable, open_client, resolve, run_secrets
from ._errors import ErrorContext, ExitCode, report_errors
from ._options import connection_of, connection_options, request_options, split_fields
from ._terminal import echo


@click.command("routes")
@connection_options
@click.option(
    "--check",
    "prompt",
    metavar="PROMPT",
    help="Also show, in the order they would be tried, whether each route can honour this"
    " request (PROMPT with the request options below) and why not. Nothing is sent.",
)
@request_options
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object.")
def routes(prompt: str | None, json_mode: bool, **params: Any) -> int:
    """Show the routes of --profile NAME (or of --provider a,b): for each its name,
    provider, model (or the provider's default), base URL, the variable its API key is read
    from and whether it is set (never the key), rate limit and weight; and the profile's
    strategy and cooldown.

    With --check PROMPT and the request options of 'generate', also whether each route
    can honour that request, in the order they would be tried, and the reason of each that
    cannot (a route whose API key is not set cannot); the exit code is 0 when at least one
    can, 2 when none can. Nothing is sent.

    With --json one object: {"profile", "config", "strategy", "cooldown", "routes": [{"name",
    "provider", "model", "default_model", "base_url", "api_key_env", "api_key_set",
    "rate_limit", "weight"}, ...]}, each route with "able" and "reason" after --check.

    \b
    Examples:
      imagebridge routes --profile default
      imagebridge routes --provider openai,dimilinks --check "a poster" --size 16:9 --resolution 4k
    """
    connection = connection_of(params)
    fields = split_fields(params, connection)
    if prompt is None and fields:
        given = ", ".join(sorted(fields))
        raise click.UsageError(f"request options ({given}) are for --check PROMPT")
    with report_errors(ErrorContext(json_mode=json_mode, provider=connection.provider)):
        target = resolve(connection)
    listed = target.route_list()
    checks: list[RouteCheck] | None = None
    if prompt is not None:
        context = ErrorContext(json_mode=json_mode, secrets=run_secrets(target))
        with report_errors(context):
            checks = _check(target, listed, prompt, target.request_fields(fields))
        by_name = {route.label: route for route in listed}
        listed = tuple(by_name[check.route.label] for check in checks)
    described = [_describe(route) for route in listed]
    if checks is not None:
        for entry, check in zip(described, checks, strict=True):
            entry.update(able=check.able, reason=check.reason)
            keyless = entry["api_key_env"] and not entry["api_key_set"]
            if check.able and keyless and entry["requires_api_key"]:
                reason = f"its API key is not set (${entry['api_key_env']})"
                entry.update(able=False, reason=reason)
    code = ExitCode.OK
    if checks is not None and not any(entry["able"] for entry in described):
        code = ExitCode.INVALID
    if json_mode:
        click.echo(json.dumps({**_header(target), "routes": described}, indent=2))
    else:
        echo(_render(target, described, checks is not None), keep_lines=True)
    if code != ExitCode.OK:
        echo("imagebridge: no route can honour this request", err=True)
    return code


#: The key of a route whose own is not set, for its pre-flight only: nothing is sent, and
#: the route is then shown as unable for want of its key.
_NO_KEY = SecretStr("imagebridge-routes-check-sends-nothing")


def _check(
    target: Target, listed: tuple[Route, ...], prompt: str, fields: dict[str, Any]
) -> list[RouteCheck]:
    """Each route's pre-flight of the request, as ``generate`` streams it (no I/O), in
    the order they would be tried. A route without its key is still pre-flighted."""
    routes = tuple(_checkable(route) for route in listed)
    routed = Target(target.connection, routes, target.strategy, target.cooldown)
    with open_client(routed, journal=False) as client:
        assert isinstance(client, RoutedImageClient)  # a Target with routes
        return client.routes_for(prompt, stream=True, **fields)


def _checkable(route: Route) -> Route:
    if route.api_key is not None or os.environ.get(key_variable(route), "").strip():
        return route
    return route.model_copy(update={"api_key": _NO_KEY, "api_key_env": None})


def _header(target: Target) -> dict[str, Any]:
    profile = target.profile
    return {
        "profile": profile.name if profile else None,
        "config": str(profile.source) if profile else None,
        "strategy": target.strategy,
        "cooldown": target.cooldown,
    }


def _describe(route: Route) -> dict[str, Any]:
    """A JSON-friendly description of one route: where it goes and where its key is read
    from (the variable's name and whether it is set, never its value)."""
    cls = default_registry().adapters.get(route.provider)
    default_model = cls.default_model if cls else None
    model = route.model or default_model or None
    url_variable = base_url_variable(route)
    base_url = (
        route.base_url or os.environ.get(url_variable) or (cls.default_base_url if cls else None)
    )
    if route.api_key is not None:
        variable, is_set = None, True
    else:
        variable = key_variable(route)
        is_set = bool(os.environ.get(variable, "").strip())
    return {
        "name": route.label,
        "provider": route.provider,
        "model": model,
        "default_model": route.model is None,
        "base_url": base_url or None,
        "base_url_env": url_variable,
        "base_url_from": _base_url_from(route, url_variable),
        "api_key_env": variable,
        "api_key_set": is_set,
        "requires_api_key": bool(cls.requires_api_key) if cls else True,
        "rate_limit": route.rate_limit.describe() if route.rate_limit else None,
        "weight": route.weight,
    }


def _base_url_from(route: Route, variable: str) -> str:
    if route.base_url is not None:
        return "route"
    return "environment" if os.environ.get(variable) else "default"


def _render(target: Target, described: list[dict[str, Any]], checked: bool) -> str:
    """The listing as aligned plain text, one block per route (as ``providers`` prints)."""
    profile = target.profile
    if profile is not None:
        head = f"profile {profile.name} ({profile.source})"
    else:
        head = f"--provider {','.join(route.provider for route in target.route_list())}"
    head += f": strategy {target.strategy}, cooldown {target.cooldown:g}s"
    if checked:
        head += "; in the order they would be tried"
    blocks = [head]
    for entry in described:
        blocks.append("\n".join(_route_lines(entry, checked)))
    return "\n\n".join(blocks)


def _route_lines(entry: dict[str, Any], checked: bool) -> list[str]:
    model = entry["model"] or "(the provider's default)"
    if entry["default_model"] and entry["model"]:
        model += " (the provider's default)"
    url = entry["base_url"] or "(none)"
    if entry["base_url_from"] == "environment":
        url += f" (${entry['base_url_env']})"
    elif entry["base_url_from"] == "default" and entry["base_url"]:
        url += " (default)"
    if entry["api_key_env"] is None:
        key = "given to the route"
    else:
        state = "set" if entry["api_key_set"] else "not set"
        if not entry["api_key_set"] and not entry["requires_api_key"]:
            state += ", optional"
        key = f"${entry['api_key_env']} ({state})"
    lines = [
        f"{entry['name']}: {entry['provider']}",
        f"  model       {model}",
        f"  base URL    {url}",
        f"  API key     {key}",
        f"  rate limit  {entry['rate_limit'] or 'none'}",
        f"  weight      {entry['weight']:g}",
    ]
    if checked:
        verdict = "yes" if entry["able"] else f"no: {entry['reason']}"
        lines.append(f"  can honour  {verdict}")
    return lines
