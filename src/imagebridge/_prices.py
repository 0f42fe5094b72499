"""What images cost: price models, the cost of a request before and after it is sent.

Money is :class:`decimal.Decimal` US dollars, never a float, and never made up: a model
whose price is not known costs ``unknown`` (:attr:`Cost.usd` is None), never 0.

* :class:`PerImage`: dollars per image by size and quality (dall-e), keys ``"1024x1024"``,
  ``"1024x1024/hd"``, ``"*/hd"`` or ``"*"`` (any size);
* :class:`PerToken`: dollars per million tokens of text input, image input and image output
  (GPT image models), with the published cost of one output image by size and quality (or
  the published output tokens per image), which is what a request costs before it is sent.

Each price says where it comes from (``source``, a URL) and when it was read (``as_of``).
A model's price is declared in its :class:`~imagebridge.Capabilities` (``price``) by the
plugin that knows it; a :class:`PriceBook` (a ``[prices.<provider>.<model>]`` section of
``imagebridge.toml``, or a TOML or JSON file of the same tables) overrides it.

:mod:`imagebridge._costing` prices requests with them: ``estimate`` (a whole request, before
anything is sent) and ``actual`` (one call, from the usage its reply reported).
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ._errors import ConfigurationError
from ._toml import toml

__all__ = ["Cost", "PerImage", "PerToken", "Price", "PriceBook", "load_prices", "plain_usd"]


def money(value: Any, what: str) -> Decimal:
    """``value`` as dollars: a number or a decimal string, finite and not negative (a float is
    read through its shortest repr, so ``0.042`` is exactly ``Decimal("0.042")``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"{what} must be a number of US dollars, not {type(value).__name__}")
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{what} must be a number of US dollars, not {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"{what} must be a finite number of US dollars, not {value!r}")
    if amount < 0:
        raise ValueError(f"{what} must not be negative, got {value!r}")
    return amount


def _table(values: Mapping[str, Any], what: str) -> Mapping[str, Decimal]:
    if not isinstance(values, Mapping):
        raise ValueError(f"{what} must be a table of size keys to US dollars")
    out: dict[str, Decimal] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"{what}: a key must be a size such as '1024x1024', got {key!r}")
        out[key.strip()] = money(value, f"{what}[{key!r}]")
    return MappingProxyType(out)


def _tokens(values: Mapping[str, Any], what: str) -> Mapping[str, int]:
    if not isinstance(values, Mapping):
        raise ValueError(f"{what} must be a table of size keys to token counts")
    out: dict[str, int] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{what}[{key!r}] must be a whole number of tokens, got {value!r}")
        out[str(key).strip()] = value
    return MappingProxyType(out)


def _date(value: Any, what: str) -> datetime.date | None:
    if value is None or isinstance(value, datetime.date):
        return value.date() if isinstance(value, datetime.datetime) else value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{what} must be a date (YYYY-MM-DD), not {value!r}")


@dataclass(frozen=True, kw_only=True)
class _Sourced:
    #: Where the figures come from (a URL, or the file of a user's price table).
    source: str | None = None
    #: When they were read from there.
    as_of: datetime.date | None = None

    def _check_source(self) -> None:
        if self.source is not None and not isinstance(self.source, str):
            raise ValueError(f"source must be a string (a URL), not {self.source!r}")
        object.__setattr__(self, "as_of", _date(self.as_of, "as_of"))

    def cite(self) -> str:
        """``(developers.openai.com, 2026-12-02)``: where the figures come from, briefly."""
        where = self.source or "no source given"
        host = urlsplit(where).hostname if "://" in where else None
        parts = [host or where, *([self.as_of.isoformat()] if self.as_of else [])]
        return f"({', '.join(parts)})"


