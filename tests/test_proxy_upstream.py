"""jobs-proxy in front of upstreams that answer badly, or never: each judged for what it is, the client told.

An upstream that never answers one request must not blind the proxy to every other (issue 27,
item 8); an answer that is not valid HTTP is a violation, its body's checks not exercised, never
passed (item 10); an answer whose headers cannot pass unchanged is not passed on altered (item 13).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from jobsproxy.config import ProxyConfig
from jobsproxy.report import ProxyReport
from jobsproxy.testing import LiveProxy
from tests.fakejobs import make_job
from tests.rawupstream import NEVER, Answer, RawUpstream, Reset, answer

AUTH = {"Authorization": "Bearer a-token-nobody-checks"}
JOB = make_job("created")
ITEM = f"/@jobs/{JOB['uuid']}"
INCOMPLETE = [{"uuid": JOB["uuid"]}]  # a list whose job lacks every other field: a documented_answer violation
VALID_HTTP = "answer_is_valid_http"


@contextmanager
def proxied(answers: dict[str, Answer], **settings: Any) -> Iterator[tuple[LiveProxy, RawUpstream]]:
    with RawUpstream(answers) as upstream, LiveProxy(upstream.url, config=ProxyConfig("", **settings)) as proxy:
        yield proxy, upstream


def outcomes(report: ProxyReport) -> dict[str, str]:
    return {result.title: str(result.outcome) for result in report.results}


def violations(report: ProxyReport) -> list[dict[str, Any]]:
    return [entry for entry in report.journal if entry["kind"] == "violation"]


def nick_error(response: requests.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    error: dict[str, str] = response.json()["error"]
    assert set(error) == {"type", "message"} and error["message"].startswith("jobs-proxy: ")
    return error


# ---- item 8: an upstream that never answers -----------------------------------------------------


def test_a_request_the_upstream_never_answers__the_others_are_judged_and_counted_meanwhile() -> None:
    answers: dict[str, Answer] = {ITEM: NEVER, "/@jobs": answer(200, INCOMPLETE)}
    with proxied(answers, check_window=1.0, upstream_timeout=600) as (proxy, upstream):
        stuck = threading.Thread(target=_ignore_failure, args=(f"{proxy.url}{ITEM}",), daemon=True)
        stuck.start()
        while ITEM not in upstream.paths():
            time.sleep(0.01)
        for _ in range(20):
            assert requests.get(f"{proxy.url}/@jobs", headers=AUTH, timeout=10).status_code == 200
        report = _polled(proxy, lambda report: report.violations >= 20)
        assert stuck.is_alive(), "the stuck request is still waiting"

    assert report.violations == 20 and report.exchanges == 20, report.verdict()
    assert report.verdict().startswith("VIOLATIONS: 20 in 20 exchanges")


def test_an_upstream_that_never_answers__the_client_gets_a_504_and_nothing_is_passed() -> None:
    with proxied({ITEM: NEVER}, upstream_timeout=1.0) as (proxy, _):
        response = requests.get(f"{proxy.url}{ITEM}", headers=AUTH, timeout=20)
        report = proxy.report()

    error = nick_error(response, 504)
    assert error["type"] == "Gateway Timeout" and "within 1 s (--upstream-timeout)" in error["message"]
    assert report.violations == 0 and (report.exchanges, report.unanswered) == (1, 1)
    assert outcomes(report)["documented_answer [getJob]"] == "not exercised"
    notes = [entry["message"] for entry in report.journal if entry["kind"] == "note"]
    assert notes == ["no answer from the upstream: no status and headers within 1 s (--upstream-timeout)"]
    assert "1 without a whole answer" in report.context()


def _ignore_failure(url: str) -> None:
    try:
        requests.get(url, headers=AUTH, timeout=60)
    except requests.RequestException:
        pass  # the proxy ends it when it stops


def _polled(proxy: LiveProxy, done: Any, within: float = 15.0) -> ProxyReport:
    """The proxy's report once `done(report)`, or as it stands after `within` seconds."""
    deadline = time.monotonic() + within
    report = proxy.report()
    while not done(report) and time.monotonic() < deadline:
        time.sleep(0.1)
        report = proxy.report()
    return report


