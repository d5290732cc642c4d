"""HTTP helpers shared by the mock's handlers: JSON answers and the client's view of this server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from mockserver.domain.documents import dump
from mockserver.domain.errors import ApiError, PayloadTooLarge, RequestTimeout
from mockserver.domain.languages import DEFAULT, translate

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Through = Callable[[Handler], Handler]  # a handler called through the pipeline (mockserver.http.pipeline)
JSON = "application/json"
MAX_BODY = 1024 * 1024  # request bodies over this are a 413
SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def json_response(body: bytes, status: int = 200) -> web.Response:
    """A JSON response with `Content-Type: application/json; charset=utf-8`, as Express (and so Nick) sends it."""
    return web.Response(body=body, status=status, content_type=JSON, charset="utf-8")


async def read_body(request: web.Request, seconds: float) -> bytes:
    """The request's body, which must arrive within `seconds`: a client trickling it holds no connection for long.

    A body declared larger than MAX_BODY is refused before any of it is read.
    """
    if request.content.is_eof():  # all of it is here already (a small body comes with its head): no wait to bound
        raw = request.content.read_nowait()  # taken as it is, without request.read()'s coroutines
        if len(raw) > MAX_BODY:
            raise PayloadTooLarge(f"The request body is larger than {MAX_BODY} bytes.")
        return raw
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY} bytes.")
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout(f"The request body did not arrive within {seconds:g} s.") from None


def media_type(request: web.Request) -> str:
    """The request's Content-Type as sent, parameters included, lower case ("" when it has none)."""
    return request.headers.get("Content-Type", "").strip().lower()


def base_url(request: web.Request) -> str:
    """The client's view of this server: scheme and Host, honouring X-Forwarded-Proto/-Host."""
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip().lower()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    if proto not in ("http", "https"):
        proto = request.scheme
    if not SAFE_HOST.match(host):
        host = request.host if SAFE_HOST.match(request.host) else "localhost"
    return f"{proto}://{host}"


def render(error: ApiError, status: int | None = None, language: str = DEFAULT) -> web.Response:
    """Nick's error body for `error` (its texts in `language` where Nick translates them), status and headers."""
    body = error.body() if language == DEFAULT else translate(error.body(), language)
    response = json_response(dump(body), status=status or error.status)
    response.headers.update(error.headers())
    if error.closes:
        response.force_close()
    return response


def client_address(request: web.Request) -> str:
    """The client's address as Nick sees it behind one trusted proxy: the last `X-Forwarded-For` entry, else the peer."""
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    return request.remote or ""
