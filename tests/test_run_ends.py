"""How a run ends when it cannot end by itself (issue 27, items 15 and 16).

A deployment that stops answering ends the run (exit 2, saying so) after a few requests, not after
a deadline for each of the thousands the run would still send; a run has a deadline of its own
(`--deadline`); and a SIGTERM (what a CI's timeout sends) or a Ctrl-C ends it where it stands with
every report written, marked interrupted. In each case nothing goes on sending afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
import requests
from aiohttp import web

from conformance.cli import main
from conformance.transport import MISSES
from mockserver.config import MockConfig
from mockserver.testing import LiveMock

Trigger = Callable[[web.Request, list[str]], bool]  # a request, and the paths before it: whether to stop answering


class Front:
    """A reverse proxy in front of a mock, on its own thread, that stops answering for good once `trigger` says so:
    every request from then on waits for ever (its connection open, no byte sent)."""

    def __init__(self, upstream: str, trigger: Trigger, delay: float = 0.0) -> None:
        self.upstream, self.trigger, self.delay = upstream, trigger, delay
        self.paths: list[str] = []  # of every request it was sent
        self.unanswered = 0  # requests since it stopped answering
        self.silent = False
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.silent = self.silent or self.trigger(request, self.paths)
        self.paths.append(request.path)
        if self.silent:
            self.unanswered += 1
            await asyncio.sleep(3600)
        await asyncio.sleep(self.delay)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with aiohttp.ClientSession() as session:
            async with session.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=await request.read()
            ) as got:
                body = await got.read()
                kept = {k: v for k, v in got.headers.items() if k.lower() in ("content-type", "location")}
                return web.Response(status=got.status, body=body or None, headers=kept)


@contextmanager
def fronted(front: Front) -> Iterator[Front]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", front.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def stop() -> None:
        await runner.cleanup()
        hanging = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in hanging:
            task.cancel()
        await asyncio.gather(*hanging, return_exceptions=True)

    try:
        front.url = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
        yield front
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def after_login(request: web.Request, before: list[str]) -> bool:
    """The run's setup (GET /, the login, the listing) is answered; nothing after it."""
    return len(before) >= 3


def schemathesis_sends(request: web.Request, before: list[str]) -> bool:
    """Answered until the first request after the jobs made for schemathesis (`--phases schema`): its first case."""
    return any(path.startswith("/__mock__/") for path in before) and not request.path.startswith("/__mock__/")


@pytest.fixture
def upstream() -> Iterator[LiveMock]:
    with LiveMock(config=MockConfig(seed=3)) as mock:
        yield mock


