"""Client connections: deadlines for slow and idle clients, Nick's shape for what the HTTP parser refuses, and calm
when file descriptors run out.

aiohttp closes a connection that waits for its next request longer than `keepalive_timeout`
(`--idle-timeout`), counted from the end of the last answer, or from the connection for the first
request. On top of that each request's line and headers must arrive within `--request-timeout`
of its first byte (or of the connection), so a client that trickles a header a byte at a time
cannot hold a socket: `Connection` notes that deadline, and one sweep a fraction of the timeout
apart (`Connections.sweep`) closes the connections past it; a timer per request would cost every
request a heap push and a cancellation. Out of file descriptors, asyncio logs a
traceback for every failed accept, thousands a second: `DescriptorAlarm` turns that into one line
now and then, and closes connections that sit idle, so that accepting resumes.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import StreamReader, hdrs, web
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler

from mockserver.domain.documents import dump
from mockserver.http import wire

log = logging.getLogger("mockserver.connections")
OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
IDLE_TO_SHED = 1.0  # seconds a connection must have waited for a request before it is closed to free a descriptor
SHUTDOWN_GRACE = 5.0  # seconds requests in flight get to finish when the mock stops
SWEEP_MAX = 0.5  # seconds between two sweeps for overdue request heads, at most
REPORT_EVERY = 10.0  # seconds between two reports of running out of descriptors
TIMED_OUT = dump({"error": {"type": "Request timeout", "message": "The request did not arrive in time."}})
TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Content-Length: " + str(len(TIMED_OUT)).encode() + b"\r\n\r\n" + TIMED_OUT
)
RawHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class Connection(RequestHandler):
    """One client's connection: aiohttp's handler, with a deadline for each request's head and JSON refusals."""

    def __init__(self, manager: Connections, *, request_timeout: float, **options: Any) -> None:
        super().__init__(manager, **options)
        self.request_timeout = request_timeout
        self.busy = False  # a request of this connection is being handled
        self.waiting_since = manager.event_loop.time()  # when it last started waiting for a request
        self.head_due: float | None = None  # when the next request's head must have arrived (None: not waited for)
        self._connections = manager
        self._clock = manager.event_loop
        self._head_started = False  # bytes of the next request's head have arrived
        self._line_ended = False  # its request line is complete
        self._line_length = 0  # the length of its request line so far: too long is a 414, else a header's 431
        self._unread: StreamReader | None = None  # the body of the last request, if it was answered unread

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.head_due = self._clock.time() + self.request_timeout  # the first request is due within the timeout
        self._connections.watch()

    def data_received(self, data: bytes) -> None:
        if data and not self.busy:
            if self.head_due is None:
                self.head_due = self._clock.time() + self.request_timeout
            self._head_started = True
            if not self._line_ended:
                end = data.find(b"\n")
                self._line_ended = end >= 0
                self._line_length += len(data) if end < 0 else end
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.head_due = None
        super().connection_lost(exc)
        if self._unread is not None:  # aiohttp would wait out its lingering time for a body that cannot come now
            self._unread.feed_eof()
            self._unread = None

    def force_close(self) -> None:
        """Close now; an answer the client has not read is dropped, or the socket would wait for it forever."""
        transport = self.transport
        if (
            transport is not None
            and isinstance(transport, asyncio.WriteTransport)
            and transport.get_write_buffer_size()
        ):
            transport.abort()
        super().force_close()

    def started(self) -> None:
        """A request's head has arrived and its handling begins: the deadline is met."""
        self.busy = True
        self.head_due = None
        self._head_started = self._line_ended = False
        self._line_length = 0

    def finished(self, request: web.BaseRequest) -> None:
        """The answer is on its way: the connection waits for the next request (aiohttp's idle timeout)."""
        self.busy = False
        self.waiting_since = self._clock.time()
        self._unread = None if request.content.is_eof() else request.content

    def overdue(self, now: float) -> bool:
        """Whether the next request's head should have arrived by `now`."""
        return self.head_due is not None and not self.busy and now >= self.head_due

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        """Send an answer and log it: head and body in one write where `mockserver.http.wire` can, else aiohttp's way.

        What aiohttp's own method does besides (the rest of an upgrade's bytes) is left to it, as is
        everything on an aiohttp that does not keep `_upgraded`.
        """
        if getattr(self, "_upgraded", True) or not wire.eligible(request, resp):
            return await super().finish_response(request, resp, start_time)
        assert isinstance(resp, web.Response)
        request._finish()
        head, body = wire.head(request, resp)
        transport = cast(asyncio.WriteTransport | None, self.transport)
        gone = transport is None or transport.is_closing()  # where aiohttp's writer raises ConnectionResetError
        if transport is not None and not gone:
            transport.write(head + body if body else head)
            resp._eof_sent = True  # as write_eof leaves it: the answer is out, and nothing more goes with it
            resp._body_length = len(head) + len(body)  # what aiohttp counts, and its access log's %b says
            if self._paused:  # the client reads slower than we write: wait, as aiohttp's writer does
                try:
                    await self._drain_helper()
                except ConnectionError:  # it left meanwhile
                    gone = True
        self.log_access(request, resp, start_time)
        return resp, gone

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """What the parser refused (or an exception that escaped the app), in Nick's shape; the connection closes."""
        self.head_due = None
        status, error_type, text = refusal(status, exc, message, self._line_length > self.max_line_size)
        if status >= 500:
            log.error("mock error on a request from %s", request.remote, exc_info=exc)
        else:
            log.debug("refused a request from %s: %s", request.remote, text)
        if request.writer.output_size > 0:  # as aiohttp does: part of an answer is out, no other can follow
            raise ConnectionError("the answer had begun; no error answer can follow it")
        response = web.Response(
            status=status, body=dump({"error": {"type": error_type, "message": text}}), content_type="application/json"
        )
        response.force_close()
        return response

    def expire(self) -> None:
        """The request's head did not arrive in time: say so if it had begun, and close."""
        self.head_due = None
        if self.transport is None:
            return
        if self._head_started:
            self.transport.write(TIMEOUT_ANSWER)
        self.force_close()


