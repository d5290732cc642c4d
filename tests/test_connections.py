"""Connections: deadlines for silent, slow and idle clients; what the HTTP parser refuses in Nick's shape; HEAD.

Raw sockets on loopback, as an attacker (or a broken client) would hold them.
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from benchmarks.jobs import make_jobs, write_jobs
from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.helpers import SLACK, fresh, trickle_until_closed

REQUEST_TIMEOUT, IDLE_TIMEOUT = 0.5, 1.0
UTF8_JSON = "application/json; charset=utf-8"  # a routed JSON answer, as Express sends it


@pytest.fixture(scope="module")
def hasty_mock() -> Iterator[LiveMock]:
    """A mock with short deadlines: half a second for a request to arrive, a second of idle keep-alive."""
    config = MockConfig(strict=True, request_timeout=REQUEST_TIMEOUT, idle_timeout=IDLE_TIMEOUT)
    with LiveMock(config=config, clock=Clock(manual=True)) as server:
        yield server


@pytest.fixture
def mock(hasty_mock: LiveMock) -> Iterator[LiveMock]:
    yield from fresh(hasty_mock)


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when (monotonic) it did."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic()


def _answer(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _head_of(mock: LiveMock) -> bytes:
    return f"Host: {urlsplit(mock.url).netloc}\r\n".encode()


def test_a_silent_connection_is_closed_after_the_request_timeout(mock: LiveMock) -> None:
    with _connect(mock.url) as sock:
        opened = time.monotonic()
        received, closed = _read_until_closed(sock)
    assert received == b"", "nothing began, so nothing is answered"
    assert REQUEST_TIMEOUT * 0.8 <= closed - opened <= REQUEST_TIMEOUT + SLACK


def test_a_head_trickled_a_byte_at_a_time_is_cut_off_with_a_408(mock: LiveMock) -> None:
    # 20 bytes a second: 25 s for the whole head, 50 times the deadline (a byte never waits anywhere near it).
    request = b"GET /openapi.json HTTP/1.1\r\n" + _head_of(mock) + b"X-Slow: " + b"a" * 450
    with _connect(mock.url) as sock:
        sent, _ = trickle_until_closed(sock, request)  # the server closes the connection meanwhile: that is the point
        sock.settimeout(10)
        try:
            received, _ = _read_until_closed(sock)
        except ConnectionResetError:
            received = b""
    assert sent < len(request), "the whole head had a deadline, not each byte"
    if received:  # the 408 goes out before the close; a reset may swallow it
        status, headers, body = _answer(received)
        assert status == 408 and headers["content-type"] == UTF8_JSON
        assert json.loads(body)["error"]["type"] == "Request timeout"


def test_a_body_that_stops_arriving_is_a_408_in_nicks_shape(mock: LiveMock) -> None:
    head = (
        b"POST /@login HTTP/1.1\r\n" + _head_of(mock) + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    with _connect(mock.url) as sock:
        sock.sendall(head + b'{"login": ')
        opened = time.monotonic()
        received, closed = _read_until_closed(sock)
    status, headers, body = _answer(received)
    assert status == 408 and json.loads(body) == {
        "error": {
            "type": "Request timeout",
            "message": f"The request body did not arrive within {REQUEST_TIMEOUT:g} s.",
        }
    }
    assert closed - opened <= 2 * REQUEST_TIMEOUT + SLACK, "and the connection ends (after lingering as long)"
    entry = [e for e in mock.control("GET", "journal") if e["path"] == "/@login"][-1]
    assert entry["status"] == 408


def test_a_body_declared_too_large_is_refused_before_it_is_sent(mock: LiveMock) -> None:
    head = b"POST /@login HTTP/1.1\r\n" + _head_of(mock) + b"Content-Type: application/json\r\n"
    with _connect(mock.url) as sock:
        sock.sendall(head + b"Expect: 100-continue\r\nContent-Length: 999999999\r\n\r\n")
        received = b""
        while not received.endswith(b"}}"):
            received += sock.recv(65536)
    assert received.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    status, _, body = _answer(received.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n"))
    # At once, not after waiting for the body: that would have been the body's deadline, a 408.
    assert status == 413 and json.loads(body)["error"]["type"] == "Payload too large"


def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout(mock: LiveMock) -> None:
    with _connect(mock.url) as sock:
        sock.sendall(b"GET /openapi.json HTTP/1.1\r\n" + _head_of(mock) + b"\r\n")
        answered = time.monotonic()
        received, closed = _read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert IDLE_TIMEOUT * 0.8 <= closed - answered <= IDLE_TIMEOUT + SLACK


def test_a_slow_answer_is_not_cut_off_by_the_request_timeout(admin: requests.Session, mock: LiveMock) -> None:
    mock.control("POST", "faults", {"operation": "getJobs", "latency": REQUEST_TIMEOUT * 3, "count": 1})
    assert admin.get(f"{mock.url}/@jobs", timeout=10).status_code == 200


def test_many_idle_sockets_do_not_lock_clients_out(mock: LiveMock) -> None:
    idle = [_connect(mock.url) for _ in range(200)]
    try:
        assert requests.get(f"{mock.url}/openapi.json", timeout=5).status_code == 200
        closed = 0
        for sock in idle:
            sock.settimeout(REQUEST_TIMEOUT + SLACK)  # all of them at once, the first waited for the longest
            try:
                closed += sock.recv(1) == b""
            except (TimeoutError, ConnectionResetError):
                pass
        assert closed == len(idle), "the server let go of every silent socket"
    finally:
        for sock in idle:
            sock.close()


def _raw(mock: LiveMock, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with _connect(mock.url) as sock:
        sock.sendall(request)
        received, _ = _read_until_closed(sock)
    return _answer(received)


def _nick_error(answer: tuple[int, dict[str, str], bytes], content_type: str = UTF8_JSON) -> dict[str, str]:
    """The typed error of an answer; the parser's own refusals go out as `application/json`, the routed ones as
    Express sends JSON (`content_type` then says so)."""
    status, headers, body = answer
    assert headers["content-type"] == content_type, answer
    error: dict[str, str] = json.loads(body)["error"]
    assert set(error) == {"type", "message"}
    return error


def test_a_method_the_parser_does_not_know_is_501_in_nicks_shape(mock: LiveMock) -> None:
    answer = _raw(mock, b"FOO /@jobs HTTP/1.1\r\n" + _head_of(mock) + b"\r\n")
    assert answer[0] == 501 and "allow" not in answer[1]
    message = "The request's method is not one this server knows."
    assert _nick_error(answer) == {"type": "Not implemented", "message": message}


def test_a_known_method_no_route_takes_is_nicks_404_without_allow(mock: LiveMock) -> None:
    answer = _raw(mock, b"PROPFIND /@jobs HTTP/1.1\r\n" + _head_of(mock) + b"Connection: close\r\n\r\n")
    status, headers, body = answer
    assert (status, json.loads(body)) == (404, {"error": "Not found: /@jobs"})
    assert headers["content-type"] == "application/json; charset=utf-8" and "allow" not in headers


@pytest.mark.parametrize(
    ("request_bytes", "status", "error_type"),
    [
        pytest.param(b"GET /@jobs?" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "URI too long", id="long-url"),
        pytest.param(b"GET /@jobs HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n", 431,
                     "Request header fields too large", id="long-header"),
        pytest.param(b"GET /@jobs HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
                     431, "Request header fields too large", id="too-many-headers"),
        pytest.param(b"GET /@jobs HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400, "Bad Request", id="bad-length"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400, "Bad Request", id="tls-hello"),
        pytest.param(b"GET /@jobs HTTP/9.9\r\nHost: x\r\n\r\n", 400, "Bad Request", id="bad-version"),
    ],
)  # fmt: skip
def test_what_the_parser_refuses_is_answered_in_nicks_shape(
    mock: LiveMock, request_bytes: bytes, status: int, error_type: str
) -> None:
    answer = _raw(mock, request_bytes.replace(b"Host: x\r\n", _head_of(mock)))
    assert answer[0] == status, answer
    assert _nick_error(answer)["type"] == error_type


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/@jobs", 401), ("POST", "/@logout", 204), ("POST", "/@login-renew", 401)],
)
@pytest.mark.parametrize("junk", [b"\xff\xfe", b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\xed\xa0\x80.\xff"])
def test_a_token_that_is_not_utf8_is_refused_not_a_mock_error(
    mock: LiveMock, method: str, path: str, status: int, junk: bytes
) -> None:
    """The parser hands such bytes on as lone surrogates, which no encoding to bytes takes."""
    head = f"{method} {path} HTTP/1.1\r\n".encode() + _head_of(mock) + b"Connection: close\r\n"
    answer = _raw(mock, head + b"Authorization: Bearer " + junk + b"\r\nContent-Length: 0\r\n\r\n")
    assert answer[0] == status, answer
    if path == "/@jobs":
        assert json.loads(answer[2]) == {"message": "You are not authorized to access this resource."}
    elif path == "/@login-renew":
        assert _nick_error(answer, UTF8_JSON) == {"type": "Invalid session", "message": "User is not logged in."}
    assert mock.errors() == []


@pytest.mark.parametrize("path", ["/@jobs", f"/@jobs/{DOCUMENTED_ID}"])
def test_head_is_answered_wherever_get_is(admin: requests.Session, mock: LiveMock, path: str) -> None:
    got, head = admin.get(f"{mock.url}{path}"), admin.head(f"{mock.url}{path}")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Type"] == got.headers["Content-Type"] == UTF8_JSON
    assert head.headers["Content-Length"] == got.headers["Content-Length"]
    assert requests.head(f"{mock.url}{path}").status_code == 401
    entry = mock.control("GET", "journal")[-2]
    assert (entry["method"], entry["operationId"]) == ("HEAD", "getJobs" if path == "/@jobs" else "getJob")


@pytest.mark.parametrize("path", ["/openapi.yaml", "/openapi.json", "/docs", "/__mock__/", "/__mock__/jobs"])
def test_head_is_answered_on_the_mocks_other_pages(mock: LiveMock, path: str) -> None:
    response = requests.head(f"{mock.url}{path}")
    assert response.status_code == 200 and response.content == b""


def _with_few_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def test_out_of_descriptors_the_mock_logs_one_line_and_recovers() -> None:
    """A mock allowed 64 descriptors, 150 sockets held open by a client that sends nothing."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "--port", "0", "--log-level", "info"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_with_few_descriptors,
    )  # fmt: skip
    held: list[socket.socket] = []
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        held = [_connect(url) for _ in range(150)]
        # Each in time (its own timeout): idle connections were let go to make room.
        answers = [requests.get(f"{url}/openapi.json", timeout=10).status_code for _ in range(20)]
        assert answers == [200] * 20
    finally:
        for sock in held:
            sock.close()
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert 1 <= len(lines) <= 3, lines
    assert "out of file descriptors (Too many open files)" in lines[0]


