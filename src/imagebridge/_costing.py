"""What a request costs before it is sent (:func:`estimate`) and what a call cost after
(:func:`actual`), under the prices of :mod:`imagebridge._prices`.

The price that applies is the user's (a :class:`~imagebridge.PriceBook` naming the provider
and model), else the model's declared one (``Capabilities.price``), else none: the cost is
then ``unknown``, never 0. Where the request leaves the size or the quality to the provider
(unset or ``auto``), the highest listed price is taken, and the basis says so: a budget must
never under-count. A per-image price is exact; a token price's estimate is not (the prompt's
tokens are estimated as characters/4, input images not at all), its actual from the usage
the reply reported is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from ._prices import Cost, PerImage, PerToken, Price, PriceBook, plain_usd

if TYPE_CHECKING:
    from ._result import Usage

__all__ = ["actual", "estimate", "estimate_call", "price_of"]

MILLION = Decimal(1_000_000)
#: How a prompt's text tokens are estimated before sending: about 4 characters a token.
CHARS_PER_TOKEN = 4


class Plan(Protocol):
    """What pricing reads of a :class:`~imagebridge.adapter.Plan` (a protocol: pricing sits
    below pre-flight, whose capabilities declare the prices)."""

    @property
    def provider(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def capabilities(self) -> Any: ...
    @property
    def request(self) -> Any: ...
    @property
    def expected_size(self) -> tuple[int, int] | None: ...
    @property
    def wire_size(self) -> str | None: ...
    @property
    def wire_resolution(self) -> str | None: ...
    @property
    def n(self) -> int: ...
    @property
    def batches(self) -> Sequence[int]: ...


def price_of(plan: Plan, prices: PriceBook | None = None) -> tuple[Price | None, str]:
    """The price that applies to ``plan`` and where it comes from: the user's table when it
    names this provider and model, else the model's declared price (None: unknown)."""
    if prices is not None:
        mine = prices.get(plan.provider, plan.model)
        if mine is not None:
            return mine, "your price table"
    return plan.capabilities.price, "declared"


def _size_key(plan: Plan) -> str | None:
    if plan.expected_size is not None:
        return f"{plan.expected_size[0]}x{plan.expected_size[1]}"
    if plan.wire_size and plan.wire_resolution:
        return f"{plan.wire_size}@{plan.wire_resolution}"
    return plan.wire_size


def _lookup(
    table: Mapping[str, Any],
    size: str | None,
    quality: str | None,
    default_size: str | None,
    default_quality: str | None,
) -> tuple[str, Any, str] | None:
    """The entry of ``table`` for ``size``/``quality``: (what it is, value, note), or None.

    No size (or ``auto``) and no quality (or ``auto``) mean the provider picks: the highest
    listed price is taken, and the note says so (a budget must not under-count)."""
    size = size or default_size
    quality = quality or default_quality
    notes: list[str] = []
    if size in (None, "auto"):
        sizes = sorted({k.partition("/")[0] for k in table}) or ["*"]
        notes.append(f"size {size or 'unset'}: the highest listed price")
    else:
        sizes = [size]
    if quality in (None, "auto"):
        listed = sorted({k.partition("/")[2] for k in table if "/" in k})
        qualities: list[str | None] = [*listed] if listed else [None]
        if qualities != [None]:
            notes.append(f"quality {quality or 'unset'}: the highest listed price")
    else:
        qualities = [quality]
    found: list[tuple[str, Any, str]] = []
    for s in sizes:
        for q in qualities:
            keys = (f"{s}/{q}" if q else None, s, f"*/{q}" if q else None, "*")
            key = next((k for k in keys if k is not None and k in table), None)
            if key is not None:
                label = " ".join(part for part in (q, s) if part and part != "*")
                found.append((label or key, table[key], key))
    if not found:
        return None
    label, value, _ = max(found, key=lambda item: item[1])
    return label, value, "; ".join(notes)


def _per_image(plan: Plan, price: Price) -> tuple[str, Decimal, str] | None:
    """The dollars of one output image of ``plan`` under ``price``: (label, usd, note)."""
    size, quality = _size_key(plan), plan.request.quality
    if isinstance(price, PerImage):
        return _lookup(price.prices, size, quality, price.default_size, price.default_quality)
    tokens = _lookup(price.output_tokens, size, quality, price.default_size, price.default_quality)
    if tokens is not None:
        label, count, note = tokens
        usd = Decimal(count) * price.image_output / MILLION
        return f"{label} ({count} output tokens at ${plain_usd(price.image_output)}/1M)", usd, note
    return _lookup(price.output_per_image, size, quality, price.default_size, price.default_quality)


def _cite(price: Price, origin: str) -> str:
    if origin == "your price table":
        return f"(your price table: {price.source})" if price.source else "(your price table)"
    return price.cite()


def _images(count: int) -> str:
    return f"{count} image{'s' if count != 1 else ''}"


#: Costs already worked out, estimates and costs from reported usage alike, by the price (its
#: identity: prices are immutable) and all else a cost depends on. A client sends the same
#: kind of request again and again (and a model reports the same output tokens for the same
#: size and quality), and working a cost out (a table lookup or the decimal sums, the basis in
#: words) took a fifth of a call's own CPU time (bench/, section 1). The price is kept in the
#: value, so its id is not reused while the entry lives; the memo is cleared when full.
_MEMO: dict[tuple[Any, ...], tuple[Price, Cost]] = {}
_MEMO_SIZE = 512