def refusal(status: int, exc: BaseException | None, message: str | None, long_line: bool) -> tuple[int, str, str]:
    """The status, error type and message for a request the parser refused (or the app failed on)."""
    if status >= 500:
        return 500, "Mock error", "The mock server failed on this request; see its log."
    if isinstance(exc, BadHttpMethod) and "HTTPS" not in str(exc):
        return 501, "Not implemented", "The request's method is not one this server knows."
    if isinstance(exc, LineTooLong):
        if long_line:
            return 414, "URI too long", "The request's URL is too long."
        return 431, "Request header fields too large", "A header of the request is too long."
    if isinstance(exc, BadHttpMessage) and "Too many headers" in str(exc):
        return 431, "Request header fields too large", "The request has too many headers."
    detail = exc.message if isinstance(exc, BadHttpMessage) else (message or "malformed request")
    return status, "Bad Request", f"The request is not valid HTTP: {' '.join(str(detail).split())[:200]}"


class Connections(web.Server):
    """aiohttp's server of connections, making each a `Connection`; its handler (`_dispatch`) tells one when a request
    starts and ends."""

    def __init__(
        self, handler: RawHandler, *, request_timeout: float, loop: asyncio.AbstractEventLoop, **options: Any
    ) -> None:
        super().__init__(handler, loop=loop, **options)
        self.event_loop = loop
        self.request_timeout = request_timeout
        self._options = {key: value for key, value in options.items() if key != "request_factory"}
        # A head is closed on between its deadline and a sweep later: a tenth of the timeout, at most half a second.
        self._sweep_every = min(SWEEP_MAX, request_timeout / 10)
        self._sweeper: asyncio.TimerHandle | None = None

    def __call__(self) -> Connection:
        return Connection(self, loop=self.event_loop, request_timeout=self.request_timeout, **self._options)

    def watch(self) -> None:
        """Sweep for overdue request heads while there are connections (see the module's docstring)."""
        if self._sweeper is None:
            self._sweeper = self.event_loop.call_later(self._sweep_every, self.sweep)

    def sweep(self) -> None:
        """Close the connections whose next request's head is overdue; sweep again later while any are open."""
        now = self.event_loop.time()
        for connection in [c for c in self.connections if isinstance(c, Connection) and c.overdue(now)]:
            connection.expire()
        self._sweeper = None
        if self.connections:
            self.watch()

    async def shutdown(self, timeout: float | None = None) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        await super().shutdown(timeout)

    def shed_idle(self) -> int:
        """Close the connections that have waited for a request for a while, to free descriptors; how many."""
        threshold = self.event_loop.time() - IDLE_TO_SHED
        idle = [c for c in self.connections if isinstance(c, Connection) and not c.busy and c.waiting_since < threshold]
        for connection in idle:
            connection.force_close()
        return len(idle)


