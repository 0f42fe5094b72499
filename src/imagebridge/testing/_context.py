"""What the kit needs to know about a provider: its adapter, a model's capabilities, which
model can play a scenario, and the canonical call a scenario makes with it."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from .._adapter import Adapter
from .._capabilities import Capabilities
from .._plugins import Registry, default_registry
from ._cassette import Call, ClientOptions, InputImage
from ._requirements import unmet
from ._scenarios import DEFAULT_PROMPT, Hint, Scenario
from ._support import sample_png

__all__ = ["PLACEHOLDER_ORIGIN", "ProviderContext", "build_call"]

#: The origin every recording is rewritten to (``.test`` is reserved: it never resolves).
PLACEHOLDER_ORIGIN = "https://recorded.imagebridge.test"


@dataclass
class ProviderContext:
    """One provider as the kit sees it, through a registry (the default one unless given)."""

    provider: str
    registry: Registry
    model: str | None = None

    @classmethod
    def of(
        cls, provider: str, registry: Registry | None = None, model: str | None = None
    ) -> ProviderContext:
        """The context of ``provider`` in ``registry`` (default: the entry-point plugins)."""
        return cls(provider, registry or default_registry(), model)

    @property
    def adapter_cls(self) -> type[Adapter]:
        """The adapter class registered under the provider's name."""
        return self.registry.adapter(self.provider)

    @property
    def adapter(self) -> Adapter:
        """An adapter instance (at its default base URL), to ask for declarations."""
        cls = self.adapter_cls
        return cls(cls.default_base_url or PLACEHOLDER_ORIGIN)

    @property
    def default_model(self) -> str:
        """The model whose capabilities drive skips and rejections."""
        return self.model or self.adapter_cls.default_model

    def credential_headers(self) -> tuple[str, ...]:
        """The headers the adapter sends the API key in."""
        return tuple(name.lower() for name in self.adapter.auth_headers("placeholder-key"))

    def capabilities(self, model: str | None = None) -> Capabilities:
        """The declared capabilities of ``model`` (plugins' refinements included)."""
        return self.registry.capabilities(self.adapter, model or self.default_model)

    def skip_reason(self, requires: tuple[str, ...] | list[str], model: str | None) -> str | None:
        """Why ``model`` cannot play a scenario with these requirements, or None."""
        model = model or self.default_model
        missing = unmet(requires, self.capabilities(model))
        if not missing:
            return None
        return f"{self.provider} {missing[0].missing} for {model}"

    def choose_model(self, requires: tuple[str, ...]) -> tuple[str | None, str | None]:
        """``(model, None)`` for the first model that meets ``requires`` (None: the default
        model), or ``(None, reason)`` when no model of the adapter does."""
        reason = self.skip_reason(requires, None)
        if reason is None:
            return None, None
        others = [m for m in self.adapter_cls.models if m != self.default_model]
        for model in others:
            if self.skip_reason(requires, model) is None:
                return model, None
        return None, reason + (" (nor does any other model it lists)" if others else "")


def _image(shade: int) -> InputImage:
    return InputImage(base64=base64.b64encode(sample_png(4, 4, shade)).decode("ascii"))


def build_call(
    scenario: Scenario,
    context: ProviderContext,
    *,
    base_url: str,
    model: str | None,
    hint: Hint | None = None,
) -> Call:
    """The canonical call that records ``scenario`` with ``model`` (None: the default)."""
    hint = hint or Hint()
    model = hint.model or model
    caps = context.capabilities(model)
    fields: dict[str, object] = {}
    if model is not None and model != context.default_model:
        fields["model"] = model
    if scenario.dynamic is not None:
        fields.update(scenario.dynamic(caps))
    fields.update(scenario.fields)
    fields.update(hint.fields)
    marker = hint.marker if hint.marker is not None else scenario.marker
    prompt = f"{DEFAULT_PROMPT} {marker}".strip()
    return Call.model_validate(
        {
            "method": scenario.method,
            "stream": scenario.stream,
            "prompt": None if scenario.method in ("wait", "vary") else prompt,
            "fields": fields,
            "images": [_image(40 * i) for i in range(scenario.images)],
            "reference_images": [_image(100 + 40 * i) for i in range(scenario.reference_images)],
            "mask": _image(255) if scenario.mask else None,
            "task_id": scenario.task_id,
            "client": ClientOptions(base_url=base_url, invalid_key=scenario.invalid_key),
        }
    )
