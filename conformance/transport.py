"""HTTP as the suite sends it: one deadline per request (connect to last byte) and a cap on response size.

`requests` bounds each socket read, not the request: a server sending a byte every few seconds
never trips it. Here a watchdog timer interrupts the request when the deadline passes, and the
body is counted as it is read. The suite's own client and every request schemathesis sends for
it (`case.call(session=...)`, see `conformance.phases.schemathesis_run`) go through the same
adapter, so every request the suite makes is bounded.

Only public APIs of requests and urllib3: the adapter's documented subclassing hooks
(`get_connection_with_tls_context`, requests >= 2.32.2, sets the pool's `ConnectionCls`;
`build_response` wraps the urllib3 response that requests reads through `Response.raw`), and
urllib3's `HTTPResponse.shutdown()` (urllib3 >= 2.3) to interrupt a body that comes too slowly.
The one exception is `_AnswerAwaited`, below: before an answer's head has arrived, nothing public
reaches the socket a request waits on.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, cast

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool, HTTPSConnectionPool

CHUNK = 64 * 1024
_LOCAL = threading.local()  # the watch of the request this thread is sending
TOO_MANY_REQUESTS = 429
SHORT_WAIT = 10.0  # seconds: a 429 whose Retry-After is no longer is waited out and the request sent again
WAITS = 3  # at most this many waits for one request
SWITCHING_PROTOCOLS = b"101"  # the one 1xx that is an answer (to an Upgrade), not a note before one
# Requests in a row left unanswered (no answer within the deadline, or no connection) before the deployment's root is
# asked whether it still answers: when it does not either, the deployment has stopped answering and the run stops.
MISSES = 3
PROBE_DROPPED = ("authorization", "content-type", "content-length", "transfer-encoding", "cookie")


class DeadlineExceeded(requests.Timeout):
    """No complete answer within the request's deadline."""


class ResponseTooLarge(requests.RequestException):
    """The response is larger than the cap."""


class RunStopped(KeyboardInterrupt):
    """The run stops where it stands: its deadline has passed, or the deployment has stopped answering.

    A KeyboardInterrupt, as a Ctrl-C is, so that it passes every `except Exception` between a request and the run
    (the phases', schemathesis's, Hypothesis's, pytest's): the run turns it into its error (exit 2), with the
    results so far and every report written. Once raised it is raised again by every later request of the adapter.
    """


class RateLimited(requests.RequestException):
    """A 429 whose `Retry-After` is too long to wait (or missing): the deployment's rate limit is spent."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"answered 429, Retry-After {response.headers.get('Retry-After', 'not given')}")
        self.answer = response


def retry_after(response: requests.Response) -> float | None:
    """The seconds a 429's `Retry-After` asks to wait (a number of seconds; a date is not waited for)."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


class _Interruptible(Protocol):
    def interrupt(self) -> None: ...


class _Watch:
    """Interrupts the request it watches once `seconds` have passed: its connection while the answer's head is
    awaited, then the answer's body."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._target: _Interruptible | None = None
        self._ended = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def attach(self, target: _Interruptible) -> None:
        """From now on, `target` is what the deadline interrupts."""
        with self._lock:
            self._target = target
            if self.fired and not self._ended:
                target.interrupt()

    def end(self) -> None:
        """The request is over (answered, failed, or its body read): nothing is interrupted any more."""
        with self._lock:
            self._ended = True
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if self._ended:
                return
            self.fired = True
            if self._target is not None:
                self._target.interrupt()


# ---------------------------------------------------------------------------------------------------------------
# The one exception to "public APIs only" (issue 26): a security need without a public API.
#
# A server can keep a request waiting for ever before its answer's head arrives (a byte per read
# defeats the read timeout), and neither requests nor urllib3 offers a way to interrupt a request
# at that stage: urllib3's public `HTTPResponse.shutdown()` exists only once the head is there. The
# deadline needs the socket the request waits on, which is the connection's `sock` (inherited from
# http.client, not documented by either library). It is read, and only here:
# - `interrupt` shuts it down when the deadline passes before the head has arrived;
# - `getresponse` lends http.client, for the length of reading one answer's head, that socket with
#   informational answers (1xx: `103 Early Hints`, `102 Processing`) left out of what it reads:
#   http.client skips only `100 Continue` and would take any other 1xx for the answer (issue 27,
#   item 17), and no public API of http.client, urllib3 or requests skips them.
# ---------------------------------------------------------------------------------------------------------------
class _AnswerAwaited(HTTPConnection):
    """A connection whose request is interrupted by the sending thread's watch, and whose answer is the final one."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch = getattr(_LOCAL, "watch", None)
        if watch is not None:
            watch.attach(self)
        super().request(*args, **kwargs)

    def getresponse(self) -> urllib3.HTTPResponse:  # type: ignore[override]
        sock = self.sock
        if sock is None:
            return super().getresponse()
        lent = _FinalAnswerSocket(sock)
        self.sock = lent
        try:
            return super().getresponse()
        finally:
            if self.sock is lent:  # http.client drops the socket of an answer that closes the connection
                self.sock = sock

    def interrupt(self) -> None:
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed: nothing left to interrupt