def _dispatch(app: web.Application) -> RawHandler:
    """What aiohttp's `Application._handle` does with a request, in one coroutine that calls the app's one middleware
    (`mockserver.http.pipeline.Pipeline`) directly, telling the request's connection when its handling starts and ends.

    aiohttp wraps the route's handler in each middleware anew for every request: a cache looked up by
    handler and apps, a `functools.partial`, a call by keyword, in a coroutine of its own. In process,
    a logout took 28 us through that machinery and the connection's coroutine around it, and 23 us here.
    """
    if len(app.middlewares) != 1:
        raise ValueError("MockRunner serves the apps of mockserver.http.app.create_app, which have one middleware")
    (middleware,) = app.middlewares
    router = app.router

    async def handle(base: web.BaseRequest) -> web.StreamResponse:
        request = cast(web.Request, base)  # what the app's request factory makes
        connection = cast(Connection, request.protocol)  # what Connections makes
        connection.started()
        try:
            match_info = await router.resolve(request)
            match_info.add_app(app)
            match_info.freeze()
            request._match_info = match_info
            if request.headers.get(hdrs.EXPECT):  # 100-continue: the route's expect handler answers first
                expected = await match_info.expect_handler(request)
                await request.writer.drain()
                if expected is not None:
                    return expected
            return await middleware(request, match_info.handler)
        finally:
            connection.finished(request)

    return handle


class DescriptorAlarm:
    """The event loop's exception handler: running out of descriptors is one line now and then, and frees some."""

    def __init__(self, server: Connections) -> None:
        self.server = server
        self.failures = 0  # since the last report
        self.shed = 0  # connections closed since the last report
        self._next_report = 0.0
        self._next_shedding = 0.0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if not isinstance(error, OSError) or error.errno not in OUT_OF_DESCRIPTORS:
            loop.default_exception_handler(context)
            return
        self.failures += 1
        now = loop.time()
        if now >= self._next_shedding:
            self.shed += self.server.shed_idle()
            self._next_shedding = now + IDLE_TO_SHED / 2
        if now >= self._next_report:
            if self._next_report == 0.0 or now >= self._next_report + REPORT_EVERY:  # the first of a spell
                log.error(
                    "out of file descriptors (%s): new connections wait; closing connections idle for %g s or more",
                    error.strerror,
                    IDLE_TO_SHED,
                )
            else:
                log.error(
                    "still out of file descriptors: %d failed accepts, %d idle connections closed in %g s",
                    self.failures,
                    self.shed,
                    REPORT_EVERY,
                )
            self.failures = self.shed = 0
            self._next_report = now + REPORT_EVERY


class MockRunner(web.AppRunner):
    """An AppRunner whose server is `Connections`, with the mock's request and idle timeouts."""

    def __init__(
        self,
        app: web.Application,
        *,
        request_timeout: float,
        idle_timeout: float,
        access_log: logging.Logger | None = None,
    ) -> None:
        # After an answer given before the body was read (a 408, a 413), aiohttp reads and drops the rest
        # for up to `lingering_time`: no longer than the body had to arrive in.
        options: dict[str, Any] = {
            "keepalive_timeout": idle_timeout,
            "lingering_time": request_timeout,
            "access_log": access_log,
        }
        # Requests still in flight at shutdown get a few seconds (a latency fault may be holding one for minutes).
        super().__init__(app, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE, **options)
        self._connection_options = options
        self.request_timeout = request_timeout

    async def _make_server(self) -> web.Server:
        started = await super()._make_server()  # runs the app's start-up, as AppRunner does
        loop = asyncio.get_running_loop()
        server = Connections(
            _dispatch(self.app),
            request_factory=started.request_factory,
            request_timeout=self.request_timeout,
            loop=loop,
            **self._connection_options,
        )
        loop.set_exception_handler(DescriptorAlarm(server))
        return server
