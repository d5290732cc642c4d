"""jobs-proxy's connections, as an attacker or a broken client holds them: raw sockets on loopback.

Served through `httpserving.Serving` as the mock is (issue 27, item 9): a deadline for a request's
head, an idle timeout, and one line now and then when out of descriptors. What it cannot forward
unchanged it refuses in Nick's shape (item 13), and no input is a 500 or a traceback.
"""

from __future__ import annotations

import json
import logging
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from jobsproxy.config import ProxyConfig
from jobsproxy.testing import LiveProxy
from tests.helpers import SLACK
from tests.rawupstream import RawUpstream, answer

REQUEST_TIMEOUT, IDLE_TIMEOUT = 0.5, 1.0


@pytest.fixture(scope="module")
def upstream() -> Iterator[RawUpstream]:
    with RawUpstream({"/@jobs": answer(401, {"message": "You are not authorized to access this resource."})}) as raw:
        yield raw


@pytest.fixture(scope="module")
def proxy(upstream: RawUpstream) -> Iterator[LiveProxy]:
    config = ProxyConfig("", request_timeout=REQUEST_TIMEOUT, idle_timeout=IDLE_TIMEOUT)
    with LiveProxy(upstream.url, config=config) as live:
        yield live


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received, time.monotonic()


def _raw(proxy: LiveProxy, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with _connect(proxy.url) as sock:
        sock.sendall(request.replace(b"{host}", urlsplit(proxy.url).netloc.encode()))
        received, _ = _read_until_closed(sock)
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _nick_error(answered: tuple[int, dict[str, str], bytes], status: int) -> dict[str, str]:
    assert answered[0] == status, answered
    assert answered[1]["content-type"].startswith("application/json"), answered
    error: dict[str, str] = json.loads(answered[2])["error"]
    assert set(error) == {"type", "message"}
    return error


# ---- item 9: deadlines and descriptors ------------------------------------------------------------


def test_a_silent_connection_is_closed_after_the_request_timeout(proxy: LiveProxy) -> None:
    with _connect(proxy.url) as sock:
        opened = time.monotonic()
        received, closed = _read_until_closed(sock)
    assert received == b""
    assert closed - opened <= REQUEST_TIMEOUT + SLACK


def test_a_head_trickled_past_the_request_timeout_is_a_408_in_nicks_shape(proxy: LiveProxy) -> None:
    with _connect(proxy.url) as sock:
        sock.sendall(b"GET /@jobs HTTP/1.1\r\nX-Slow: a")
        received, _ = _read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 408 ") and b'"type":"Request timeout"' in received


def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout(proxy: LiveProxy) -> None:
    with _connect(proxy.url) as sock:
        sock.sendall(b"GET /__proxy__/summary HTTP/1.1\r\nHost: " + urlsplit(proxy.url).netloc.encode() + b"\r\n\r\n")
        answered = time.monotonic()
        received, closed = _read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert closed - answered <= IDLE_TIMEOUT + SLACK


def _with_few_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def test_out_of_descriptors_the_proxy_logs_one_line_and_recovers(upstream: RawUpstream) -> None:
    """A proxy allowed 64 descriptors, 150 sockets held open by a client that sends nothing."""
    process = subprocess.Popen(
        [sys.executable, "-m", "jobsproxy", "--upstream", upstream.url, "--port", "0", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_with_few_descriptors,
    )  # fmt: skip
    held: list[socket.socket] = []
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[1]
        held = [_connect(url) for _ in range(150)]
        # Each in time (its own timeout): idle connections were let go to make room.
        answers = [requests.get(f"{url}/__proxy__/summary", timeout=10).status_code for _ in range(10)]
        answers += [requests.get(f"{url}/@jobs", timeout=10).status_code for _ in range(10)]
        assert answers == [200] * 10 + [401] * 10
    finally:
        for sock in held:
            sock.close()
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert 1 <= len(lines) <= 3, lines
    assert "out of file descriptors (Too many open files)" in lines[0]


# ---- item 13: what it forwards, byte for byte, or refuses ---------------------------------------------


def test_a_request_header_that_is_not_utf8__refused_not_forwarded_altered(
    proxy: LiveProxy, upstream: RawUpstream
) -> None:
    before = len(upstream.heads)
    answered = _raw(proxy, b"GET /@jobs HTTP/1.1\r\nHost: {host}\r\nX-Name: caf\xe9\r\nConnection: close\r\n\r\n")
    error = _nick_error(answered, 400)
    assert "'X-Name' holding bytes that are not UTF-8" in error["message"]
    assert len(upstream.heads) == before, "never forwarded"


def test_a_request_header_in_utf8__forwarded_byte_for_byte(proxy: LiveProxy, upstream: RawUpstream) -> None:
    value = "café 日本".encode()
    answered = _raw(
        proxy, b"GET /@jobs HTTP/1.1\r\nHost: {host}\r\nX-Name: " + value + b"\r\nConnection: close\r\n\r\n"
    )
    assert answered[0] == 401
    assert b"\r\nX-Name: " + value + b"\r\n" in upstream.heads[-1]


def test_a_full_url_as_the_target__forwarded_by_its_path(proxy: LiveProxy, upstream: RawUpstream) -> None:
    answered = _raw(proxy, b"GET http://{host}/@jobs?page=%2F2 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    assert answered[0] == 401
    assert upstream.heads[-1].startswith(b"GET /@jobs?page=%2F2 HTTP/1.1\r\n")


@pytest.mark.parametrize("path", [b"/@jobs/a%0Ab", b"/__proxy__/a%0Ab"], ids=["forwarded", "own-prefix"])
def test_a_path_with_an_encoded_line_break__answered_as_any_other(proxy: LiveProxy, path: bytes) -> None:
    """`.*` stops at a line break: a route pattern that used it left such a path to aiohttp's text 404."""
    status, headers, _ = _raw(proxy, b"GET " + path + b" HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    assert status == 404 and headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "request_line",
    [
        pytest.param(b"OPTIONS * HTTP/1.1", id="asterisk"),
        pytest.param(b"CONNECT example.org:443 HTTP/1.1", id="connect"),
        pytest.param(b"GET ftp://{host}/@jobs HTTP/1.1", id="not-http"),
    ],
)
def test_a_target_that_is_neither_a_path_nor_a_url_of_its_own__a_400_in_nicks_shape(
    proxy: LiveProxy, upstream: RawUpstream, request_line: bytes
) -> None:
    before = len(upstream.heads)
    answered = _raw(proxy, request_line + b"\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    assert _nick_error(answered, 400)["type"] == "Bad Request"
    assert len(upstream.heads) == before


BAD_INPUT = [
    pytest.param(b"GET /@jobs/\xff HTTP/1.1\r\nHost: {host}\r\n\r\n", id="not-utf8-in-the-path"),
    pytest.param(b"GET /@jobs HTTP/1.1\r\nHost: {host}\r\nX-Ctl: a\x01b\r\n\r\n", id="control-character"),
    pytest.param(b"GET /@jobs HTTP/1.1\r\nHost: {host}\r\nX-Nul: a\x00b\r\n\r\n", id="nul"),
    pytest.param(b"POST /@login HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", id="bad-chunk"),
    pytest.param(b"POST /@login HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
                 id="length-and-chunked"),
    pytest.param(b"GET /@jobs HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                 id="two-lengths"),
    pytest.param(b"GET /@jobs%zz%00/../.. HTTP/1.1\r\nHost: {host}\r\n\r\n", id="odd-percent-encoding"),
    pytest.param(b"GET /@jobs HTTP/1.0\r\n\r\n", id="no-host"),
    pytest.param(b"GET http:///@jobs HTTP/1.1\r\nHost: {host}\r\n\r\n", id="url-without-authority"),
    pytest.param(b"GET /@jobs HTTP/1.1\r\nHost: {host}\r\nHost: other\r\n\r\n", id="two-hosts"),
    pytest.param(b"BREW /@jobs HTTP/1.1\r\nHost: {host}\r\n\r\n", id="unknown-method"),
    pytest.param(b"GET /__proxy__/violations?since=99999999999999999999999 HTTP/1.1\r\nHost: {host}\r\n\r\n",
                 id="huge-since"),
    pytest.param(b"GET /__proxy__/%ff HTTP/1.1\r\nHost: {host}\r\n\r\n", id="own-page-not-utf8"),
]  # fmt: skip


@pytest.mark.parametrize("request_bytes", BAD_INPUT)
def test_bad_input_is_never_a_500_nor_a_traceback(
    proxy: LiveProxy, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    status = _raw(proxy, request_bytes)[0]
    assert status != 500, status  # an answer, never a failure of its own (501: a method the server lacks)
    _assert_calm(proxy, caplog)


def test_a_client_that_hangs_up_mid_body__no_traceback(proxy: LiveProxy, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    judged = proxy.report().exchanges
    with _connect(proxy.url) as sock:
        netloc = urlsplit(proxy.url).netloc.encode()
        sock.sendall(b"POST /@login HTTP/1.1\r\nHost: " + netloc + b"\r\nContent-Length: 50\r\n\r\n{}")
    deadline = time.monotonic() + 10
    while proxy.report().exchanges == judged and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proxy.report().exchanges == judged + 1
    _assert_calm(proxy, caplog)


def _assert_calm(proxy: LiveProxy, caplog: pytest.LogCaptureFixture) -> None:
    """No warning or traceback logged, and no failure of the proxy's own checks."""
    proxy.settle()
    failures = [record for record in caplog.records if record.levelno >= logging.WARNING or record.exc_info]
    assert failures == [], [record.getMessage() for record in failures]
    assert not any("the proxy failed to check" in entry.get("message", "") for entry in proxy.proxy.journal.since(0))
