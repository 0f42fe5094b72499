"""Generate the capability matrix (``providers/matrix.md``) from the adapters' declarations.

One row per built-in provider and known model, one short mark per cell, the detail in the
cell's ``title`` (shown on hover) and on the provider page each row links to. Nothing is
written by hand: a provider, a model or a capability added to a declaration shows up on the
next build. Run by mkdocs-gen-files; ``rows()`` and ``matrix_page()`` are importable so that
the tests can compare the page with the registry.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from imagebridge import Capabilities, default_registry
from imagebridge.adapter import ANY, Adapter

YES = "✓"
NO = "\u2013"  # an en dash: "no"

#: The columns: (header, what the header means), in order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "the provider (its page) and the model"),
    ("gen", "generate(): a prompt in, images out"),
    ("edit", "edit(): images (and a mask) in"),
    ("var", "vary(): variations of one image, no prompt"),
    ("stream", "stream() gets the reply as server-sent events (a number: partial images)"),
    ("task", "asynchronous tasks: submit() now, wait() later, journaled and resumable"),
    ("cancel", "an accepted task can be cancelled"),
    ("ratios", "canonical W:H ratios (with resolution tiers)"),
    ("pixels", "WxH pixel sizes: listed ones, or any that fits a rule"),
    ("tiers", "resolution tiers (1k, 2k, 4k)"),
    ("max", "the largest image"),
    ("n", "images per call / the most per request (more than per call is split)"),
    ("formats", "output formats"),
    ("refs", "reference images in generate()"),
    ("mask", "a mask (edit(), or generate() with references)"),
    ("seed", "takes a seed"),
    ("neg", "takes a negative_prompt"),
    ("options", "canonical options it takes (quality, style, background, moderation, ...)"),
    ("prov. opts", "provider options (provider_options / --option)"),
    ("price", "a price is declared ($), or not known (?)"),
)

#: Canonical option fields shown in the options column, with their short names.
_OPTIONS = (
    ("qualities", "quality"),
    ("styles", "style"),
    ("backgrounds", "background"),
    ("moderations", "moderation"),
    ("output_compression", "compression"),
    ("user", "user"),
)


def mark(text: str, title: str | None = None) -> str:
    """A short mark with its detail on hover (an ``<abbr>``), or the mark alone."""
    if not title:
        return text
    # A "|" would end the table cell, even inside the attribute.
    title = html.escape(title, quote=True).replace("|", "&#124;")
    return f'<abbr title="{title}">{html.escape(text)}</abbr>'


def _yes(flag: bool, title: str | None = None) -> str:
    return mark(YES, title) if flag else NO


def _listed(values: Iterable[str] | None) -> str:
    items = list(values or ())
    return "any (passed through)" if ANY in items else ", ".join(items)


def _largest(caps: Capabilities) -> str:
    """The largest image the declaration allows, in words (``3840 px edge``, ``1536x1024``)."""
    if caps.max_edge:
        extra = f", at most {caps.max_pixels:,} pixels" if caps.max_pixels else ""
        return mark(f"{caps.max_edge}px", f"edges up to {caps.max_edge} px{extra}")
    sizes = list(caps.sizes)
    sizes += [px for row in caps.size_presets.values() for px in row.values()]
    parsed = [tuple(int(v) for v in s.split("x")) for s in sizes if _is_pixels(s)]
    if not parsed:
        return NO
    width, height = max(parsed, key=lambda wh: (wh[0] * wh[1], wh))
    return mark(f"{max(width, height)}px", f"the largest size: {width}x{height}")


def _is_pixels(size: str) -> bool:
    width, sep, height = size.partition("x")
    return bool(sep) and width.isdigit() and height.isdigit()


def _ratios(caps: Capabilities) -> str:
    ratios = [ratio for ratio in caps.size_presets if ratio != "auto"]
    if not ratios:
        return NO
    how = "sent as the ratio" if caps.native_ratio else "sent as the preset's pixels"
    return mark(str(len(ratios)), f"{', '.join(ratios)} ({how})")


def _pixel_sizes(caps: Capabilities) -> str:
    auto = ", and auto" if caps.size_auto else ""
    if caps.sizes:
        return mark(str(len(caps.sizes)), ", ".join(caps.sizes) + auto)
    rule = caps.pixel_rule()
    if rule:
        return mark(f"/{caps.size_multiple_of}", rule + auto)
    return NO


def _tiers(caps: Capabilities) -> str:
    tiers = sorted({tier for row in caps.size_presets.values() for tier in row})
    if not tiers and caps.native_ratio:
        tiers = list(caps.resolutions)
    return " ".join(tiers) if tiers else NO


def _n(caps: Capabilities) -> str:
    title = f"up to {caps.max_images_per_call} per call, up to {caps.max_n} per request"
    if caps.max_images_per_call < caps.max_n:
        title += " (split into calls, with a warning)"
    return mark(f"{caps.max_images_per_call}/{caps.max_n}", title)


def _formats(caps: Capabilities) -> str:
    if caps.output_formats is None:
        return mark(NO, "the provider's default only")
    if ANY in caps.output_formats:
        return mark("any", "passed through unchecked")
    return " ".join(caps.output_formats)


def _edit(caps: Capabilities) -> str:
    if not caps.edits:
        return NO
    title = f"up to {caps.max_edit_images} images"
    title += ", with a mask" if caps.mask else ", no mask"
    title += ", files or URLs" if caps.edit_image_urls else ", files only"
    return mark(YES, title)


def _refs(caps: Capabilities) -> str:
    if not caps.max_reference_images:
        return NO
    title = f"up to {caps.max_reference_images} reference images in generate()"
    if caps.max_input_image_bytes:
        title += f", at most {caps.max_input_image_bytes // (1024 * 1024)} MB each"
    return mark(str(caps.max_reference_images), title)


def _mask(caps: Capabilities) -> str:
    where = [*(["edit()"] if caps.mask else []), *(["generate()"] if caps.generate_mask else [])]
    return _yes(bool(where), "a mask in " + " and ".join(where))


def _stream(caps: Capabilities) -> str:
    if caps.streaming:
        partials = caps.max_partial_images
        title = "server-sent events" + (
            f", up to {partials} partial images before each final one" if partials else ""
        )
        return mark(str(partials) if partials else YES, title)
    if caps.async_tasks:
        return mark("poll", "stream() reports the task's acceptance and each poll's status")
    return NO


def _options(caps: Capabilities) -> str:
    taken = []
    for capability, name in _OPTIONS:
        value = getattr(caps, capability)
        if value is None or value is False:
            continue
        taken.append(name if isinstance(value, bool) else f"{name}: {_listed(value)}")
    if caps.max_prompt_chars:
        taken.append(f"prompts up to {caps.max_prompt_chars:,} characters")
    return mark(str(len(taken)), "; ".join(taken)) if taken else NO


def _provider_options(adapter_cls: type[Adapter]) -> str:
    model = adapter_cls.options_model
    if model is None or not model.model_fields:
        return NO
    return mark(str(len(model.model_fields)), ", ".join(model.model_fields))


def _price(caps: Capabilities) -> str:
    if caps.price is None:
        return mark("?", "no price declared: costs are reported as unknown")
    return mark("$", f"a declared price {caps.price.cite()}")


@dataclass(frozen=True)
class Row:
    """One provider and model of the matrix: the cells, in the order of :data:`COLUMNS`."""

    provider: str
    model: str
    cells: tuple[str, ...]


def builtin_providers() -> list[str]:
    """The providers that ship with imagebridge (as ``docs/gen_pages.py`` lists them)."""
    return [
        name
        for name, adapter_cls in default_registry().adapters.items()
        if adapter_cls.__module__.startswith("imagebridge_plugins.")
    ]


def rows() -> Iterator[Row]:
    """Every built-in provider's known models, in the order the providers page lists them."""
    registry = default_registry()
    for name in builtin_providers():
        adapter_cls = registry.adapters[name]
        adapter = adapter_cls(adapter_cls.default_base_url or "https://example.invalid/v1")
        for model in adapter_cls.models:
            caps = registry.capabilities(adapter, model)
            cells = (
                f"[{name}]({name}.md) `{model}`",
                _yes(caps.generate, "generate()") if caps.generate else mark(NO, "edits only"),
                _edit(caps),
                _yes(caps.variations, "vary()"),
                _stream(caps),
                _yes(caps.async_tasks, "submit() / wait(); journaled, resumable"),
                _yes(caps.cancel, "cancel(), imagebridge task ID --cancel"),
                _ratios(caps),
                _pixel_sizes(caps),
                _tiers(caps),
                _largest(caps),
                _n(caps),
                _formats(caps),
                _refs(caps),
                _mask(caps),
                _yes(caps.seed, "seed"),
                _yes(caps.negative_prompt, "negative_prompt"),
                _options(caps),
                _provider_options(adapter_cls),
                _price(caps),
            )
            yield Row(name, model, cells)


