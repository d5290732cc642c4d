"""HTTP helpers shared by the mock's handlers: JSON answers and the client's view of this server."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from mockserver.errors import PayloadTooLarge, RequestTimeout

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSON = "application/json"
MAX_BODY = 1024 * 1024  # request bodies over this are a 413
SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def json_response(body: bytes, status: int = 200) -> web.Response:
    """A JSON response with exactly `Content-Type: application/json`."""
    return web.Response(body=body, status=status, content_type=JSON)


def dump(data: object) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(data, separators=(",", ":")).encode()


async def read_body(request: web.Request, seconds: float) -> bytes:
    """The request's body, which must arrive within `seconds`: a client trickling it holds no connection for long.

    A body declared larger than MAX_BODY is refused before any of it is read.
    """
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY} bytes.")
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout(f"The request body did not arrive within {seconds:g} s.") from None


def base_url(request: web.Request) -> str:
    """The client's view of this server: scheme and Host, honouring X-Forwarded-Proto/-Host."""
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip().lower()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    if proto not in ("http", "https"):
        proto = request.scheme
    if not SAFE_HOST.match(host):
        host = request.host if SAFE_HOST.match(request.host) else "localhost"
    return f"{proto}://{host}"
