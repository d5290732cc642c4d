"""The mock's serving (`httpserving`, aiohttp's runner behind a guard on each connection) sends the
bytes aiohttp's own runner sends.

The same app is served both ways, and the same raw requests go to both over loopback: every answer
must match to the byte (but for the Date header).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from httpserving import Serving
from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.http.app import create_app
from mockserver.http.context import STATE
from tests.conftest import DOCUMENTED_ID

DATE = re.compile(rb"\r\nDate: [^\r]*")
Runner = Callable[[web.Application], web.AppRunner | Serving]


def mock_runner(app: web.Application) -> Serving:
    return Serving(app, request_timeout=5.0, idle_timeout=5.0)


def aiohttp_runner(app: web.Application) -> web.AppRunner:
    return web.AppRunner(app, access_log=None)


@asynccontextmanager
async def serving(app: web.Application, runner_of: Runner) -> AsyncIterator[tuple[str, int]]:
    runner = runner_of(app)
    if isinstance(runner, Serving):
        await runner.start("127.0.0.1", 0)
    else:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield host, port
    finally:
        await (runner.stop() if isinstance(runner, Serving) else runner.cleanup())


async def exchange(address: tuple[str, int], requests: list[bytes]) -> list[bytes]:
    """Each request in turn on one connection, and what came back for each (Date masked); b"" once it closed."""
    reader, writer = await asyncio.open_connection(*address)
    answers = []
    try:
        for request in requests:
            if reader.at_eof():
                answers.append(b"")
                continue
            writer.write(request)
            answers.append(DATE.sub(b"\r\nDate: -", await _answer(reader, request.startswith(b"HEAD "))))
    finally:
        writer.close()
    return answers


async def _answer(reader: asyncio.StreamReader, head_request: bool) -> bytes:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except asyncio.IncompleteReadError as closed:
        return closed.partial
    length = re.search(rb"\r\nContent-Length: (\d+)", head)
    if head_request or head.split(b" ", 2)[1] in (b"204", b"304"):
        return head
    if length is not None:
        return head + await reader.readexactly(int(length.group(1)))
    if b"\r\nTransfer-Encoding: chunked\r\n" in head:
        return head + await asyncio.wait_for(reader.readuntil(b"\r\n0\r\n\r\n"), 10)
    return head + await asyncio.wait_for(reader.read(), 10)  # no length: the body runs to the close


def both_ways(
    app_of: Callable[[], web.Application], connections: Callable[[web.Application], list[list[bytes]]]
) -> Iterator[list[bytes]]:
    """The answers from a fresh app of `app_of` under each runner (the mock's, then aiohttp's) to the requests of
    `connections`, each list on a connection of its own."""

    async def through(runner_of: Runner) -> list[bytes]:
        app = app_of()
        async with serving(app, runner_of) as address:
            return [answer for requests in connections(app) for answer in await exchange(address, requests)]

    async def main() -> tuple[list[bytes], list[bytes]]:
        return await through(mock_runner), await through(aiohttp_runner)

    return iter(asyncio.run(main()))


def _request(method: str, path: str, *headers: str, body: bytes = b"", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: localhost", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _mock_requests(app: web.Application) -> list[list[bytes]]:
    user = app[STATE].auth.users["admin"]
    auth = f"Authorization: Bearer {app[STATE].auth.issue(user)}"
    job = f"/@jobs/{DOCUMENTED_ID}"
    everyday = [
        _request("GET", "/@jobs", auth),
        _request("GET", job, auth),
        _request("HEAD", job, auth),
        _request("GET", job, auth, "Origin: http://localhost:3000"),
        _request(
            "OPTIONS", job, "Origin: http://localhost:3000", "Access-Control-Request-Method: DELETE"
        ),  # a preflight
        _request("GET", "/@jobs"),  # 401
        _request("GET", "/no/such/@view", auth),  # 404
        _request("PUT", "/@jobs", auth),  # an undeclared method: Nick's 404
        _request("POST", "/@login", "Content-Type: application/json", body=b'{"login": '),  # 400
        _request("POST", f"{job}/abort", auth, "Prefer: code=400"),  # a documented answer on demand
        _request("POST", f"/news{job}/abort", auth),  # under a content path
        _request("DELETE", job, auth),  # 204
        _request("GET", job, auth),  # 404 now
        _request("GET", "/openapi.yaml"),
    ]
    closing = [_request("GET", "/@jobs", auth, "Connection: close"), _request("GET", "/@jobs", auth)]
    return [everyday, closing, [_request("GET", "/@jobs", auth, version="1.0")]]  # HTTP/1.0: aiohttp's way on both


def test_the_mocks_answers_are_aiohttps_bytes() -> None:
    clock = Clock(manual=True)  # one clock: both apps' jobs carry the same times
    ours, theirs = both_ways(lambda: create_app(config=MockConfig(), clock=clock), _mock_requests)
    assert ours == theirs
    statuses = [answer.split(b" ", 2)[1] if answer else b"" for answer in ours]
    assert statuses == [b"200"] * 4 + [b"204", b"401", b"404", b"404", b"400", b"400", b"400", b"204", b"404"] + [
        b"200",  # the spec
        b"200",  # with Connection: close
        b"",  # closed
        b"200",  # HTTP/1.0
    ]
    assert b"\r\nConnection: close\r\n" in ours[-3] and ours[-4].startswith(b"HTTP/1.1 200 OK\r\nContent-Type: ")
    assert ours[-1].startswith(b"HTTP/1.0 200 OK\r\n")


async def _created(request: web.Request) -> web.StreamResponse:
    return web.Response(status=201, body=b'{"a":1}', content_type="application/json", headers={"X-One": "1"})


async def _empty(request: web.Request) -> web.StreamResponse:
    return web.Response(status=int(request.match_info["status"]), body=b"dropped" if request.query else None)


async def _reason(request: web.Request) -> web.StreamResponse:
    return web.Response(status=299, reason="Custom Reason", text="text")


async def _closing(request: web.Request) -> web.StreamResponse:
    response = web.Response(text="bye")
    response.force_close()
    return response


async def _cookie(request: web.Request) -> web.StreamResponse:
    response = web.Response(text="crumbs")
    response.set_cookie("session", "s1")
    return response


async def _length(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b"", headers={"Content-Length": "0", "Connection": "keep-alive"})


async def _raw(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b"raw bytes")  # no Content-Type given: aiohttp says octet-stream


async def _bad_length(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b"x", headers={"Content-Length": "abc"})  # aiohttp refuses it: nothing is sent


async def _compressed(request: web.Request) -> web.StreamResponse:
    response = web.Response(text="squeeze " * 50)
    response.enable_compression()
    return response


async def _bytearray(request: web.Request) -> web.StreamResponse:
    return web.Response(body=bytearray(b"mutable"))


async def _aborted(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.abort()  # the client is gone before its answer
    return web.Response(text="never seen")


async def _injected(request: web.Request) -> web.StreamResponse:
    return web.Response(text="x", headers={"X-Evil": "a\r\nSet-Cookie: stolen=1"})


async def _stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"streamed")
    return response


def _generic_app() -> web.Application:
    @web.middleware
    async def passing(request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        return await handler(request)

    app = web.Application(middlewares=[passing])
    app.router.add_get("/created", _created)
    app.router.add_get("/empty/{status}", _empty)
    app.router.add_get("/reason", _reason)
    app.router.add_get("/closing", _closing)
    app.router.add_get("/cookie", _cookie)
    app.router.add_get("/length", _length)
    app.router.add_get("/stream", _stream)
    app.router.add_get("/raw", _raw)
    app.router.add_get("/bad-length", _bad_length)
    app.router.add_get("/compressed", _compressed)
    app.router.add_get("/bytearray", _bytearray)
    app.router.add_get("/aborted", _aborted)
    app.router.add_get("/injected", _injected)
    return app


def test_any_answer_goes_out_as_aiohttp_sends_it() -> None:
    """Beyond what the mock answers: empty statuses, a reason of its own, cookies, streams, compression, a length
    that is not a number, a client gone before its answer, a header that injects."""

    def requests(app: web.Application) -> list[list[bytes]]:
        paths = [
            "/created",
            "/empty/204",
            "/empty/304?body",
            "/empty/204?body",
            "/reason",
            "/cookie",
            "/length",
            "/raw",
        ]
        one = [
            *(_request("GET", path) for path in paths),
            _request("HEAD", "/created"),
            _request("HEAD", "/empty/304"),
            _request("GET", "/stream"),
            _request("GET", "/compressed", "Accept-Encoding: gzip"),
            _request("GET", "/bytearray"),
            _request("GET", "/created"),
        ]
        closing = [_request("GET", "/closing"), _request("GET", "/created")]  # after the close: nothing
        return [one, closing, [_request("HEAD", "/bad-length")], [_request("GET", "/aborted")]]

    ours, theirs = both_ways(_generic_app, requests)
    assert ours == theirs
    assert b"\r\nX-One: 1\r\n" in ours[0] and ours[0].endswith(b'{"a":1}')
    assert ours[4].startswith(b"HTTP/1.1 299 Custom Reason\r\n")
    assert b"Set-Cookie: session=s1" in ours[5]
    assert b"\r\nContent-Type: application/octet-stream\r\n" in ours[7]
    assert b"\r\nContent-Encoding: gzip\r\n" in ours[11] and ours[12].endswith(b"\r\n\r\nmutable")
    assert b"\r\nConnection: close\r\n" in ours[-4]
    assert ours[-3:] == [b"", b"", b""], "after the close; a length aiohttp refuses; a client gone: nothing"

    injected = both_ways(_generic_app, lambda app: [[_request("GET", "/injected")]])
    assert next(injected) == next(injected)


class _BrokenResource(web.PlainResource):
    async def resolve(self, request: web.Request) -> Any:
        raise RuntimeError("a router that fails")


def test_a_request_whose_routing_fails_is_answered_with_a_500() -> None:
    """No match_info at all: the error answer still goes out, as aiohttp gives it (before any middleware)."""

    def app_of() -> web.Application:
        app = _generic_app()
        app.router.register_resource(_BrokenResource("/broken"))
        return app

    ours, theirs = both_ways(app_of, lambda app: [[_request("GET", "/broken")]])
    assert ours[0].startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert theirs[0].startswith(b"HTTP/1.1 500 Internal Server Error\r\n")


class _Sizes(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.sizes.append(int(record.__dict__["response_size"]))


def test_the_access_log_counts_what_aiohttp_counts() -> None:
    """`%b` is the bytes sent, head included, whichever way they went out."""
    requests = [[_request("GET", "/created"), _request("HEAD", "/created"), _request("GET", "/empty/204")]]
    sizes = []
    for runner_of in (Serving, web.AppRunner):
        logger = logging.getLogger(f"tests.wire.access.{runner_of.__name__}")
        logger.setLevel(logging.INFO)
        handler = _Sizes()
        logger.addHandler(handler)

        def with_log(app: web.Application, runner_of: Any = runner_of, logger: logging.Logger = logger) -> Any:
            options = {"request_timeout": 5.0, "idle_timeout": 5.0} if runner_of is Serving else {}
            return runner_of(app, access_log=logger, **options)

        async def through(with_log: Runner = with_log) -> list[bytes]:
            async with serving(_generic_app(), with_log) as address:
                return await exchange(address, requests[0])

        answers = asyncio.run(through())
        logger.removeHandler(handler)
        # Every answer has a Date, masked here to "-": an HTTP date is 29 characters, 28 more than that.
        assert handler.sizes == [len(answer) + 28 for answer in answers]
        sizes.append(handler.sizes)
    assert sizes[0] == sizes[1]
