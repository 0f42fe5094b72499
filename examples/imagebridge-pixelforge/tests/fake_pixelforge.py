"""An in-process fake of the PixelForge Render API (DIALECT.md), to record cassettes from.

PixelForge is fictional, so there is no live endpoint: ``record_cassettes.py`` records the
conformance scenarios from this fake through an ``httpx.MockTransport``, exactly as it would
from the real API with ``base_url`` and a key. It understands the conformance kit's prompt
markers: ``#error=<status>:<problem type>`` answers the submit with that error and
``#fail=<reason>`` makes the render fail. Renders progress on the injected clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from imagebridge.testing import sample_png

API = "api.pixelforge.example"
CDN = "cdn.pixelforge.example"
SIZES = {"1:1": (1024, 1024), "4:3": (1152, 864), "16:9": (1280, 720)}
SCALES = {"1x": 1, "2x": 2}
_ERROR = re.compile(r"#error=(\d{3}):([a-z_]+)")
_FAIL = re.compile(r"#fail=([a-z_]+)")


@dataclass
class Render:
    id: str
    created: int
    submitted: float
    size: tuple[int, int]
    count: int
    failure: str | None


def _problem(status: int, kind: str, detail: str) -> httpx.Response:
    headers = {"Retry-After": "2"} if status == 429 else {}
    request_id = f"req_{secrets.token_hex(6)}"
    body = {"problem": {"type": kind, "detail": detail, "request": request_id}}
    return httpx.Response(status, json=body, headers=headers)


def _pixels(aspect: str, scale: str) -> tuple[int, int] | None:
    width, _, height = aspect.partition(":")
    landscape = f"{max(width, height, key=int)}:{min(width, height, key=int)}"
    size = SIZES.get(landscape)
    if size is None or scale not in SCALES:
        return None
    w, h = (size[0] * SCALES[scale], size[1] * SCALES[scale])
    return (w, h) if int(width) >= int(height) else (h, w)


class FakePixelForge:
    """The fake API: ``handle`` is an ``httpx.MockTransport`` handler."""

    def __init__(self, api_key: str, clock: Callable[[], float], duration: float = 0.0) -> None:
        self.api_key = api_key
        self.clock = clock
        #: Seconds a render takes (on ``clock``) from submit to done.
        self.duration = duration
        self.renders: dict[str, Render] = {}
        self._secret = secrets.token_bytes(16)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == CDN:
            return self._download(request)
        if request.headers.get("x-pixelforge-key") != self.api_key:
            return _problem(401, "auth", "missing or unknown X-PixelForge-Key")
        path = request.url.path
        if request.method == "POST" and path == "/v2/renders":
            return self._submit(json.loads(request.content))
        if request.method == "GET" and path.startswith("/v2/renders/"):
            return self._status(path.rsplit("/", 1)[1])
        return _problem(404, "not_found", f"no route {request.method} {path}")

    def _submit(self, body: dict[str, Any]) -> httpx.Response:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return _problem(422, "invalid", "prompt is required")
        marker = _ERROR.search(prompt)
        if marker:
            return _problem(int(marker.group(1)), marker.group(2), "emulated problem")
        size = _pixels(body.get("aspect", "1:1"), body.get("scale", "1x"))
        count = body.get("count", 1)
        if size is None or not isinstance(count, int) or not 1 <= count <= 4:
            return _problem(422, "invalid", "unsupported aspect, scale or count")
        if body.get("encoding", "png") != "png" or len(body.get("style_refs", [])) > 2:
            return _problem(422, "invalid", "unsupported encoding or too many style_refs")
        failure = _FAIL.search(prompt)
        render = Render(
            id=f"rnd_{secrets.token_hex(8)}",
            created=int(time.time()),
            submitted=self.clock(),
            size=size,
            count=count,
            failure=failure.group(1) if failure else None,
        )
        self.renders[render.id] = render
        answer = {"id": render.id, "state": "queued", "created": render.created}
        return httpx.Response(202, json={"render": answer})

    def _status(self, render_id: str) -> httpx.Response:
        render = self.renders.get(render_id)
        if render is None:
            return _problem(404, "not_found", f"no render {render_id}")
        elapsed = self.clock() - render.submitted
        fraction = 1.0 if self.duration <= 0 else min(1.0, elapsed / self.duration)
        body: dict[str, Any] = {"id": render.id, "created": render.created}
        if fraction < 0.25:
            body.update(state="queued", progress=0.0)
        elif fraction < 1.0:
            body.update(state="rendering", progress=round(fraction, 2))
        elif render.failure is not None:
            detail = f"render failed: {render.failure}"
            body.update(state="failed", failure={"reason": render.failure, "detail": detail})
        else:
            width, height = render.size
            outputs = [
                {"href": self._href(render.id, i), "mime": "image/png", "width": width,
                 "height": height}
                for i in range(render.count)
            ]  # fmt: skip
            body.update(state="done", progress=1.0, outputs=outputs)
        return httpx.Response(200, json={"render": body})

    def _signature(self, path: str) -> str:
        return hmac.new(self._secret, path.encode(), hashlib.sha256).hexdigest()

    def _href(self, render_id: str, index: int) -> str:
        path = f"/o/{render_id}/{index}.png"
        query = f"X-Amz-Expires=3600&X-Amz-Signature={self._signature(path)}"
        return f"https://{CDN}{path}?{query}"

    def _download(self, request: httpx.Request) -> httpx.Response:
        if "x-pixelforge-key" in request.headers:
            return httpx.Response(400, text="keys are not accepted by the CDN")
        path = request.url.path
        if request.url.params.get("X-Amz-Signature") != self._signature(path):
            return httpx.Response(403, text="bad signature")
        render = self.renders[path.split("/")[2]]
        width, height = render.size
        return httpx.Response(200, content=sample_png(width, height), headers={
            "content-type": "image/png"})  # fmt: skip
