"""Hypothesis strategies: canonical requests (valid and not) and provider answers (well-formed,
malformed, truncated, HTML, random statuses, broken connections) for every built-in dialect."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import strategies as st
from PIL import Image

JSON = dict[str, Any]


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


PNG = _png(4, 4)
PNG_B64 = base64.b64encode(PNG).decode()

# -- canonical requests -----------------------------------------------------------------------
MODELS = ["gpt-image-1", "gpt-image-2", "dall-e-2", "dall-e-3", "gpt-image-1-mini", "made-up"]
SIZES = ["1:1", "16:9", "9:16", "3:2", "4:3", "21:9", "auto", "1024x1024", "256x256", "512x512"]
SIZES += ["1536x1024", "1792x1024", "3840x2160", "0x0", "10x10", "1:0", "abc", "16:9:1", ""]
IMAGES = [PNG, f"data:image/png;base64,{PNG_B64}", "https://example.test/cat.png", b"", "nope"]
IMAGES += ["data:image/png;base64,!!!", "blob:https://x/1", PNG_B64, b"GIF89a" + b"\0" * 20]

_text = st.text(max_size=40)


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything at all."""
    return st.one_of(values, values, st.none(), st.integers(-5, 5), _text, st.booleans())


@st.composite
def canonical_fields(draw: st.DrawFn, provider: str) -> tuple[str, JSON]:
    """A prompt and canonical fields: every field of ImageRequest, valid or not."""
    prompt = draw(st.one_of(st.just("a red cube"), st.text(max_size=60), st.just("  ")))
    candidates: JSON = {
        "model": _maybe(st.sampled_from(MODELS)),
        "n": _maybe(st.integers(1, 4)),
        "size": _maybe(st.sampled_from(SIZES)),
        "resolution": _maybe(st.sampled_from(["1k", "2k", "4k", "8k"])),
        "quality": _maybe(st.sampled_from(["auto", "low", "medium", "high", "standard", "hd"])),
        "output_format": _maybe(st.sampled_from(["png", "jpeg", "webp", "gif"])),
        "output_compression": _maybe(st.integers(-10, 110)),
        "background": _maybe(st.sampled_from(["auto", "transparent", "opaque", "blue"])),
        "moderation": _maybe(st.sampled_from(["auto", "low", "strict"])),
        "style": _maybe(st.sampled_from(["vivid", "natural", ""])),
        "reference_images": _maybe(st.lists(st.sampled_from(IMAGES), max_size=5)),
        "mask": _maybe(st.sampled_from(IMAGES)),
        "user": _maybe(_text),
        "provider_options": _maybe(
            st.dictionaries(
                st.sampled_from([provider, "openai", "other"]),
                st.dictionaries(
                    st.sampled_from(
                        ["mode", "async_trigger", "compat", "response_format", "watermark", "x"]
                    ),
                    st.sampled_from(["sync", "async", "apimart", "url", "b64_json", True, 3]),
                    max_size=2,
                ),
                max_size=2,
            )
        ),
        "not_a_field": st.integers(),
    }
    names = draw(st.sets(st.sampled_from(sorted(candidates)), max_size=6))
    return prompt, {name: draw(candidates[name]) for name in sorted(names)}


# -- provider answers -------------------------------------------------------------------------
STATUSES = ["queued", "pending", "in_progress", "processing", "running", "succeeded"]
STATUSES += ["completed", "success", "failed", "cancelled", "expired", "SUCCEEDED", "", "weird"]
URLS = ["/p/img/t/0?exp=1&sig=a", "https://cdn.test/a.png", "data:image/png;base64,AAAA"]
URLS += [f"data:image/png;base64,{PNG_B64}", "", "not a url", "http://[::1", "ftp://x/y", "/"]

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _value(*pool: Any) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(pool), _json) if pool else _json


def _obj(fields: JSON) -> st.SearchStrategy[JSON]:
    """An object with some of ``fields`` (name -> strategy)."""
    return st.fixed_dictionaries({}, optional=fields)