class _AnswerAwaitedTLS(_AnswerAwaited, HTTPSConnection):
    pass


class _FinalAnswerSocket:
    """A socket as http.client reads an answer from it: the file it makes leaves out informational answers."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock

    def makefile(self, *args: Any, **kwargs: Any) -> _FinalAnswerFile:
        return _FinalAnswerFile(self._sock.makefile(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _FinalAnswerFile:
    """An answer's stream, its first line read past any informational answers (each a status line and headers)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._begun = False

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._stream.readline(limit)
        while not self._begun and _informational(line):
            while self._stream.readline(limit) not in (b"\r\n", b"\n", b""):
                pass  # a header of the informational answer: it says nothing about the answer
            line = self._stream.readline(limit)
        self._begun = True
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _informational(status_line: bytes) -> bool:
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        return False
    status = parts[1]
    return len(status) == 3 and status.isdigit() and status.startswith(b"1") and status != SWITCHING_PROTOCOLS


class _Body:
    """An answer's body as requests reads it (`Response.raw`): counted against the cap, and ended by the deadline
    through urllib3's public `shutdown()`. Everything else is the urllib3 response's own."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, watch: _Watch, adapter: BoundedAdapter, request: Any) -> None:
        self._raw = raw
        self._watch = watch
        self._adapter = adapter
        self._request = request
        self._size = 0

    def __getattr__(self, name: str) -> Any:  # headers, status, version, release_conn, ...
        return getattr(self._raw, name)

    def interrupt(self) -> None:
        try:
            self._raw.shutdown()
        except (OSError, ValueError, RuntimeError):
            pass  # closed, or back in its pool: the body is no longer being read

    def stream(self, amt: int = CHUNK, decode_content: bool | None = None) -> Iterator[bytes]:
        try:
            for chunk in self._raw.stream(amt, decode_content=decode_content):
                yield self._counted(chunk)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self._raise_if_late(exc)
            raise
        finally:
            self._watch.end()
        self._raise_if_late(None)  # a body without a length ends at the shutdown: that is no complete answer

    def read(self, amt: int | None = None, decode_content: bool | None = None, cache_content: bool = False) -> bytes:
        if amt is None:
            return b"".join(self.stream(CHUNK, decode_content=decode_content))
        return self._read(lambda: self._raw.read(amt, decode_content=decode_content))

    def read1(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        return self._read(lambda: self._raw.read1(amt, decode_content=decode_content))

    def close(self) -> None:
        self._watch.end()
        self._raw.close()

    def _read(self, read: Any) -> bytes:
        try:
            data: bytes = read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self._watch.end()
            self._raise_if_late(exc)
            raise
        if not data:
            self._watch.end()
            self._raise_if_late(None)
        return self._counted(data)

    def _counted(self, chunk: bytes) -> bytes:
        self._size += len(chunk)
        if self._size > self._adapter.max_bytes:
            self._watch.end()
            self._raw.close()
            raise ResponseTooLarge(
                f"the response is larger than {self._adapter.max_bytes} bytes", request=self._request
            )
        return chunk

    def _raise_if_late(self, exc: BaseException | None) -> None:
        # A socket timeout (set to the same deadline) may beat the watch to it: the same event.
        if self._watch.fired or isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
            raise DeadlineExceeded(self._adapter.late(), request=self._request) from exc


class BoundedAdapter(HTTPAdapter):
    """A requests adapter whose every request ends within `timeout` seconds and `max_bytes` of body, and which
    stops the run (RunStopped) once its end has come or the deployment has stopped answering.

    `ends`: when the run must end (`time.time()`, one clock for every process of the run); None for never.
    `probe`: what is asked after MISSES requests in a row went unanswered (the deployment's root, which answered
    when the run began); only when it goes unanswered too has the deployment stopped answering. A deployment that
    hangs on one operation only is that operation's failed checks, not the end of the run.
    """

    def __init__(
        self, timeout: float, max_bytes: int, *, ends: float | None = None, probe: str | None = None, why: str = ""
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.ends = ends
        self.probe = probe
        self.why_ends = why  # how the run's end was set, for the message (the option that set it)
        self.misses = 0  # requests in a row without an answer
        self.stopped = ""  # why the run stopped: every later request is refused with it
        super().__init__()

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: tuple[str, str] | str | None = None,
    ) -> ConnectionPool:
        """The pool requests would use, making its connections watched ones (`ConnectionCls`, urllib3's documented
        pool attribute)."""
        pool = super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
        if isinstance(pool, HTTPSConnectionPool):
            pool.ConnectionCls = _AnswerAwaitedTLS
        elif isinstance(pool, HTTPConnectionPool):
            pool.ConnectionCls = _AnswerAwaited
        return pool

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send within the deadline and the cap (the body read here unless `stream`).

        A 429 is the deployment's rate limit: when its `Retry-After` is short the request is sent
        again once that has passed; otherwise RateLimited, so the run stops instead of judging refusals.
        RunStopped when the run's end has come, or when this request is the last straw of a deployment that has
        stopped answering.
        """
        self._go_on()
        try:
            response = self._answer(request, stream, verify, cert, proxies)
        except (requests.Timeout, requests.ConnectionError) as exc:
            if _unanswered(exc):
                self._missed(request, verify, cert, proxies, exc)
            raise
        self.misses = 0
        return response

    def _answer(
        self,
        request: requests.PreparedRequest,
        stream: bool,
        verify: bool | str,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None,
        proxies: Mapping[str, str] | None,
    ) -> requests.Response:
        for _ in range(WAITS):
            response = self._send(request, verify, cert, proxies)
            if response.status_code != TOO_MANY_REQUESTS:
                if not stream:
                    response.content  # noqa: B018 (read now: a late or oversized body fails here, as a send)
                return response
            response.content  # noqa: B018 (the refusal's body, for the message)
            wait = retry_after(response)
            if wait is None or wait > SHORT_WAIT:
                raise RateLimited(response)
            time.sleep(wait + 0.1)
        raise RateLimited(response)

    def _send(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None,
        proxies: Mapping[str, str] | None,
    ) -> requests.Response:
        watch = _LOCAL.watch = _Watch(self.timeout)
        try:
            return super().send(
                request, stream=True, timeout=(self.timeout, self.timeout), verify=verify, cert=cert, proxies=proxies
            )
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            watch.end()
            if watch.fired or isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
                raise DeadlineExceeded(self.late(), request=request) from exc
            if isinstance(exc, requests.RequestException):
                raise
            raise requests.ConnectionError(exc, request=request) from exc
        finally:
            _LOCAL.watch = None

    def build_response(self, req: requests.PreparedRequest, resp: urllib3.BaseHTTPResponse) -> requests.Response:
        """requests' response, reading its body through the cap and the deadline (`Response.raw`)."""
        response = super().build_response(req, resp)
        watch = getattr(_LOCAL, "watch", None)
        if watch is not None:
            body = _Body(resp, watch, self, req)
            watch.attach(body)  # the head is here: from now on the deadline ends the body
            response.raw = cast(Any, body)
        return response

    def late(self) -> str:
        """Why a request failed at its deadline."""
        return f"no complete answer within {self.timeout:g} s"

    def _go_on(self) -> None:
        """RunStopped when the run has stopped, or its end has come."""
        if not self.stopped and self.ends is not None and time.time() >= self.ends:
            self.stopped = f"the run's time is up ({self.why_ends})" if self.why_ends else "the run's time is up"
        if self.stopped:
            raise RunStopped(self.stopped)

    def _missed(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None,
        proxies: Mapping[str, str] | None,
        exc: BaseException,
    ) -> None:
        """One more request unanswered; after MISSES in a row, RunStopped unless the deployment's root answers."""
        self.misses += 1
        if self.misses < MISSES or self.probe is None:
            return
        asked = requests.Request("GET", self.probe, headers=_probe_headers(request)).prepare()
        try:
            self._answer(asked, False, verify, cert, proxies)
        except requests.RequestException as failed:
            if _unanswered(failed):
                self.stopped = (
                    f"the deployment has stopped answering: {self.misses} requests in a row, the last "
                    f"{request.method} {request.url}, and then GET {self.probe}, had {_what(failed, self)}"
                )
                raise RunStopped(self.stopped) from exc
            # Some answer (a broken one, one too large, a rate limit's): the deployment is there.
        self.misses = 0


