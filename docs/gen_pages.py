"""Generate the provider pages from the adapters' own declarations (run by mkdocs-gen-files).

Nothing on these pages is written by hand: the canonical-field -> wire-field table comes from
``Adapter.wire_fields``, sizes, tiers, formats and limits from each model's ``Capabilities``
(with plugin refinements such as the dall-e rules applied), provider options from the
adapter's options model. A provider added by a plugin gets its page on the next build.

``provider_page(name)`` is importable so the test suite can run each page's example.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from imagebridge import Capabilities, Registry, default_registry
from imagebridge._fields import FieldSpec
from imagebridge._request import FIELDS, OPTION_FIELDS
from imagebridge.adapter import ANY, Adapter

#: The canonical fields, in the order ImageRequest declares them (the field table).
CANONICAL_ORDER = tuple(spec.name for spec in FIELDS if spec.kind != "namespaced")


def _values(values: Iterable[str] | None) -> str:
    if values is None:
        return "not supported"
    items = list(values)
    if ANY in items:
        return "any value (passed through)"
    return ", ".join(f"`{v}`" for v in items) or "none"


def _option(caps: Capabilities, spec: FieldSpec) -> str:
    """What the model takes for one option field, in words."""
    allowed = getattr(caps, spec.capability or "")
    if isinstance(allowed, bool):
        return (
            ("0-100" if spec.name == "output_compression" else "yes")
            if allowed
            else "not supported"
        )
    if isinstance(allowed, int):  # a count: the most the model takes (partial_images)
        suffix = ", with `stream()`" if spec.name == "partial_images" else ""
        return f"0-{allowed}{suffix}" if allowed > 0 else "not supported"
    return _values(allowed)


def _streaming(caps: Capabilities) -> str:
    """What ``stream()`` gives with this model (see docs/concepts/streaming.md)."""
    if caps.streaming:
        partials = (
            f", with up to {caps.max_partial_images} partial images before each final one"
            if caps.max_partial_images > 0
            else " (no partial images)"
        )
        return f"yes: the reply comes as server-sent events{partials}"
    if caps.async_tasks:
        return "progress: `stream()` reports the task's acceptance and each poll's status"
    return "no: `stream()` reports progress, then the whole result"


def _sizes(caps: Capabilities) -> str:
    parts = []
    if caps.sizes:
        parts.append("pixels " + ", ".join(f"`{size}`" for size in caps.sizes))
    rule = caps.pixel_rule()
    if rule:
        parts.append(rule.replace("WxH", "`WxH`"))
    if caps.size_auto:
        parts.append("`auto`")
    return "; ".join(parts) or "provider default only"


def _preset_table(caps: Capabilities) -> list[str]:
    presets = {k: v for k, v in caps.size_presets.items() if k != "auto"}
    if not presets:
        return []
    tiers = sorted({tier for row in presets.values() for tier in row})
    how = (
        "sent as the ratio and tier; the pixels are what to expect"
        if caps.native_ratio
        else "sent as these pixels (reported in `result.warnings`)"
    )
    lines = [
        "",
        f"Ratio and resolution presets ({how}):",
        "",
        "| ratio | " + " | ".join(tiers) + " |",
        "|---|" + "---|" * len(tiers),
    ]
    for ratio, row in presets.items():
        lines.append(f"| `{ratio}` | " + " | ".join(row.get(t, "-") for t in tiers) + " |")
    return lines


def _model_section(caps: Capabilities) -> list[str]:
    n = f"1-{caps.max_n}"
    if caps.max_images_per_call < caps.max_n:
        n += f" ({caps.max_images_per_call} per call; more is split into calls, with a warning)"
    inputs = (
        f"up to {caps.max_reference_images} in `generate()`"
        if caps.max_reference_images
        else "not in `generate()`"
    )
    if caps.edits:
        inputs += f"; `edit()` takes up to {caps.max_edit_images}"
        inputs += " with a mask" if caps.mask else " (no mask)"
        inputs += ", files or URLs" if caps.edit_image_urls else ", files only"
    if caps.max_input_image_bytes:
        inputs += f"; at most {caps.max_input_image_bytes // (1024 * 1024)} MB each"
    rows = [
        ("sizes", _sizes(caps)),
        ("n", n),
        *((spec.name, _option(caps, spec)) for spec in OPTION_FIELDS if spec.name != "user"),
        ("prompt length", f"{caps.max_prompt_chars} characters" if caps.max_prompt_chars else "-"),
        ("input images", inputs),
        ("variations", "yes (`vary()`)" if caps.variations else "no"),
        ("asynchronous tasks", "yes (`submit()` / `wait()`)" if caps.async_tasks else "no"),
        ("[streaming](../concepts/streaming.md)", _streaming(caps)),
    ]
    lines = ["", f"### `{caps.model}`", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    return lines + _preset_table(caps)


def _options(adapter_cls: type[Adapter]) -> list[str]:
    model = adapter_cls.options_model
    if model is None:
        return ["", "This provider has no provider options."]
    lines = [
        "",
        f'Passed as `provider_options={{"{adapter_cls.name}": {{...}}}}`'
        " (CLI: `--option KEY=VALUE`):",
        "",
        "| option | type | default |",
        "|---|---|---|",
    ]
    for name, field in model.model_fields.items():
        annotation = str(field.annotation).replace("typing.", "").replace("|", "or")
        lines.append(f"| `{name}` | `{annotation}` | `{field.default!r}` |")
    return lines


def example(adapter_cls: type[Adapter], caps: Capabilities) -> str:
    """A runnable example for the provider's default model."""
    fields: list[str] = []
    ratios = [r for r in caps.size_presets if r not in ("auto", "1:1")]
    if caps.native_ratio and ratios:
        fields.append(f'size="{ratios[0]}", resolution="2k"')
    elif caps.sizes:
        fields.append(f'size="{caps.sizes[-1]}"')
    args = ", ".join(['"a lighthouse at dawn, watercolor"', *fields])
    return "\n".join(
        [
            "```python",
            "from imagebridge import ImageClient",
            "",
            f'with ImageClient("{adapter_cls.name}") as client:'
            f"  # key from {adapter_cls.env_prefix()}_API_KEY",
            f"    result = client.generate({args})",
            '    for path in result.save("out/"):',
            "        print(path)",
            "```",
        ]
    )


