"""Which result URLs may be fetched: :func:`check_result_url`.

A result URL comes from the server, so it is checked before anything is fetched from it
(when the result is parsed, and again for every redirect hop of the download): only
``http``, ``https`` and ``data`` URLs, and by default no link-local or cloud-metadata
address, in any spelling a resolver accepts. ``169.254.169.254`` can also be written
``2852039166``, ``0xa9fea9fe``, ``0251.0376.0251.0376``, ``169.254.43518``,
``::ffff:169.254.169.254``...: httpx passes most of these through unchanged and the
system resolver (``inet_aton``) reads them all, so they are read here the same way.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import unquote, urlsplit

import httpx

from ._errors import ServerError
from ._redact import cut

__all__ = ["check_result_url"]

_SCHEMES = frozenset({"http", "https"})
_LINK_LOCAL_V4 = ipaddress.IPv4Network("169.254.0.0/16")
#: Cloud metadata services outside 169.254.0.0/16 (AWS over IPv6, Alibaba Cloud).
_METADATA = frozenset(
    {ipaddress.IPv6Address("fd00:ec2::254"), ipaddress.IPv4Address("100.100.100.200")}
)
_METADATA_NAMES = frozenset({"metadata.google.internal"})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: What inet_aton may read as an IPv4 address: decimal, octal and hex parts, 1 to 4 of them.
_LEGACY_V4 = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}")

#: http(s), an authority of only a host name or IPv4 spelling and a port, printable ASCII.
_PLAIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][\x21-\x7e]*)?\Z")
_LINK_LOCAL_WHY = (
    "it points at a link-local or cloud-metadata address (169.254.0.0/16, fe80::/10,"
    " fd00:ec2::254, ...); pass allow_link_local_urls=True to allow it"
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def key_may_go(url: httpx.URL, base_url: httpx.URL, key_hosts: frozenset[str]) -> bool:
    """Whether a request to ``url`` may carry the API key of an API at ``base_url``.

    The key goes to the API's own origin (scheme, host and port, whatever they are: the user
    chose it). ``key_hosts`` widens that for a provider whose API answers with links to its
    own regional hosts (BFL's ``polling_url`` on ``api.eu1.bfl.ai``): an ``https`` URL on the
    default port whose host is one of them, and only while the base URL itself is ``https``
    on one of them. A client pointed at an emulator, a proxy or a test server therefore
    never sends the key to a provider's host because an answer named it.
    """
    if (url.scheme, url.host, url.port) == (base_url.scheme, base_url.host, base_url.port):
        return True
    if not key_hosts or url.scheme != "https" or base_url.scheme != "https":
        return False
    on_hosts = url.host in key_hosts and url.port in (None, 443)
    return on_hosts and base_url.host in key_hosts and base_url.port in (None, 443)


def check_result_url(
    url: httpx.URL | str, *, provider: str, allow_link_local: bool = False
) -> None:
    """Raise :class:`ServerError` (``invalid_result_url``) unless ``url`` may be fetched.

    Accepted: ``data:`` URLs, and ``http(s)`` URLs with a host that is not link-local
    (169.254.0.0/16, fe80::/10) or a cloud-metadata address (fd00:ec2::254,
    100.100.100.200, metadata.google.internal), unless ``allow_link_local``.
    """
    text = str(url)
    scheme, _, _ = text.partition(":")
    if scheme.lower() == "data":
        return
    if isinstance(url, str) and _PLAIN.match(text):
        # The common case, read without httpx's parser (10,000 links must stay cheap):
        # an ASCII authority of host and port only, which every parser splits the same way.
        host = text.partition("://")[2].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        if not allow_link_local and _is_link_local(host.rsplit(":", 1)[0]):
            raise _refused(provider, text, _LINK_LOCAL_WHY)
        return
    hosts: list[str] = []
    parsed: httpx.URL | None = None
    invalid = ""
    try:
        if isinstance(url, str):
            # The host as written, which httpx may refuse to parse but a resolver reads.
            hosts.append(urlsplit(text).hostname or "")
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(text)
        hosts.append(parsed.host)
    except (httpx.InvalidURL, ValueError) as exc:
        invalid = str(exc)
    if parsed is not None and parsed.scheme not in _SCHEMES:
        raise _refused(
            provider,
            text,
            f"its scheme is {parsed.scheme!r}: only http, https and data URLs are accepted",
        )
    if not allow_link_local and any(_is_link_local(host) for host in hosts if host):
        raise _refused(provider, text, _LINK_LOCAL_WHY)
    if parsed is None:
        raise _refused(provider, text, f"it cannot be parsed ({invalid})")
    if not parsed.host:
        raise _refused(provider, text, "it has no host")
    if not text.isprintable():
        raise _refused(provider, text, "it holds unprintable characters")


def _is_link_local(host: str) -> bool:
    name = unquote(host).strip("[]").rstrip(".").lower()
    if name in _METADATA_NAMES:
        return True
    address = _address(name)
    return address is not None and _refused_address(address)


def _address(name: str) -> IPAddress | None:
    """The IP address ``name`` spells, read the way the resolver reads it; None for a name."""
    if ":" in name:
        try:
            return ipaddress.IPv6Address(name)  # with or without a %zone
        except ValueError:
            return None
    if not _LEGACY_V4.fullmatch(name):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None


def _refused_address(address: IPAddress) -> bool:
    if address in _METADATA:
        return True
    if isinstance(address, ipaddress.IPv4Address):
        return address in _LINK_LOCAL_V4
    if address.is_link_local:
        return True
    # IPv4 addresses carried in IPv6: mapped (::ffff:a.b.c.d), 6to4, NAT64, compatible (::a.b.c.d).
    embedded = address.ipv4_mapped or address.sixtofour
    if embedded is None and (address in _NAT64 or int(address) >> 32 == 0):
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return embedded is not None and _refused_address(embedded)


def _refused(provider: str, url: str, why: str) -> ServerError:
    return ServerError(
        f"{provider} returned a result URL that is refused: {_shown(url)}: {why}",
        provider=provider,
        code="invalid_result_url",
    )


def _shown(url: str) -> str:
    """The URL for a message: no query string (signatures), bounded, control characters
    escaped."""
    base, mark, _ = url.partition("?")
    shown = cut(base, 123, breaks="/") + ("?..." if mark else "")
    return repr(shown)
