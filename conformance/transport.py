"""HTTP as the suite sends it: one deadline per request (connect to last byte) and a cap on response size.

`requests` bounds each socket read, not the request: a server sending a byte every few seconds
never trips it. Here a watchdog timer shuts the request's socket down when the deadline passes,
and the body is read in chunks and counted. The suite's own client and schemathesis (through
`BoundedTransport`) send through the same adapter.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

CHUNK = 64 * 1024
_LOCAL = threading.local()  # the watch of the request this thread is sending
TOO_MANY_REQUESTS = 429
SHORT_WAIT = 10.0  # seconds: a 429 whose Retry-After is no longer is waited out and the request sent again
WAITS = 3  # at most this many waits for one request


class DeadlineExceeded(requests.Timeout):
    """No complete answer within the request's deadline."""


class ResponseTooLarge(requests.RequestException):
    """The response is larger than the cap."""


class RateLimited(requests.RequestException):
    """A 429 whose `Retry-After` is too long to wait (or missing): the deployment's rate limit is spent."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"answered 429, Retry-After {response.headers.get('Retry-After', 'not given')}")
        self.answer = response


def retry_after(response: requests.Response) -> float | None:
    """The seconds a 429's `Retry-After` asks to wait (a number of seconds; a date is not waited for)."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


class _Watch:
    """Shuts the watched connection's socket down once `seconds` have passed."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._connection: HTTPConnection | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watch:
        _LOCAL.watch = self
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()
        _LOCAL.watch = None

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self.fired:
                _shut(connection)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._connection is not None:
                _shut(self._connection)


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: nothing left to interrupt


def _watched(connection: HTTPConnection) -> None:
    watch = getattr(_LOCAL, "watch", None)
    if watch is not None:
        watch.attach(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)
        super().request(*args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class BoundedAdapter(HTTPAdapter):
    """A requests adapter whose every request ends within `timeout` seconds and `max_bytes` of body."""

    def __init__(self, timeout: float, max_bytes: int) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Pools whose connections report to the request's watch."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Send, read the whole body, and fail as a timeout or too large when it is either.

        A 429 is the deployment's rate limit: when its `Retry-After` is short the request is sent
        again once that has passed; otherwise RateLimited, so the run stops instead of judging refusals.
        """
        for _ in range(WAITS):
            response = self._send(request, *args, **kwargs)
            if response.status_code != TOO_MANY_REQUESTS:
                return response
            wait = retry_after(response)
            if wait is None or wait > SHORT_WAIT:
                raise RateLimited(response)
            time.sleep(wait + 0.1)
        raise RateLimited(response)

    def _send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.update(stream=True, timeout=(self.timeout, self.timeout))
        with _Watch(self.timeout) as watch:
            try:
                response = super().send(request, *args, **kwargs)
                response._content = self._body(response, watch)  # noqa: SLF001 (requests' documented cache)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                # A socket timeout (set to the same deadline) may beat the watch to it: the same event.
                if watch.fired or isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
                    raise DeadlineExceeded(self._late(), request=request) from exc
                if isinstance(exc, requests.RequestException):
                    raise
                raise requests.ConnectionError(exc, request=request) from exc
        return response

    def _late(self) -> str:
        return f"no complete answer within {self.timeout:g} s"

    def _body(self, response: requests.Response, watch: _Watch) -> bytes:
        chunks, size = [], 0
        for chunk in response.raw.stream(CHUNK, decode_content=True):
            size += len(chunk)
            if size > self.max_bytes:
                response.close()
                raise ResponseTooLarge(f"the response is larger than {self.max_bytes} bytes", response=response)
            chunks.append(chunk)
        if watch.fired:  # a body without a length ends at the shutdown: that is no complete answer
            raise DeadlineExceeded(self._late(), request=response.request)
        setattr(response, "_content_consumed", True)  # noqa: B010 (requests' flag: the body is read)
        return b"".join(chunks)


def bounded_session(
    adapter: BoundedAdapter, *, headers: tuple[tuple[str, str], ...] = (), verify: bool | str = True
) -> requests.Session:
    """A session sending through `adapter`, with the given headers and TLS verification."""
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update(dict(headers))
    session.verify = verify
    return session


class BoundedTransport:
    """schemathesis's requests transport, sending through a bounded adapter."""

    def __init__(self, adapter: BoundedAdapter) -> None:
        from schemathesis.transport.requests import REQUESTS_TRANSPORT

        self.inner = REQUESTS_TRANSPORT
        self.adapter = adapter
        self.limited: RateLimited | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def send(self, case: Any, *, session: requests.Session | None = None, **kwargs: Any) -> Any:
        """Send a case on the engine's session, with the adapter mounted on it."""
        own = session is None
        session = session or requests.Session()
        if session.get_adapter("http://") is not self.adapter:
            session.mount("http://", self.adapter)
            session.mount("https://", self.adapter)
        try:
            return self.inner.send(case, session=session, **kwargs)
        except RateLimited as exc:
            self.limited = exc  # the phase ends the run with it (see phases.schema)
            raise
        finally:
            if own:
                session.close()