def matrix_page() -> str:
    headers = [mark(header, meaning) for header, meaning in COLUMNS]
    lines = [
        # The whole width for the table: no navigation or table of contents beside it.
        "---",
        "hide:",
        "  - navigation",
        "  - toc",
        "---",
        "",
        "# Capability matrix",
        "",
        "What every built-in provider and model supports, generated from the adapters'"
        " declarations (the same ones pre-flight checks requests against). Hover over a mark"
        " for the detail; each row links to its provider page, which has all of it.",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
    ]
    lines += ["| " + " | ".join(row.cells) + " |" for row in rows()]
    lines += [
        "",
        f"{YES} yes, {NO} no. A number counts what is taken (hover to list it); "
        "`poll` under stream: `stream()` reports the task's progress from its polls; "
        "`/16` under pixels: any `WxH` with sides divisible by 16, within the limits; "
        "`$` a declared price, `?` none ([costs](../concepts/cost.md) are then unknown).",
        "",
        "| column | meaning |",
        "|---|---|",
        *(f"| {header} | {meaning} |" for header, meaning in COLUMNS),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    import mkdocs_gen_files

    with mkdocs_gen_files.open("providers/matrix.md", "w") as handle:
        handle.write(matrix_page())


if __name__ in ("__main__", "<run_path>"):
    main()
