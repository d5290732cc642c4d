"""What of HTTP the proxy can pass on unchanged, and why an upstream gave no answer it could pass on.

aiohttp writes header values as UTF-8 text and refuses a control character in one (its guard
against header injection); its parsers hand bytes that are not UTF-8 on as lone surrogates,
which its writer then silently leaves out, and its public API has no way to write other bytes.
So a header holding either cannot pass through unchanged: a request carrying one is refused
(400), an answer carrying one is not passed on (502), rather than passed on altered.

aiohttp's client errors sorted, in general rather than case by case: the upstream could not be
reached (refused, no connection in time), gave no status and headers in time (--upstream-timeout),
or answered something that is not valid HTTP (any head its parser refuses: a duplicate or
conflicting length, too many headers, a NUL; a body cut short or broken; the connection closed or
reset before the answer was whole). Only the last is the upstream breaking the contract.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp

from jobsproxy.exchange import MALFORMED, TIMED_OUT, UNPASSABLE, UNREACHABLE

CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # what RFC 9110 forbids in a field (HTAB aside), as aiohttp does
SURROGATE = re.compile(r"[\ud800-\udfff]")  # a byte that was not UTF-8, as aiohttp's parsers hand it on
CANNOT = "(which jobs-proxy cannot pass on unchanged)"
SHOWN = 160  # characters of a parser's message kept: its first line, which names the fault


@dataclass(frozen=True)
class Unforwardable:
    """A header that cannot pass unchanged: `fault` MALFORMED (a control character) or UNPASSABLE (not UTF-8)."""

    fault: str
    why: str


def unforwardable(raw_headers: Iterable[tuple[bytes, bytes]], reason: str = "") -> Unforwardable | None:
    """What stops these headers (and a response's reason phrase) from passing unchanged, if anything."""
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("latin-1")
        if CONTROL.search(raw_name) or CONTROL.search(raw_value):
            return Unforwardable(MALFORMED, f"a header {name!r} holding a control character")
        try:
            raw_name.decode("utf-8")
            raw_value.decode("utf-8")
        except UnicodeDecodeError:
            return Unforwardable(UNPASSABLE, f"a header {name!r} holding bytes that are not UTF-8 {CANNOT}")
    if CONTROL.search(reason.encode("utf-8", "surrogateescape")):
        return Unforwardable(MALFORMED, "a reason phrase holding a control character")
    if SURROGATE.search(reason):
        return Unforwardable(UNPASSABLE, f"a reason phrase holding bytes that are not UTF-8 {CANNOT}")
    return None


def sort_failure(exc: BaseException, timeout: float) -> tuple[str, str]:
    """The fault (UNREACHABLE, TIMED_OUT or MALFORMED) an error of the upstream's request stands for, and why."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UNREACHABLE, _first_line(exc)
    if isinstance(exc, aiohttp.ServerTimeoutError):  # the only aiohttp timeout the relay sets is the connect one
        return UNREACHABLE, f"no connection in time ({_first_line(exc)})"
    if isinstance(exc, TimeoutError):
        return TIMED_OUT, f"no status and headers within {timeout:g} s (--upstream-timeout)"
    return MALFORMED, broken(exc)


def broken(exc: BaseException) -> str:
    """What an error of aiohttp's client says of an answer that is not valid HTTP."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "a connection closed before the answer was whole"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"an answer that is not valid HTTP ({_first_line(exc.message)})"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"a body that broke off ({_first_line(exc)})"
    return f"a connection that broke ({_first_line(exc) or type(exc).__name__})"


def _first_line(text: object) -> str:
    line = str(text).strip().split("\n", 1)[0].rstrip(":")
    return line if len(line) <= SHOWN else line[:SHOWN] + "..."