def _unanswered(exc: BaseException) -> bool:
    """Whether a request failed for want of an answer: none within the deadline, or no connection at all (refused,
    unreachable). A connection the server broke, or an answer too large, is an answer of sorts."""
    if isinstance(exc, requests.Timeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError carries the cause as its `reason`
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _what(exc: BaseException, adapter: BoundedAdapter) -> str:
    if isinstance(exc, requests.Timeout):
        return f"no complete answer within {adapter.timeout:g} s (--timeout)"
    return "no connection"


def _probe_headers(request: requests.PreparedRequest) -> dict[str, str]:
    """The headers of the request that went unanswered (a gateway's, Accept-Language) without its credentials and
    body."""
    return {name: value for name, value in request.headers.items() if name.lower() not in PROBE_DROPPED}


class _OwnTlsSession(requests.Session):
    """A session whose own TLS verification (`--insecure`, `--cacert`) holds: requests lets a CA bundle named by the
    environment ($REQUESTS_CA_BUNDLE, $CURL_CA_BUNDLE, set on many CI machines) override a session's `verify`."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        """requests' settings for one request; the session's `verify` where the request names none and the session
        does not just verify as usual."""
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        return settings


def bounded_session(
    adapter: BoundedAdapter, *, headers: tuple[tuple[str, str], ...] = (), verify: bool | str = True
) -> requests.Session:
    """A session sending through `adapter`, with the given headers and TLS verification."""
    session = _OwnTlsSession()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update(dict(headers))
    session.verify = verify
    return session