@pytest.fixture(scope="module")
def large_list_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMock]:
    """A mock whose job list is about 6 MB: more than the socket buffers take (4 MB on Linux) and than one slice."""
    data = write_jobs(tmp_path_factory.mktemp("data") / "jobs.json", make_jobs(15_000))
    config = MockConfig(data=data, frozen=True, request_timeout=REQUEST_TIMEOUT, idle_timeout=IDLE_TIMEOUT)
    with LiveMock(config=config, clock=Clock(manual=True)) as server:
        yield server


def test_a_client_that_never_reads_its_answer_is_let_go(large_list_mock: LiveMock) -> None:
    mock = large_list_mock
    token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    parts = urlsplit(mock.url)
    sock.connect((parts.hostname, parts.port))
    with sock:
        sock.sendall(f"GET /@jobs HTTP/1.1\r\n{_head_of(mock).decode()}Authorization: Bearer {token}\r\n\r\n".encode())
        # Not reading meanwhile: the mock gives up on the answer and notes why.
        _journaled(mock, "/@jobs", "did not take the answer", within=REQUEST_TIMEOUT + IDLE_TIMEOUT + SLACK)
        sock.settimeout(5)
        received = b""
        try:
            while chunk := sock.recv(1 << 20):
                received += chunk
        except ConnectionResetError:
            pass
    status, headers, body = _answer(received)
    assert status == 200 and len(body) < int(headers["content-length"]), "the answer was cut off, not kept waiting"
    assert requests.get(f"{mock.url}/openapi.json", timeout=5).status_code == 200


def _journaled(mock: LiveMock, path: str, note: str, within: float) -> None:
    """Wait (at most `within` seconds) for the journal's last entry for `path` to carry `note`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        entries = [e for e in mock.control("GET", "journal") if e["path"] == path]
        if entries and note in entries[-1]["note"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"the answer to {path} not noted {note!r} within {within} s")
