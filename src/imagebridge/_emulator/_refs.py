"""Reference images of the task dialects: collecting them from a JSON body and checking them.

gpt2api accepts ``image_urls`` and the aliases ``reference_images``, ``images``, ``image``,
``image_url``, ``input_image``, ``input_images``; each takes a string, a list of strings, a
``{"url": ...}`` object or a list of those. Values from every alias are merged (duplicates
dropped), as the backend does. Each item is an http(s) URL (recorded, never downloaded), a
``data:`` URL or bare base64; ``blob:`` URLs are refused. Limits: 4 images (a per-dialect
argument) of at most 20 MB decoded each.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from ._errors import ApiError

REFERENCE_KEYS: tuple[str, ...] = (
    "image_urls",
    "reference_images",
    "images",
    "image",
    "image_url",
    "input_image",
    "input_images",
)
MAX_REFERENCE_IMAGES = 4
MAX_REFERENCE_BYTES = 20 * 1024 * 1024


def collect_references(body: Mapping[str, Any], keys: Iterable[str] = REFERENCE_KEYS) -> list[str]:
    """Every reference image of the body, in key order, without duplicates."""
    out: list[str] = []
    for key in keys:
        for item in _items(body.get(key), key):
            text = item.strip()
            if text and text not in out:
                out.append(text)
    return out


def _items(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and isinstance(value.get("url"), str):
        return [value["url"]]
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and isinstance(item.get("url"), str):
                out.append(item["url"])
            else:
                break
        else:
            return out
    raise ApiError(
        400,
        "invalid_reference_image",
        f"{key}: expected a string, a list of strings, a url object or a list of url objects",
        param=key,
    )


def check_references(refs: list[str], limit: int = MAX_REFERENCE_IMAGES) -> list[dict[str, Any]]:
    """Validate reference images; returns a short description of each (kind and size)."""
    if len(refs) > limit:
        raise ApiError(
            400,
            "invalid_reference_image",
            f"too many reference images: {len(refs)} (at most {limit})",
        )
    described: list[dict[str, Any]] = []
    for index, ref in enumerate(refs):
        lowered = ref[:16].lower()
        if lowered.startswith(("http://", "https://")):
            described.append({"kind": "url", "url": ref})
        elif lowered.startswith("blob:"):
            raise ApiError(
                400,
                "invalid_reference_image",
                f"reference image {index}: blob: URLs are not accepted; upload the file or "
                "send a data URL",
            )
        elif lowered.startswith("data:"):
            header, sep, payload = ref.partition(",")
            if not sep or ";base64" not in header.lower():
                raise ApiError(
                    400,
                    "invalid_reference_image",
                    f"reference image {index}: only base64 data URLs are accepted",
                )
            size = decoded_size(payload, index)
            described.append({"kind": "data", "media_type": header[5:].split(";")[0], "size": size})
        else:
            described.append({"kind": "base64", "size": decoded_size(ref, index)})
    return described


def decoded_size(payload: str, index: int) -> int:
    """The decoded size of base64 ``payload``; a 400 if invalid or larger than 20 MB."""
    compact = "".join(payload.split())
    if len(compact) * 3 // 4 > MAX_REFERENCE_BYTES + 3:
        raise too_large(index, len(compact) * 3 // 4)
    try:
        size = len(base64.b64decode(compact, validate=True))
    except (binascii.Error, ValueError):
        raise ApiError(
            400,
            "invalid_reference_image",
            f"reference image {index}: not a URL, a data URL or valid base64",
        ) from None
    if size > MAX_REFERENCE_BYTES:
        raise too_large(index, size)
    return size


def too_large(index: int, size: int) -> ApiError:
    return ApiError(
        400,
        "reference_image_too_large",
        f"reference image {index} is {size} bytes; the limit is {MAX_REFERENCE_BYTES} bytes",
    )
