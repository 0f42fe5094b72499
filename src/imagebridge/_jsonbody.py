"""Decoding a server's JSON body: whatever the bytes, a plain value or :class:`UnreadableJSON`.

Every JSON body a server sends goes through :func:`decode` (``Adapter.json`` and the error
body parser), so that no reply can raise anything but a ``ValueError`` there: not valid JSON,
not UTF-8, nested so deep that decoding (or any later walk over it, such as redaction) would
exhaust the stack, too large to decode, or holding lone surrogates that cannot be encoded
again (in a URL, a file name, the journal).
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Deepest nesting of arrays and objects accepted; real provider bodies stay under 10.
MAX_DEPTH = 64

_SURROGATE = re.compile("[\ud800-\udfff]")
# A surrogate can only come from a \uD800-\uDFFF escape or from its (invalid) UTF-8 bytes,
# which json.loads lets through: bodies without either are not walked for them.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
_CONTAINERS = (dict, list)


class UnreadableJSON(ValueError):
    """A body that is not usable JSON; ``reason`` says why, in a few words."""

    def __init__(self, reason: str, *, nested: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        #: True when the body is JSON-shaped but nested deeper than :data:`MAX_DEPTH`.
        self.nested = nested


def _too_deep() -> UnreadableJSON:
    return UnreadableJSON(f"the body is JSON nested more than {MAX_DEPTH} levels deep", nested=True)


def decode(raw: bytes) -> Any:
    """The JSON value of ``raw``; :class:`UnreadableJSON` for anything else."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise _too_deep() from None
    except MemoryError:
        raise UnreadableJSON("the JSON is too large to decode") from None
    except UnicodeDecodeError:
        raise UnreadableJSON("the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UnreadableJSON(f"the body is not JSON ({exc.msg} at character {exc.pos})") from None
    except ValueError:  # an integer of more than 4300 digits (sys.get_int_max_str_digits)
        raise UnreadableJSON("the body is not usable JSON (a number too long to read)") from None
    strings = _may_hold_surrogate(raw)
    if strings or _may_nest_deeply(raw):
        _check(value, strings=strings)
    return value


#: Bodies up to this size are scanned for brackets before their value is walked.
_SMALL = 64 * 1024


def _may_nest_deeply(raw: bytes) -> bool:
    """False when ``raw`` cannot be nested deeper than :data:`MAX_DEPTH`: a small body with
    no more brackets than that (counting is cheap there; a large body is walked, which costs
    little for the few containers a reply of base64 images has)."""
    return len(raw) > _SMALL or raw.count(b"[") + raw.count(b"{") > MAX_DEPTH


def _may_hold_surrogate(raw: bytes) -> bool:
    """Whether ``raw`` may hold a lone surrogate. A one-byte test runs at memchr speed, so
    each regex runs only on a body that has its first byte: a backslash, or ``\\xed``
    (one regex over a 10 MB base64 body took 80 ms, a two-byte ``in`` 12 ms)."""
    if b"\\" in raw and _ESCAPED_SURROGATE.search(raw) is not None:
        return True
    return b"\xed" in raw and _RAW_SURROGATE.search(raw) is not None


def _check(value: Any, *, strings: bool) -> None:
    """Walk the containers without recursion: bounded depth and, when the raw body may hold
    one, no lone surrogate in any text."""
    if strings and isinstance(value, str):
        _text(value)
    stack: list[tuple[Any, int]] = [(value, 1)] if type(value) in _CONTAINERS else []
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        children = item.values() if type(item) is dict else item
        if strings:
            for text in (*item, *children) if type(item) is dict else children:
                if type(text) is str:
                    _text(text)
        stack.extend((child, depth + 1) for child in children if type(child) in _CONTAINERS)


def _text(text: str) -> None:
    if not text.isascii() and _SURROGATE.search(text):
        raise UnreadableJSON("the JSON holds a lone surrogate (\\ud800-\\udfff), which is not text")
