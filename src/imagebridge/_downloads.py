"""Downloading result images: one hop at a time, credentials on the API's origin only.

A download (``GeneratedImage.read()``/``save()``) is a job of its own with its own deadline
and the poll's retry rules. Redirects are followed by hand, at most ``_MAX_REDIRECTS``, each
hop's URL checked before it is fetched (:func:`~imagebridge._urls.check_result_url`) and
given credentials only when the adapter says its links need them and the hop is on the
API's own origin; the body is streamed into the caller's file, capped at
``max_download_bytes`` (:class:`~imagebridge._reading.Sink`). The drivers of
:mod:`imagebridge._driver` inherit this, so sends and downloads share one pool, one
``max_in_flight`` gate and one set of rules.
"""

from __future__ import annotations

import functools
import io
from typing import IO

import httpx

from . import _deadline
from ._deadline import CLIENT_DEFAULT, ClientDefault
from ._driver_base import DriverBase
from ._errors import ServerError
from ._jobs import Limits
from ._reading import Sink, aread_body, read_body
from ._redact import Redactor
from ._urls import check_result_url

__all__ = ["AsyncDownloads", "SyncDownloads"]

#: Redirects followed by one result download (httpx's own default is 20).
_MAX_REDIRECTS = 10


class DownloadRules(DriverBase):
    """What both kinds of download share: no I/O."""

    def _download_job(self, timeout: float | ClientDefault | None) -> Limits:
        """A download is a job of its own, with its own deadline (the client's ``timeout``
        unless the caller gives one); retries apply as to a poll."""
        seconds = self._download_timeout if isinstance(timeout, ClientDefault) else timeout
        return Limits(timeout=seconds, now=self._clock.monotonic(), retry=self._retry)

    def _download_retry(
        self, request: httpx.Request, response: httpx.Response, attempt: int, job: Limits
    ) -> float | None:
        """None to read the body; a wait to retry; or the download's error raised."""
        if not response.is_error:
            return None
        delay = self._after_response(request, response, attempt, job)
        if delay is None:
            _check_download(response, self.provider, self._redactor)
        return delay

    def _download_request(self, url: str | httpx.URL, job: Limits) -> httpx.Request:
        """A GET for a result image (or a hop of its redirects): a fresh request each time,
        so credentials go only where :meth:`_prepare` allows (the adapter says its links
        need them, and only on the API's own origin) and never follow a redirect. Every
        hop's URL is checked first (:func:`~imagebridge._urls.check_result_url`; the API's
        own origin is what the user chose, so it is never refused as link-local)."""
        try:
            request = httpx.Request("GET", url)
        except httpx.InvalidURL as exc:
            raise ServerError(
                f"the result URL cannot be fetched: {exc}",
                provider=self.provider,
                code="invalid_result_url",
            ) from None
        allow = self._allow_link_local or self._same_origin(request.url)
        check_result_url(request.url, provider=self.provider, allow_link_local=allow)
        self._prepare(request, job, auth=self._download_auth)
        return request

    def _redirect(self, response: httpx.Response, hops: int, job: Limits) -> httpx.Request | None:
        """The next hop of a download that answered with a redirect, or None."""
        target = response.next_request
        if target is None:
            return None
        if hops >= _MAX_REDIRECTS:
            raise ServerError(
                f"the result URL redirected more than {_MAX_REDIRECTS} times",
                provider=self.provider,
                code="too_many_redirects",
            )
        return self._download_request(target.url, job)


