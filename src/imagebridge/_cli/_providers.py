"""``imagebridge providers``: the installed providers, the package each comes from, their
models and what each supports, and the plugins that are broken."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Sequence
from typing import Any

import click

from imagebridge import Capabilities, PluginInfo, Registry, default_registry
from imagebridge.adapter import ANY, Adapter

from ._errors import ErrorContext, ExitCode, report_errors
from ._terminal import echo


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object.")
def providers(names: tuple[str, ...], json_mode: bool) -> int:
    """List the installed providers (or only NAME...) and what each model supports.

    For each provider: its description, the plugin and package (distribution and version)
    that provide it, default base URL and model, the environment variables it reads
    (<PROVIDER>_API_KEY, <PROVIDER>_BASE_URL) and, per known model, the sizes, ratios and
    resolution tiers, the number of images, formats, qualities, styles, reference images,
    edits and whether it runs asynchronous tasks. Then the broken plugins, skipped, each with
    its error; the exit code is 1 only when they leave no provider working. With --json the
    same as {"providers": {NAME: {..., "models": [...], "capabilities": {MODEL: {...}}}},
    "broken_plugins": [{"name", "distribution", "version", "error"}]}.
    """
    with report_errors(ErrorContext(json_mode=json_mode)):
        registry = default_registry()
        selected = [registry.adapter(name) for name in names] or list(registry.adapters.values())
        listing = [(cls, model_capabilities(registry, cls)) for cls in selected]
        plugins = registry.plugins()
    origin = {provider: info for info in plugins for provider in info.providers}
    broken = [] if names else [info for info in plugins if info.broken]
    code = ExitCode.ERROR if broken and not registry.adapters else ExitCode.OK
    if json_mode:
        described = {
            cls.name: describe_provider(cls, caps, origin.get(cls.name)) for cls, caps in listing
        }
        listed = [describe_plugin(info) for info in broken]
        click.echo(json.dumps({"providers": described, "broken_plugins": listed}, indent=2))
        return code
    width = min(shutil.get_terminal_size().columns, 100)
    blocks = [render_provider(cls, caps, width, origin.get(cls.name)) for cls, caps in listing]
    if not blocks:
        blocks.append(f"no providers ({registry.installed_summary()})")
    if broken:
        blocks.append(render_broken(broken))
    echo("\n\n".join(blocks), keep_lines=True)
    return code


def model_capabilities(registry: Registry, cls: type[Adapter]) -> dict[str, Capabilities]:
    """Each known model's capabilities, refined by plugins the way clients see them."""
    adapter = cls(cls.default_base_url or "http://localhost")
    models = list(cls.models)
    if cls.default_model and cls.default_model not in models:
        models.insert(0, cls.default_model)
    return {model: registry.capabilities(adapter, model) for model in models}


def describe_provider(
    cls: type[Adapter], caps: dict[str, Capabilities], plugin: PluginInfo | None = None
) -> dict[str, Any]:
    """A JSON-friendly description of one provider, where it comes from and its models'
    capabilities."""
    prefix = cls.env_prefix()
    return {
        "name": cls.name,
        "description": cls.description,
        "plugin": describe_plugin(plugin) if plugin else None,
        "default_base_url": cls.default_base_url,
        "default_model": cls.default_model or None,
        "requires_api_key": cls.requires_api_key,
        "env": {"api_key": f"{prefix}_API_KEY", "base_url": f"{prefix}_BASE_URL"},
        "models": list(caps),
        "capabilities": {model: c.summary() for model, c in caps.items()},
    }


def describe_plugin(info: PluginInfo) -> dict[str, Any]:
    """A plugin's name and package, and its error when it is broken."""
    out: dict[str, Any] = {
        "name": info.name,
        "distribution": info.distribution,
        "version": info.version,
    }
    if info.broken:
        out["error"] = info.error
    return out