_url = _value(*URLS, ["https://cdn.test/b.png"])
_b64 = _value(PNG_B64, "!!!not base64", "AAAA", "", "AAA")
_extras = {
    "revised_prompt": _value("a cube"),
    "file_id": _value("file_1"),
    "expires_at": _value(1_900_000_000),
}
_image = st.one_of(
    st.fixed_dictionaries({"url": _url}, optional=_extras),
    st.fixed_dictionaries({"b64_json": _b64}, optional=_extras),
    _obj({"url": _url, "b64_json": _b64, **_extras}),
)
_images = st.one_of(st.lists(_image, max_size=3), _json)
_error = st.one_of(
    _obj({"code": _value("content_moderation", "upstream_error", 400), "message": _value("no")}),
    _json,
)
_task_id = _value("t1", "task_1", "img_1", "", 0)
_task_fields = {
    "id": _task_id,
    "task_id": _task_id,
    "status": _value(*STATUSES),
    "progress": _value(0, 50, 100, "50", -1, 1e309),
    "result": st.one_of(
        st.fixed_dictionaries({"data": _images}, optional={"created": _value(1)}),
        st.fixed_dictionaries({"images": _images}),
        _json,
    ),
    "error": _error,
    "error_code": _value("content_moderation"),
    "data": st.one_of(_images, _json),
    "created": _value(1),
}
#: A task object: usually with a status, often with a result.
_task = st.one_of(
    st.fixed_dictionaries(
        {"status": _value(*STATUSES), "result": _task_fields["result"]},
        optional={k: v for k, v in _task_fields.items() if k not in ("status", "result")},
    ),
    st.fixed_dictionaries(
        {"status": _value(*STATUSES)},
        optional={k: v for k, v in _task_fields.items() if k != "status"},
    ),
    _obj(_task_fields),
)
_submitted = st.one_of(
    _obj({"created": _value(1), "task_id": _task_id, "data": st.just([])}),
    _obj({"code": _value(200, 400, "200"), "data": st.lists(_obj({"task_id": _task_id}))}),
    _obj({"code": _value(200), "data": _obj({"id": _task_id, "status": _value("submitted")})}),
)
_images_body = st.fixed_dictionaries(
    {"data": _images}, optional={"created": _value(1), "usage": _json, "task_id": _task_id}
)
_envelope = _obj({"code": _value(200, 404, 500), "data": st.one_of(_task, _json), "error": _error})
#: Bodies by what was asked: the dialects' own shapes (with wrong types here and there) first.
BODIES = {
    "submit": st.one_of(_images_body, _images_body, _submitted, _submitted, _task, _json),
    "poll": st.one_of(_task, _task, _envelope, _envelope, _images_body, _json),
    "download": st.one_of(_images_body, _json),
}
_ERROR_BODY = _obj({"error": _error, "code": _json, "message": _value("nope")})
HTML = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
_ERROR_STATUS = st.one_of(
    st.sampled_from([201, 204, 400, 401, 402, 403, 404, 410, 422, 429, 500, 502, 503, 504]),
    st.integers(200, 599),
)
_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "retry-after": st.sampled_from(
            ["1", "0", "-3", "abc", "1e9", "Wed, 21 Oct 2015 07:28:00 GMT"]
        ),
        "retry-after-ms": st.sampled_from(["5", "x"]),
        "x-request-id": st.just("req_1"),
    },
)
_BROKEN: list[type[httpx.TransportError]] = [
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadTimeout,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.ReadError,
]


@dataclass(frozen=True)
class Answer:
    """A drawn answer (its repr is what a falsifying example shows)."""

    status: int
    headers: dict[str, str]
    content: bytes = b""
    broken: type[httpx.TransportError] | None = None

    def respond(self) -> httpx.Response:
        if self.broken is not None:
            raise self.broken("emulated transport failure")
        return httpx.Response(self.status, content=self.content, headers=self.headers)


@st.composite
def answer(draw: st.DrawFn, asked: str) -> Answer:
    """One answer to a ``submit``, ``poll`` or ``download``, or a broken connection instead."""
    kind = draw(st.sampled_from(["json"] * 8 + ["error body", "truncated", "html", "bytes"]))
    kind = draw(st.sampled_from([kind, kind, kind, "empty", "broken"]))
    status = draw(st.sampled_from([200, 200, 200, -1]))
    status = status if status > 0 else draw(_ERROR_STATUS)
    headers = draw(_HEADERS)
    if kind == "broken":
        return Answer(0, {}, broken=draw(st.sampled_from(_BROKEN)))
    if asked == "download" and draw(st.booleans()):
        content = PNG if draw(st.booleans()) else PNG[: draw(st.integers(0, len(PNG)))]
        return Answer(status, headers, content)
    if kind == "json":
        return Answer(status, headers, json.dumps(draw(BODIES[asked]), allow_nan=True).encode())
    if kind == "error body":
        return Answer(status, headers, json.dumps(draw(_ERROR_BODY), allow_nan=True).encode())
    if kind == "truncated":
        text = json.dumps(draw(BODIES[asked]), allow_nan=True)
        cut = text[: draw(st.integers(0, max(0, len(text) - 1)))]
        return Answer(status, headers, cut.encode())
    if kind == "html":
        return Answer(status, {**headers, "content-type": "text/html"}, HTML.encode())
    if kind == "bytes":
        return Answer(status, headers, draw(st.binary(max_size=40)))
    return Answer(status, headers)
