"""How jobs-proxy forwards: bodies streamed both ways, headers as HTTP wants them, answers never held up by checks."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp import web

from jobsproxy.config import ProxyConfig
from jobsproxy.testing import LiveProxy
from tests.fakejobs import make_job
from tests.helpers import ThreadedServer

AUTH = {"Authorization": "Bearer a-token-nobody-checks"}  # the upstream asks for none; the proxy wants one seen


class Upstream(ThreadedServer):
    """A server of odd answers on a loopback port, in a thread: streams, gzip, echoes, broken bodies."""

    def __init__(self) -> None:
        self.url = ""
        self.sent: dict[str, bytes] = {}  # path -> the body bytes as sent
        self.release = threading.Event()
        self.waited = False
        super().__init__("upstream")
        self._runner: web.AppRunner | None = None

    def __exit__(self, *_: object) -> None:
        self.release.set()  # a handler waiting for it would hold the shutdown
        super().__exit__()

    async def _stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_routes(
            [
                web.get("/stream", self.stream),
                web.get("/@jobs", self.jobs),
                web.post("/echo", self.echo),
                web.get("/@jobs/{id}", self.broken),
            ]
        )
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        await response.write(b"first\n")
        # The test releases the rest only once the first line has reached its client through the proxy.
        self.waited = await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 5)
        await response.write(b"second\n")
        await response.write_eof()
        return response

    async def jobs(self, request: web.Request) -> web.StreamResponse:
        jobs = [make_job("created") for _ in range(int(request.query.get("n", "1")))]
        for job in jobs:
            job.pop("description")  # a break the proxy can only see once it has undone the gzip
        body = gzip.compress(json.dumps(jobs).encode())
        self.sent[request.path_qs] = body
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Set-Cookie": "a=1"}
        response = web.Response(body=body, headers=headers)
        response.headers.add("Set-Cookie", "b=2")
        return response

    async def echo(self, request: web.Request) -> web.StreamResponse:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
        return web.json_response({"headers": list(request.headers.items()), "size": size, "sha256": digest.hexdigest()})

    async def broken(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "100"})
        await response.prepare(request)
        await response.write(b'{"uuid": "')
        assert request.transport is not None
        request.transport.close()  # ten bytes of a hundred, then gone
        return response


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


def test_the_answer_streams__the_client_reads_the_first_bytes_before_the_upstream_sends_the_rest(
    upstream: Upstream,
) -> None:
    with LiveProxy(upstream.url) as proxy, requests.get(f"{proxy.url}/stream", stream=True, timeout=10) as answer:
        lines = answer.iter_lines()
        assert next(lines) == b"first"
        upstream.release.set()
        assert next(lines) == b"second"
    assert upstream.waited, "the upstream was still holding the rest when the first line arrived"


def test_gzip__passes_as_sent_and_is_checked_decoded(upstream: Upstream) -> None:
    with LiveProxy(upstream.url) as proxy:
        answer = requests.get(f"{proxy.url}/@jobs?n=2", headers=AUTH, stream=True, timeout=10)
        raw = answer.raw.read(decode_content=False)
        violations = proxy.violations()
    assert raw == upstream.sent["/@jobs?n=2"] and answer.headers["Content-Encoding"] == "gzip"
    assert answer.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert [v["check"] for v in violations] == ["documented_answer"]
    assert '"description" is a required property' in violations[0]["message"]


def test_a_body_over_the_cap__passes_whole_and_is_noted_unchecked(upstream: Upstream) -> None:
    config = ProxyConfig("", max_check_bytes=1000)
    with LiveProxy(upstream.url, config=config) as proxy:
        answer = requests.get(f"{proxy.url}/@jobs?n=300", headers=AUTH, stream=True, timeout=10)
        raw = answer.raw.read(decode_content=False)
        report = proxy.report()
    assert len(raw) > 1000 and raw == upstream.sent["/@jobs?n=300"]
    assert report.violations == 0
    notes = [entry["message"] for entry in report.journal if entry["kind"] == "note"]
    assert notes == ["body not checked: larger than 1000 bytes (--max-check-bytes)"]


def chunks(size: int) -> Iterator[bytes]:
    for index in range(size // 65536):
        yield bytes([index % 256]) * 65536


def test_the_request__body_streamed_whole_headers_end_to_end_only_and_forwarding_ones_added(upstream: Upstream) -> None:
    headers = {
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "dropped",
        "X-Keep": "kept",
        "Content-Type": "application/x-test",
    }
    with LiveProxy(upstream.url) as proxy:
        requests.get(f"{proxy.url}/@jobs", timeout=10)  # the upstream sets cookies: no later request may carry them
        echoed: dict[str, Any] = requests.post(f"{proxy.url}/echo", data=chunks(3 * 2**20), headers=headers).json()
    received = dict(echoed["headers"])
    sent = hashlib.sha256(b"".join(chunks(3 * 2**20))).hexdigest()
    assert (echoed["size"], echoed["sha256"]) == (3 * 2**20, sent)
    assert "X-Hop" not in received and received["X-Keep"] == "kept"
    assert received["Content-Type"] == "application/x-test"
    assert received["User-Agent"].startswith("python-requests/"), "the client's own, none of aiohttp's"
    assert received["Host"] == upstream.url.removeprefix("http://")
    assert received["X-Forwarded-Host"] == proxy.url.removeprefix("http://")
    assert (received["X-Forwarded-Proto"], received["X-Forwarded-For"]) == ("http", "127.0.0.1")
    assert "Cookie" not in received


def test_answers_never_wait_for_the_checks(upstream: Upstream) -> None:
    busy = threading.Event()
    with LiveProxy(upstream.url) as proxy:
        # The checks' one thread, held until the answers are in: had they waited for it, they would time out.
        proxy.proxy.executor.submit(busy.wait, 120)
        try:
            statuses = [requests.get(f"{proxy.url}/@jobs?n=1", headers=AUTH, timeout=30).status_code for _ in range(5)]
            judged_meanwhile = proxy.proxy.journal.count("violation")
        finally:
            busy.set()
        violations = proxy.violations()
    assert statuses == [200] * 5
    assert judged_meanwhile == 0 and len(violations) == 5, "judged afterwards, each"


def test_a_body_that_breaks_off__the_client_sees_it_broken_not_whole(upstream: Upstream) -> None:
    with LiveProxy(upstream.url) as proxy:
        with pytest.raises(requests.RequestException):
            requests.get(f"{proxy.url}/@jobs/x", headers=AUTH, timeout=10).json()
        report = proxy.report()
    assert [v["check"] for v in report.journal if v["kind"] == "violation"] == ["answer_is_valid_http"]
    outcomes = {result.title: str(result.outcome) for result in report.results}
    assert outcomes["documented_answer [getJob]"] == "not exercised", "a body not checked never passes"


def test_an_upstream_that_is_gone__a_502_in_nicks_shape_and_a_note() -> None:
    with Upstream() as gone:
        url = gone.url
    with LiveProxy(url) as proxy:
        answer = requests.get(f"{proxy.url}/@jobs", timeout=10)
        report = proxy.report()
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["type"] == "Bad Gateway" and error["message"].startswith("jobs-proxy: no answer from the upstream: ")
    assert report.violations == 0
    assert [e["message"][:32] for e in report.journal if e["kind"] == "note"] == ["no answer from the upstream: Can"]