class SyncDownloads(DownloadRules):
    _http: httpx.Client

    def fetch(self, url: str, *, timeout: float | ClientDefault | None = CLIENT_DEFAULT) -> bytes:
        buffer = io.BytesIO()
        self.fetch_to(url, buffer, timeout=timeout)
        return buffer.getvalue()

    def fetch_to(
        self,
        url: str,
        file: IO[bytes],
        *,
        timeout: float | ClientDefault | None = CLIENT_DEFAULT,
    ) -> bytes:
        """Stream a download into ``file`` (redirects followed one hop at a time, retried
        like a poll, size-capped, within its deadline); return its first bytes, for
        sniffing."""
        job = self._download_job(timeout)
        attempt = hops = 0
        request = self._download_request(url, job)
        while True:
            token = _deadline.io_deadline.set(self._io_deadline(job))
            try:
                outcome = self._download_once(request, file, hops, attempt, job)
            except httpx.HTTPError as exc:
                outcome = self._after_failure(request, exc, attempt, job)
            finally:
                _deadline.io_deadline.reset(token)
                self._forget_auth(request)
            if isinstance(outcome, bytes):
                return outcome
            if isinstance(outcome, httpx.Request):
                request, hops = outcome, hops + 1
                continue
            self._clock.sleep(outcome)
            attempt += 1
            request, hops = self._download_request(url, job), 0

    def _download_once(
        self, request: httpx.Request, file: IO[bytes], hops: int, attempt: int, job: Limits
    ) -> bytes | httpx.Request | float:
        """One hop of a download: the image's head once it is in ``file``, the next hop's
        request, or the wait before retrying."""
        response = self._http.send(request, stream=True)
        try:
            if response.is_error:
                read_body(response, self._max_response_bytes, self.provider)
            self._received(request, response)
            following = self._redirect(response, hops, job)
            if following is not None:
                return following
            delay = self._download_retry(request, response, attempt, job)
            if delay is not None:
                return delay
            sink = Sink(file, self._max_download_bytes, self.provider, response)
            try:
                for chunk in response.iter_bytes():
                    sink.feed(chunk)
            except BaseException:
                sink.discard()
                raise
            return sink.head
        finally:
            response.close()


class AsyncDownloads(DownloadRules):
    _http: httpx.AsyncClient

    async def afetch(
        self, url: str, *, timeout: float | ClientDefault | None = CLIENT_DEFAULT
    ) -> bytes:
        buffer = io.BytesIO()
        await self.afetch_to(url, buffer, timeout=timeout)
        return buffer.getvalue()

    async def afetch_to(
        self,
        url: str,
        file: IO[bytes],
        *,
        timeout: float | ClientDefault | None = CLIENT_DEFAULT,
    ) -> bytes:
        """:meth:`SyncDownloads.fetch_to`, awaited."""
        job = self._download_job(timeout)
        attempt = hops = 0
        request = self._download_request(url, job)
        while True:
            token = _deadline.io_deadline.set(self._io_deadline(job))
            try:
                exchange = functools.partial(self._download_once, request, file, hops, attempt, job)
                outcome = await _deadline.bounded(self._left(job), self._slot(), request, exchange)
            except httpx.HTTPError as exc:
                outcome = self._after_failure(request, exc, attempt, job)
            finally:
                _deadline.io_deadline.reset(token)
                self._forget_auth(request)
            if isinstance(outcome, bytes):
                return outcome
            if isinstance(outcome, httpx.Request):
                request, hops = outcome, hops + 1
                continue
            await self._clock.asleep(outcome)
            attempt += 1
            request, hops = self._download_request(url, job), 0

    async def _download_once(
        self, request: httpx.Request, file: IO[bytes], hops: int, attempt: int, job: Limits
    ) -> bytes | httpx.Request | float:
        """One hop of a download: the image's head once it is in ``file``, the next hop's
        request, or the wait before retrying."""
        response = await self._http.send(request, stream=True)
        try:
            if response.is_error:
                await aread_body(response, self._max_response_bytes, self.provider)
            self._received(request, response)
            following = self._redirect(response, hops, job)
            if following is not None:
                return following
            delay = self._download_retry(request, response, attempt, job)
            if delay is not None:
                return delay
            sink = Sink(file, self._max_download_bytes, self.provider, response)
            try:
                async for chunk in response.aiter_bytes():
                    sink.feed(chunk)
            except BaseException:
                sink.discard()
                raise
            return sink.head
        finally:
            await response.aclose()


def _check_download(response: httpx.Response, provider: str, redactor: Redactor) -> None:
    if response.is_error:
        from ._provider_errors import error_from_response

        error = error_from_response(response, provider=provider, redactor=redactor)
        error.message = f"downloading the image failed: {error.message}"
        error.args = (error.message,)
        raise error
