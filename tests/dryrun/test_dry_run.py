"""What a dry run promises besides matching the wire (tests/dryrun/test_wire.py): nothing
is sent or journaled, no key or credential shows anywhere in it, image bytes are elided so
it stays small, a request it cannot send is refused as pre-flight refuses it, the async
client gives the same, and a routed client names its route and the routes it skipped."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from imagebridge import (
    AsyncImageClient,
    DryRun,
    ImageClient,
    ImageResult,
    InvalidRequestError,
    PlannedRequest,
    Route,
    RoutesExhaustedError,
    TaskJournal,
    create_registry,
    hookimpl,
)
from imagebridge._emulator import EmulatorServer
from imagebridge.adapter import Adapter, Capabilities, Flow, Plan, Progress, json_request

from .support import KEY, PROMPT, image, planned_requests, sent_requests

PROVIDERS = ("openai", "geeknow", "dimilinks", "apimart")


def _client(server: EmulatorServer, provider: str, **options: Any) -> ImageClient:
    options.setdefault("journal", False)
    return ImageClient(provider, api_key=KEY, base_url=server.url(provider), **options)


def _every_text(dry: DryRun) -> Iterator[str]:
    yield repr(dry)
    yield str(dry)
    yield json.dumps(dry.to_dict())
    for request in dry.requests:
        yield repr(request)
        yield str(request)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_dry_run_sends_and_journals_nothing(
    emulator: EmulatorServer, provider: str, tmp_path: Path
) -> None:
    journal = TaskJournal(tmp_path / "journal.sqlite3")
    with _client(emulator, provider, journal=journal) as client:
        dry = client.dry_run(PROMPT, n=2)
        client.dry_run(PROMPT, stream=True)
        assert dry.requests
    assert emulator.app_state.requests == []
    assert journal.entries() == []
    journal.close()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_key_shows_in_a_dry_run(emulator: EmulatorServer, provider: str) -> None:
    with _client(emulator, provider) as client:
        dries = [
            client.dry_run(PROMPT),
            client.dry_run(PROMPT, stream=True),
            client.dry_run(PROMPT, reference_images=[image()])
            if provider in ("dimilinks", "apimart")
            else client.dry_run(PROMPT, operation="edit", reference_images=[image()]),
        ]
    for dry in dries:
        for text in _every_text(dry):
            assert KEY not in text
            assert "authorization" not in text.lower()


def test_a_large_reference_image_makes_a_small_dry_run(emulator: EmulatorServer) -> None:
    big = image(padding=5 * 1024 * 1024)
    with _client(emulator, "dimilinks") as dimilinks, _client(emulator, "openai") as openai:
        dries = {
            "json": dimilinks.dry_run(PROMPT, reference_images=[big, big]),
            "multipart": openai.dry_run(PROMPT, operation="edit", reference_images=[big]),
        }
    for dry in dries.values():
        assert len(json.dumps(dry.to_dict())) < 10 * 1024
        assert len(str(dry)) < 10 * 1024
    assert (
        dries["json"].requests[0].fields["image_urls"]
        == [f"<image: image/png, {len(big)} bytes>"] * 2
    )
    assert dries["multipart"].requests[0].fields["image"] == {
        "file": "image-0.png",
        "content_type": "image/png",
        "bytes": len(big),
    }


def test_base64_in_an_image_field_is_elided_and_a_prompt_is_kept(
    emulator: EmulatorServer,
) -> None:
    encoded = base64.b64encode(image(padding=2000)).decode()
    prompt = "x" * 5000  # long, no spaces: still the prompt, not an image
    with _client(emulator, "dimilinks") as client:
        dry = client.dry_run(prompt, reference_images=[encoded])
    fields = dry.requests[0].fields
    assert fields["prompt"] == prompt
    assert fields["image_urls"] == [f"<base64: image/png, {len(image(padding=2000))} bytes>"]


def test_an_invalid_request_is_refused_as_plan_refuses_it(emulator: EmulatorServer) -> None:
    fields: dict[str, Any] = {"model": "dall-e-3", "quality": "ultra", "n": 11}
    with _client(emulator, "openai") as client:
        with pytest.raises(InvalidRequestError) as planned:
            client.plan(PROMPT, **fields)
        with pytest.raises(InvalidRequestError) as dry:
            client.dry_run(PROMPT, **fields)
        with pytest.raises(InvalidRequestError) as edit:
            client.dry_run(PROMPT, operation="edit", model="dall-e-3", reference_images=[image()])
    assert dry.value.problems == planned.value.problems
    assert {p.field for p in dry.value.problems} == {"quality", "n"}
    assert [p.field for p in edit.value.problems] == ["images"]
    assert emulator.app_state.requests == []


@pytest.mark.anyio
async def test_the_async_client_gives_the_same_dry_run(emulator: EmulatorServer) -> None:
    fields: dict[str, Any] = {"model": "dall-e-3", "n": 2}
    with _client(emulator, "openai") as client:
        sync = client.dry_run(PROMPT, **fields)
    async with AsyncImageClient(
        "openai", api_key=KEY, base_url=emulator.url("openai"), journal=False
    ) as client_async:
        asynchronous = client_async.dry_run(PROMPT, **fields)
    assert asynchronous == sync
    assert asynchronous.requests
    assert isinstance(asynchronous.requests[0], PlannedRequest)


def test_the_readable_form_says_what_would_be_sent(emulator: EmulatorServer) -> None:
    with _client(emulator, "dimilinks") as client:
        dry = client.dry_run(PROMPT, size="16:9", n=2)
    text = str(dry)
    assert text.splitlines()[0] == (
        "Dry run (nothing sent): generate with dimilinks gpt-image-2, 2 images in 1 call"
    )
    assert f"POST {emulator.url('dimilinks')}/images/generations?async=true" in text
    assert '"size": "16:9"' in text
    assert "polls GET" in text
    data = dry.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["requests"][0]["fields"]["n"] == 2
    # A gateway publishes no price: the estimate is unknown, never 0.
    assert data["estimate"]["usd"] is None
    assert "Estimate: unknown" in text


def test_a_dry_run_gives_the_cost_estimate_of_every_call(emulator: EmulatorServer) -> None:
    with _client(emulator, "openai") as client:
        dry = client.dry_run(PROMPT, model="dall-e-3", size="1024x1024", n=2)
        direct = client.estimate(PROMPT, model="dall-e-3", size="1024x1024", n=2)
    assert dry.calls == 2
    assert dry.estimate == direct
    assert dry.estimate is not None
    assert dry.estimate.usd is not None
    assert dry.to_dict()["estimate"]["usd"] == str(dry.estimate.usd)
    assert f"Estimate: {dry.estimate}" in str(dry)


# -- credentials an adapter put in a request ---------------------------------------------
class LeakyAdapter(Adapter):
    """Puts credential-looking headers and query values in its request (an adapter that
    signs URLs itself): the dry run must show none of them."""

    name = "leaky"
    default_base_url = "https://api.leaky.test/v1"
    default_model = "m"
    models: ClassVar[tuple[str, ...]] = ("m",)

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(model=model)

    def generate(self, plan: Plan) -> Flow[ImageResult]:
        yield Progress("submitting", provider=self.name)
        yield json_request(
            "POST",
            self.url("/make"),
            {"prompt": plan.request.prompt},
            params={"sig": "SIGNED-VALUE-1", "page": "2", "access_token": "TOKEN-VALUE-2"},
            headers={"X-Api-Key": "HEADER-VALUE-3", "X-Session": "HEADER-VALUE-4", "X-Kind": "a"},
        )
        raise AssertionError("a dry run never sends a reply")


class LeakyPlugin:
    @hookimpl
    def imagebridge_adapters(self) -> list[type[Adapter]]:
        return [LeakyAdapter]


def test_credential_like_headers_and_query_values_are_dropped() -> None:
    registry = create_registry(entry_points=False, plugins=[LeakyPlugin()])
    transport = httpx.MockTransport(lambda request: pytest.fail("a dry run sent a request"))
    with ImageClient(
        "leaky", api_key=KEY, registry=registry, transport=transport, journal=False
    ) as client:
        dry = client.dry_run(PROMPT)
    (request,) = dry.requests
    assert dict(request.headers) == {"x-kind": "a", "content-type": "application/json"}
    assert httpx.URL(request.url).params["page"] == "2"
    for text in _every_text(dry):
        for secret in ("SIGNED-VALUE-1", "TOKEN-VALUE-2", "HEADER-VALUE-3", "HEADER-VALUE-4"):
            assert secret not in text


# -- routed clients ------------------------------------------------------------------------
def _routes(pair: tuple[EmulatorServer, ...]) -> list[Route]:
    a, b = pair
    return [
        Route(name="a", provider="openai", base_url=a.url("openai"), api_key=KEY),
        Route(name="b", provider="dimilinks", base_url=b.url("dimilinks"), api_key=KEY),
    ]


def test_a_routed_dry_run_names_its_route_and_the_skipped_ones(
    pair: tuple[EmulatorServer, ...],
) -> None:
    a, b = pair
    with ImageClient.from_routes(_routes(pair), journal=False, timeout=10) as client:
        first = client.dry_run(PROMPT)
        # gpt-image-1 has no 21:9 preset: route a cannot honour it, b can.
        dry = client.dry_run(PROMPT, size="21:9")
        assert a.app_state.requests == b.app_state.requests == []
        result = client.generate(PROMPT, size="21:9")
    assert (first.route, first.skipped, first.provider) == ("a", {}, "openai")
    assert (dry.route, dry.provider, list(dry.skipped)) == ("b", "dimilinks", ["a"])
    assert "21:9" in dry.skipped["a"]
    assert "Skipped route a:" in str(dry)
    assert "Route: b" in str(dry)
    assert result.route == "b"
    assert a.app_state.requests == []
    assert planned_requests(dry) == sent_requests(b.app_state.requests)
    for text in _every_text(dry):
        assert KEY not in text


@pytest.mark.anyio
async def test_a_routed_dry_run_no_route_can_honour_raises(
    pair: tuple[EmulatorServer, ...],
) -> None:
    async with AsyncImageClient.from_routes(_routes(pair), journal=False) as client:
        with pytest.raises(RoutesExhaustedError) as raised:
            client.dry_run(PROMPT, n=11)  # both providers make fewer
    assert set(raised.value.outcomes) == {"a", "b"}
    assert all(pair_server.app_state.requests == [] for pair_server in pair)
