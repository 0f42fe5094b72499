"""An option a dialect's request cannot carry is never dropped on the way out: a gateway
adapter built on the OpenAI Images dialect without the dialect's validate hook gets an
error before anything is sent, not a request quietly missing the field."""

from __future__ import annotations

import httpx
import pytest

from helpers import png
from imagebridge import ConfigurationError, ImageClient, create_registry, hookimpl
from imagebridge.adapter import Adapter, Capabilities
from imagebridge_plugins._openai_images import OpenAIImagesAdapter


class BareGateway(OpenAIImagesAdapter):
    name = "bare-gateway"
    default_base_url = "https://gateway.test/v1"
    default_model = "img-1"
    models = ("img-1",)

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(model=model, edits=True, max_edit_images=1, moderations=("low",))


class _Plugin:
    @hookimpl
    def imagebridge_adapters(self) -> list[type[Adapter]]:
        return [BareGateway]


def test_an_option_the_request_cannot_carry_is_an_error_before_sending() -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"data": []})

    registry = create_registry(entry_points=False, plugins=[_Plugin()])
    with (
        ImageClient(
            "bare-gateway",
            api_key="sk-bare-0123456789",
            registry=registry,
            transport=httpx.MockTransport(record),
            journal=False,
        ) as client,
        pytest.raises(ConfigurationError, match="cannot send moderation"),
    ):
        client.edit("bluer", [png(4, 4)], moderation="low")
    assert sent == []