@dataclass(frozen=True, kw_only=True)
class PerImage(_Sourced):
    """US dollars per image, by size and quality (``"1024x1024/hd"``, ``"1024x1024"``,
    ``"*/hd"``, ``"*"``: the most specific key that matches wins). ``default_size`` and
    ``default_quality`` are what the provider makes when the request names none."""

    prices: Mapping[str, Decimal]
    default_size: str | None = None
    default_quality: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "prices", _table(self.prices, "per_image"))
        if not self.prices:
            raise ValueError("per_image must list at least one price")
        self._check_source()

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description (dollars as strings, never floats)."""
        return {
            "kind": "per_image",
            "per_image": {key: str(value) for key, value in self.prices.items()},
            "source": self.source,
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }


@dataclass(frozen=True, kw_only=True)
class PerToken(_Sourced):
    """US dollars per million tokens of ``text_input``, ``image_input`` and ``image_output``.

    Before a request is sent its output is priced from ``output_tokens`` (the published
    output tokens of one image, by size/quality key as in :class:`PerImage`) at the
    ``image_output`` rate, else from ``output_per_image`` (the published dollars of one
    output image); input images are not estimated (their tokens depend on the images)."""

    text_input: Decimal
    image_input: Decimal
    image_output: Decimal
    output_per_image: Mapping[str, Decimal] = field(default_factory=dict)
    output_tokens: Mapping[str, int] = field(default_factory=dict)
    default_size: str | None = None
    default_quality: str | None = None

    def __post_init__(self) -> None:
        for name in ("text_input", "image_input", "image_output"):
            object.__setattr__(self, name, money(getattr(self, name), name))
        object.__setattr__(
            self, "output_per_image", _table(self.output_per_image, "output_per_image")
        )
        object.__setattr__(self, "output_tokens", _tokens(self.output_tokens, "output_tokens"))
        self._check_source()

    def rates(self) -> str:
        """``$5/$10/$40 per 1M text in/image in/image out tokens``."""
        return (
            f"${plain_usd(self.text_input)}/${plain_usd(self.image_input)}/"
            f"${plain_usd(self.image_output)} per 1M text-in/image-in/image-out tokens"
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description (dollars as strings, never floats)."""
        return {
            "kind": "per_token",
            "text_input": str(self.text_input),
            "image_input": str(self.image_input),
            "image_output": str(self.image_output),
            "output_per_image": {k: str(v) for k, v in self.output_per_image.items()},
            "output_tokens": dict(self.output_tokens),
            "source": self.source,
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }


Price = PerImage | PerToken


def plain_usd(amount: Decimal) -> str:
    """A dollar amount without trailing zeros, at least to the cent: 0.084, 0.04, 1.50."""
    text = f"{amount.normalize():f}"
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents.ljust(2, '0')}" if cents or amount < 1 else whole


@dataclass(frozen=True)
class Cost:
    """What a request or a call costs: ``usd`` (None when not known, never a made-up 0),
    ``basis`` (how it was computed, in words) and ``exact`` (True for a per-image price or
    from reported usage; False for an estimate of tokens)."""

    usd: Decimal | None
    basis: str
    exact: bool = False

    def __str__(self) -> str:
        return "unknown" if self.usd is None else f"${plain_usd(self.usd)}"

    @property
    def known(self) -> bool:
        return self.usd is not None

    @classmethod
    def unknown(cls, basis: str) -> Cost:
        return cls(None, basis, exact=False)

    @classmethod
    def total(cls, costs: Iterable[Cost]) -> Cost:
        """The sum of ``costs``: unknown if any is unknown; exact if all are."""
        items = list(costs)
        if not items:
            return cls(Decimal(0), "nothing", exact=True)
        if len(items) == 1:
            return items[0]
        unique = list(dict.fromkeys(c.basis for c in items))
        basis = (
            f"{len(items)} calls, each {unique[0]}"
            if len(unique) == 1
            else f"{len(items)} calls: {'; '.join(unique)}"
        )
        if any(c.usd is None for c in items):
            return cls(None, basis, exact=False)
        return cls(
            sum((c.usd for c in items if c.usd is not None), Decimal(0)),
            basis,
            exact=all(c.exact for c in items),
        )


# -- user price tables ----------------------------------------------------------------------
_PER_IMAGE_KEYS = ("per_image", "source", "as_of", "default_size", "default_quality")
_PER_TOKEN_KEYS = (
    "text_input",
    "image_input",
    "image_output",
    "output_per_image",
    "output_tokens",
    "source",
    "as_of",
    "default_size",
    "default_quality",
)


