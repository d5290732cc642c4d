"""The bounded transport on its own, against raw-socket servers: every request ends by its deadline and cap.

A head or a body trickled a byte at a time, a body without end (chunked, or until the connection
closes), informational answers (`103 Early Hints`) before the answer, and the deployment's rate
limit (429): each as the suite's client and schemathesis (through the same session) meet them.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import requests

from conformance.transport import BoundedAdapter, DeadlineExceeded, RateLimited, ResponseTooLarge, bounded_session

Serve = Callable[[socket.socket], None]
JSON_200 = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"ok": true}'
TIMEOUT = 1.5
# What a loaded machine may add to a deadline's end; the trickles take far longer (a JSON head at 0.3 s a byte).
SLACK = 5.0


@contextmanager
def raw_server(serve: Serve) -> Iterator[str]:
    """A server on 127.0.0.1 that hands each connection, its request read, to `serve`; its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(connection,), daemon=True).start()

    def handle(connection: socket.socket) -> None:
        with connection:
            try:
                while True:
                    if not _read_request(connection):
                        return
                    serve(connection)
            except OSError:
                pass  # the client gave up (its deadline): as it should

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


def _read_request(connection: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return False
        data += chunk
    return True


def trickled(data: bytes, every: float = 0.3) -> Serve:
    def serve(connection: socket.socket) -> None:
        for index in range(len(data)):
            connection.sendall(data[index : index + 1])
            time.sleep(every)

    return serve


def session(timeout: float = TIMEOUT, max_bytes: int = 1 << 20) -> requests.Session:
    return bounded_session(BoundedAdapter(timeout, max_bytes))


def ends_by_the_deadline(url: str, expected: type[Exception] = DeadlineExceeded, **kwargs: object) -> None:
    started = time.monotonic()
    with pytest.raises(expected):
        response = session(**kwargs).get(url)  # type: ignore[arg-type]
        response.content  # noqa: B018
    assert time.monotonic() - started < TIMEOUT + SLACK


def test_a_head_trickled_a_byte_at_a_time_ends_at_the_deadline() -> None:
    with raw_server(trickled(JSON_200)) as url:
        ends_by_the_deadline(url)


def test_a_body_trickled_a_byte_at_a_time_ends_at_the_deadline() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"

    def serve(connection: socket.socket) -> None:
        connection.sendall(head)
        trickled(b"[" + b" " * 38 + b"]")(connection)

    with raw_server(serve) as url:
        ends_by_the_deadline(url)


def endless_chunks(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b" " * 65536
    while True:
        connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def test_an_endless_chunked_body_is_cut_at_the_cap() -> None:
    with raw_server(endless_chunks) as url:
        ends_by_the_deadline(url, ResponseTooLarge, max_bytes=1_000_000)


def test_an_endless_chunked_body_under_a_large_cap_is_cut_at_the_deadline() -> None:
    with raw_server(endless_chunks) as url:
        ends_by_the_deadline(url, (DeadlineExceeded, ResponseTooLarge), max_bytes=1 << 40)  # type: ignore[arg-type]


def test_a_body_without_a_length_trickled_until_the_deadline_is_no_complete_answer() -> None:
    def serve(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[")
        trickled(b" " * 100)(connection)

    with raw_server(serve) as url:
        ends_by_the_deadline(url)


def test_a_streamed_body_is_bounded_too() -> None:
    """schemathesis asks for `stream=True` and reads the body itself: the same deadline and cap apply."""
    with raw_server(endless_chunks) as url:
        started = time.monotonic()
        with pytest.raises(ResponseTooLarge):
            response = session(max_bytes=200_000).get(url, stream=True)
            for _ in response.iter_content(8192):
                pass
        assert time.monotonic() - started < TIMEOUT + SLACK


def informational_first(*interim: bytes) -> Serve:
    def serve(connection: socket.socket) -> None:
        for head in interim:
            connection.sendall(head)
            time.sleep(0.05)
        connection.sendall(JSON_200)

    return serve


EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"


@pytest.mark.parametrize(
    "interim",
    [
        pytest.param((EARLY_HINTS,), id="103"),
        pytest.param((b"HTTP/1.1 102 Processing\r\n\r\n", EARLY_HINTS, EARLY_HINTS), id="102-103-103"),
        pytest.param((b"HTTP/1.1 100 Continue\r\n\r\n" + EARLY_HINTS,), id="100-103-in-one-write"),
    ],
)
def test_informational_answers_before_the_answer_are_not_the_answer(interim: tuple[bytes, ...]) -> None:
    with raw_server(informational_first(*interim)) as url:
        client = session()
        first = client.post(url + "/@login", json={"login": "admin", "password": "admin"})
        again = client.get(url + "/@jobs")  # the same connection, kept alive: the next answer is read right
    assert (first.status_code, first.json(), "Link" in first.headers) == (200, {"ok": True}, False)
    assert (again.status_code, again.json()) == (200, {"ok": True})


def test_informational_answers_without_end_end_at_the_deadline() -> None:
    def serve(connection: socket.socket) -> None:
        while True:
            connection.sendall(EARLY_HINTS)
            time.sleep(0.01)

    with raw_server(serve) as url:
        ends_by_the_deadline(url)


def rate_limited(retry_after: str | None, then: bytes = JSON_200) -> tuple[Serve, list[int]]:
    answered: list[int] = []
    refusal = b'{"message": "Too many requests"}'
    header = b"" if retry_after is None else b"Retry-After: %s\r\n" % retry_after.encode()

    def serve(connection: socket.socket) -> None:
        if not answered:
            answered.append(429)
            connection.sendall(
                b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s"
                % (header, len(refusal), refusal)
            )
            return
        answered.append(200)
        connection.sendall(then)

    return serve, answered


def test_a_429_with_a_short_retry_after_is_waited_out_and_sent_again() -> None:
    serve, answered = rate_limited("1")
    with raw_server(serve) as url:
        started = time.monotonic()
        response = session().get(url)
    assert response.json() == {"ok": True} and answered == [429, 200]
    assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize("retry_after", ["900", None])
def test_a_429_with_a_long_or_no_retry_after_is_rate_limited(retry_after: str | None) -> None:
    serve, answered = rate_limited(retry_after)
    with raw_server(serve) as url, pytest.raises(RateLimited) as raised:
        session().get(url)
    assert answered == [429]
    assert raised.value.answer.json() == {"message": "Too many requests"}
