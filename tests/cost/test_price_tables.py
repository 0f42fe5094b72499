"""User price tables: a TOML or JSON file, or ``[prices.<provider>.<model>]`` in
imagebridge.toml, override the declared prices for the provider and model they name (and
only those); anything that is not a price is refused, naming the file, the table and the key."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from imagebridge import ConfigurationError, ImageClient, PerToken, PriceBook, load_prices
from imagebridge._profiles import load_config

from .conftest import KEY

D = Decimal


def client(provider: str, **options: object) -> ImageClient:
    return ImageClient(provider, api_key=KEY, journal=False, **options)  # type: ignore[arg-type]


def test_a_toml_file_prices_a_gateway_per_image(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '[prices.geeknow."dall-e-3"]\n'
        'per_image = { "1024x1024" = 0.035, "1024x1024/hd" = 0.07 }\n'
        'source = "https://example.com/geeknow-pricing"\n',
        encoding="utf-8",
    )
    with client("geeknow", prices=path) as geeknow:
        standard = geeknow.estimate("x", model="dall-e-3", quality="standard", n=2)
        assert standard.usd == 2 * D("0.035")
        # No quality given and no default_quality in the table: the most it can cost.
        assert geeknow.estimate("x", model="dall-e-3").usd == D("0.07")
        hd = geeknow.estimate("x", model="dall-e-3", quality="hd")
        assert (hd.usd, hd.exact) == (D("0.07"), True)
        assert "your price table: https://example.com/geeknow-pricing" in hd.basis
        # The table names dall-e-3 only.
        assert geeknow.estimate("x", model="gpt-image-1").usd is None


def test_a_json_file_prices_per_token_and_overrides_the_built_in_price(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    tables = {
        "openai": {
            "gpt-image-1": {
                "text_input": 1,
                "image_input": 2,
                "image_output": 10,
                "output_tokens": {"1024x1024/low": 272},
            }
        }
    }
    path.write_text(json.dumps(tables), encoding="utf-8")
    book = load_prices(path)
    price = book.get("openai", "gpt-image-1")
    assert isinstance(price, PerToken)
    assert price.image_output == D(10)
    with client("openai", prices=book) as openai:
        cost = openai.estimate("abcd" * 3, model="gpt-image-1", quality="low", size="1024x1024")
        # 272 output tokens at $10/1M, plus 3 prompt tokens at $1/1M.
        assert cost.usd == (272 * D(10) + 3 * D(1)) / 1_000_000
        # Models the table does not name keep their declared prices.
        assert openai.estimate("x", model="dall-e-2").usd == D("0.02")


def test_imagebridge_toml_prices_reach_the_profiles_clients(tmp_path: Path) -> None:
    path = tmp_path / "imagebridge.toml"
    path.write_text(
        '[routes.main]\nprovider = "geeknow"\n\n'
        '[profiles.default]\nroutes = ["main"]\n\n'
        '[prices.geeknow."gpt-image-1"]\n'
        "text_input = 5.0\nimage_input = 10.0\nimage_output = 40.0\n"
        'output_per_image = { "1024x1024/low" = 0.011 }\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.prices is not None
    assert len(config.prices) == 1
    assert config.profile("default").prices is config.prices
    with client("geeknow", prices=config.prices) as geeknow:
        cost = geeknow.estimate("abcd", model="gpt-image-1", quality="low", size="1024x1024")
    assert cost.usd == D("0.011") + 1 * D("5.0") / 1_000_000


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('per_image = { "*" = 0.02 }\ncolour = "red"', "unknown key 'colour'"),
        ('per_image = { "*" = -1 }', "must not be negative"),
        ("text_input = 1\nimage_input = 1", "image_output missing"),
        ('text_input = 1\nimage_input = 1\nimage_output = "lots"', "image_output"),
        ("per_image = 3", "table of size keys"),
    ],
)
def test_a_bad_table_is_refused_naming_the_file_the_table_and_the_key(
    tmp_path: Path, table: str, message: str
) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(f'[prices.openai."dall-e-2"]\n{table}\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_prices(path)
    assert str(path) in str(caught.value)
    assert "[prices.openai.dall-e-2]" in str(caught.value)


def test_imagebridge_toml_refuses_a_bad_price_table_and_a_misspelt_section(
    tmp_path: Path,
) -> None:
    path = tmp_path / "imagebridge.toml"
    path.write_text('[prices.openai."dall-e-2"]\nper_imag = { "*" = 0.02 }\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="unknown key 'per_imag'"):
        load_config(path)
    path.write_text('[price.openai."dall-e-2"]\nper_image = { "*" = 0.02 }\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"unknown key 'price'.*prices"):
        load_config(path)


def test_prices_must_be_a_book_or_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="prices must be"):
        client("openai", prices=42)
    with pytest.raises(ConfigurationError, match="cannot read the price file"):
        client("openai", prices=tmp_path / "missing.toml")
    assert client("openai", prices=PriceBook()).prices == PriceBook()
