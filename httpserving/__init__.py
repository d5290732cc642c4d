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

The app tells a connection that its request is answered through `finished` (`answered(request)`:
`request.transport` is the Guard's `Loan` of its transport), from a middleware `Serving` adds, or by the app itself
(an app that says so with `TELLS_CONNECTION`: the mock's pipeline, around each route's handler, one coroutine fewer
per request).
A request's head costs no timer of its own: the connection's one timer, when it fires, finds the
deadline gone (the head arrived) or moved on. A head that arrives whole, as clients send them, is
screened in one pass (`examine`): the common head, a request line every parser takes in a head too
short for a line to be too long, leaves only its framing headers to read; any other is split into
lines. What aiohttp's parser refuses it logs with a traceback, as if the server had failed: through
`Serving`, that is one line at debug level (the client's fault, not the server's), and the server's
own failures keep their tracebacks. A reload hands the port and every connection between requests
to a new app (`Serving.take_over`): the listening sockets' protocol factory (`Listener`) is shared
and never closed, and aiohttp's protocol holds a `Loan` of its connection's transport, which the
hand-over ends (so no `loop.sendfile`, which takes only the loop's own transports: an app answers
files from memory). Out of file descriptors, asyncio logs a
traceback for every failed accept, thousands a second: where the server owns the event loop (the mock's
CLI and `LiveMock`, the proxy's CLI), `DescriptorAlarm` turns that into one line now and then and closes idle connections.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
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
KNOWN = frozenset(method.encode() for method in METHODS)
TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
VERSION = re.compile(rb"^HTTP/1\.[01]$")
VERSIONS = frozenset({b"HTTP/1.1", b"HTTP/1.0"})  # what VERSION matches, but for a trailing newline
# The only headers whose values a head's screen and its body's framing read, lower case.
CONTENT_LENGTH, TRANSFER_ENCODING = b"content-length", b"transfer-encoding"
LENGTH_LINE = b"\r\ncontent-length:"  # a Content-Length header as clients write it, in a lowered head
TLS_RECORD = b"\x16"  # the first byte of a TLS record carrying a ClientHello
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
NOT_A_LENGTH = refusal(400, "Bad Request", "The request is not valid HTTP: its Content-Length is no number.")
# The request line of a head that needs no screening line by line (see `examine`): a method every parser knows, a
# URL without whitespace, HTTP/1.0 or 1.1.
COMMON_LINE = re.compile(rb"(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) [^\s]+ HTTP/1\.[01]\r\n")


def screen(head: bytes) -> bytes | None:
    """The refusal of what has arrived of a request's head, or None while nothing is wrong with it (yet)."""
    if head[:1] == TLS_RECORD:
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
    if method not in KNOWN:  # a method it knows is a token
        if not TOKEN.match(method):
            return refusal(400, "Bad Request", "The request is not valid HTTP: its request line is malformed.")
        return refusal(501, "Not implemented", "The request's method is not one this server knows.")
    if len(parts) != 3 or (parts[2] not in VERSIONS and not VERSION.match(parts[2])):
        return refusal(400, "Bad Request", "The request is not valid HTTP: its request line or version is malformed.")
    if len(rest) > MAX_LINE or rest.count(b"\r\n") >= MAX_HEADERS:  # else no line can be too long, nor too many
        fields = rest.split(b"\r\n")
        lines = fields[:-2] if end >= 0 else fields  # the last one may be still arriving
        if any(len(field) > MAX_LINE for field in lines):
            return refusal(431, "Request header fields too large", "A header of the request is too long.")
        if len([field for field in lines if field]) > MAX_HEADERS:
            return refusal(431, "Request header fields too large", "The request has too many headers.")
    if any(not value.isdigit() for value in values(rest, CONTENT_LENGTH)):
        return NOT_A_LENGTH
    return None


def examine(head: bytes) -> tuple[bytes | None, Body | None]:
    """A whole head (its blank line included): its refusal (what `screen` refuses), else the body it announces.

    The head clients send takes one pass: a request line of a method every parser knows, one URL and
    HTTP/1.x, in a head too short for any line of it to be too long and with too few lines to be too
    many, leaves only its framing headers to be read, in one lowered copy. Any other head is screened
    line by line (`screen`)."""
    if len(head) <= MAX_LINE and head.count(b"\n") <= MAX_HEADERS and COMMON_LINE.match(head) is not None:
        lowered = head.lower()
        length = 0
        named = lowered.count(CONTENT_LENGTH)
        line = lowered.find(LENGTH_LINE) if named == 1 else -1
        if line >= 0:  # the one line that names it, as clients write it: its value up to the line's end
            value = head[line + len(LENGTH_LINE) : head.find(b"\r\n", line + 2)].strip()
            if not value.isdigit():
                return NOT_A_LENGTH, None
            length = int(value)
        elif named:
            for value in values(head, CONTENT_LENGTH, lowered):
                if not value.isdigit():
                    return NOT_A_LENGTH, None
                length = int(value)  # the last one counts
        if TRANSFER_ENCODING in lowered:
            return None, Body.of(head, lowered)
        return None, Body(length, chunked=False) if length else None
    refused = screen(head)
    return (refused, None) if refused is not None else (None, Body.of(head))


def values(head: bytes, name: bytes, lowered: bytes | None = None) -> Iterator[bytes]:
    """The values, stripped, of the header lines of `head` named `name` (lower case) in any case, in order; only the
    lines in which `name` occurs are split (`lowered`: `head.lower()`, when already made)."""
    lowered = head.lower() if lowered is None else lowered
    found = lowered.find(name)
    while found >= 0:
        start = lowered.rfind(b"\r\n", 0, found)
        start = 0 if start < 0 else start + 2
        end = lowered.find(b"\r\n", found)
        end = len(head) if end < 0 else end
        if lowered[start:end].partition(b":")[0].strip() == name:
            yield head[start:end].partition(b":")[2].strip()
        found = lowered.find(name, end)


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


class Body:
    """Where a request's body ends, by its head's Content-Length or its chunks (Transfer-Encoding: chunked): the
    bytes after it are the next request's head, to be screened as such, and the body's bytes never are (a body
    arriving after its request was answered, as a request refused before its body was read)."""

    def __init__(self, length: int, chunked: bool) -> None:
        self.left = length  # bytes of data left (of the body, or of the chunk under way)
        self.chunked = chunked
        self.line = bytearray()  # a chunk's size line, or a trailer line, as it arrives
        self.stage = "size" if chunked else "data"  # chunked: size, data, end (its CRLF), trailer
        self.done = not chunked and length == 0

    @classmethod
    def of(cls, head: bytes, lowered: bytes | None = None) -> Body | None:
        """The body a (screened, complete) head announces, or None if it announces none (`lowered`: `head.lower()`,
        when already made)."""
        lowered = head.lower() if lowered is None else lowered
        length = 0
        for value in values(head, CONTENT_LENGTH, lowered):
            if value.isdigit():
                length = int(value)  # the last one counts
        chunked = any(value.lower().endswith(b"chunked") for value in values(head, TRANSFER_ENCODING, lowered))
        body = cls(length, chunked)
        return None if body.done else body

    def skip(self, data: bytes) -> bytes:
        """Take what belongs to the body of `data`; the rest (once the body has ended)."""
        while data and not self.done:
            if self.stage == "data":
                taken = min(self.left, len(data))
                self.left -= taken
                data = data[taken:]
                if self.left == 0:
                    self.stage = "end" if self.chunked else "data"
                    self.left, self.done = (2, False) if self.chunked else (0, True)
            elif self.stage == "end":  # the CRLF after a chunk's data
                taken = min(self.left, len(data))
                self.left -= taken
                data = data[taken:]
                if self.left == 0:
                    self.stage = "size"
            else:  # a size line, or a trailer line: up to its LF
                end = data.find(b"\n")
                if end < 0:
                    self.line += data[: MAX_LINE - len(self.line)]
                    return b""
                self.line += data[:end]
                data = data[end + 1 :]
                self._line(bytes(self.line).strip())
                self.line.clear()
        return data

    def _line(self, line: bytes) -> None:
        if self.stage == "trailer":
            self.done = not line  # the empty line ends the trailers, and the body
            return
        try:
            size = int(line.split(b";", 1)[0], 16)
        except ValueError:
            size = 0  # not a chunk size: aiohttp's parser refuses the request, and closes the connection
        if size == 0:
            self.stage = "trailer"
        else:
            self.stage, self.left = "data", size


class Loan(asyncio.Transport):
    """A connection's transport as the app's protocol (aiohttp's) holds it: every call goes through to it until the
    loan `end`s, when a reload hands the connection to a new app. From then on the old protocol can neither write to
    the connection, nor close it, nor pause its reading: it is told its connection is lost (asyncio's
    `connection_lost`), and the connection goes on with the new app's protocol, on a loan of its own."""

    def __init__(self, transport: asyncio.Transport, guard: Guard) -> None:
        super().__init__()
        self.transport: asyncio.Transport | None = transport
        self.guard = guard
        self.held = False  # the connection's reading is paused for a hand-over: the protocol may not resume it

    def end(self) -> None:
        """The protocol holding this loan no longer reaches the connection."""
        self.transport = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default if self.transport is None else self.transport.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        if self.transport is not None:
            self.transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.guard

    def is_reading(self) -> bool:
        return self.transport is not None and self.transport.is_reading()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.held:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.held:
            self.transport.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self.transport is not None:
            self.transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return 0 if self.transport is None else self.transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0) if self.transport is None else self.transport.get_write_buffer_limits()

    def write(self, data: Any) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def writelines(self, list_of_data: Any) -> None:
        if self.transport is not None:
            self.transport.writelines(list_of_data)

    def write_eof(self) -> None:
        if self.transport is not None:
            self.transport.write_eof()

    def can_write_eof(self) -> bool:
        return self.transport is not None and self.transport.can_write_eof()


class Guard(asyncio.Protocol):
    """One client's connection: aiohttp's protocol, which every event is forwarded to, with a deadline and a screen
    for each request's head (see the module's docstring)."""

    def __init__(self, inner: asyncio.Protocol | None, serving: Serving) -> None:
        """`inner` None: accepted while `serving` is being handed the listening sockets; the connection waits (reading
        nothing) for `serving`'s app to start (`attach`)."""
        self.inner, self.serving = inner if inner is not None else asyncio.Protocol(), serving
        self.waiting = inner is None
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.pending = 0  # requests whose head has arrived and that are not answered yet
        self.answered = 0  # requests answered on it so far
        self.head = bytearray()  # what has arrived of the next request's head
        self.body: Body | None = None  # the body being received, when it has one
        self.waiting_since = self.loop.time()  # when it last started waiting for a request
        # When the head under way must have arrived by (None: no deadline runs), and the timer that enforces it. The
        # timer is not cancelled when a head arrives in time: it finds the deadline gone (or moved on) when it fires,
        # and stops (or waits for the new one), so a request costs no timer of its own.
        self.deadline: float | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.loan: Loan | None = None  # the transport as `inner` holds it
        # Counted from its making, which the loop does the moment it accepts the connection (`connection_made` comes
        # a step later): a hand-over then waits for a connection accepted just before it began.
        serving.connections.add(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.waiting:
            transport.pause_reading()
            if self.serving.ready:  # its app started between the accepting and now
                self.attach(self.serving)
            return
        self.loan = Loan(transport, self)
        self.inner.connection_made(self.loan)
        self._arm()  # the first request is due within the timeout
        if self.serving.draining:
            self.hold()  # its first request is for the app that takes over

    def data_received(self, data: bytes) -> None:
        if self.transport is not None:
            rest = data
            while rest:
                if self.body is not None:  # the body of a request whose head has come: not to be screened
                    rest = self.body.skip(rest)
                    if self.body.done:
                        self.body = None
                    continue
                rest = self._head(rest)
                if self.transport is None or self.transport.is_closing():
                    return  # refused
        self.inner.data_received(data)

    def _head(self, data: bytes) -> bytes:
        """Take what arrives of a request's head, screened; what follows it (its body, the next request)."""
        if not self.head:
            end = data.find(HEAD_END)
            if end >= 0:  # a whole head at once, as clients send them: screened once, no copy of it kept
                refused, self.body = examine(data[: end + len(HEAD_END)])
                if refused is not None:
                    self._refuse(refused)
                    return b""
                self.deadline = None
                self.pending += 1
                return data[end + len(HEAD_END) :]
            if self.deadline is None:
                self._arm()  # from its first byte, the head is due within the timeout
        first = not self.head
        self.head += data
        # Screened as it begins, when a line may have ended, or one grew too long: not for every byte of a trickle.
        refused = screen(bytes(self.head)) if first or b"\n" in data or len(self.head) > MAX_LINE else None
        if refused is not None:
            self._refuse(refused)
            return b""
        end = self.head.find(HEAD_END)
        if end < 0:
            return b""
        head, rest = bytes(self.head[: end + len(HEAD_END)]), bytes(self.head[end + len(HEAD_END) :])
        self.head.clear()
        self.deadline = None
        self.pending += 1
        self.body = Body.of(head)
        return rest

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

    @property
    def busy(self) -> bool:
        """Whether a request's head has arrived and its answer is not on its way yet."""
        return self.pending > 0

    def finished(self) -> None:
        """The request's answer is on its way: the connection waits for the next one (aiohttp's idle timeout)."""
        self.pending = max(0, self.pending - 1)
        self.answered += 1
        self.waiting_since = self.loop.time()
        if self.serving.draining:
            self.hold()

    def hold(self) -> None:
        """Between requests while its app is being stopped: read nothing more (the next request waits in the kernel,
        for the app that takes the connection over), so that the connection stays between requests."""
        if self.between_requests and self.loan is not None and not self.loan.held and self.transport is not None:
            self.loan.held = True
            if not self.transport.is_closing():
                self.transport.pause_reading()

    @property
    def between_requests(self) -> bool:
        """Whether no request is being received or handled on it (its last answer may still be on its way)."""
        return not self.busy and not self.head and self.body is None

    @property
    def idle(self) -> bool:
        """Whether the connection is between requests and its last answer wholly handed to the kernel (an empty buffer:
        its writing is not paused either), so that another app's protocol can take it over (`release`, then
        `attach`)."""
        return (
            self.between_requests
            and self.transport is not None
            and not self.transport.is_closing()
            and self.transport.get_write_buffer_size() == 0
        )

    def release(self) -> None:
        """Take the idle connection from its app's protocol, which is told it is lost; what arrives meanwhile waits
        in the kernel until `attach` gives it to another app."""
        assert self.transport is not None and self.loan is not None
        self.transport.pause_reading()
        self.loan.end()
        inner, self.inner, self.loan = self.inner, asyncio.Protocol(), None
        inner.connection_lost(None)

    def attach(self, serving: Serving) -> None:
        """Give the released (or waiting) connection to `serving`'s app, as if it had just been accepted there."""
        assert self.transport is not None
        self.serving.connections.discard(self)
        self.serving = serving
        serving.connections.add(self)
        self.inner = serving.protocol()
        self.loan = Loan(self.transport, self)
        self.inner.connection_made(self.loan)
        if self.waiting:
            self.waiting = False
            self._arm()  # its first request is due within the timeout, from now
        self.transport.resume_reading()

    def _arm(self) -> None:
        """The head under way is due within the request timeout from now."""
        self.deadline = self.loop.time() + self.serving.request_timeout
        if self.timer is None:
            self.timer = self.loop.call_at(self.deadline, self._expire)

    def _disarm(self) -> None:
        self.deadline = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self) -> None:
        """The timer: the head under way did not arrive in time (say so if it had begun, and close); or the deadline
        it was set for has gone or moved on (heads arrived meanwhile), and it stops or waits for the new one."""
        self.timer = None
        if self.deadline is None:
            return
        if self.loop.time() < self.deadline:
            self.timer = self.loop.call_at(self.deadline, self._expire)
            return
        self.deadline = None
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


# Set on an app that calls `answered` for each request itself (the mock's pipeline, around each route's handler, does):
# one coroutine fewer per request than `tell_connection`, which `Serving` adds to any other app.
TELLS_CONNECTION = web.AppKey("httpserving.tells_connection", bool)


def answered(request: web.BaseRequest) -> None:
    """Tell the request's connection (where `Serving` made it) that its answer is ready."""
    transport = request.transport
    if isinstance(transport, Loan):
        transport.guard.finished()


@web.middleware
async def tell_connection(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    """Tell the request's connection (where `Serving` made it) when its answer is ready."""
    try:
        return await handler(request)
    finally:
        answered(request)


class Listener:
    """The listening sockets' protocol factory: a Guard for the Serving that serves them now. A hand-over changes the
    serving and never closes a listening socket, so no connection the kernel has accepted is dropped."""

    def __init__(self, serving: Serving) -> None:
        self.serving = serving
        self.servers: list[asyncio.Server] = []

    def __call__(self) -> Guard:
        return self.serving.accept()


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
        if not app.get(TELLS_CONNECTION, False) and tell_connection not in app.middlewares:
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
        self.draining = False  # being stopped: each connection reads no new request once between requests
        self.ready = False  # its app started: a connection accepted before waits (see `Guard.waiting`)
        self.connections: set[Guard] = set()
        self.listener = Listener(self)
        self.owns_loop = False

    @property
    def servers(self) -> list[asyncio.Server]:
        """The listening servers (shared with the servings it took them over from, or hands them to)."""
        return self.listener.servers

    @property
    def app(self) -> web.Application:
        """The app served."""
        return self.runner.app

    async def start(self, host: str, port: int, *, reuse_port: bool | None = None, owns_loop: bool = False) -> None:
        """Run the app's start-up and listen; with `owns_loop`, also take the loop's exception handler."""
        loop = asyncio.get_running_loop()
        await self.runner.setup()
        self.ready = True
        self.listener.servers = [await loop.create_server(self.listener, host, port, reuse_port=reuse_port)]
        self._own(owns_loop)

    async def take_over(self, old: Serving, between: Callable[[], Awaitable[None]] | None = None) -> None:
        """Serve on the sockets `old` listens on, and on its kept-alive connections, refusing no connection meanwhile.

        The listening sockets stay open and accepting: a connection accepted from now on waits (reading
        nothing) for this serving's app. `old` lets its requests in flight finish (a few seconds at
        most), lets go of its connections that are between requests (what their clients send
        meanwhile waits in the kernel too) and runs its app's clean-up, closing those whose requests
        did not finish in time; then `between` runs (whatever must see the old app's last word
        before the new one speaks), and this serving starts its app and takes every connection let go
        or waiting. No moment has two apps answering, none has the port closed, and no client finds
        its kept-alive connection closed under it.
        """
        self.listener = old.listener
        self.listener.serving = self  # connections accepted from now on wait for this app
        held: list[Guard] = []
        try:
            await old.quieten()
            held = [connection for connection in old.connections if connection.idle]
            for connection in held:
                connection.release()
            await old.runner.cleanup()
            if between is not None:
                await between()
            await self.runner.setup()
        except BaseException:
            for server in self.servers:
                server.close()
            for connection in [*held, *self.connections]:
                if connection.transport is not None:
                    connection.transport.close()
            raise
        self.ready = True
        for connection in [*held, *self.connections]:
            if connection.transport is not None and not connection.transport.is_closing():
                connection.attach(self)
        self._own(old.owns_loop)

    async def quieten(self, limit: float = SHUTDOWN_GRACE) -> None:
        """Wait (at most `limit` seconds) until every connection accepted is between requests or closed, so that
        letting go of them or closing them fails no request a client has sent or is sending (an answer still on its
        way is sent before its connection closes); new connections must go elsewhere (`take_over`). Each connection
        reads no new request from the moment it is between requests: a client that sends its next request at once,
        on a kept-alive connection, finds it waiting for the app that takes over (or closed, when none does), never
        half-served."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        await asyncio.sleep(0.01)  # connections accepted just before get their transports (or are waited for below)
        self.draining = True  # a connection that finishes its request reads no next one (see `Guard.hold`)
        for connection in self.connections:
            connection.hold()
        while not all(
            connection.transport is not None and connection.between_requests for connection in self.connections
        ):
            if loop.time() >= deadline:
                return
            await asyncio.sleep(0.005)

    def protocol(self) -> asyncio.Protocol:
        """A new protocol of the app's (aiohttp's, for one connection)."""
        server = self.runner.server
        assert server is not None
        return server()

    def accept(self) -> Guard:
        """The Guard of a connection just accepted: around a protocol of the app's, or waiting for the app to start."""
        return Guard(self.protocol() if self.ready else None, self)

    def _own(self, owns_loop: bool) -> None:
        self.owns_loop = owns_loop
        if owns_loop:
            asyncio.get_running_loop().set_exception_handler(DescriptorAlarm(self))

    @property
    def addresses(self) -> list[Any]:
        """The addresses it listens on, as the sockets name them."""
        return [sock.getsockname() for server in self.servers for sock in server.sockets]

    async def stop(self) -> None:
        """Stop listening, let requests in flight finish (a few seconds), run the app's clean-up."""
        for server in self.servers:
            server.close()
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
