"""Forwarding: every request to the upstream and its answer back, unchanged and streamed both ways.

The bodies stream through as they come; a bounded copy of each is kept for the checks, which run
after the answer has gone to the client (the sequencer hands the exchange on). Hop-by-hop headers
stay behind, as HTTP requires of a proxy; `Host` becomes the upstream's, and the client's own
goes along as `X-Forwarded-Host` (with `X-Forwarded-Proto` and `X-Forwarded-For`), so a server
that honours them names the address the client used.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from jobsproxy.config import ProxyConfig
from jobsproxy.exchange import Capture, Exchange, Headers
from jobsproxy.sequencer import Sequencer

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer"}
    | {"transfer-encoding", "upgrade", "host", "expect"}
)
# Headers aiohttp's client would add of its own; a request goes on with only those the client sent.
NOT_ADDED = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
CONNECT_TIMEOUT = 10.0
BAD_GATEWAY = 502


class Relay:
    """Sends requests to one upstream through one client session, and hands each exchange to the sequencer."""

    def __init__(self, config: ProxyConfig, sequencer: Sequencer) -> None:
        self.upstream = URL(config.upstream.rstrip("/"))
        self.limit = config.max_check_bytes
        self.window = config.check_window
        self.sequencer = sequencer
        self.numbers = itertools.count(1)
        self.session: aiohttp.ClientSession | None = None

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """The client session, open while the app runs (for `cleanup_ctx`)."""
        self.session = aiohttp.ClientSession(
            auto_decompress=False,  # bytes pass as the upstream encoded them
            cookie_jar=aiohttp.DummyCookieJar(),  # one client's cookies are never sent for another
            skip_auto_headers=NOT_ADDED,
            timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT),
        )
        yield
        await self.session.close()

    def url(self, target: str) -> URL:
        """The upstream address of a request target (path and query, as the client encoded them)."""
        return URL(str(self.upstream) + target, encoded=True)

    async def forward(self, request: web.Request) -> web.StreamResponse:
        """Forward one request and stream its answer back; the checks see it once it is done."""
        exchange = self._exchange(request)
        self.sequencer.begin(exchange)
        try:
            answer = await self._send(request, exchange)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            exchange.error = _reason(exc)
            self._end(exchange)
            message = f"jobs-proxy: no answer from the upstream: {exchange.error}"
            return web.json_response({"message": message}, status=BAD_GATEWAY)
        try:
            return await self._stream(request, answer, exchange)
        finally:
            answer.release()
            self._end(exchange)

    def _exchange(self, request: web.Request) -> Exchange:
        target = request.raw_path
        return Exchange(
            seq=next(self.numbers),
            method=request.method,
            target=target,
            path=target.split("?", 1)[0],
            client_url=f"{request.scheme}://{request.host}{target}",
            upstream_url=str(self.url(target)),
            request_headers=request.headers.copy(),
            request_body=Capture(self.limit),
            sent=time.monotonic(),
        )

    async def _send(self, request: web.Request, exchange: Exchange) -> aiohttp.ClientResponse:
        assert self.session is not None, "the relay forwards only while the app runs"
        body = self._request_body(request, exchange) if request.body_exists else None
        if body is None:
            exchange.request_body.complete = True
        answer = await self.session.request(
            request.method,
            self.url(exchange.target),
            headers=forwarded_headers(request),
            data=body,
            allow_redirects=False,
        )
        exchange.status, exchange.reason = answer.status, answer.reason or ""
        exchange.response_headers = answer.headers.copy()
        exchange.response_body = Capture(self.limit)
        exchange.answered = time.monotonic()
        return answer

    async def _request_body(self, request: web.Request, exchange: Exchange) -> AsyncIterator[bytes]:
        async for chunk in request.content.iter_any():
            exchange.request_body.add(chunk)
            yield chunk
        exchange.request_body.complete = True

    async def _stream(
        self, request: web.Request, answer: aiohttp.ClientResponse, exchange: Exchange
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=answer.status, reason=answer.reason, headers=passed_headers(answer.headers)
        )
        give_up = asyncio.get_running_loop().call_later(self.window, self._give_up, exchange)
        try:
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                if not exchange.response_body.add(chunk):
                    self._end(exchange)  # the copy stopped: check what there is now, keep streaming
                await response.write(chunk)
            exchange.response_body.complete = True
            await response.write_eof()
        except aiohttp.ClientPayloadError as exc:
            exchange.error = f"the upstream's body broke off: {exc}"
            raise  # the client's connection is closed: a cut body must not look whole
        except ConnectionResetError:
            exchange.error = "the client went away before the whole answer"
        finally:
            give_up.cancel()
        return response

    def _give_up(self, exchange: Exchange) -> None:
        exchange.response_body.drop(f"still streaming after {self.window:g} s")
        self._end(exchange)

    def _end(self, exchange: Exchange) -> None:
        if not exchange.ended:
            exchange.ended = True
            self.sequencer.end(exchange)


def forwarded_headers(request: web.Request) -> CIMultiDict[str]:
    """The client's headers as the upstream gets them: hop-by-hop ones dropped, the forwarding ones added."""
    headers = passed_headers(request.headers)
    peer = request.remote or ""
    previous = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{previous}, {peer}" if previous else peer
    headers.setdefault("X-Forwarded-Host", request.host)
    headers.setdefault("X-Forwarded-Proto", request.scheme)
    return headers


def passed_headers(headers: Headers) -> CIMultiDict[str]:
    """Every header but the hop-by-hop ones (and those `Connection` names), duplicates and order kept."""
    named = {token.strip().lower() for value in headers.getall("Connection", []) for token in value.split(",")}
    return CIMultiDict((name, value) for name, value in headers.items() if name.lower() not in HOP_BY_HOP | named)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no connection within {CONNECT_TIMEOUT:g} s"
    return str(exc) or type(exc).__name__
