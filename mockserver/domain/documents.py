"""JSON the mock keeps: finite numbers and bounded nesting, every refusal naming its place.

Python's json module reads `NaN`, `Infinity` and `1e400` (as infinity), none of which JSON can
write back: a job holding one would make every list the mock answers invalid JSON, and its state
file unreadable to other tools. Deep nesting is refused too: copying, encoding or validating a
job nested a thousand levels deep exhausts Python's recursion limit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import orjson

MAX_DEPTH = 64  # levels of objects and arrays in anything the mock keeps
# 19 digits in a row may be an integer beyond 64 bits, which orjson would read as a float: Python's parser reads it.
LONG_NUMBER = re.compile(rb"\d{19}")


class DocumentError(ValueError):
    """A document the mock will not keep; the message names the place and the problem."""


def loads(raw: bytes | str, where: str = "body") -> Any:
    """The JSON value of `raw`, checked by `check`; DocumentError naming the place of any problem.

    orjson reads it when it can, as exactly as Python would; Python's parser reads the rest, and
    names what is wrong with it.
    """
    if isinstance(raw, bytes) and not LONG_NUMBER.search(raw):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # NaN, 1e400, a lone surrogate, nesting beyond orjson's limit, or not JSON: as Python reads it
        else:
            check(value, where)
            return value
    prefix = f"{where}: " if where else ""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise DocumentError(f"{prefix}nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise DocumentError(f"{prefix}not valid JSON ({exc})") from None
    check(value, where)
    return value


def check(value: Any, where: str = "") -> None:
    """DocumentError for the first number that is not finite, or nesting deeper than MAX_DEPTH, named by its place."""
    if _fine(value, 0):
        return
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, place, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise DocumentError(f"{place or 'the document'}: not a finite number (NaN, Infinity, or too large)")
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise DocumentError(f"{place or 'the document'}: nested deeper than {MAX_DEPTH} levels")
            children = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend(reversed([(child, _child(place, key), depth + 1) for key, child in children]))


def _fine(value: Any, depth: int) -> bool:
    """Whether `value` holds only finite numbers, nested at most MAX_DEPTH levels: the common case, told fast."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is dict or kind is list:
        if depth >= MAX_DEPTH:
            return False
        for item in value.values() if kind is dict else value:
            if not _fine(item, depth + 1):
                return False
        return True
    return not isinstance(value, float | dict | list)  # a subclass: the full check judges it


def _child(place: str, key: object) -> str:
    if isinstance(key, int):
        return f"{place}[{key}]"
    return f"{place}.{key}" if place else str(key)


def array(text: str, start: int = 0) -> Iterator[Any]:
    """The items of the JSON array that begins at `start` of `text`, decoded one by one (not checked).

    Decoding a large document item by item keeps what is kept from being scattered among the
    remains of a whole parsed document (see MockState.load and mockserver.domain.persist.read).
    """
    return (item for item, _ in items(text, start))


def items(text: str, start: int = 0) -> Iterator[tuple[Any, int]]:
    """Each item of the JSON array that begins at `start`, decoded one at a time, with the index just after the item.

    ValueError or IndexError when the array is not well-formed.
    """
    decoder = json.JSONDecoder()
    index = skip_space(text, start + 1)
    if text[index] == "]":
        return
    while True:
        item, index = decoder.raw_decode(text, index)
        index = skip_space(text, index)
        yield item, index
        if text[index] == "]":
            return
        if text[index] != ",":
            raise ValueError(f"expected , or ] at {index}")
        index = skip_space(text, index + 1)


def array_end(text: str, start: int) -> int:
    """The index just after the JSON array that begins at `start` (its items decoded and dropped one at a time)."""
    end = skip_space(text, start + 1)
    for _item, after in items(text, start):
        end = after
    if text[end] != "]":
        raise ValueError(f"expected ] at {end}")
    return end + 1


def skip_space(text: str, index: int) -> int:
    """The index of the next character from `index` on that is not JSON whitespace."""
    while index < len(text) and text[index] in " \t\n\r":
        index += 1
    return index


def dump(data: object) -> bytes:
    """Compact JSON bytes (UTF-8, not \\u-escaped)."""
    return encode(data)[0]


def encode(data: object, keep: bool = False) -> tuple[bytes, bool]:
    """Compact JSON bytes, and whether Python's encoder wrote them rather than orjson (see `decode`).

    orjson is several times faster, but refuses integers beyond 64 bits, lone surrogates and keys
    that are not strings, all of which a client can send inside `params`: Python's encoder writes
    them as JSON allows. Bytes to `keep` are copied: orjson's hold the whole buffer it wrote them
    into (4 KB for a 400-byte job: 100,000 jobs would take 390 MB instead of 40).
    """
    try:
        encoded = orjson.dumps(data)
    except TypeError:
        return json.dumps(data, separators=(",", ":")).encode(), True
    return (bytes(memoryview(encoded)) if keep else encoded), False


def decode(raw: bytes, python: bool = False) -> Any:
    """The value of JSON that `encode` wrote: by Python's decoder when Python's encoder wrote it.

    orjson reads an integer beyond 64 bits as a float, silently: only Python's decoder gets it back exactly.
    """
    return json.loads(raw) if python else orjson.loads(raw)