def builtin_providers() -> list[str]:
    """The providers that ship with imagebridge (third-party plugins document themselves)."""
    return [
        name
        for name, adapter_cls in default_registry().adapters.items()
        if adapter_cls.__module__.startswith("imagebridge_plugins.")
    ]


def provider_page(name: str) -> str:
    registry = default_registry()
    adapter_cls = registry.adapters[name]
    adapter = adapter_cls(adapter_cls.default_base_url or "https://example.invalid/v1")
    prefix = adapter_cls.env_prefix()
    lines: list[Any] = [
        f"# {name}",
        "",
        adapter_cls.description,
        "",
        f"Wire facts, quirks and sources: [dialect notes](../dialects/{name}.md).",
        "",
        "| | |",
        "|---|---|",
        f"| default base URL | `{adapter_cls.default_base_url}` |",
        f"| environment | `{prefix}_API_KEY`, `{prefix}_BASE_URL` |",
        f"| default model | `{adapter_cls.default_model}` |",
        f"| known models | {', '.join(f'`{m}`' for m in adapter_cls.models)} |",
        "",
        "Other model names are sent unchecked, with an `unknown_model` warning.",
        "",
        "## Canonical fields on the wire",
        "",
        "| canonical field | wire |",
        "|---|---|",
    ]
    order = [f for f in CANONICAL_ORDER if f in adapter_cls.wire_fields]
    order += [f for f in adapter_cls.wire_fields if f not in order]
    lines += [f"| `{field}` | {adapter_cls.wire_fields[field]} |" for field in order]
    missing = [f for f in CANONICAL_ORDER if f not in adapter_cls.wire_fields]
    if missing:
        lines += [
            "",
            "Not supported (rejected before sending): " + ", ".join(f"`{f}`" for f in missing),
        ]
    lines += ["", "## Provider options", *_options(adapter_cls)]
    lines += ["", "## Models"]
    for model in adapter_cls.models:
        lines += _model_section(registry.capabilities(adapter, model))
    default_caps = registry.capabilities(adapter, adapter_cls.default_model)
    lines += ["", "## Example", "", example(adapter_cls, default_caps), ""]
    return "\n".join(lines)


