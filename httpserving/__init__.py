"""Serving an aiohttp app on a port (the mock's, the proxy's): aiohttp's AppRunner, behind a guard on each connection,
through public APIs only.

aiohttp bounds how long a kept-alive connection may wait for its next request (`keepalive_timeout`,
the mock's `--idle-timeout`) but has no deadline for a request's head: a client trickling a header a
byte at a time could hold a socket for ever (slowloris). Nor is there a public hook to answer what
its HTTP parser refuses otherwise than in plain text. So each connection aiohttp's server makes
(`runner.server`, its documented protocol factory) is wrapped in a `Guard`, an asyncio protocol
that forwards every event to it and, until a request's head is complete:

- closes the connection when the head has not arrived within `--request-timeout` of its first byte
  (or of the connection), answering a 408 in Nick's shape when part of it had come;
- screens the head: a TLS handshake, a method aiohttp's parser does not know, a version other than
  HTTP/1.0 and 1.1, a request line or a header too long, too many headers or a Content-Length that
  is no number are refused in Nick's shape (400, 501, 414, 431), before aiohttp's parser (whose own
  limits are set higher) sees them. What else the parser refuses it answers itself, in plain text.

The app tells a connection that its request is answered through `finished` (a middleware of the
app: `request.transport.get_protocol()` is the Guard). What aiohttp's parser refuses it logs with a
traceback, as if the server had failed: through `Serving`, that is one line at debug level (the
client's fault, not the server's), and the server's own failures keep their tracebacks. Out of file descriptors, asyncio logs a
traceback for every failed accept, thousands a second: where the server owns the event loop (the mock's
CLI and `LiveMock`, the proxy's CLI), `DescriptorAlarm` turns that into one line now and then and closes idle connections.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger("httpserving")
OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
IDLE_TO_SHED = 1.0  # seconds a connection must have waited for a request before it is closed to free a descriptor
SHUTDOWN_GRACE = 5.0  # seconds requests in flight get to finish when serving stops
REPORT_EVERY = 10.0  # seconds between two reports of running out of descriptors
MAX_LINE = 8190  # bytes of a request line (aiohttp's default), or of one header line
MAX_HEADERS = 128  # header lines of a request (aiohttp's default)
# The methods aiohttp's C parser (llhttp) knows; others it refuses, and so does the Guard, whichever parser runs.
METHODS = frozenset(
    "DELETE GET HEAD POST PUT CONNECT OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH SEARCH UNLOCK BIND "
    "REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE M-SEARCH NOTIFY SUBSCRIBE UNSUBSCRIBE PATCH PURGE "
    "MKCALENDAR LINK UNLINK SOURCE QUERY".split()
)
TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
VERSION = re.compile(rb"^HTTP/1\.[01]$")
TLS_HANDSHAKE = 0x16  # the first byte of a TLS record carrying a ClientHello
HEAD_END = b"\r\n\r\n"


def refusal(status: int, error_type: str, message: str) -> bytes:
    """A whole answer in Nick's shape, closing the connection."""
    body = json.dumps({"error": {"type": error_type, "message": message}}, separators=(",", ":")).encode()
    reason = {400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large"}
    return (
        f"HTTP/1.1 {status} {reason.get(status, 'Not Implemented')}\r\nContent-Type: application/json; charset=utf-8"
        f"\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


TIMED_OUT = refusal(408, "Request timeout", "The request did not arrive in time.")


def screen(head: bytes) -> bytes | None:
    """The refusal of what has arrived of a request's head, or None while nothing is wrong with it (yet)."""
    if head[:1] == bytes([TLS_HANDSHAKE]):
        return refusal(400, "Bad Request", "The request is not valid HTTP: a TLS handshake (https to an http port?).")
    end = head.find(HEAD_END)
    if end >= 0:
        head = head[: end + len(HEAD_END)]  # what follows is the body (or the next request), not headers
    line, found, rest = head.partition(b"\r\n")
    if not found:
        return refusal(414, "URI too long", "The request's URL is too long.") if len(line) > MAX_LINE else None
    if len(line) > MAX_LINE:
        return refusal(414, "URI too long", "The request's URL is too long.")
    parts = line.split(b" ")
    method = parts[0]
    if not TOKEN.match(method):
        return refusal(400, "Bad Request", "The request is not valid HTTP: its request line is malformed.")
    if method.decode() not in METHODS:
        return refusal(501, "Not implemented", "The request's method is not one this server knows.")
    if len(parts) != 3 or not VERSION.match(parts[2]):
        return refusal(400, "Bad Request", "The request is not valid HTTP: its request line or version is malformed.")
    fields = rest.split(b"\r\n")
    complete = HEAD_END in head
    lines = fields[:-2] if complete else fields  # the last one may be still arriving
    if any(len(field) > MAX_LINE for field in lines):
        return refusal(431, "Request header fields too large", "A header of the request is too long.")
    if len([field for field in lines if field]) > MAX_HEADERS:
        return refusal(431, "Request header fields too large", "The request has too many headers.")
    for field in lines:
        name, _, value = field.partition(b":")
        if name.strip().lower() == b"content-length" and not value.strip().isdigit():
            return refusal(400, "Bad Request", "The request is not valid HTTP: its Content-Length is no number.")
    return None


class ClientFaults(logging.Filter):
    """On aiohttp's server logger: a request its parser refused (an error with a 4xx `code`) is one debug line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        code = getattr(error, "code", None)
        if isinstance(code, int) and 400 <= code < 500:
            log.debug("refused a request the HTTP parser could not read: %s", str(error).split("\n", 1)[0])
            return False
        return True


# A child of aiohttp's own logger (its handlers see what passes), with the filter: aiohttp's logger is left as it is.
SERVER_LOG = logging.getLogger("aiohttp.server").getChild("guarded")
SERVER_LOG.addFilter(ClientFaults())


class Guard(asyncio.Protocol):
    """One client's connection: aiohttp's protocol, which every event is forwarded to, with a deadline and a screen
    for each request's head (see the module's docstring)."""

    def __init__(self, inner: asyncio.Protocol, serving: Serving) -> None:
        self.inner, self.serving = inner, serving
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a request's head has arrived and it is being handled
        self.head = bytearray()  # what has arrived of the next request's head
        self.waiting_since = asyncio.get_running_loop().time()  # when it last started waiting for a request
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.serving.connections.add(self)
        self.inner.connection_made(transport)
        self._arm()  # the first request is due within the timeout

    def data_received(self, data: bytes) -> None:
        if not self.busy and self.transport is not None:
            if self.timer is None:
                self._arm()
            first = not self.head
            self.head += data
            # Screened as it begins, when a line may have ended, or one grew too long: not for every byte of a trickle.
            refused = screen(bytes(self.head)) if first or b"\n" in data or len(self.head) > MAX_LINE else None
            if refused is not None:
                self._refuse(refused)
                return
            if HEAD_END in self.head:
                self.busy = True
                self._disarm()
                self.head.clear()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.serving.connections.discard(self)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def finished(self) -> None:
        """The request's answer is on its way: the connection waits for the next one (aiohttp's idle timeout)."""
        self.busy = False
        self.waiting_since = asyncio.get_running_loop().time()

    def _arm(self) -> None:
        self.timer = asyncio.get_running_loop().call_later(self.serving.request_timeout, self._expire)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self) -> None:
        """The request's head did not arrive in time: say so if it had begun, and close."""
        self.timer = None
        if self.busy or self.transport is None:
            return
        if self.head:
            self._refuse(TIMED_OUT)
        else:
            self.transport.close()

    def _refuse(self, answer: bytes) -> None:
        log.debug("refused a request: %s", answer.split(b"\r\n", 1)[0].decode())
        assert self.transport is not None
        self._disarm()
        self.transport.write(answer)
        self.transport.close()
        self.head.clear()


