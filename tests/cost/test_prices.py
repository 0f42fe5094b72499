"""Price models and estimates: money is Decimal and validated, the built-in OpenAI tables give
the figures of their pages (recomputed here by hand), and nothing else is priced: a gateway's
cost is unknown, never 0. Actual costs come from the usage a real (emulated) reply reports."""

from __future__ import annotations

import base64
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import png
from imagebridge import Cost, ImageClient, PerImage, PerToken, PriceBook

from .conftest import KEY

D = Decimal


@pytest.fixture
def openai() -> ImageClient:
    return ImageClient("openai", api_key=KEY, journal=False)


# -- price models -------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf"), "NaN", "abc", True, None])
def test_a_price_refuses_what_is_not_a_non_negative_number(bad: object) -> None:
    with pytest.raises(ValueError, match="per_image"):
        PerImage(prices={"1024x1024": bad})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="image_output"):
        PerToken(text_input=D(1), image_input=D(1), image_output=bad)  # type: ignore[arg-type]


def test_floats_are_read_exactly_and_tables_are_frozen() -> None:
    price = PerImage(prices={"1024x1024": 0.042}, as_of="2026-12-02")  # type: ignore[dict-item,arg-type]
    assert price.prices["1024x1024"] == D("0.042")
    assert str(price.as_of) == "2026-12-02"
    with pytest.raises(TypeError):
        price.prices["512x512"] = D(1)  # type: ignore[index]
    with pytest.raises(ValueError, match="at least one"):
        PerImage(prices={})
    with pytest.raises(ValueError, match="whole number of tokens"):
        PerToken(text_input=D(1), image_input=D(1), image_output=D(1), output_tokens={"*": 1.5})  # type: ignore[dict-item]


def test_a_cost_prints_dollars_or_unknown_and_sums_to_unknown_if_any_is() -> None:
    assert str(Cost(D("0.084"), "x", exact=True)) == "$0.084"
    assert str(Cost(D("0.04"), "x")) == "$0.04"
    assert str(Cost(D("2"), "x")) == "$2"
    assert str(Cost.unknown("no price")) == "unknown"
    both = Cost.total([Cost(D("0.04"), "a", exact=True), Cost(D("0.02"), "b", exact=True)])
    assert (both.usd, both.exact) == (D("0.06"), True)
    assert Cost.total([Cost(D("0.04"), "a"), Cost.unknown("b")]).usd is None


# -- built-in OpenAI prices ---------------------------------------------------------------------
def test_dall_e_3_is_priced_per_image_for_every_call_of_a_split_request(
    openai: ImageClient,
) -> None:
    cost = openai.estimate("a lighthouse", model="dall-e-3", n=3)  # split into 3 calls
    assert cost.usd == 3 * D("0.04")
    assert cost.exact
    assert "dall-e-3 standard 1024x1024: $0.04 x 3 images" in cost.basis
    assert "developers.openai.com, 2026-12-02" in cost.basis
    # What the pages do not list is not made up.
    assert openai.estimate("a lighthouse", model="dall-e-3", quality="hd").usd is None
    assert openai.estimate("a lighthouse", model="dall-e-3", size="1792x1024").usd is None


def test_dall_e_2_is_priced_per_image(openai: ImageClient) -> None:
    cost = openai.estimate("a lighthouse", model="dall-e-2", n=4)
    assert (cost.usd, cost.exact) == (4 * D("0.02"), True)
    assert openai.estimate("a lighthouse", model="dall-e-2", size="256x256").usd is None


def test_gpt_image_is_priced_by_its_published_per_image_output_and_the_prompts_tokens(
    openai: ImageClient,
) -> None:
    prompt = "a red cube on a glass table at dusk"  # 35 characters: ~9 tokens
    cost = openai.estimate(prompt, model="gpt-image-1", quality="medium", size="1024x1024", n=2)
    tokens = math.ceil(len(prompt) / 4)
    assert cost.usd == 2 * D("0.042") + tokens * D("5.00") / 1_000_000
    assert not cost.exact
    assert "characters/4" in cost.basis
    mini = openai.estimate(prompt, model="gpt-image-1-mini", quality="high", size="1536x1024")
    assert mini.usd == D("0.052") + tokens * D("2.00") / 1_000_000


def test_estimates_worked_out_once_still_follow_every_field_they_depend_on(
    openai: ImageClient,
) -> None:
    """Costs are kept once worked out (a client prices the same request again and again);
    every field a cost depends on still gives its own: the prompt's length, the size, the
    quality, n, input images, and a user's price table over the declared one."""
    fields = {"model": "gpt-image-1", "quality": "medium", "size": "1024x1024"}
    first = openai.estimate("a red cube", **fields)
    assert openai.estimate("a red cube", **fields) == first
    others = [
        openai.estimate("a red cube on a glass table at dusk, in the rain", **fields),
        openai.estimate("a red cube", **{**fields, "size": "1536x1024"}),
        openai.estimate("a red cube", **{**fields, "quality": "high"}),
        openai.estimate("a red cube", **fields, n=2),
    ]
    assert len({cost.usd for cost in [first, *others]}) == 5
    with_image = openai.estimate(
        "a red cube", operation="edit", **fields, reference_images=[png(8, 8)]
    )
    assert "input image tokens not estimated" in with_image.basis
    assert "input image tokens not estimated" not in first.basis
    mine = PerImage(prices={"*": D("0.5")}, source="my table")
    with ImageClient(
        "openai", api_key=KEY, journal=False, prices=PriceBook({("openai", "gpt-image-1"): mine})
    ) as priced:
        assert priced.estimate("a red cube", **fields).usd == D("0.5")