def _cost(
    plan: Plan, prompt: str, price: Price | None, origin: str, images: int, calls: int
) -> Cost:
    if price is None:
        return Cost.unknown(f"{plan.model} on {plan.provider}: no price known")
    request = plan.request
    key = (
        id(price),
        origin,
        plan.provider,
        plan.model,
        _size_key(plan),
        request.quality,
        images,
        calls,
        math.ceil(len(prompt) / CHARS_PER_TOKEN) if prompt else 0,
        bool(request.reference_images) or request.mask is not None,
    )
    return _remembered(key, price, lambda: _work_out(plan, prompt, price, origin, images, calls))


def _remembered(key: tuple[Any, ...], price: Price, work_out: Callable[[], Cost]) -> Cost:
    """The cost memoised under ``key`` (which starts with ``id(price)``), else worked out."""
    found = _MEMO.get(key)
    if found is not None and found[0] is price:
        return found[1]
    cost = work_out()
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[key] = (price, cost)
    return cost


def _work_out(plan: Plan, prompt: str, price: Price, origin: str, images: int, calls: int) -> Cost:
    model = f"{plan.model}"
    cite = _cite(price, origin)
    entry = _per_image(plan, price)
    if entry is None:
        size = _size_key(plan) or price.default_size or "the default size"
        quality = plan.request.quality or price.default_quality
        what = f"{quality} {size}" if quality else size
        return Cost.unknown(f"{model} on {plan.provider}: no price for {what} {cite}")
    label, each, note = entry
    usd = each * images
    basis = f"{model} {label}: ${plain_usd(each)} x {_images(images)}"
    exact = isinstance(price, PerImage)
    if isinstance(price, PerToken):
        text_tokens = math.ceil(len(prompt) / CHARS_PER_TOKEN) if prompt else 0
        if text_tokens:
            usd += Decimal(text_tokens * calls) * price.text_input / MILLION
            per_call = f" x {calls} calls" if calls > 1 else ""
            basis += (
                f" + ~{text_tokens} prompt tokens{per_call} at ${plain_usd(price.text_input)}/1M"
                " (estimated as characters/4)"
            )
        if plan.request.reference_images or plan.request.mask is not None:
            basis += "; input image tokens not estimated"
    if note:
        basis += f" ({note})"
    return Cost(usd, f"{basis} {cite}", exact=exact)


def estimate(plan: Plan, prompt: str | None = None, prices: PriceBook | None = None) -> Cost:
    """What the whole request of ``plan`` should cost (every call of a split request), from
    the user's ``prices`` if they name this provider and model, else the model's declared
    price, else unknown. ``prompt`` defaults to the plan's."""
    price, origin = price_of(plan, prices)
    text = plan.request.prompt if prompt is None else prompt
    return _cost(plan, text, price, origin, plan.request.n, len(plan.batches))


def estimate_call(plan: Plan, prices: PriceBook | None = None) -> Cost:
    """What one call of ``plan`` (``plan.n`` images) should cost."""
    price, origin = price_of(plan, prices)
    return _cost(plan, plan.request.prompt, price, origin, plan.n, 1)


def actual(
    plan_or_price: Plan | Price | None,
    usage: Usage | None,
    *,
    prices: PriceBook | None = None,
    model: str = "",
) -> Cost:
    """What one call cost, from the usage its reply reported.

    A :class:`PerToken` price with usage: the reported text and image input tokens
    (``usage.raw["input_tokens_details"]``) and the output tokens at their rates, exact. A
    :class:`PerImage` price: the call's estimate (the price is per image). No usage and no
    per-image price: unknown. Given a bare price, pass ``model`` for the basis."""
    price: Price | None
    plan: Plan | None = None
    if plan_or_price is None or isinstance(plan_or_price, PerImage | PerToken):
        price, origin = plan_or_price, "declared"
    else:
        plan = plan_or_price
        price, origin = price_of(plan, prices)
        model = plan.model
    if isinstance(price, PerImage):
        if plan is None:
            return Cost.unknown(f"{model}: a per-image price needs the plan (size and quality)")
        return estimate_call(plan, prices)
    if price is None:
        return Cost.unknown(f"{model}: no price known")
    output = None if usage is None else usage.output_tokens
    if usage is None or output is None:
        return Cost.unknown(f"{model}: the reply reported no token usage {_cite(price, origin)}")
    details = usage.raw.get("input_tokens_details")
    given = details if isinstance(details, Mapping) else {}
    text, image = given.get("text_tokens"), given.get("image_tokens")
    exact = True
    if not (isinstance(text, int) and _count(text) and isinstance(image, int) and _count(image)):
        total_in = usage.input_tokens or 0
        with_images = plan is not None and bool(plan.request.reference_images)
        # No breakdown: all at the image rate if images were sent (the most it can be).
        text, image = (0, total_in) if with_images else (total_in, 0)
        exact = not with_images
    return _remembered(
        (id(price), origin, model, text, image, output, exact),
        price,
        lambda: _from_usage(price, origin, model, text, image, output, exact),
    )


def _from_usage(
    price: PerToken, origin: str, model: str, text: int, image: int, output: int, exact: bool
) -> Cost:
    usd = (
        Decimal(text) * price.text_input
        + Decimal(image) * price.image_input
        + Decimal(output) * price.image_output
    ) / MILLION
    basis = (
        f"{model} reported usage: {text} text + {image} image input tokens, "
        f"{output} output tokens at {price.rates()} {_cite(price, origin)}"
    )
    return Cost(usd, basis, exact=exact)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