def index_page() -> str:
    registry = default_registry()
    lines = [
        "# Providers",
        "",
        "The providers that ship with imagebridge, generated from their adapters' declarations.",
        "Every model side by side, with sizes, counts, formats, input images and options:"
        " the [capability matrix](matrix.md).",
        "",
        "| provider | description | default model | async tasks | edits | partial images |",
        "|---|---|---|---|---|---|",
    ]
    for name in builtin_providers():
        adapter_cls = registry.adapters[name]
        adapter = adapter_cls(adapter_cls.default_base_url or "https://example.invalid/v1")
        caps = registry.capabilities(adapter, adapter_cls.default_model)
        lines.append(
            f"| [{name}]({name}.md) | {adapter_cls.description} | `{adapter_cls.default_model}`"
            f" | {'yes' if caps.async_tasks else 'no'} | {'yes' if caps.edits else 'no'}"
            f" | {_streaming_models(registry, adapter, adapter_cls.models)} |"
        )
    lines += [
        "",
        "Every provider's client has `stream()`: partial images where a model streams them,"
        " progress from the polls of a task dialect ([streaming](../concepts/streaming.md)).",
    ]
    return "\n".join(lines) + "\n"


def _streaming_models(registry: Registry, adapter: Adapter, models: Sequence[str]) -> str:
    """How many of a provider's known models stream partial images, and up to how many."""
    counts = [registry.capabilities(adapter, model).max_partial_images for model in models]
    streaming = [count for count in counts if count > 0]
    if not streaming:
        return "no"
    return f"{len(streaming)} of {len(counts)} models (up to {max(streaming)})"


def scenarios_page() -> str:
    """The conformance kit's scenario table (``python -m imagebridge.testing scenarios``)."""
    from imagebridge.testing._scenario_table import scenarios_markdown

    return "\n".join(
        [
            "# Conformance scenarios",
            "",
            "Generated from `imagebridge.testing.SCENARIOS` (`python -m imagebridge.testing"
            " scenarios` prints the same). Each scenario makes one call with the prompt"
            " `a red cube on a white table`, followed by its marker; the imagebridge emulator"
            " understands the default markers. A fake server (or a test endpoint) records a"
            " scenario by answering as the last column says, in the provider's own codes:"
            " give them with `--marker SCENARIO=MARKER` or `[hints.SCENARIO] marker = ...` in"
            " `tests/imagebridge-record.toml` ([recording](../plugins.md#recording-cassettes)).",
            "A recording whose error code the adapter's `error_codes` do not map to the"
            " scenario's class is refused.",
            "",
            scenarios_markdown(),
        ]
    )


def main() -> None:
    import mkdocs_gen_files

    with mkdocs_gen_files.open("providers/index.md", "w") as handle:
        handle.write(index_page())
    for name in builtin_providers():
        with mkdocs_gen_files.open(f"providers/{name}.md", "w") as handle:
            handle.write(provider_page(name))
    with mkdocs_gen_files.open("reference/scenarios.md", "w") as handle:
        handle.write(scenarios_page())


if __name__ in ("__main__", "<run_path>"):
    main()