@dataclass(frozen=True)
class PriceBook:
    """The user's prices, by provider and model; they override what plugins declare."""

    prices: Mapping[tuple[str, str], Price] = field(default_factory=dict)
    #: Where the tables were read from (a file), for the basis of a cost.
    origin: str | None = None

    def get(self, provider: str, model: str) -> Price | None:
        return self.prices.get((provider, model))

    def __len__(self) -> int:
        return len(self.prices)

    @classmethod
    def from_tables(cls, tables: Any, *, origin: str, where: str = "prices") -> PriceBook:
        """From ``{provider: {model: table}}`` (what ``[prices.<provider>.<model>]`` reads as);
        a :class:`ConfigurationError` naming ``origin``, the table and the key for anything
        that is not a price."""
        if not isinstance(tables, Mapping):
            raise ConfigurationError(f"{origin}: {where} must be a table of providers")
        prices: dict[tuple[str, str], Price] = {}
        for provider, models in tables.items():
            if not isinstance(models, Mapping):
                raise ConfigurationError(
                    f"{origin}: [{where}.{provider}] must be a table of models"
                    f" ([{where}.{provider}.MODEL])"
                )
            for model, table in models.items():
                prices[(str(provider), str(model))] = _price(
                    table, origin, f"[{where}.{provider}.{model}]"
                )
        return cls(MappingProxyType(prices), origin)


def _price(table: Any, origin: str, where: str) -> Price:
    if not isinstance(table, Mapping):
        raise ConfigurationError(
            f"{origin}: {where} must be a table with per_image, or text_input, image_input"
            " and image_output"
        )
    per_image = "per_image" in table
    allowed = _PER_IMAGE_KEYS if per_image else _PER_TOKEN_KEYS
    for key in table:
        if key not in allowed:
            kind = "a per-image price" if per_image else "a per-token price"
            raise ConfigurationError(
                f"{origin}: {where}: unknown key {key!r} for {kind} (the keys allowed there:"
                f" {', '.join(allowed)})"
            )
    fields = dict(table)
    fields.setdefault("source", origin)
    try:
        if per_image:
            fields["prices"] = fields.pop("per_image")
            return PerImage(**fields)
        missing = [k for k in ("text_input", "image_input", "image_output") if k not in table]
        if missing:
            raise ValueError(
                f"{', '.join(missing)} missing: a table has per_image = {{...}}, or text_input,"
                " image_input and image_output (US dollars per 1M tokens)"
            )
        return PerToken(**fields)
    except (ValueError, TypeError) as error:
        raise ConfigurationError(f"{origin}: {where}: {error}") from None


def load_prices(path: str | os.PathLike[str]) -> PriceBook:
    """A price file: TOML (``[prices.<provider>.<model>]`` or ``[<provider>.<model>]``
    tables) or JSON (the same, as objects), by its suffix (``.json`` is JSON, else TOML)."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"{file}: cannot read the price file ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{file}: not UTF-8 text") from None
    data: Any
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"{file}: not valid JSON: {error}") from None
    else:
        reader = toml()
        try:
            data = reader.loads(text, parse_float=Decimal)
        except reader.TOMLDecodeError as error:
            raise ConfigurationError(f"{file}: not valid TOML: {error}") from None
    if isinstance(data, Mapping) and set(data) == {"prices"}:
        data = data["prices"]
    return PriceBook.from_tables(data, origin=str(file))


#: A client's ``prices=``: a loaded PriceBook, or a price file (TOML or JSON).
PricesSetting = PriceBook | str | os.PathLike[str] | None


def price_book(value: PricesSetting) -> PriceBook | None:
    """A client's ``prices=``: a loaded book, a file to load, or None (no override)."""
    if value is None or isinstance(value, PriceBook):
        return value
    if isinstance(value, str | os.PathLike):
        return load_prices(value)
    raise ConfigurationError(
        f"prices must be an imagebridge.PriceBook, a path to a price file, or None, not"
        f" {type(value).__name__}"
    )
