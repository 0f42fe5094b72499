"""``imagebridge providers``: the installed providers, their models and what each supports."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Sequence
from typing import Any

import click

from imagebridge import Capabilities, Registry, default_registry
from imagebridge._adapter import Adapter

from ._errors import ErrorContext, report_errors
from ._terminal import echo

ANY = "*"


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object.")
def providers(names: tuple[str, ...], json_mode: bool) -> None:
    """List the installed providers (or only NAME...) and what each model supports.

    For each provider: its description, default base URL and model, the environment
    variables it reads (<PROVIDER>_API_KEY, <PROVIDER>_BASE_URL) and, per known model, the
    sizes, ratios and resolution tiers, the number of images, formats, qualities, styles,
    reference images, edits and whether it runs asynchronous tasks. With --json the same as
    {"providers": {NAME: {..., "models": [...], "capabilities": {MODEL: {...}}}}}.
    """
    with report_errors(ErrorContext(json_mode=json_mode)):
        registry = default_registry()
        selected = [registry.adapter(name) for name in names] or list(registry.adapters.values())
        listing = [(cls, model_capabilities(registry, cls)) for cls in selected]
    if json_mode:
        described = {cls.name: describe_provider(cls, caps) for cls, caps in listing}
        click.echo(json.dumps({"providers": described}, indent=2))
        return
    width = min(shutil.get_terminal_size().columns, 100)
    blocks = [render_provider(cls, caps, width) for cls, caps in listing]
    echo("\n\n".join(blocks) if blocks else "no providers installed", keep_lines=True)


def model_capabilities(registry: Registry, cls: type[Adapter]) -> dict[str, Capabilities]:
    """Each known model's capabilities, refined by plugins the way clients see them."""
    adapter = cls(cls.default_base_url or "http://localhost")
    models = list(cls.models)
    if cls.default_model and cls.default_model not in models:
        models.insert(0, cls.default_model)
    return {model: registry.capabilities(adapter, model) for model in models}


def describe_provider(cls: type[Adapter], caps: dict[str, Capabilities]) -> dict[str, Any]:
    """A JSON-friendly description of one provider and its models' capabilities."""
    prefix = cls.env_prefix()
    return {
        "name": cls.name,
        "description": cls.description,
        "default_base_url": cls.default_base_url,
        "default_model": cls.default_model or None,
        "requires_api_key": cls.requires_api_key,
        "env": {"api_key": f"{prefix}_API_KEY", "base_url": f"{prefix}_BASE_URL"},
        "models": list(caps),
        "capabilities": {model: c.summary() for model, c in caps.items()},
    }


def render_provider(cls: type[Adapter], caps: dict[str, Capabilities], width: int) -> str:
    """A few lines: the provider, its base URL and key variables, then its models, those
    with the same capabilities grouped together."""
    prefix = cls.env_prefix()
    optional = "" if cls.requires_api_key else " (optional)"
    lines = [f"{cls.name}: {cls.description}" if cls.description else cls.name]
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
    if caps.async_tasks:
        out.append("async tasks")
    if caps.max_prompt_chars:
        out.append(f"prompt <= {caps.max_prompt_chars} chars")
    return out


def _sizes(caps: Capabilities) -> str:
    if caps.native_ratio:
        text = "sizes W:H ratio + tier"
    elif caps.sizes:
        text = "sizes " + " ".join(caps.sizes)
    elif caps.free_pixels:
        rules = [f"multiple of {caps.size_multiple_of}"] if (caps.size_multiple_of or 1) > 1 else []
        if caps.min_edge:
            rules.append(f"edge >= {caps.min_edge}")
        if caps.max_edge:
            rules.append(f"edge <= {caps.max_edge}")
        if caps.max_pixels:
            rules.append(f"<= {caps.max_pixels} px")
        if caps.aspect_range:
            low, high = caps.aspect_range
            rules.append(f"aspect {low:.3g}-{high:.3g}")
        text = "sizes any WxH" + (f" ({', '.join(rules)})" if rules else "")
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
