"""An answer on the wire in one write: the bytes aiohttp's `Response.prepare` and `write_eof` send, without their steps.

aiohttp sends a response through a chain of coroutines (prepare, start, the headers worked out,
the prepare signal, the headers written, the body, the end), each a call and an await. Under
callgrind that chain was 7 % of the instructions of an abort. For the answers the mock gives (a
`web.Response` whose body is bytes, to HTTP/1.1, without compression, cookies, chunking or
`on_response_prepare` handlers), `head` works out the same headers in the same order with
aiohttp's own serialiser, so that the head and the body go out in one write
(`connections.Connection.finish_response`). Anything else takes aiohttp's way.
`tests/test_wire.py` holds both ways to the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http import SERVER_SOFTWARE, HttpVersion11

serialize: Callable[[str, Any], bytes] | None
try:  # aiohttp's own rules and serialiser (C, refusing control characters in headers): its bytes, its refusals
    from aiohttp.helpers import must_be_empty_body, rfc822_formatted_time, should_remove_content_length
    from aiohttp.http_writer import _serialize_headers as serialize
except ImportError:  # an aiohttp without them: every answer takes aiohttp's way
    serialize = None


def eligible(request: web.BaseRequest, response: object) -> bool:
    """Whether `head` writes what aiohttp would for this answer; when not, aiohttp sends it."""
    if serialize is None or type(response) is not web.Response or request.version != HttpVersion11:
        return False
    match_info = getattr(request, "_match_info", None)  # None when routing failed: `match_info` would assert
    return (
        not response.prepared
        and not response.chunked
        and not response.compression
        and not response._cookies
        and (response.body is None or type(response.body) is bytes)
        and (match_info is None or not any(app.on_response_prepare for app in match_info.apps))
    )


def head(request: web.BaseRequest, response: web.Response) -> tuple[bytes, bytes]:
    """What aiohttp sends for an `eligible` answer: its head, and the body (empty when the answer has none).

    The answer's headers end as aiohttp leaves them (Content-Length, Date, Server, Connection added),
    and its keep-alive decided; ValueError, as from aiohttp, for a header holding a control character.
    """
    assert serialize is not None
    method, status, headers = request.method, response.status, response.headers
    body = response.body or b""
    assert isinstance(body, bytes)
    empty = must_be_empty_body(method, status)
    # Response._start: the body's length, unless the answer must not state it.
    if hdrs.CONTENT_LENGTH in headers:
        if should_remove_content_length(method, status):
            del headers[hdrs.CONTENT_LENGTH]
    elif body or (status != 304 and method != hdrs.METH_HEAD):
        headers[hdrs.CONTENT_LENGTH] = str(len(body))
    # StreamResponse._prepare_headers, for HTTP/1.1. It reads the length as a number: ValueError for one that is not.
    length = int(headers[hdrs.CONTENT_LENGTH]) if hdrs.CONTENT_LENGTH in headers else None
    keep_alive = response.keep_alive
    if keep_alive is None:
        keep_alive = response._keep_alive = request.keep_alive
    if empty:
        if should_remove_content_length(method, status):
            headers.popall(hdrs.CONTENT_LENGTH, None)  # the one Response._start added for it, too
        headers.popall(hdrs.TRANSFER_ENCODING, None)
    elif length != 0:
        headers.setdefault(hdrs.CONTENT_TYPE, "application/octet-stream")
    if hdrs.DATE not in headers:
        headers[hdrs.DATE] = rfc822_formatted_time()
    headers.setdefault(hdrs.SERVER, SERVER_SOFTWARE)
    if not keep_alive and hdrs.CONNECTION not in headers:
        headers[hdrs.CONNECTION] = "close"
    return serialize(f"HTTP/1.1 {status} {response.reason}", headers), b"" if empty else body
