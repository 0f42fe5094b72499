"""Replaying a cassette: an httpx transport built on a respx router, injected with ``transport=``.

Nothing is monkeypatched: :class:`ReplayTransport` is an :class:`httpx.MockTransport` (it
serves :class:`~imagebridge.ImageClient` and :class:`~imagebridge.AsyncImageClient` alike)
whose handler is a :class:`respx.Router`. The router has one route per recorded method and
URL path; each route's side effect plays the first not-yet-played interaction whose request
matches (query, body, credentials, declared headers), so every response is played once and
identical requests get their responses in recorded order. A last catch-all route fails the
request with a diff against the closest recorded request.

A recorded event stream is served as a real ``text/event-stream`` body, one chunk per event
(:class:`~._streams.ReplayStream`): the client parses each event as it comes, with the
recorded delays between them when ``delays=True``, and a stream recorded as broken ends in a
transport error after its last event.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection
from typing import Any

import httpx
import respx

from ._cassette import Body, Cassette, EventStreamBody, Interaction, JsonBody
from ._match import diff_views, embed_assets, recorded_view, request_view, similarity
from ._streams import EVENT_STREAM, ReplayStream, encode_event

__all__ = ["CassetteMismatchError", "ReplayTransport", "UnusedInteractionsError"]


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))


class CassetteMismatchError(AssertionError):
    """A request that no unplayed interaction of the cassette matches."""


class UnusedInteractionsError(AssertionError):
    """Interactions of the cassette that the client never requested."""


class ReplayTransport(httpx.MockTransport):
    """Serves a cassette's responses to the requests that match its recorded ones.

    ``credential_headers`` are the headers the adapter puts the API key in: whether one was
    sent must agree with the recording (keys never go to another host), whatever its value.
    ``delays``: serve the events of a recorded stream at their recorded times (when the
    cassette has them) instead of at once.
    """

    def __init__(
        self,
        cassette: Cassette,
        *,
        credential_headers: Collection[str] = ("authorization",),
        delays: bool = False,
    ) -> None:
        self.cassette = cassette
        self.delays = delays
        self.credential_headers = tuple(name.lower() for name in credential_headers)
        self.played = [False] * len(cassette.interactions)
        #: Every mismatch raised, in case a caller swallowed one.
        self.mismatches: list[CassetteMismatchError] = []
        self._views = [
            recorded_view(item.request, cassette, self.credential_headers)
            for item in cassette.interactions
        ]
        call = cassette.call
        self._api_origin = _origin(httpx.URL(call.client.base_url)) if call else None
        self.router = respx.Router(assert_all_called=False, assert_all_mocked=True)
        groups: dict[tuple[str, str, str, int, str], list[int]] = {}
        for index, item in enumerate(cassette.interactions):
            url = httpx.URL(item.request.url)
            key = (item.request.method.upper(), *_origin(url), url.path)
            groups.setdefault(key, []).append(index)
        for (method, scheme, host, port, path), indices in groups.items():
            route = self.router.route(method=method, scheme=scheme, host=host, port=port, path=path)
            route.mock(side_effect=self._player(indices))
        self.router.route().mock(side_effect=self._unmatched)
        super().__init__(self.router.handler)

    # -- state --------------------------------------------------------------------------------
    @property
    def calls(self) -> int:
        """How many requests reached the transport."""
        return len(self.router.calls)

    def unused(self) -> list[int]:
        """The indices of the interactions not played yet."""
        return [index for index, done in enumerate(self.played) if not done]

    def assert_all_played(self) -> None:
        """Raise :class:`UnusedInteractionsError` unless every interaction was requested."""
        unused = self.unused()
        if unused:
            lines = [f"  #{i} {self._label(i)}" for i in unused]
            raise UnusedInteractionsError(
                f"cassette {self._name()}: {len(unused)} of {len(self.played)} interaction(s)"
                " were never requested:\n" + "\n".join(lines)
            )

    # -- matching -----------------------------------------------------------------------------
    def _check_credentials(self, request: httpx.Request, live: dict[str, Any]) -> None:
        """The key may go to the API's own origin only, whatever the recording says."""
        url = request.url
        if live["credentials"] and self._api_origin and _origin(url) != self._api_origin:
            error = CassetteMismatchError(
                f"cassette {self._name()}: the API key was sent to {url.scheme}://{url.host}"
                f" ({request.method} {url}), which is not the API's origin {self._api_origin}"
            )
            self.mismatches.append(error)
            raise error

    def _player(self, indices: list[int]) -> Any:
        def play(request: httpx.Request) -> httpx.Response | None:
            live = request_view(request, self.cassette, self.credential_headers)
            self._check_credentials(request, live)
            for index in indices:
                if not self.played[index] and self._views[index] == live:
                    self.played[index] = True
                    return self._response(self.cassette.interactions[index], request)
            return None  # fall through to the catch-all route, which explains

        return play

    def _unmatched(self, request: httpx.Request) -> httpx.Response:
        live = request_view(request, self.cassette, self.credential_headers)
        self._check_credentials(request, live)
        error = CassetteMismatchError(self._explain(live))
        self.mismatches.append(error)
        raise error

    def _explain(self, live: dict[str, Any]) -> str:
        sent = f"{live['method']} {live['url']}"
        if not self._views:
            return (
                f"cassette {self._name()} has no interactions, but the client sent {sent}"
                " (this call must not reach the network)"
            )
        unused = self.unused()
        pool = unused or list(range(len(self._views)))
        closest = max(pool, key=lambda i: similarity(self._views[i], live))
        state = (
            f"{len(self.played) - len(unused)} of {len(self.played)} interactions played"
            if unused
            else "every interaction was already played"
        )
        label = f"recorded interaction #{closest}" + ("" if unused else " (already played)")
        return (
            f"cassette {self._name()}: no unplayed interaction matches {sent} ({state}).\n"
            f"Closest is #{closest} ({self._label(closest)}); diff recorded -> sent:\n"
            + diff_views(self._views[closest], live, label)
        )

    def _label(self, index: int) -> str:
        view = self._views[index]
        return f"{view['method']} {view['url']}"

    def _name(self) -> str:
        source = self.cassette.source
        return str(source) if source is not None else f"{self.cassette.name!r}"

    # -- responses ----------------------------------------------------------------------------
    def _response(self, interaction: Interaction, request: httpx.Request) -> httpx.Response:
        recorded = interaction.response
        headers = dict(recorded.headers)
        has_type = any(name.lower() == "content-type" for name in headers)
        if isinstance(recorded.body, EventStreamBody):
            if not has_type:
                headers["content-type"] = EVENT_STREAM
            stream = self._stream(recorded.body)
            return httpx.Response(recorded.status, headers=headers, stream=stream, request=request)
        content, media_type = self._content(recorded.body)
        if media_type and not has_type:
            headers["content-type"] = media_type
        return httpx.Response(recorded.status, headers=headers, content=content, request=request)

    def _stream(self, body: EventStreamBody) -> ReplayStream:
        chunks: list[tuple[float | None, bytes]] = []
        for event in body.events:
            data = event.data
            if isinstance(data, JsonBody):
                value = embed_assets(data, self.cassette)
                text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            else:
                text = data.text
            chunks.append((event.at, encode_event(event, text)))
        return ReplayStream(chunks, broken=body.broken, delays=self.delays)

    def _content(self, body: Body | None) -> tuple[bytes, str | None]:
        if body is None:
            return b"", None
        if isinstance(body, JsonBody):
            value = embed_assets(body, self.cassette)
            return json.dumps(value, ensure_ascii=False).encode(), "application/json"
        if body.kind == "text":
            return body.text.encode(), "text/plain; charset=utf-8"
        if body.kind == "base64":
            return base64.b64decode(body.base64), body.media_type
        if body.kind == "asset":
            return self.cassette.asset(body.file), body.media_type
        raise ValueError(f"a {body.kind} body cannot be replayed this way")