@pytest.mark.parametrize(
    ("fixtures", "phases", "trigger", "processes"),
    [
        pytest.param("none", "auth,lifecycle,schema", after_login, "1", id="after-login"),
        pytest.param("mock", "schema", schemathesis_sends, "1", id="in-schemathesis"),
        pytest.param("mock", "schema", schemathesis_sends, "2", id="in-schemathesis-helpers"),
    ],
)
def test_a_deployment_that_stops_answering_ends_the_run_with_exit_2_saying_so_and_every_report(
    fixtures: str,
    phases: str,
    trigger: Trigger,
    processes: str,
    upstream: LiveMock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: every request waited for its deadline (173 s at --timeout 2, 794 s at the defaults), exit 1."""
    reports = {kind: tmp_path / f"report.{kind}" for kind in ("json", "xml", "md")}
    with fronted(Front(upstream.url, trigger)) as front:
        argv = ["--base-url", front.url, "--fixtures", fixtures, "--phases", phases, "--timeout", "1"]
        argv += ["--processes", processes, "--max-examples", "20", "--seed", "1"]
        argv += ["--report", str(reports["json"]), "--junit", str(reports["xml"]), "--markdown", str(reports["md"])]
        code = main(argv)
        unanswered = front.unanswered
    err = capsys.readouterr().err
    assert code == 2, err
    report = json.loads(reports["json"].read_text())
    assert "the deployment has stopped answering" in report["error"], report["error"]
    assert f"{MISSES} requests in a row" in report["error"] and "(--timeout)" in report["error"]
    assert "stopped answering" in err and "Traceback" not in err
    # A few requests per process, then one asking the root: not one for each check still to run.
    assert unanswered <= (MISSES + 1) * int(processes), unanswered
    assert any(c["outcome"] == "passed" for c in report["checks"]), "what was done before is kept (the setup's)"
    junit = ET.parse(reports["xml"]).getroot()
    errors = junit.findall(".//testcase[@name='run to the end']/error")
    assert len(errors) == 1 and "stopped answering" in errors[0].get("message", "")
    assert "stopped answering" in reports["md"].read_text()


def test_a_deployment_hanging_on_one_operation_alone_is_its_failed_checks_and_the_run_goes_on(
    upstream: LiveMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Requests in a row unanswered, but the deployment's root still answers: the operation's fault, not the end."""

    class OnePath(Front):
        async def handle(self, request: web.Request) -> web.StreamResponse:
            if request.path.endswith("/@login-renew"):
                self.unanswered += 1
                await asyncio.sleep(3600)
            return await super().handle(request)

    out = tmp_path / "report.json"
    with fronted(OnePath(upstream.url, lambda request, before: False)) as front:
        argv = ["--base-url", front.url, "--fixtures", "mock", "--phases", "auth", "--timeout", "1"]
        code = main([*argv, "--report", str(out)])
        unanswered = front.unanswered
    report = json.loads(out.read_text())
    assert code == 1, report["error"]
    assert unanswered > MISSES  # more in a row than it takes to ask the root
    failed = [c for c in report["checks"] if c["outcome"] == "failed"]
    assert failed and all("no complete answer within 1 s" in c["findings"][0]["message"] for c in failed), failed
    assert any(c["outcome"] == "passed" and c["subject"] == "GET /@jobs" for c in report["checks"])
    assert "stopped answering" not in capsys.readouterr().err


def test_a_run_ends_at_its_deadline_with_exit_2_and_what_it_did(
    upstream: LiveMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    with fronted(Front(upstream.url, lambda request, before: False, delay=0.05)) as front:
        argv = ["--base-url", front.url, "--fixtures", "mock", "--deadline", "4", "--max-examples", "1000"]
        code = main([*argv, "--processes", "1", "--report", str(out), "--junit", str(junit)])
        sent = len(front.paths)
        time.sleep(1.5)
        assert len(front.paths) == sent, "nothing is sent once the run has ended"
    err = capsys.readouterr().err
    report = json.loads(out.read_text())
    assert code == 2, err
    assert "the run's time is up (--deadline 4 s)" in report["error"], report["error"]
    assert "the run stopped in the" in report["error"] and report["error"] in " ".join(err.split())
    assert any(c["outcome"] == "passed" for c in report["checks"])
    assert junit.read_text().count('name="run to the end"') == 1


def test_a_deadline_that_is_no_number_of_seconds_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for wrong in ("0", "-5", "soon"):
        assert main(["--base-url", "http://127.0.0.1:9", "--deadline", wrong]) == 2
        err = capsys.readouterr().err
        assert err.startswith("jobs-conformance: --deadline: ") and len(err.strip().splitlines()) == 1, err


# -- signals: the suite in a process of its own, as a CI runs it ---------------------------------------------------


@contextmanager
def suite_in_schema_phase(live: LiveMock, reports: Path) -> Iterator[subprocess.Popen[str]]:
    """jobs-conformance in its own process group, a second into its schema phase (helpers at work), SIGINT and
    SIGTERM at their defaults whatever the test run's are; the group killed after."""
    script = Path(sys.executable).with_name("jobs-conformance")
    argv = [str(script), "--base-url", live.url, "--fixtures", "mock", "--processes", "2", "--max-examples", "1000"]
    argv += ["--report", str(reports / "report.json"), "--junit", str(reports / "junit.xml")]

    def default_signals() -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_DFL)

    with subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=default_signals,
    ) as suite:
        try:
            assert suite.stdout is not None
            for line in suite.stdout:
                if line.startswith("> schema:"):
                    break
            time.sleep(1.0)
            yield suite
        finally:
            if suite.poll() is None:
                os.killpg(suite.pid, signal.SIGKILL)


def _requests_to_the_jobs(live: LiveMock) -> int:
    """How many requests the mock's journal holds, its own journal's left out."""
    entries = requests.get(f"{live.url}/__mock__/journal", timeout=5).json()
    return sum(1 for entry in entries if not entry["path"].startswith("/__mock__/journal"))


@pytest.mark.parametrize(
    ("number", "to_group", "code", "how"),
    [
        pytest.param(signal.SIGTERM, False, 143, "SIGTERM", id="SIGTERM-to-the-suite"),
        pytest.param(signal.SIGTERM, True, 143, "SIGTERM", id="SIGTERM-to-its-group"),
        pytest.param(signal.SIGINT, True, 130, "Ctrl-C", id="Ctrl-C"),
    ],
)
def test_a_signal_ends_the_run_with_every_report_written_marked_interrupted(
    number: signal.Signals, to_group: bool, code: int, how: str, tmp_path: Path
) -> None:
    """Before: SIGTERM ended the run with no JUnit and no JSON report (and a Ctrl-C wrote none either)."""
    with LiveMock(config=MockConfig(seed=5)) as live:
        with suite_in_schema_phase(live, tmp_path) as suite:
            if to_group:
                os.killpg(suite.pid, number)
            else:
                os.kill(suite.pid, number)
            _, stderr = suite.communicate(timeout=60)
            assert suite.returncode == code, stderr
            before = _requests_to_the_jobs(live)
            time.sleep(1.0)
            assert _requests_to_the_jobs(live) == before, "no helper goes on sending requests"
    assert stderr.strip().startswith(f"jobs-conformance: interrupted ({how}) in the schema phase: no verdict")
    assert "Traceback" not in stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["interrupted"] == how and report["exit_code"] == 2
    assert {c["phase"] for c in report["checks"] if c["outcome"] == "passed"} >= {"auth", "lifecycle"}
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    (error,) = junit.findall(".//testcase[@name='run to the end']/error")
    assert error.get("type") == "interrupted" and how in error.get("message", "")
    assert int(junit.get("errors", "0")) >= 1