# ---- item 10: answers that are not valid HTTP -----------------------------------------------------

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
MANY = b"".join(b"X-%d: 1\r\n" % i for i in range(150))
# (the upstream's bytes, whether its head reached the client before the break)
BROKEN = [
    pytest.param(HEAD + b"Content-Length: 100\r\n\r\n[]", True, id="short-content-length"),
    pytest.param(HEAD + b"Content-Length: 2\r\n\r\n", True, id="closed-after-the-head"),
    pytest.param(Reset(HEAD + b"Transfer-Encoding: chunked\r\n\r\n10\r\n[{\"uu"), True, id="reset-mid-chunk"),
    pytest.param(HEAD + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n", False,
                 id="length-and-chunked"),
    pytest.param(HEAD + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n[]", False, id="duplicate-content-length"),
    pytest.param(HEAD + MANY + b"Content-Length: 2\r\n\r\n[]", False, id="150-headers"),
    pytest.param(HEAD + b"X-Nul: a\x00b\r\nContent-Length: 2\r\n\r\n[]", False, id="nul-in-a-header"),
    pytest.param(HEAD + b"X-Ctl: a\x01b\r\nContent-Length: 2\r\n\r\n[]", False, id="control-character-in-a-header"),
    pytest.param(b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", False, id="bad-status"),
    pytest.param(b"[]", False, id="no-status-line"),
    pytest.param(b"", False, id="closed-without-an-answer"),
]  # fmt: skip


@pytest.mark.parametrize(("sent", "head_passed"), BROKEN)
def test_an_answer_that_is_not_valid_http__a_violation_its_body_not_exercised(sent: Answer, head_passed: bool) -> None:
    with proxied({"/@jobs": sent}) as (proxy, _):
        try:
            response = requests.get(f"{proxy.url}/@jobs", headers=AUTH, timeout=10)
            response.content  # noqa: B018 (read it whole, or fail trying)
        except requests.RequestException:
            response = None
        report = proxy.report()

    found = violations(report)
    assert [v["check"] for v in found] == [VALID_HTTP], found
    assert (
        found[0]["message"].startswith("Received ") and " / Documented: a whole HTTP/1.1 answer" in found[0]["message"]
    )
    assert outcomes(report)["documented_answer [getJobs]"] == "not exercised", "never passed"
    assert report.exit_code == 1
    if head_passed:
        assert response is None, "the cut body never reaches the client looking whole"
    else:
        assert response is not None
        assert nick_error(response, 502)["type"] == "Bad Gateway"


def test_the_same_body_whole__passes_the_checks_it_missed_when_broken() -> None:
    """The control: the short answers above, whole, are judged and pass."""
    with proxied({"/@jobs": answer(200, [JOB])}) as (proxy, _):
        assert requests.get(f"{proxy.url}/@jobs", headers=AUTH, timeout=10).json() == [JOB]
        report = proxy.report()
    assert report.violations == 0 and outcomes(report)["documented_answer [getJobs]"] == "passed"


def test_a_broken_answer_outside_the_spec__a_note_not_a_violation() -> None:
    with proxied({"/elsewhere": b"garbage\r\n\r\n"}) as (proxy, _):
        response = requests.get(f"{proxy.url}/elsewhere", timeout=10)
        report = proxy.report()
    assert nick_error(response, 502)["type"] == "Bad Gateway"
    assert report.violations == 0 and report.outside == 1
    assert [entry["message"][:40] for entry in report.journal] == ["received an answer that is not valid HTT"]


# ---- item 13: header bytes that are not UTF-8 -----------------------------------------------------


def test_an_answer_header_that_is_not_utf8__not_passed_on_altered_a_502_instead() -> None:
    latin1 = answer(200, [JOB], headers=b"Content-Disposition: attachment; filename=caf\xe9.json\r\n")
    with proxied({"/@jobs": latin1}) as (proxy, _):
        response = requests.get(f"{proxy.url}/@jobs", headers=AUTH, timeout=10)
        report = proxy.report()
    error = nick_error(response, 502)
    assert "'Content-Disposition' holding bytes that are not UTF-8" in error["message"]
    assert report.violations == 0, "valid HTTP (obs-text), just not what the proxy can write"
    assert outcomes(report)["documented_answer [getJobs]"] == "not exercised"


def test_an_answer_header_in_utf8__passes_byte_for_byte() -> None:
    header = "Content-Disposition: attachment; filename=café-日本.json\r\n".encode()
    with proxied({"/@jobs": answer(200, [JOB], headers=header)}) as (proxy, _):
        received = _raw_get(proxy.url, "/@jobs")
        report = proxy.report()
    assert header in received and received.endswith(json.dumps([JOB]).encode())
    assert report.violations == 0


def _raw_get(url: str, path: str) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer x\r\n"
                     "Connection: close\r\n\r\n".encode())  # fmt: skip
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received