@web.middleware
async def tell_connection(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    """Tell the request's connection (where `Serving` made it) when its answer is ready."""
    try:
        return await handler(request)
    finally:
        transport = request.transport
        protocol = transport.get_protocol() if transport is not None else None
        if isinstance(protocol, Guard):
            protocol.finished()


class Serving:
    """The app on a host and port, through aiohttp's AppRunner and a Guard on each connection."""

    def __init__(
        self,
        app: web.Application,
        *,
        request_timeout: float,
        idle_timeout: float,
        access_log: logging.Logger | None = None,
    ) -> None:
        if tell_connection not in app.middlewares:
            app.middlewares.insert(0, tell_connection)
        # aiohttp's own limits above the Guard's, so that the Guard refuses first, in Nick's shape. After an answer
        # given before the body was read (a 408, a 413), aiohttp reads and drops the rest for up to
        # `lingering_time`: no longer than the body had to arrive in. Requests still in flight at shutdown get a
        # few seconds (a latency fault may be holding one for minutes).
        self.runner = web.AppRunner(
            app,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_GRACE,
            keepalive_timeout=idle_timeout,
            lingering_time=request_timeout,
            access_log=access_log,
            logger=SERVER_LOG,
            max_line_size=2 * MAX_LINE,
            max_field_size=2 * MAX_LINE,
            max_headers=2 * MAX_HEADERS,
        )
        self.request_timeout = request_timeout
        self.connections: set[Guard] = set()
        self.server: asyncio.Server | None = None

    @property
    def app(self) -> web.Application:
        """The app served."""
        return self.runner.app

    async def start(self, host: str, port: int, *, reuse_port: bool | None = None, owns_loop: bool = False) -> None:
        """Run the app's start-up and listen; with `owns_loop`, also take the loop's exception handler."""
        loop = asyncio.get_running_loop()
        await self.runner.setup()
        server = self.runner.server
        assert server is not None
        self.server = await loop.create_server(lambda: Guard(server(), self), host, port, reuse_port=reuse_port)
        if owns_loop:
            loop.set_exception_handler(DescriptorAlarm(self))

    @property
    def addresses(self) -> list[Any]:
        """The addresses it listens on, as the sockets name them."""
        return [sock.getsockname() for sock in (self.server.sockets if self.server is not None else ())]

    async def stop(self) -> None:
        """Stop listening, let requests in flight finish (a few seconds), run the app's clean-up."""
        if self.server is not None:
            self.server.close()
        await self.runner.cleanup()

    def shed_idle(self) -> int:
        """Close the connections that have waited for a request for a while, to free descriptors; how many."""
        threshold = asyncio.get_running_loop().time() - IDLE_TO_SHED
        idle = [c for c in self.connections if not c.busy and c.waiting_since < threshold and c.transport is not None]
        for connection in idle:
            assert connection.transport is not None
            connection.transport.close()
        return len(idle)


class DescriptorAlarm:
    """The event loop's exception handler: running out of descriptors is one line now and then, and frees some."""

    def __init__(self, serving: Serving) -> None:
        self.serving = serving
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
            self.shed += self.serving.shed_idle()
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
