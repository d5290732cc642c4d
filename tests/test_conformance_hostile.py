"""Servers that would hang, flood or mislead the suite: each run ends in seconds, as issue 10 says.

A trickling or endless answer is cut at the request's deadline or size cap; a redirect names its
target; an HTML server is named for what it is; a crashing login is a setup error; a rate limit
is waited out when its Retry-After is short, and named with its setting otherwise; secrets never
appear in any output; and a deployment behind a path prefix passes end to end.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from conformance.cli import main
from mockserver.testing import LiveMock
from tests import brokenjobs
from tests.fakejobs import JobsServer, Violation, serve

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextmanager
def running(handler: Handler) -> Iterator[str]:
    """An aiohttp server answering every request with `handler`, on 127.0.0.1, on its own thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    try:
        for byte in b'{"token": "abcdefghijklmnop"}':
            await response.write(bytes([byte]))
            await asyncio.sleep(2)
    except ConnectionResetError:
        pass  # the suite gave up at its deadline, as it should
    return response


async def endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    try:
        while True:
            await response.write(b" " * 65536)
    except ConnectionResetError:
        return response


async def redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("https://cms.example.org/api" + request.path)


async def html(request: web.Request) -> web.StreamResponse:
    return web.Response(
        text="<html><body>Welcome to nginx!</body></html>", content_type="text/html", headers={"Server": "nginx"}
    )


async def crashing_login(request: web.Request) -> web.StreamResponse:
    if request.path == "/@login":
        raise RuntimeError("boom")
    return web.json_response({})


