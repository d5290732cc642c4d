"""The mock's cheaper paths (issue 26, item 6) do what the longer ones did.

- A head that arrives whole is screened in one pass, and only the lines that can be a Content-Length
  or a Transfer-Encoding are split; a connection keeps one timer, not one per request, and a head
  that trickles in after whole ones still has its deadline.
- Tokens are forgotten oldest first without sorting them, a state file's too (it lists them by digest).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from httpserving import MAX_HEADERS, MAX_LINE, Body, examine, screen
from mockserver.config import MockConfig
from mockserver.domain import auth
from mockserver.testing import LiveMock
from tests.helpers import SLACK, trickle_until_closed

REQUEST_TIMEOUT, IDLE_TIMEOUT = 0.5, 2.0


@pytest.fixture(scope="module")
def hasty_mock() -> Iterator[LiveMock]:
    """Half a second for a request's head to arrive, two seconds of idle keep-alive."""
    with LiveMock(config=MockConfig(request_timeout=REQUEST_TIMEOUT, idle_timeout=IDLE_TIMEOUT)) as server:
        yield server


def _get(mock: LiveMock) -> bytes:
    return f"GET /openapi.json HTTP/1.1\r\nHost: {urlsplit(mock.url).netloc}\r\n\r\n".encode()


def _read_answer(sock: socket.socket) -> bytes:
    """One whole answer (it has a Content-Length)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


@pytest.mark.parametrize("pause", [0.0, REQUEST_TIMEOUT * 1.6], ids=["young-connection", "after-its-first-deadline"])
def test_a_head_trickled_after_whole_ones_still_has_its_deadline(hasty_mock: LiveMock, pause: float) -> None:
    netloc = urlsplit(hasty_mock.url)
    assert netloc.hostname is not None and netloc.port is not None
    with socket.create_connection((netloc.hostname, netloc.port), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(_get(hasty_mock))
            assert _read_answer(sock).startswith(b"HTTP/1.1 200")
        time.sleep(pause)  # within the idle timeout: the connection stays open
        slow = _get(hasty_mock)[:-2] + b"X-Slow: " + b"a" * 400 + b"\r\n\r\n"
        sent, took = trickle_until_closed(sock, slow)
    assert sent < len(slow), "the head had a deadline"
    assert took <= REQUEST_TIMEOUT + SLACK


def test_a_head_that_arrives_whole_frames_its_body_as_before() -> None:
    def body(*headers: bytes) -> tuple[int, bool] | None:
        head = b"\r\n".join([b"POST /content-length HTTP/1.1", b"Host: x", *headers]) + b"\r\n\r\n"
        assert screen(head) is None
        found = Body.of(head)
        return None if found is None else (found.left, found.chunked)

    assert body() is None, "a path naming a header is no header"
    assert body(b"Content-Length: 12") == (12, False)
    assert body(b"CONTENT-length :  7 ") == (7, False), "any case, spaces around"
    assert body(b"Content-Length: 3", b"X-Content-Length: 9", b"content-length: 5") == (5, False), "the last one"
    assert body(b"Content-Length: 0") is None
    assert body(b"Transfer-Encoding: gzip, Chunked") == (0, True)
    assert body(b"X-Transfer-Encoding: chunked") is None


def _framing(body: Body | None) -> tuple[int, bool, str, bool] | None:
    return None if body is None else (body.left, body.chunked, body.stage, body.done)


@pytest.mark.parametrize(
    "line",
    [
        b"GET /@jobs HTTP/1.1",
        b"POST /@jobs/1/abort HTTP/1.0",
        b"OPTIONS * HTTP/1.1",
        b"PATCH /x?content-length=5 HTTP/1.1",
        b"get /@jobs HTTP/1.1",  # a method in lower case: unknown to the parser
        b"PROPFIND /x HTTP/1.1",  # known, but not among the common ones: screened line by line
        b"BREW /pot HTTP/1.1",
        b"GET /a b HTTP/1.1",
        b"GET  /a HTTP/1.1",
        b"GET /a HTTP/2.0",
        b"GET /a HTTP/1.1 ",
        b"GET /a",
        b"\x16\x03\x01 GET",
        b"GET /" + b"a" * MAX_LINE + b" HTTP/1.1",
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        (),
        (b"Host: x",),
        (b"Host: x", b"Content-Length: 12"),
        (b"CONTENT-length :  7 ", b"X-Content-Length: 9"),
        (b"Content-Length: 3", b"content-length: 5"),
        (b"Content-Length: 0",),
        (b"Content-Length: 1x",),
        (b" Content-Length : -1",),
        (b"Transfer-Encoding: gzip, Chunked",),
        (b"Transfer-Encoding: chunked", b"Content-Length: 4"),
        (b"X-Transfer-Encoding: chunked",),
        (b"X-Long: " + b"v" * MAX_LINE,),
        tuple(b"X-%d: v" % i for i in range(MAX_HEADERS + 1)),
        tuple(b"X-%d: v" % i for i in range(MAX_HEADERS - 1)),
    ],
)
def test_a_whole_head_is_examined_as_screening_it_and_framing_its_body_would(
    line: bytes, headers: tuple[bytes, ...]
) -> None:
    """`examine` (one pass for a whole head) refuses what `screen` refuses, with the same answer, and frames the same
    body as `Body.of`: on the common heads it takes a shortcut, on the others it screens line by line."""
    head = b"\r\n".join([line, *headers]) + b"\r\n\r\n"
    refused, body = examine(head)
    expected = screen(head)
    assert refused == expected
    assert _framing(body) == (None if expected is not None else _framing(Body.of(head)))


def test_a_content_length_that_is_no_number_is_refused_wherever_it_stands() -> None:
    for line in (b"Content-Length: 1x", b"content-LENGTH: ", b" Content-Length : -1"):
        head = b"POST /@login HTTP/1.1\r\nHost: x\r\n" + line + b"\r\nX-After: y\r\n\r\n"
        refused = screen(head)
        assert refused is not None and refused.startswith(b"HTTP/1.1 400 "), line
        assert examine(head) == (refused, None), "the same in one pass"
        assert screen(head[: head.index(line) + len(line)]) is not None, "also before the head is complete"


def test_tokens_are_forgotten_oldest_first_a_state_files_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "MAX_TOKENS", 10)
    monkeypatch.setattr(auth, "PRUNE_FLOOR", 1)
    now = time.time()
    # As a state file lists them: by digest, which is no order of time.
    saved = {f"{index * 7919 % 64:02x}{index}": auth.Held("admin", now + 100 + index) for index in range(8)}
    saved["expired"] = auth.Held("admin", now - 1)
    authenticator = auth.Authenticator(auth.DEFAULT_USERS, secret="secret")
    authenticator.restore(saved)
    assert "expired" not in authenticator.tokens.held
    issued = [authenticator.issue(auth.DEFAULT_USERS[0]) for _ in range(4)]
    held = authenticator.tokens.held
    assert len(held) <= 11
    kept = {key for key in saved if key in held}
    by_expiry = sorted((key for key in saved if key != "expired"), key=lambda key: saved[key].expires or 0)
    assert kept == set(by_expiry[len(by_expiry) - len(kept) :]), "the file's tokens that expire last stay"
    assert all(authenticator.identify(f"Bearer {token}") for token in issued), "the newest stay"
    assert auth.digest(auth.DOCUMENTED_TOKEN) in held, "it never expires: held (a state file without it logs it out)"
