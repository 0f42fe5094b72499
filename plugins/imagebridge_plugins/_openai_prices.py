"""OpenAI's published prices, for the ``openai`` provider only (gateways price their own).

Every figure is copied from a page of OpenAI's own (developers.openai.com), read on
2026-12-02; a model with no such page found has no price here (its cost is ``unknown``,
never 0). The pages, and what was taken from each:

* gpt-image-1, https://developers.openai.com/ja-JP/api/docs/models/gpt-image-1 (the page
  says the model was shut down on 2026-10-23): text input $5.00, image input $10.00, image
  output $40.00 per 1M tokens; per image (low / medium / high) $0.011 / $0.042 / $0.167 at
  1024x1024 and $0.016 / $0.063 / $0.25 at 1024x1536 and 1536x1024.
* gpt-image-1-mini, https://developers.openai.com/de-DE/api/docs/models/gpt-image-1-mini:
  text input $2.00, image input $2.50, image output $8.00 per 1M tokens; per image $0.005 /
  $0.011 / $0.036 at 1024x1024 and $0.006 / $0.015 / $0.052 at 1024x1536 and 1536x1024.
* dall-e-2, https://developers.openai.com/api/docs/models/dall-e-2: $0.02 per 1024x1024
  image ("Quick comparison"). Its per-image table lists $0.016, $0.018 and $0.02 under
  sizes dall-e-2 does not make (1024x1536, 1536x1024): 256x256 and 512x512 are left unknown.
* dall-e-3: its own page (https://developers.openai.com/api/docs/models/dall-e-3) says it
  was shut down and lists no price; the dall-e-2 page's "Quick comparison" (standard
  quality) gives $0.04 per 1024x1024 image. Other sizes and hd are unknown.

No page with prices was found for gpt-image-1.5, gpt-image-2 (and its snapshot) or
chatgpt-image-latest: they have none here.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal as D

from imagebridge import PerImage, PerToken

AS_OF = datetime.date(2026, 12, 2)
_PAGES = "https://developers.openai.com/api/docs/models/"
_SIZES = ("1024x1024", "1024x1536", "1536x1024")


def _per_image(*tiers: tuple[str, str, str]) -> dict[str, D]:
    """``{"1024x1024/low": ...}`` from the (1024x1024, 1024x1536, 1536x1024) prices of the
    low, medium and high qualities, as the pages list them."""
    table: dict[str, D] = {}
    for quality, prices in zip(("low", "medium", "high"), tiers, strict=True):
        for size, price in zip(_SIZES, prices, strict=True):
            table[f"{size}/{quality}"] = D(price)
    return table


GPT_IMAGE_PRICES: Mapping[str, PerToken] = {
    "gpt-image-1": PerToken(
        text_input=D("5.00"),
        image_input=D("10.00"),
        image_output=D("40.00"),
        output_per_image=_per_image(
            ("0.011", "0.016", "0.016"), ("0.042", "0.063", "0.063"), ("0.167", "0.25", "0.25")
        ),
        source="https://developers.openai.com/ja-JP/api/docs/models/gpt-image-1",
        as_of=AS_OF,
    ),
    "gpt-image-1-mini": PerToken(
        text_input=D("2.00"),
        image_input=D("2.50"),
        image_output=D("8.00"),
        output_per_image=_per_image(
            ("0.005", "0.006", "0.006"), ("0.011", "0.015", "0.015"), ("0.036", "0.052", "0.052")
        ),
        source="https://developers.openai.com/de-DE/api/docs/models/gpt-image-1-mini",
        as_of=AS_OF,
    ),
}

DALL_E_PRICES: Mapping[str, PerImage] = {
    "dall-e-2": PerImage(
        prices={"1024x1024": D("0.02")},
        default_size="1024x1024",
        source=f"{_PAGES}dall-e-2",
        as_of=AS_OF,
    ),
    "dall-e-3": PerImage(
        prices={"1024x1024/standard": D("0.04")},
        default_size="1024x1024",
        default_quality="standard",
        source=f"{_PAGES}dall-e-2",
        as_of=AS_OF,
    ),
}