def finishes(argv: list[str], capsys: pytest.CaptureFixture[str], within: float = 8) -> tuple[int, str]:
    started = time.monotonic()
    code = main(argv)
    assert time.monotonic() - started < within
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("handler", "argv", "message"),
    [
        pytest.param(trickle, ["--timeout", "3"], "no complete answer within 3 s (--timeout)", id="trickles"),
        pytest.param(endless, ["--max-response-bytes", "1000000"], "larger than 1000000 bytes", id="streams-forever"),
        pytest.param(redirect, [], "redirecting to https://cms.example.org/api/", id="redirects"),
        pytest.param(html, [], "does not look like the Nick jobs API", id="speaks-html"),
        pytest.param(crashing_login, [], "answered 500, a server error", id="crashes-the-login"),
    ],
)
def test_a_hostile_server_ends_the_run_in_seconds_with_exit_2_and_the_cause(
    handler: Handler, argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    with running(handler) as url:
        code, output = finishes(["--base-url", url, "--phases", "auth", *argv, "--report", str(out)], capsys)
    assert code == 2
    assert message in output, output
    assert message in json.loads(out.read_text())["error"]


def test_html_is_named_for_what_answered(capsys: pytest.CaptureFixture[str]) -> None:
    with running(html) as url:
        _, output = finishes(["--base-url", url], capsys)
    assert "text/html" in output and "nginx" in output


def test_https_against_a_plain_http_server_is_named_as_tls(capsys: pytest.CaptureFixture[str]) -> None:
    with serve() as server:
        code, output = finishes(["--base-url", server.url.replace("http:", "https:"), "--timeout", "2"], capsys)
    assert code == 2 and "TLS failed" in output


def test_a_request_that_times_out_is_a_failed_check_and_the_run_goes_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The renewal trickles; its checks fail, every other check runs, and the reports are written."""
    with serve() as server, running(_proxy(server.url, slow="/@login-renew")) as url:
        out, junit = tmp_path / "report.json", tmp_path / "junit.xml"
        argv = ["--base-url", url, "--phases", "auth", "--fixtures", "mock", "--timeout", "1"]
        code, _ = finishes([*argv, "--report", str(out), "--junit", str(junit)], capsys, within=20)
    report = json.loads(out.read_text())
    failed = [c for c in report["checks"] if c["outcome"] == "failed"]
    assert code == 1, failed
    assert failed and all("no complete answer within 1 s" in c["findings"][0]["message"] for c in failed), failed
    assert any(c["outcome"] == "passed" and c["subject"] == "GET /@jobs" for c in report["checks"])
    assert junit.read_text().count("<testcase") == len(report["checks"])


def _proxy(upstream: str, *, prefix: str = "", slow: str = "") -> Handler:
    """A reverse proxy serving `upstream` under `prefix`, rewriting its absolute URLs; `slow` paths trickle."""

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path_qs.removeprefix(prefix)
        if not request.path.startswith(prefix):
            return web.json_response({"error": f"Not found: {request.path}"}, status=404)
        if slow and path.startswith(slow):
            return await trickle(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with aiohttp.ClientSession() as session:
            async with session.request(
                request.method, upstream + path, headers=headers, data=await request.read()
            ) as got:
                body = await got.read()
                here = f"{request.scheme}://{request.host}{prefix}"
                body = body.replace(upstream.encode(), here.encode())
                kept = {k: v for k, v in got.headers.items() if k.lower() in ("content-type", "allow", "location")}
                return web.Response(status=got.status, body=body or None, headers=kept)

    return handle


def test_a_deployment_behind_a_path_prefix_passes_end_to_end(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    with serve() as server, running(_proxy(server.url, prefix="/api")) as url:
        argv = ["--base-url", f"{url}/api", "--phases", "auth,lifecycle", "--fixtures", "mock", "--timeout", "2"]
        code, output = finishes([*argv, "--report", str(out), "-q"], capsys, within=30)
    report = json.loads(out.read_text())
    assert code == 0, [c for c in report["checks"] if c["outcome"] != "passed"]
    url_checks = [c for c in report["checks"] if c["name"] == "item_names_its_url"]
    assert url_checks and all(c["outcome"] == "passed" for c in url_checks)


def test_secrets_never_appear_in_any_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    files = [tmp_path / name for name in ("r.json", "j.xml", "r.md")]
    with serve() as server:
        argv = ["--base-url", server.url, "--phases", "auth", "-H", "X-Api-Key: gateway-secret-1", "-vv"]
        argv += ["--token", "tok\r\nen-with-crlf", "--report", str(files[0]), "--junit", str(files[1])]
        code, output = finishes([*argv, "--markdown", str(files[2])], capsys)
    written = output + "".join(path.read_text() for path in files if path.exists())
    assert code == 2
    for secret in ("gateway-secret-1", "tok\r\nen", "tok\\r\\nen"):
        assert secret not in written, secret


def test_an_at_sign_in_the_path_is_no_password__the_lines_the_reports_and_the_curl_lines_show_the_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Issue 28, item 4: the masker took `http://host/@jobs` for a user part, `http://host:$JOBS_URL_PASSWORD@jobs`."""
    files = [tmp_path / name for name in ("r.json", "j.xml", "r.md")]
    with serve(Violation.LOGOUT_KEEPS_TOKEN) as server, running(_proxy(server.url, prefix="/@site")) as url:
        argv = ["--base-url", f"{url}/@site", "--phases", "auth", "--report", str(files[0]), "--junit", str(files[1])]
        code, output = finishes([*argv, "--markdown", str(files[2])], capsys)
    written = output + "".join(path.read_text() for path in files)
    report = json.loads(files[0].read_text())
    curls = [finding["curl"] for check in report["checks"] for finding in check["findings"] if finding["curl"]]
    assert code == 1, report["error"]
    assert "URL_PASSWORD" not in written
    assert f"> reachability: {url}/@site\n" in output and report["base_url"] == f"{url}/@site"
    assert curls and all(f" {url}/@site/@" in curl for curl in curls), curls


def test_a_base_url_ending_in_a_jobs_path_is_named_as_given(capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's own example, `--base-url http://localhost:8080/@jobs`: the message names that URL."""
    with LiveMock() as mock:
        code, output = finishes(["--base-url", f"{mock.url}/@jobs", "--phases", "auth"], capsys)
    assert code == 2
    assert f"{mock.url}/@jobs does not look like the Nick jobs API" in output and "URL_PASSWORD" not in output


def test_a_user_part_is_refused_showing_its_name_and_its_password_as_a_variable_before_a_path_with_an_at_sign(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A user and password in the URL would go out as Basic authentication in place of the suite's token: refused
    when the options are read, exit 2 and one line, the password never shown."""
    with serve() as server, running(_proxy(server.url, prefix="/@site")) as url:
        given = url.replace("http://", "http://someone:pa55word-in-url@") + "/@site"
        code, output = finishes(["--base-url", given, "--phases", "auth"], capsys)
    shown = url.replace("http://", "http://someone:$JOBS_URL_PASSWORD@") + "/@site"
    assert code == 2 and f"must carry no user or password, not '{shown}'" in output
    assert "pa55word-in-url" not in output and "> reachability" not in output


SPENT = {"Retry-After": "900", "RateLimit-Limit": "5", "RateLimit-Remaining": "0", "RateLimit-Reset": "900"}


class SpentLogins(JobsServer):
    """fakejobs whose client address has spent its logins (Nick's AUTH_RATE_LIMIT): 429 for the next 15 minutes."""

    async def login(self, request: web.Request) -> web.Response:
        return web.json_response({"message": "Too many authentication attempts"}, status=429, headers=SPENT)


class SpentList(JobsServer):
    """fakejobs whose list is over its rate limit (Nick's API_RATE_LIMIT on list views)."""

    async def list_jobs(self, request: web.Request) -> web.Response:
        return web.json_response({"message": "Too many requests"}, status=429, headers=SPENT)


@pytest.mark.parametrize(
    ("server", "named"),
    [
        pytest.param(SpentLogins, "POST", id="login"),
        pytest.param(SpentList, "GET", id="list"),
    ],
)
def test_a_rate_limit_with_a_long_retry_after_ends_the_run_naming_the_setting(
    server: type[JobsServer], named: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    with server() as limited:
        code, output = finishes(["--base-url", limited.url, "--report", str(out)], capsys)
        answered = [status for _, _, status in limited.journal]
    setting = "AUTH_RATE_LIMIT" if server is SpentLogins else "API_RATE_LIMIT"
    error = json.loads(out.read_text())["error"]
    assert code == 2
    assert f"{named} {limited.url}/" in error and "answered 429" in error and "Retry-After 900" in error
    assert f"its rate limit {setting}" in error and "try again in 900 s" in error, error
    assert "does not look like the Nick jobs API" not in output
    assert answered.count(429) == 1, "a long wait is not waited"


def test_a_rate_limit_with_a_short_retry_after_is_waited_out_and_the_run_goes_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The third login answers 429 with Retry-After: 1; the suite sends it again once the second has passed."""
    out = tmp_path / "report.json"
    argv = ["--phases", "auth", "--fixtures", "mock", "--seed", "1", "--report", str(out)]
    with serve() as unlimited:
        assert main(["--base-url", unlimited.url, *argv]) == 0
        expected = [status for _, path, status in unlimited.journal if path == "/@login"]
    with brokenjobs.serve(brokenjobs.Difference.LOGIN_429_ONCE) as limited:
        code, _ = finishes(["--base-url", limited.url, *argv], capsys)
        logins = [status for _, path, status in limited.journal if path == "/@login"]
    report = json.loads(out.read_text())
    assert code == 0, report["error"] or [c for c in report["checks"] if c["outcome"] == "failed"]
    assert logins.index(429) == brokenjobs.RATE_LIMITED_LOGIN - 1 and logins.count(429) == 1, logins
    assert [status for status in logins if status != 429] == expected, "the refused login sent again, then the rest"


def test_a_429_without_retry_after_ends_the_run_saying_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    with brokenjobs.serve(brokenjobs.Breakage.LOGIN_429_NO_RETRY_AFTER) as limited:
        code, _ = finishes(["--base-url", limited.url, "--phases", "auth", "--report", str(out)], capsys)
    error = json.loads(out.read_text())["error"]
    assert code == 2
    assert "answered 429" in error and "Retry-After not given" in error and "AUTH_RATE_LIMIT" in error, error


EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </static/app.css>; rel=preload; as=style\r\n\r\n"


async def trickle_a_byte_a_second(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    try:
        for byte in b'{"message": "' + b"a" * 1000:
            await response.write(bytes([byte]))
            await asyncio.sleep(1)
    except ConnectionResetError:
        pass  # the suite gave up at its deadline, as it should
    return response


class EndlessWithoutCredentials(JobsServer):
    """fakejobs whose jobs list, asked without credentials, answers a body that never ends: what schemathesis's own
    probes meet (`ignored_auth` sends a request again without them), and no request of the suite's own here."""

    async def list_jobs(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        if "Authorization" not in request.headers:
            return await endless(request)
        return await super().list_jobs(request)


class TrickledWithoutCredentials(JobsServer):
    """The same, a byte a second."""

    async def list_jobs(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        if "Authorization" not in request.headers:
            return await trickle_a_byte_a_second(request)
        return await super().list_jobs(request)


@pytest.mark.parametrize(
    ("server", "argv", "message"),
    [
        pytest.param(
            EndlessWithoutCredentials,
            ["--max-response-bytes", "1000000"],
            "larger than 1000000 bytes (--max-response-bytes)",
            id="endless-body",
        ),
        pytest.param(
            TrickledWithoutCredentials, ["--timeout", "3"], "no complete answer within 3 s (--timeout)", id="trickles"
        ),
    ],
)
@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_schemathesis_probe_without_an_end_is_cut_and_is_a_failed_check(
    server: type[JobsServer],
    argv: list[str],
    message: str,
    processes: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Issue 27, item 14: the requests schemathesis sends on its own (`ignored_auth`'s probes, its cases without
    credentials) are bounded as the suite's are: the probe that never ends fails the check that sent it, a case that
    never ends is a failed request of its operation, and the run goes on."""
    out = tmp_path / "report.json"
    with server() as hostile:
        argv = ["--base-url", hostile.url, "--phases", "schema", "--fixtures", "mock", "--max-examples", "5", *argv]
        code, _ = finishes([*argv, "--seed", "1", "--processes", processes, "--report", str(out)], capsys, within=90)
    report = json.loads(out.read_text())
    failed = [c for c in report["checks"] if c["outcome"] == "failed"]
    assert code == 1, report["error"] or failed
    # `ignored_auth` fails on its probe; schemathesis's own cases without credentials are failed requests.
    assert {c["subject"] for c in failed} == {"GET /@jobs"}, failed
    assert {c["name"] for c in failed} <= {"ignored_auth", "schemathesis_error"}, failed
    assert "ignored_auth" in {c["name"] for c in failed}, failed
    assert all(message in finding["message"] for c in failed for finding in c["findings"]), failed
    passed = {c["name"] for c in report["checks"] if c["outcome"] == "passed" and c["subject"] == "GET /@jobs"}
    assert "response_schema_conformance" in passed


class EarlyHints(JobsServer):
    """fakejobs sending `103 Early Hints` before every answer, as a CDN may."""

    def _middlewares(self) -> list[Any]:
        return [hints_first, *super()._middlewares()]


@web.middleware
async def hints_first(request: web.Request, handler: Any) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.write(EARLY_HINTS)
    response: web.StreamResponse = await handler(request)
    return response


def test_an_informational_answer_before_each_answer_is_not_the_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Issue 27, item 17: a `103 Early Hints` before the login's answer ended the run ("answered 103")."""
    out = tmp_path / "report.json"
    with EarlyHints() as server:
        argv = ["--base-url", server.url, "--phases", "auth,schema", "--fixtures", "mock", "--max-examples", "3"]
        code, _ = finishes([*argv, "--seed", "1", "--report", str(out)], capsys, within=120)
    report = json.loads(out.read_text())
    assert code == 0, report["error"] or [c for c in report["checks"] if c["outcome"] == "failed"]
    assert any(c["phase"] == "schema" and c["outcome"] == "passed" for c in report["checks"])
