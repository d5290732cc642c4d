"""Forwarding: every request to the upstream and its answer back, unchanged and streamed both ways.

The bodies stream through as they come; a bounded copy of each is kept for the checks, which run
after the answer has gone to the client (the sequencer hands the exchange on). Hop-by-hop headers
stay behind, as HTTP requires of a proxy; `Host` becomes the upstream's, and the client's own
goes along as `X-Forwarded-Host` (with `X-Forwarded-Proto` and `X-Forwarded-For`), so a server
that honours them names the address the client used.

What the upstream gives that the proxy cannot pass on (no answer, none in time, one that is not
valid HTTP, one whose headers it cannot write unchanged) gets the client a 502 or 504 in Nick's
shape while nothing of the answer has gone; a body that breaks off once its head has gone gets
the client's connection closed, so that a cut body never looks whole. The upstream's time
(`--upstream-timeout`) starts once the whole request has gone: a client's body that stalls is
the upstream's to refuse (the mock answers 408 after its own --request-timeout), and passes back.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from jobsproxy import framing, refusals
from jobsproxy.config import ProxyConfig
from jobsproxy.exchange import ABANDONED, MALFORMED, STOPPED, TIMED_OUT, UNPASSABLE, Capture, Exchange, Headers
from jobsproxy.sequencer import Sequencer

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer"}
    | {"transfer-encoding", "upgrade", "host", "expect"}
)
# Headers aiohttp's client would add of its own; a request goes on with only those the client sent.
NOT_ADDED = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
CONNECT_TIMEOUT = 10.0
# Seconds an upstream connection is kept for reuse: under the 5 s of Node's servers (Nick's), so that a request is
# never sent on a connection the upstream is closing at that moment (which would look like a broken answer).
KEEPALIVE = 4.0


class Relay:
    """Sends requests to one upstream through one client session, and hands each exchange to the sequencer."""

    def __init__(self, config: ProxyConfig, sequencer: Sequencer) -> None:
        self.upstream = URL(config.upstream.rstrip("/"))
        self.limit = config.max_check_bytes
        self.window = config.check_window
        self.timeout = config.upstream_timeout
        self.sequencer = sequencer
        self.numbers = itertools.count(1)
        self.session: aiohttp.ClientSession | None = None

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """The client session, open while the app runs (for `cleanup_ctx`)."""
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE),
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
            return await self._relay(request, exchange)
        except asyncio.CancelledError:  # the proxy is stopping (or the client went away): judge what there is
            if exchange.status:
                exchange.fail("", "the proxy stopped before the whole answer had passed")
            else:
                exchange.fail(STOPPED, "the proxy stopped before the upstream answered")
            raise
        finally:
            self._end(exchange)

    async def _relay(self, request: web.Request, exchange: Exchange) -> web.StreamResponse:
        try:
            answer = await self._send(request, exchange)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            exchange.fail(*framing.sort_failure(exc, self.timeout))
            return _refused(exchange)
        try:
            problem = framing.unforwardable(answer.raw_headers, answer.reason or "")
            if problem is not None:
                exchange.fail(problem.fault, problem.why)
                return _refused(exchange)
            return await self._stream(request, answer, exchange)
        finally:
            answer.release()

    def _exchange(self, request: web.Request) -> Exchange:
        target = request.raw_path  # as the client sent it (the guard made a full URL its path)
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
        """The upstream's status and headers: due within the upstream timeout of the request's last byte."""
        assert self.session is not None, "the relay forwards only while the app runs"
        waiting = True
        async with asyncio.timeout(None) as deadline:

            def sent() -> None:
                if waiting:  # (an upstream may answer before it has read the whole body)
                    deadline.reschedule(asyncio.get_running_loop().time() + self.timeout)

            body = self._request_body(request, exchange, sent) if request.body_exists else None
            if body is None:
                exchange.request_body.complete = True
                sent()
            answer = await self.session.request(
                request.method,
                self.url(exchange.target),
                headers=forwarded_headers(request),
                data=body,
                allow_redirects=False,
            )
            waiting = False
        exchange.status, exchange.reason = answer.status, answer.reason or ""
        exchange.response_headers = answer.headers.copy()
        exchange.response_body = Capture(self.limit)
        exchange.answered = time.monotonic()
        return answer

    async def _request_body(
        self, request: web.Request, exchange: Exchange, sent: Callable[[], None]
    ) -> AsyncIterator[bytes]:
        try:
            async for chunk in request.content.iter_any():
                exchange.request_body.add(chunk)
                yield chunk
        except Exception as exc:  # the client's side: its body broke off (the upstream is not to blame)
            exchange.fail(ABANDONED, f"the client's request broke off: {exc or type(exc).__name__}")
            raise
        exchange.request_body.complete = True
        sent()  # the whole request has gone: the upstream's time starts

    async def _stream(
        self, request: web.Request, answer: aiohttp.ClientResponse, exchange: Exchange
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=answer.status, reason=answer.reason, headers=passed_headers(answer.headers)
        )
        give_up = asyncio.get_running_loop().call_later(self.window, self._give_up, exchange)
        try:
            await response.prepare(request)
            while chunk := await self._read(answer, exchange):
                if not exchange.response_body.add(chunk):
                    self._end(exchange)  # the copy stopped: check what there is now, keep streaming
                await response.write(chunk)
            if exchange.fault:
                _cut(request)  # the client's connection is closed: a cut body must not look whole
            else:
                exchange.response_body.complete = True
                await response.write_eof()
        except ConnectionResetError:
            exchange.fail("", "the client went away before the whole answer")
        finally:
            give_up.cancel()
        return response

    async def _read(self, answer: aiohttp.ClientResponse, exchange: Exchange) -> bytes:
        """The next piece of the upstream's body; b"" at its end, or when it broke (then the exchange says why)."""
        try:
            return await answer.content.readany()
        except (aiohttp.ClientError, OSError) as exc:
            exchange.fail(MALFORMED, framing.broken(exc))
            return b""

    def _give_up(self, exchange: Exchange) -> None:
        exchange.response_body.drop(f"still streaming after {self.window:g} s")
        self._end(exchange)

    def _end(self, exchange: Exchange) -> None:
        if not exchange.ended:
            exchange.ended = True
            self.sequencer.end(exchange)


def _refused(exchange: Exchange) -> web.Response:
    """The client's answer when the upstream gave none the proxy could pass on."""
    if exchange.fault == TIMED_OUT:
        return refusals.gateway_timeout(f"no answer from the upstream: {exchange.error}")
    if exchange.fault == ABANDONED:
        return refusals.bad_request(exchange.error)
    if exchange.fault in (MALFORMED, UNPASSABLE):
        return refusals.bad_gateway(f"the upstream answered {exchange.error}")
    return refusals.bad_gateway(f"no answer from the upstream: {exchange.error}")


def _cut(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


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