def render_provider(
    cls: type[Adapter], caps: dict[str, Capabilities], width: int, plugin: PluginInfo | None = None
) -> str:
    """A few lines: the provider, the plugin and package it comes from, its base URL and
    key variables, then its models, those with the same capabilities grouped together."""
    prefix = cls.env_prefix()
    optional = "" if cls.requires_api_key else " (optional)"
    lines = [f"{cls.name}: {cls.description}" if cls.description else cls.name]
    if plugin is not None:
        lines.append(f"  plugin    {plugin.name}, from {plugin.source}")
    lines.append(f"  base URL  ${prefix}_BASE_URL or {cls.default_base_url or '(none)'}")
    lines.append(f"  API key   ${prefix}_API_KEY{optional}")
    groups: dict[str, list[str]] = {}
    for model, model_caps in caps.items():
        label = model + (" (default)" if model == cls.default_model else "")
        groups.setdefault("; ".join(capability_phrases(model_caps)), []).append(label)
    if not groups:
        lines.append("  models    any (sent unchecked)")
    for text, models in groups.items():
        lines.append(f"  {', '.join(models)}:")
        lines.extend(
            textwrap.wrap(
                text,
                width=max(width, 40),
                initial_indent="    ",
                subsequent_indent="    ",
                break_on_hyphens=False,
                break_long_words=False,
            )
        )
    return "\n".join(lines)


def render_broken(broken: list[PluginInfo]) -> str:
    """The plugins that were skipped, one line each with the package and the error."""
    lines = ["broken plugins (skipped):"]
    lines.extend(f"  {info.name} ({info.source}): {info.error}" for info in broken)
    return "\n".join(lines)


def capability_phrases(caps: Capabilities) -> list[str]:
    """Short phrases describing a model: sizes, ratios, n, formats, options, inputs."""
    if not caps.known:
        return ["unknown model: every option is passed through unchecked"]
    out = [_sizes(caps)]
    ratios = [ratio for ratio in caps.size_presets if ratio != "auto"]
    if ratios or caps.native_ratio:
        tiers = _tiers(caps)
        shown = " ".join(ratios) if ratios else "any W:H"
        out.append(f"ratios {shown}" + (f" at {' '.join(tiers)}" if tiers else ""))
    per_call = caps.max_images_per_call
    out.append(f"n 1-{caps.max_n}" + (f" ({per_call} per call)" if per_call < caps.max_n else ""))
    for label, values in (
        ("formats", caps.output_formats),
        ("quality", caps.qualities),
        ("style", caps.styles),
        ("background", caps.backgrounds),
        ("moderation", caps.moderations),
    ):
        if values:
            out.append(f"{label} {_values(values)}")
    if caps.output_compression:
        out.append("compression 0-100")
    if caps.max_reference_images:
        out.append(f"references <= {caps.max_reference_images}")
    if caps.edits:
        edits = f"edits <= {caps.max_edit_images} image{'s' if caps.max_edit_images != 1 else ''}"
        out.append(edits + (" + mask" if caps.mask else ""))
    else:
        out.append("no edits")
    if not caps.generate:
        out.append("edits only (no generate)")
    if caps.seed:
        out.append("seed")
    if caps.negative_prompt:
        out.append("negative prompt")
    if caps.async_tasks:
        out.append("async tasks" + (" + cancel" if caps.cancel else ""))
    if caps.max_prompt_chars:
        out.append(f"prompt <= {caps.max_prompt_chars} chars")
    return out


def _sizes(caps: Capabilities) -> str:
    if caps.native_ratio:
        text = "sizes W:H ratio + tier"
    elif caps.sizes:
        text = "sizes " + " ".join(caps.sizes)
    elif rule := caps.pixel_rule():
        text = f"sizes {rule}"
    else:
        text = "sizes: provider default only"
    return text + (" auto" if caps.size_auto and caps.sizes else "")


def _tiers(caps: Capabilities) -> list[str]:
    if caps.native_ratio:
        return list(caps.resolutions)
    found = {tier for row in caps.size_presets.values() for tier in row}
    return [tier for tier in caps.resolutions if tier in found]


def _values(values: Sequence[str]) -> str:
    return "any (passed through)" if ANY in values else " ".join(values)