def test_an_unset_quality_and_size_are_priced_at_the_most_they_can_cost(
    openai: ImageClient,
) -> None:
    cost = openai.estimate("x", model="gpt-image-1")
    assert cost.usd == D("0.25") + 1 * D("5.00") / 1_000_000
    assert "highest listed price" in cost.basis


def test_input_images_are_said_not_to_be_estimated(openai: ImageClient) -> None:
    cost = openai.estimate(
        "make it blue",
        operation="edit",
        model="gpt-image-1",
        quality="low",
        size="1024x1024",
        reference_images=[png(4, 4)],
    )
    assert cost.usd is not None
    assert not cost.exact
    assert "input image tokens not estimated" in cost.basis


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("geeknow", "dall-e-3"),
        ("geeknow", "gpt-image-1"),
        ("dimilinks", "gpt-image-2"),
        ("apimart", "gpt-image-2"),
        ("openai", "gpt-image-2"),  # no OpenAI page with its price was found
    ],
)
def test_what_has_no_published_price_is_unknown_never_zero(provider: str, model: str) -> None:
    with ImageClient(provider, api_key=KEY, journal=False) as client:
        cost = client.estimate("a cat", model=model)
    assert cost.usd is None
    assert str(cost) == "unknown"
    assert not cost.exact


def test_prices_show_in_the_capabilities_summary_as_json(openai: ImageClient) -> None:
    summary = openai._registry.capabilities(openai.adapter, "gpt-image-1").summary()
    price = json.loads(json.dumps(summary))["price"]
    assert price["kind"] == "per_token"
    assert price["image_output"] == "40.00"
    assert price["output_per_image"]["1024x1024/medium"] == "0.042"
    assert price["source"].startswith("https://developers.openai.com/")


# -- actual costs, from an emulated reply's usage -----------------------------------------------
def test_a_gpt_image_result_costs_its_reported_usage_exactly(server, tmp_path: Path) -> None:
    with ImageClient(
        "openai", api_key=KEY, base_url=server.url("openai"), journal=tmp_path / "j.sqlite3"
    ) as client:
        result = client.generate("a red cube", model="gpt-image-1", quality="low", n=2)
    usage = result.usage
    assert usage is not None
    assert result.cost is not None
    details = usage.raw["input_tokens_details"]
    expected = (
        details["text_tokens"] * D("5.00")
        + details["image_tokens"] * D("10.00")
        + usage.output_tokens * D("40.00")
    ) / 1_000_000
    assert result.cost.usd == expected
    assert result.cost.exact
    assert "reported usage" in result.cost.basis
    assert result.to_dict()["cost"]["usd"] == str(expected)


def text_usage(text_tokens: int, output_tokens: int) -> dict[str, Any]:
    """An Images API ``usage`` of a text-only prompt, with its input breakdown."""
    return {
        "input_tokens": text_tokens,
        "output_tokens": output_tokens,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": 0},
    }


def test_each_reply_is_costed_from_its_own_usage() -> None:
    """Costs are memoised (a client sends the same request again and again): a reply that
    reports other token counts than the one before still costs its own."""
    usages = [text_usage(20, 272), text_usage(20, 272), text_usage(20, 1056), text_usage(7, 272)]
    usages.append({"input_tokens": 9, "output_tokens": 272})  # no breakdown: all text
    replies = iter(usages)

    def api(request: httpx.Request) -> httpx.Response:
        body = {"created": 1, "data": [{"b64_json": base64.b64encode(png(2, 2)).decode()}]}
        return httpx.Response(200, json={**body, "usage": next(replies)})

    transport = httpx.MockTransport(api)
    with ImageClient("openai", api_key=KEY, journal=False, transport=transport) as client:
        found = [client.generate("a cube", model="gpt-image-1").cost for _ in usages]
    costs = [cost for cost in found if cost is not None]
    expected = [
        (D(u["input_tokens"]) * D("5.00") + D(u["output_tokens"]) * D("40.00")) / 1_000_000
        for u in usages
    ]
    assert [cost.usd for cost in costs] == expected
    assert costs[0] is costs[1]  # the same usage: worked out once
    assert "1056 output tokens" in costs[2].basis
    assert "7 text" in costs[3].basis
    assert [cost.exact for cost in costs] == [True] * 5


def test_a_dall_e_result_costs_its_per_image_price(server, tmp_path: Path) -> None:
    with ImageClient(
        "openai", api_key=KEY, base_url=server.url("openai"), journal=tmp_path / "j.sqlite3"
    ) as client:
        result = client.generate("a lighthouse", model="dall-e-3", n=2)
    assert result.cost is not None
    assert (result.cost.usd, result.cost.exact) == (2 * D("0.04"), True)
